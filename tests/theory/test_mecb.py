"""theory.information and theory.mecb: entropies, the EBIM greedy (loop vs loop-free), brute force,
the one-symbol-move envelope, the MEC couplings and the MEC-B composition, against closed forms."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests._asserts import assert_close
from theory import information as info
from theory import mecb as M

PAPER = "ebrahimi2024_mecb"
# Bell numbers: the count of set partitions of n symbols
BELL = {1: 1, 2: 2, 3: 5, 4: 15, 5: 52, 6: 203, 7: 877, 8: 4140}


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


_greedy = jax.jit(M.ebim_greedy)


def _canon(labels, p):
    """A partition of p's support as a frozenset of blocks (label numbering ignored)."""
    blocks = {}
    for i in np.flatnonzero(np.asarray(p) > 0):
        blocks.setdefault(int(labels[i]), set()).add(int(i))
    return frozenset(frozenset(b) for b in blocks.values())


def test_entropy_and_information_closed_forms():
    assert_close(info.entropy(jnp.array([0.5, 0.5, 0.0])), 1.0)
    assert_close(info.entropy(jnp.ones(8) / 8), 3.0)
    assert_close(info.entropy_np(np.array([0.25] * 4)), 2.0)
    eye = jnp.eye(4) / 4  # Y = X uniform on 4: I = H = 2 bits
    assert_close(info.mutual_information(eye), 2.0)
    p, q = jnp.array([0.2, 0.8]), jnp.array([0.1, 0.3, 0.6])
    assert_close(info.mutual_information(info.independent(p, q)), 0.0, atol=1e-15)
    assert_close(info.conditional_entropy(info.independent(p, q)), info.entropy(q))
    # 0 log 0 = 0, and the gradient stays finite there
    g = jax.grad(lambda x: info.entropy(x))(jnp.array([0.0, 1.0]))
    assert np.all(np.isfinite(np.asarray(g)))


@pytest.mark.parametrize(
    "bad, msg",
    [
        ([0.5, 0.6], "sums to"),
        ([1.2, -0.2], "negative"),
        ([0.5, float("nan")], "non-finite"),
        ([], "non-empty"),
        ([[0.5, 0.5]], "1-D"),
    ],
)
def test_bad_distributions_are_refused(bad, msg):
    with pytest.raises(ValueError, match=msg):
        info.check_distribution(bad)


@pytest.mark.parametrize("rate", [-0.1, float("inf"), float("nan")])
def test_bad_rates_are_refused(rate):
    with pytest.raises(ValueError, match="rate"):
        M.ebim_greedy_loop([0.5, 0.5], rate)


def test_set_partitions_are_bell_many_and_distinct():
    for n, b in BELL.items():
        parts = M.set_partitions(n)
        assert parts.shape == (b, n)
        assert len({_canon(r, np.ones(n)) for r in parts}) == b


def test_greedy_loop_free_equals_algorithm1_and_respects_rate():
    g = np.random.default_rng(0)
    fn = _greedy
    for _ in range(400):
        n = int(g.integers(1, 9))
        p = g.dirichlet(np.full(n, g.choice([0.3, 1.0, 3.0])))
        if n > 2 and g.random() < 0.25:  # zero-mass symbols are dropped, as in Algorithm 1
            p[g.integers(n)] = 0.0
            p /= p.sum()
        rate = g.uniform(0, math.log2(n) + 0.3)
        loop = M.ebim_greedy_loop(p, rate)
        h, lab = fn(jnp.asarray(p), rate)
        assert _canon(loop, p) == _canon(np.asarray(lab), p)
        assert_close(h, info.entropy_np(np.bincount(loop, weights=p, minlength=n)))
        assert float(h) <= rate + 1e-12


def test_greedy_worked_example():
    # p = (0.7, 0.2, 0.1): H = 1.157. At R = 0.9 the light merge {0.2, 0.1} gives h(0.3) = 0.881;
    # at R = 0.6 both merges fail (0.881, and heavy {0.7, 0.2} = h(0.1) = 0.469 passes).
    p = np.array([0.7, 0.2, 0.1])
    assert _canon(M.ebim_greedy_loop(p, 0.9), p) == _canon([0, 1, 1], p)
    assert _canon(M.ebim_greedy_loop(p, 0.6), p) == _canon([0, 0, 1], p)
    assert _canon(M.ebim_greedy_loop(p, 2.0), p) == _canon([0, 1, 2], p)
    assert_close(_greedy(jnp.asarray(p), 0.6)[0], M.binary_entropy(0.1))


def test_greedy_never_beats_brute_force_and_meets_its_guarantee():
    g = np.random.default_rng(1)
    for _ in range(100):
        n = int(g.integers(3, 7))
        p = g.dirichlet(np.ones(n))
        rate = g.uniform(0, info.entropy_np(p))
        h_g = float(_greedy(jnp.asarray(p), rate)[0])
        h_opt, lab = M.deterministic_optimum(p, rate)
        assert h_g <= h_opt + 1e-12 and h_opt <= rate + 1e-12
        assert_close(h_opt, info.entropy_np(np.bincount(lab, weights=p, minlength=n)))
        # I_opt <= min(R, H(X)); the loss bound h(p_2) (p_2 the second-largest mass)
        assert min(rate, info.entropy_np(p)) - h_g <= M.binary_entropy(np.sort(p)[-2]) + 1e-12


def test_uniform_quantisation_is_the_authors_partition():
    # m = floor(2^R) cells of ceil(n / m) consecutive symbols
    assert np.asarray(M.uniform_quantisation_labels(5, 1.0)).tolist() == [0, 0, 0, 1, 1]
    assert np.asarray(M.uniform_quantisation_labels(5, 0.5)).tolist() == [0] * 5
    assert np.asarray(M.uniform_quantisation_labels(4, 2.0)).tolist() == [0, 1, 2, 3]
    assert np.asarray(M.uniform_quantisation_labels(5, math.log2(3))).tolist() == [0, 0, 1, 1, 2]


def test_lattice_contains_the_deterministic_encoders():
    p = np.array([0.7, 0.2, 0.1])
    h, i = M.lattice_encoders(p, 3, 4)
    assert h.size == 15**3  # C(4 + 2, 2) rows per symbol
    assert np.all(i <= h + 1e-12)  # I(X;T) <= H(T)
    dets, _ = M.partition_entropies(p)
    for d in dets:  # deterministic encoders are lattice points with I = H
        assert np.min(np.abs(h - d) + np.abs(i - d)) < 1e-12


def test_move_curves_end_on_deterministic_encoders():
    p = np.array([0.5, 0.3, 0.2])
    dets = set(np.round(M.partition_entropies(p)[0], 12))
    for mv in M.move_curves(p):
        h, i = M.move_point(p, mv, np.array([0.0, 1.0]))
        assert_close(h, i)  # both ends deterministic: I = H
        assert {round(float(x), 12) for x in h} <= dets
        # the encoder at u reproduces the curve's point
        w = M.move_encoder(p, mv, 0.3, 3)
        assert_close(M.encoder_info(p, w), np.concatenate(M.move_point(p, mv, np.array([0.3]))))


def test_polish_never_leaves_the_feasible_set_and_never_gets_worse():
    p = np.array([0.7, 0.2, 0.1])
    w0 = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # {0.9}, {0.1}: 0.469
    i, h, w = M.polish_encoder(p, w0, 0.6, 0.25)
    assert h <= 0.6 + 1e-12 and i >= M.binary_entropy(0.1) - 1e-15
    assert_close(w.sum(1), np.ones(3))
    with pytest.raises(ValueError, match="not feasible"):
        M.polish_encoder(p, np.eye(3), 0.6, 0.25)


def test_greedy_coupling_marginals_exact_and_known_case():
    g = np.random.default_rng(2)
    fn = jax.jit(jax.vmap(M.greedy_coupling))
    p = g.dirichlet(np.ones(7), size=50)
    q = g.dirichlet(np.ones(5), size=50)
    t = np.asarray(fn(jnp.asarray(p), jnp.asarray(q)))
    assert np.abs(t.sum(2) - p).max() <= 1e-15 and np.abs(t.sum(1) - q).max() <= 1e-15
    assert (t >= 0).all() and ((t > 0).sum((1, 2)) <= 7 + 5 - 1).all()
    # (0.5, 0.5) with itself: the diagonal, H = 1 bit
    assert_close(M.greedy_coupling(jnp.array([0.5, 0.5]), jnp.array([0.5, 0.5])), np.eye(2) / 2)


def test_sparse_coupling_leaves_the_loop_with_the_fixed_loop_s_table_bit_for_bit():
    """The early exit (one side exactly all zero) is exact: on sparse marginals (many zero
    entries, as the game's belief is), dense ones, ties and equal marginals, vmapped and not,
    the table equals the fixed n + m - 1 step loop's bit for bit."""
    g = np.random.default_rng(12)
    cases = []
    for n, m in ((9, 4), (64, 5), (512, 4)):
        for zeros in (0.0, 0.5, 0.97):
            p = g.dirichlet(np.ones(n), size=8) * (g.random((8, n)) >= zeros)
            p[:, 0] += p.sum(1) == 0  # at least one non-zero entry
            q = g.dirichlet(np.ones(m), size=8)
            cases.append((p / p.sum(1, keepdims=True), q))
    cases.append((np.full((1, 6), 1 / 6), np.full((1, 3), 1 / 3)))  # ties throughout
    cases.append((np.full((1, 4), 0.25), np.full((1, 4), 0.25)))  # both sides end together
    fast = jax.jit(jax.vmap(M.greedy_coupling_sparse))
    ref = jax.jit(jax.vmap(M.greedy_coupling))
    with jax.enable_x64(True):
        for p, q in cases:
            p, q = jnp.asarray(p), jnp.asarray(q)
            assert np.array_equal(np.asarray(fast(p, q)), np.asarray(ref(p, q)))
            assert np.array_equal(
                np.asarray(M.greedy_coupling_sparse(p[0], q[0])),
                np.asarray(M.greedy_coupling(p[0], q[0])),
            )


def test_exact_mec_is_a_lower_bound_and_matches_known_optimum():
    g = np.random.default_rng(3)
    for _ in range(15):
        p, q = g.dirichlet(np.ones(3)), g.dirichlet(np.ones(3))
        h, t = M.exact_mec(p, q)
        assert_close(t.sum(1), p)
        assert_close(t.sum(0), q)
        hg = info.entropy_np(np.asarray(M.greedy_coupling(jnp.asarray(p), jnp.asarray(q))).ravel())
        hs = info.entropy_np(M.sla_coupling(p, q).ravel())
        lower = max(info.entropy_np(p), info.entropy_np(q))
        assert lower - 1e-12 <= h <= min(hg, hs) + 1e-12
        assert hg - h <= M.LOG2E_OVER_E
    # q = p: the optimum is the diagonal, H = H(p)
    p = np.array([0.6, 0.3, 0.1])
    assert_close(M.exact_mec(p, p)[0], info.entropy_np(p))
    with pytest.raises(ValueError, match="n \\* m"):
        M.exact_mec(np.ones(5) / 5, np.ones(4) / 4)


def test_threshold_loop_is_the_authors_form():
    p, q = np.array([0.6, 0.4]), np.array([0.5, 0.5])
    assert_close(M.greedy_coupling_threshold(p, q), np.array([[0.5, 0.1], [0.0, 0.4]]))


def test_mecb_composition_and_lemma1():
    g = np.random.default_rng(4)
    fn = jax.jit(jax.vmap(M.mecb, in_axes=(0, 0, 0, None)), static_argnums=3)
    p = jnp.asarray(g.dirichlet(np.ones(6), size=40))
    q = jnp.asarray(g.dirichlet(np.ones(6), size=40))
    rate = info.entropy(p) * 0.6
    for enc in ("greedy", "uniform"):
        r = fn(p, q, rate, enc)
        assert_close(r["p_xy"].sum(-1), p)  # X's marginal survives the composition
        assert_close(r["p_xy"].sum(-2), q)  # and Y's is exact
        assert np.all(np.asarray(r["h_t"]) <= np.asarray(rate) + 1e-12)
        slack = r["i_xy"] - (r["i_xt"] + r["i_ty"] - rate)
        assert float(slack.min()) >= -1e-12
    with pytest.raises(ValueError, match="encoder"):
        M.mecb(p[0], q[0], 1.0, "nope")
