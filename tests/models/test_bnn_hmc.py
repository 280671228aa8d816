"""models.bnn, models.density, models.hmc: the mixture prior's density against scipy and
scikit-learn, padding, the fitted densities, and both samplers on a target with a known answer
(the prior alone: every datum weighted 0)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import multivariate_normal

from models import bnn, density, hmc
from tests._asserts import assert_close, assert_within_se

PAPER = "kessler2023_seqbayes"
MLP = bnn.MLP(2, 3, 2)  # d = 2*3 + 3 + 3*3 + 3 + 3*2 + 2 = 29


def test_mlp_size_and_logits_shape():
    assert bnn.MLP(2, 10, 2).size == 162  # the paper's 2-10-10-2 network with biases
    theta = jnp.arange(MLP.size, dtype=jnp.float32) / 100
    assert MLP.logits(theta, jnp.ones((5, 2))).shape == (5, 2)
    w1 = MLP.unflatten(theta)[0]
    assert_close(w1, np.arange(6).reshape(2, 3) / 100, dtype=jnp.float32)


def test_mixture_density_matches_scipy_and_padding_is_neutral():
    rng = np.random.default_rng(0)
    d = 4
    a = rng.standard_normal((d, d))
    cov = a @ a.T + d * np.eye(d)
    mean = rng.standard_normal(d)
    g = density.gaussian(rng.multivariate_normal(mean, cov, 4000))
    x = rng.standard_normal(d)
    ref = multivariate_normal(
        np.asarray(g.means[0]),
        np.linalg.inv(
            np.asarray(g.prec_chol[0], np.float64).T @ np.asarray(g.prec_chol[0], np.float64)
        ),
    )
    got = float(bnn.log_density(g, jnp.asarray(x, jnp.float32)))
    assert abs(got - ref.logpdf(x)) < 1e-4 * abs(ref.logpdf(x))  # float32, d = 4
    padded = bnn.pad(g, 5)
    assert float(bnn.log_density(padded, jnp.asarray(x, jnp.float32))) == pytest.approx(got)
    with pytest.raises(ValueError, match="does not fit"):
        bnn.pad(padded, 2)


def test_mixture_fit_matches_sklearn_score_and_picks_two_blobs():
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(1)
    d = 3
    x = np.concatenate([rng.normal(-3, 0.5, (600, d)), rng.normal(3, 0.5, (600, d))])
    fit = density.mixture(x, 4, seed=0)
    assert fit.k == 2 and fit.grid == (1, 2, 4)
    ref = GaussianMixture(2, covariance_type="full", init_params="k-means++", random_state=0)
    ref.fit(x)
    pts = x[:5]
    ours = np.array([float(bnn.log_density(fit.prior, jnp.asarray(p, jnp.float32))) for p in pts])
    assert_close(ours, ref.score_samples(pts), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="more than the"):
        density.mixture(x[:3], 4)


def test_density_refuses_bad_draws():
    with pytest.raises(ValueError, match="finite"):
        density.gaussian(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="n >= 2"):
        density.diagonal(np.zeros((1, 3)))


@pytest.mark.parametrize("kind", ["nuts", "hmc_fixed"])
def test_sampler_with_no_data_draws_the_prior(kind):
    """With every datum weighted 0 the posterior is the prior (here a 2-component mixture):
    the draws' mean must match it. NUTS: 4 chains x 300 draws; fixed HMC moves 0.02 per
    iteration, so only its mechanics are checked (20 leapfrog steps, no divergence)."""
    prior = bnn.MixturePrior(
        jnp.log(jnp.array([0.3, 0.7])),
        jnp.stack([jnp.full(MLP.size, -1.0), jnp.full(MLP.size, 1.0)]),
        jnp.stack([jnp.eye(MLP.size) * 4.0, jnp.eye(MLP.size) * 4.0]),
    )
    x, y = jnp.zeros((8, 2)), jnp.zeros(8, jnp.int32)
    s = hmc.Sampler(MLP, kind=kind, chains=4, warmup=200, samples=300, max_tree_depth=5)
    init = bnn.sample(prior, jax.random.key(0), 4)
    run = s.run(jax.random.key(1), x, y, jnp.zeros(8), prior, init)
    assert run.draws.shape == (4, 300, MLP.size)
    if kind == "hmc_fixed":
        assert (run.num_steps == 20).all() and not run.diverging.any()
        return
    assert run.diverging.sum() == 0
    # The mixture mean is 0.4 per coordinate; the chains rarely cross between the components
    # (separated by 2 in each of 29 coordinates, sd 0.25), so the check is per-chain: each chain
    # sits in one component and its mean sits on -1 or 1 within 4 SE (SE from the chain's ESS).
    from numpyro.diagnostics import effective_sample_size

    d = np.asarray(run.draws, np.float64)
    for c in range(4):
        m = d[c].mean()
        target = 1.0 if m > 0 else -1.0
        ess = float(np.min(effective_sample_size(d[c : c + 1, :, :3])))
        assert_within_se(m, target, 0.25 / np.sqrt(ess * MLP.size), k=6, what=f"chain {c}")


def test_predictive_accuracy_and_diagnose_keys():
    rng = np.random.default_rng(2)
    draws = jnp.asarray(rng.normal(0, 0.3, (2, 10, MLP.size)), jnp.float32)
    x = jnp.asarray(rng.normal(size=(12, 2)), jnp.float32)
    y = jnp.zeros(12, jnp.int32)
    acc = float(hmc.predictive_accuracy(MLP, draws, x, y))
    assert 0.0 <= acc <= 1.0
    run = hmc.Run(draws, np.zeros((2, 10), bool), np.full((2, 10), 7), 1.0)
    d = hmc.diagnose(MLP, run, x)
    assert set(d) == {"rhat_fn_max", "ess_fn_min", "divergences", "mean_leapfrog",
                      "ess_per_1k_leapfrog"}  # fmt: skip
    assert d["mean_leapfrog"] == 7.0 and d["divergences"] == 0
    # 20 draws of 7 leapfrog steps each: 140 gradient evaluations
    assert d["ess_per_1k_leapfrog"] == 1e3 * d["ess_fn_min"] / 140


def test_shard_option_runs_and_on_one_device_changes_nothing():
    """shard=True places the chains across jax.devices(); on one device the draws are the same
    (the 4-device difference it brings is documented in models.hmc.Sampler)."""
    prior = bnn.isotropic(MLP.size, 10.0, 1)
    x, y = jnp.zeros((4, 2)), jnp.zeros(4, jnp.int32)
    init = bnn.sample(prior, jax.random.key(0), 2)
    runs = [
        hmc.Sampler(MLP, kind="nuts", chains=2, warmup=10, samples=10, max_tree_depth=3,
                    shard=shard).run(jax.random.key(1), x, y, jnp.ones(4), prior, init)
        for shard in (False, True)
    ]  # fmt: skip
    if len(jax.devices()) == 1:
        np.testing.assert_array_equal(np.asarray(runs[0].draws), np.asarray(runs[1].draws))
    assert runs[1].draws.shape == (2, 10, MLP.size)


_TWO_DEVICES = """
import jax, jax.numpy as jnp, numpy as np
import runtime
from models import bnn, hmc
assert jax.device_count() == 2
mlp = bnn.MLP(2, 10, 2)  # d = 162: the size that deadlocked with 2 chains per CPU device
prior = bnn.isotropic(mlp.size, 10.0, 2)
x = jax.random.normal(jax.random.key(1), (40, 2))
y = (x[:, 0] > 0).astype(jnp.int32)
try:
    hmc.Sampler(mlp, kind="nuts", chains=4, warmup=8, samples=8, max_tree_depth=3, shard=True)
except ValueError as e:
    print("refused:", e)
init = bnn.sample(prior, jax.random.key(2), 2)
s = hmc.Sampler(mlp, kind="nuts", chains=2, warmup=8, samples=8, max_tree_depth=3, shard=True)
r = s.run(jax.random.key(3), x, y, jnp.ones(40), prior, init)
assert r.draws.shape == (2, 8, mlp.size) and bool(jnp.isfinite(r.draws).all())
print("sharded:", sorted(str(d) for d in r.draws.sharding.device_set))
"""


def test_shard_on_two_cpu_devices_runs_one_chain_each_and_refuses_the_deadlock():
    """On 2 simulated CPU devices: 2 chains (one per device) run to the end under a timeout
    (a deadlock fails the test instead of hanging the suite), split across both devices; 4
    chains (2 per device, the batched-Cholesky deadlock of models.hmc.check_shard) are refused
    with a one-line ValueError before anything is compiled."""
    import os
    import pathlib
    import subprocess
    import sys

    root = pathlib.Path(__file__).resolve().parents[2]
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2"
    out = subprocess.run(
        [sys.executable, "-c", _TWO_DEVICES],
        env=dict(os.environ, XLA_FLAGS=flags.strip(), PYTHONPATH=str(root)),
        capture_output=True, text=True, timeout=240, cwd=root,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0].startswith("refused: sharded chains: 4 chains on 2 CPU devices"), lines
    assert "deadlock" in lines[0]
    assert lines[1] == "sharded: ['cpu:0', 'cpu:1']", lines  # the draws live on both devices
