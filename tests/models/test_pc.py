"""HCLT circuits against brute-force enumeration, and the three conditional schemes."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models import pc, pc_coding

PAPER = "liu2022_pc_compression"  # the paper this module's time is charged to (conftest)

D, M, K = 6, 3, 3
PARENT = np.array([-1, 0, 0, 1, 1, 2])  # root 0; 1 has children 3, 4; 2 has child 5


@pytest.fixture(scope="module")
def model():
    tree = pc.tree_from_parents(PARENT)
    params = pc.init_params(jax.random.key(3), D, M, K, concentration=0.7)
    return tree, params


def brute_joint(params, parent, x):
    """p(x) by summing the HCLT's factorisation over all M^D latent assignments (float64)."""
    P = {k: np.exp(np.asarray(v, np.float64)) for k, v in params.items()}
    total = 0.0
    for z in itertools.product(range(M), repeat=len(parent)):
        p = P["log_prior"][z[0]]
        for v in range(1, len(parent)):
            p *= P["log_trans"][v][z[parent[v]], z[v]]
        for v in range(len(parent)):
            p *= P["log_leaf"][v][z[v], x[v]]
        total += p
    return total


ALL_X = np.array(list(itertools.product(range(K), repeat=D)))


def test_joint_sums_to_one_and_matches_enumeration(model):
    tree, params = model
    ll = np.asarray(pc.log_likelihood(params, tree, jnp.asarray(ALL_X)), np.float64)
    # float32 circuit: |sum p - 1| <= K^D * eps32 * (typical p) ~ 1e-6
    assert abs(np.exp(ll).sum() - 1.0) < 1e-5
    idx = np.random.default_rng(0).choice(len(ALL_X), 12, replace=False)
    want = np.array([brute_joint(params, PARENT, ALL_X[i]) for i in idx])
    np.testing.assert_allclose(np.exp(ll[idx]), want, rtol=1e-5)


def test_marginals_equal_sums_of_the_joint(model):
    tree, params = model
    joint = np.exp(np.asarray(pc.log_likelihood(params, tree, jnp.asarray(ALL_X)), np.float64))
    masked = jax.jit(lambda x, m: pc.log_likelihood(params, tree, x, m))  # one program, 5 masks
    rng = np.random.default_rng(1)
    for _ in range(5):
        keep = rng.random(D) < 0.5
        x = ALL_X[rng.integers(len(ALL_X))]
        match = (ALL_X[:, keep] == x[keep]).all(1)
        mask = jnp.asarray(np.broadcast_to(keep, (1, D)))
        got = float(jnp.exp(masked(jnp.asarray(x[None]), mask))[0])
        np.testing.assert_allclose(got, joint[match].sum(), rtol=1e-5)


@pytest.mark.parametrize("scheme", pc_coding.SCHEMES)
def test_chain_rule_equals_joint_for_every_scheme(model, scheme):
    tree, params = model
    x = ALL_X[np.random.default_rng(2).choice(len(ALL_X), 8, replace=False)]
    stepper = pc_coding.Stepper(params, tree, scheme, batch=8)
    lp = pc_coding.conditionals(stepper, x)  # (8, D, K), pre-order
    np.testing.assert_allclose(np.exp(lp).sum(-1), 1.0, atol=1e-5)
    chain = np.take_along_axis(lp, x[:, tree.preorder][..., None], -1).sum((1, 2))
    ll = np.asarray(pc.log_likelihood(params, tree, jnp.asarray(x)))
    np.testing.assert_allclose(chain, ll, atol=1e-4)


def test_schemes_agree_on_every_pmf(model):
    tree, params = model
    x = ALL_X[:: len(ALL_X) // 10][:10]
    lps = {
        s: pc_coding.conditionals(pc_coding.Stepper(params, tree, s, 10), x)
        for s in pc_coding.SCHEMES
    }
    for s in ("naive", "cached"):
        np.testing.assert_allclose(np.exp(lps[s]), np.exp(lps["outside"]), atol=1e-5)


def test_full_batch_em_never_decreases_the_likelihood(model):
    tree, _ = model
    rng = np.random.default_rng(4)
    x = jnp.asarray(rng.integers(0, K, (200, D)))
    params = pc.init_params(jax.random.key(5), D, M, K)
    prev = -np.inf
    # one compiled EM step and likelihood (eagerly, each of the 8 steps dispatches op by op)
    em_step = jax.jit(lambda p: pc.em_update(pc.expected_flows(p, tree, x), 1e-6))
    total_ll = jax.jit(lambda p: pc.log_likelihood(p, tree, x).sum())
    for _ in range(8):
        # with a tiny pseudocount EM is (nearly) monotone: a MAP-EM step with Dirichlet prior
        params = em_step(params)
        ll = float(total_ll(params))
        assert ll >= prev - 1e-3
        prev = ll


def test_expected_flows_are_posterior_counts(model):
    """Root-prior flows sum to the number of examples (each example sends one unit of flow)."""
    tree, params = model
    x = jnp.asarray(ALL_X[:50])
    f = jax.jit(lambda p: pc.expected_flows(p, tree, x))(params)  # one program, not op by op
    np.testing.assert_allclose(float(jnp.exp(params["log_prior"]).sum()), 1.0, rtol=1e-6)
    np.testing.assert_allclose(float(f["log_prior"].sum()), 50.0, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(f["log_leaf"].sum((1, 2))), 50.0, rtol=1e-5)


def _random_tree(D, seed):
    rng = np.random.default_rng(seed)
    return pc.tree_from_parents(np.array([-1] + [int(rng.integers(0, v)) for v in range(1, D)]))


@pytest.mark.parametrize("masked", [False, True])
def test_inside_outside_flows_equal_autodiff_and_float64(model, masked):
    """`expected_flows` (explicit inside-outside) against the gradient it replaces, both in float32,
    and against the gradient in float64 (the reference), on the brute-force model and on a deeper
    random tree with near-zero transitions (log T = -200: below the clamp at LOG_TRANS_FLOOR).

    Tolerance: each flow is a sum over the batch of posteriors; a posterior is a product/ratio of
    O(depth) float32 sums of <= M positive terms, so its relative error is ~ (4 depth + 8) eps32
    <= 2e-6 at depth <= 10 (and the clamp moves sums by < 1e-30 relative); 2e-5 of the largest
    flow leaves 10x room. A wrong edge or a missing child moves flows by O(1) of the batch size.
    """
    cases = [(model[0], model[1], ALL_X[::7][:50], 3)]
    tree = _random_tree(30, 0)
    params = pc.init_params(jax.random.key(11), 30, 4, 5, concentration=0.5)
    lt = params["log_trans"].at[:, 0, 1].set(-200.0)  # a near-zero edge in every node
    params = {**params, "log_trans": lt - jax.nn.logsumexp(lt, -1, keepdims=True)}
    cases.append((tree, params, np.random.default_rng(5).integers(0, 5, (64, 30)), 5))
    flows = jax.jit(pc.expected_flows, static_argnums=1)
    grads = jax.jit(pc.expected_flows_autodiff, static_argnums=1)
    for tree, params, x, _ in cases:
        mask = None
        if masked:
            mask = jnp.asarray(np.random.default_rng(6).random(x.shape) < 0.6)
        x = jnp.asarray(x)
        ours, grad = flows(params, tree, x, mask), grads(params, tree, x, mask)
        with jax.enable_x64(True):
            p64 = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), params)
            ref = jax.tree_util.tree_map(np.asarray, grads(p64, tree, x, mask))
        for name in ("log_prior", "log_trans", "log_leaf"):
            scale = np.abs(ref[name]).max()
            for got in (ours, grad):
                assert np.isfinite(np.asarray(got[name])).all()
                np.testing.assert_allclose(np.asarray(got[name]), ref[name], atol=2e-5 * scale)
        # every example sends one unit of flow through the root and through each observed leaf
        n = x.shape[0]
        np.testing.assert_allclose(float(ours["log_prior"].sum()), n, rtol=1e-5)
        seen = n if mask is None else np.asarray(mask).sum(0)
        np.testing.assert_allclose(np.asarray(ours["log_leaf"].sum((1, 2))), seen, rtol=1e-5)


def test_samples_match_the_exact_marginal(model):
    tree, params = model
    n = 20000
    s = np.asarray(pc.sample(params, tree, jax.random.key(9), n))
    joint = np.exp(np.asarray(pc.log_likelihood(params, tree, jnp.asarray(ALL_X)), np.float64))
    for v in range(D):
        exact = np.array([joint[ALL_X[:, v] == k].sum() for k in range(K)])
        emp = np.bincount(s[:, v], minlength=K) / n
        # 5 binomial standard errors, sqrt(p(1-p)/n) <= 0.0036 at n = 2e4
        np.testing.assert_allclose(emp, exact, atol=5 * np.sqrt(0.25 / n))


def test_tree_bookkeeping():
    tree = pc.tree_from_parents(PARENT)
    assert tree.root == 0 and tree.preorder[0] == 0
    assert sorted(tree.preorder) == list(range(D))
    # every non-final close happens exactly once and only after the node's subtree is coded
    closes = tree.close_nodes[: tree.close_ptr[-1]]
    assert len(set(closes.tolist())) == len(closes)
    with pytest.raises(ValueError, match="exactly one root"):
        pc.tree_from_parents(np.array([-1, -1, 0]))
    with pytest.raises(ValueError, match="not a tree"):
        pc.tree_from_parents(np.array([-1, 2, 1]))


@pytest.mark.parametrize("side", [2, 4, 8, 16])
def test_balanced_tree_has_log_depth_and_outside_work_is_constant(side):
    t = pc.balanced_tree(side, side)
    assert t.height == int(np.floor(np.log2(side * side)))
    assert pc.nodes_per_variable(t, "outside").mean() < 2.0
    assert pc.nodes_per_variable(t, "naive").mean() == side * side


def test_chow_liu_recovers_a_chain():
    """Data from a Markov chain x0 -> x1 -> ... : the maximum-MI tree is the chain itself."""
    rng = np.random.default_rng(0)
    n, d = 5000, 6
    x = np.zeros((n, d), np.int64)
    x[:, 0] = rng.integers(0, 2, n)
    for j in range(1, d):
        flip = rng.random(n) < 0.1
        x[:, j] = np.where(flip, 1 - x[:, j - 1], x[:, j - 1])
    tree = pc.chow_liu_tree(pc.mutual_information(x, 2))
    edges = {tuple(sorted((v, int(tree.parent[v])))) for v in range(d) if v != tree.root}
    assert edges == {(j - 1, j) for j in range(1, d)}


def test_pallas_sum_layer_matches_the_reference(model):
    """The circuit through the Pallas log-matmul kernel (interpreted on CPU) = the jnp path."""
    tree, params = model
    x = jnp.asarray(ALL_X[:16])
    mask = jnp.asarray(np.random.default_rng(3).random((16, D)) < 0.6)
    ref = pc.log_likelihood(params, tree, x, mask, implementation="reference")
    pal = pc.log_likelihood(params, tree, x, mask, implementation="pallas")
    np.testing.assert_allclose(np.asarray(pal), np.asarray(ref), atol=1e-5)


def test_mutual_information_matches_sklearn():
    from sklearn.metrics import mutual_info_score

    rng = np.random.default_rng(6)
    a = rng.integers(0, 4, 4000)
    b = (a + (rng.random(4000) < 0.3) * rng.integers(0, 4, 4000)) % 4
    mi = pc.mutual_information(np.stack([a, b, rng.integers(0, 4, 4000)], 1), 4, pseudocount=1e-9)
    # no smoothing: the plug-in estimate, float32 tables -> ~1e-6 agreement
    np.testing.assert_allclose(mi[0, 1], mutual_info_score(a, b), atol=1e-5)
    assert abs(mi[0, 2]) < 0.01 and mi[0, 0] == 0.0
