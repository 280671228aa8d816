"""Streaming-bandit closed forms (theory/streaming_bandits.py) vs their simulators."""

from __future__ import annotations

import itertools
import json
import math
import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.streaming_bandit_regret import numpy_uniform_exploration
from runtime.compile_options import quick_compile_options
from tests._asserts import assert_close, assert_within_se, sampled_grid
from tests.conftest import FAST_TIER_XLA_FLAGS
from theory import streaming_bandits as B
from theory import streaming_bandits_sim as S

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAPER = "wang2023_streaming_bandits"  # the paper this module's time is charged to (conftest)

pytestmark = pytest.mark.usefixtures("x64")


# --- closed forms: known values and identities ------------------------------------------------


def test_known_values():
    # eps = (K/T)^(1/3): K = 8, T = 64 -> (1/8)^(1/3) = 1/2.
    assert_close(B.eps_star(8.0, 64.0), 0.5)
    # K^(1/3) T^(2/3) = 2 * 16 = 32.
    assert_close(B.regret_rate(8.0, 64.0), 32.0)
    assert_close(B.hard_instance_gap(8.0, 64.0, c=0.4), 0.2)
    # naive pulls ln K / eps^2 = 4 ln 8.
    assert_close(B.naive_eps_best_pulls(8.0, 64.0), 4 * math.log(8))


@pytest.mark.parametrize("K,T", [(10.0, 1e6), (1e3, 1e12), (5e4, 1.25e17)])
def test_uniform_bound_closed_form(K, T):
    # With m = (T/K)^(2/3) log^(1/3) T the bound K m + T sqrt(ln T / m) + K equals
    # 2 K^(1/3) T^(2/3) log^(1/3) T + K (docstring derivation).
    expected = 2 * K ** (1 / 3) * T ** (2 / 3) * math.log(T) ** (1 / 3) + K
    assert_close(B.uniform_exploration_regret_bound(K, T), expected)


def test_naive_bound_is_exploration_plus_two_T_eps():
    K, T = 1e3, 1e12
    exploration = K * B.naive_eps_best_pulls(K, T)
    assert_close(B.naive_eps_best_regret_bound(K, T), exploration + 2 * T * B.eps_star(K, T))


def test_loglog_excess_is_the_derivative():
    # d/dlnT of ln(log^(1/3) T) = 1/(3 ln T); central difference in ln T.
    T, h = 1e10, 1e-4
    f = lambda lt: math.log(lt ** (1 / 3))
    lt = math.log(T)
    numeric = (f(math.log(T * math.exp(h))) - f(math.log(T * math.exp(-h)))) / (2 * h)
    assert_close(B.loglog_slope_excess(T), numeric, rtol=1e-6)
    assert lt > 0


def test_rates_compose_under_jit_and_vmap():
    K = jnp.array([10.0, 100.0, 1000.0])
    T = jnp.array([1e6, 1e9, 1e12])
    direct = B.uniform_exploration_regret_bound(K, T)
    vm = jax.jit(jax.vmap(B.uniform_exploration_regret_bound))(K, T)
    assert_close(vm, direct)


# --- sampling model ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [10.0, 1e6, 1e15])
def test_sample_mean_is_exact_binomial(n):
    # Mean and variance of Binomial(n, mu)/n over N draws: the sample mean has SE sqrt(var/N); the
    # sample variance of N normal-ish draws has relative SE sqrt(2/(N-1)).
    mu, N = 0.3, 20_000
    keys = jax.random.split(jax.random.key(1), N)
    x = np.asarray(jax.vmap(lambda k: S.sample_mean(k, mu, n, authors=False))(keys))
    var = mu * (1 - mu) / n
    assert_within_se(x.mean(), mu, math.sqrt(var / N), what="mean")
    assert_within_se(x.var(ddof=1) / var, 1.0, math.sqrt(2 / (N - 1)), what="variance ratio")


@pytest.mark.parametrize("authors", [False, True])
@pytest.mark.parametrize("compact", [False, True])
def test_sample_means_are_the_one_by_one_draws(monkeypatch, authors, compact):
    """sample_means over several sites and pull counts in one call, through its blocked path
    (SAMPLE_BLOCK shrunk to 8: 59 draws in 8 blocks, the last padded), equals sample_mean drawn
    one by one with each (arm, site) key, bit for bit: what run_goa's single pre-drawing call
    and the cascades' shared duel call rely on (and the full preset's K = 5e4 reaches)."""
    monkeypatch.setattr(S, "SAMPLE_BLOCK", 8)
    K = 30
    key = jax.random.key(3)
    mu = jax.random.uniform(jax.random.key(4), (K,), jnp.float64)
    arms = jnp.concatenate([jnp.arange(K), jnp.arange(1, K)]).astype(jnp.int32)
    sites = jnp.asarray([S.SITE_GOA_FRAC] * K + [S.SITE_GOA_KING] * (K - 1), jnp.int32)
    # pull counts on both sides of the authors' 1e5 switch (exact below, Gaussian above)
    ns = jnp.asarray([4e3] * K + [3e6] * (K - 1), jnp.float64)
    got = jax.jit(
        lambda: S.sample_means(key, arms, sites, mu, ns, authors=authors, compact=compact)
    )()
    # both jitted (eager op-by-op execution may round differently from a compiled program)
    want = jax.jit(
        jax.vmap(lambda a, s, n: S.sample_mean(S._site_key(key, a, s), mu[a], n, authors=authors))
    )(arms, sites, ns)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_authors_noise_is_inflated_above_1e5_pulls():
    # streamingMAB.py: mu + N(0, 2/sqrt(n)) for n > 1e5, a std 2/sqrt(n) / sqrt(mu(1-mu)/n) >= 4x.
    mu, n, N = 0.3, 1e8, 20_000
    keys = jax.random.split(jax.random.key(2), N)
    x = np.asarray(jax.vmap(lambda k: S.sample_mean(k, mu, n, authors=True))(keys))
    assert_within_se(
        x.std(ddof=1) / (2 / math.sqrt(n)),
        1.0,
        math.sqrt(1 / (2 * (N - 1))),
        what="authors std ratio",
    )


# --- algorithms: exact small cases, memory, structure -----------------------------------------


def test_uniform_exploration_exact_regret_on_separated_pair():
    # Two arms 0.95 and 0.05 with m ~ 1e3 pulls each: P(pick the worse) < exp(-m 0.9^2) ~ 0, so
    # regret = m * 0.9 (exploring the bad arm) exactly and the committed gap is 0.
    mu = jnp.array([0.05, 0.95])
    K, T = 2, 1e6
    m = math.ceil(B.uniform_exploration_pulls(K, T))
    out = S.run_algorithm(mu, jax.random.key(0), T, name="uniform", authors=False)
    assert_close(out.regret, m * 0.9)
    assert float(out.chosen_gap) == 0.0
    assert_close(out.explore_pulls, 2 * m)


# algorithms x K x (ours, authors'): 24 compiled scans (~4 min cold); the fast suite runs a
# deterministic 6 covering every algorithm, make test-slow the other cases
@pytest.mark.parametrize(
    "name,K,authors",
    sampled_grid(list(itertools.product(S.ALGORITHMS, [16, 300], [False, True])), 6),
)
def test_memory_within_bound_and_budget_kept(name, K, authors):
    T = 100.0 * K**3
    keys = jax.random.split(jax.random.key(3), 4)
    mu = jax.vmap(lambda k: S.mix_in_means(k, K))(keys)
    # jitted: one compiled program, not the hundreds of small eager ones an un-jitted vmap
    # dispatches (make test-slow-rest segfaulted twice in XLA:CPU compiling one of those)
    run = jax.jit(jax.vmap(lambda m, k: S.run_algorithm(m, k, T, name=name, authors=authors)))
    out = run(mu, keys)
    assert int(out.max_memory.max()) <= S.memory_bound(name, K)
    assert not bool(out.overrun.any())
    assert np.all(np.asarray(out.regret) >= 0)
    assert np.all(np.asarray(out.arms_read) == K)


def test_level_structure_matches_authors_formulas():
    # algorithms.py: log: int(ln K) levels; loglog: int(ln ln K) + 1; logstar: 1 + number of
    # iterated logs until < 1 (K = 5e4: 10.8, 2.38, 0.87 -> 4).
    assert S.num_levels("log", 50_000) == int(math.log(50_000)) == 10
    assert S.num_levels("loglog", 50_000) == 3
    assert S.num_levels("logstar", 50_000) == 4
    # log: level 0 takes 6 + 1 arrivals; upper levels 1 free + 7 challengers + the duel.
    assert S.cascade("log", 50_000).caps == (7,) + (9,) * 8 + (S.NO_CAP,)
    # logstar: r = 2, 4, 16, 65536; caps 5, 2^(4-2)+3, 2^(16-4)+3, uncapped top.
    assert S.cascade("logstar", 50_000).caps == (5, 7, 4099, S.NO_CAP)


def test_common_random_numbers_and_determinism():
    K, T = 64, 1e8
    mu = S.clear_cut_means(jax.random.key(4), K)
    a = S.run_algorithm(mu, jax.random.key(5), T, name="log", authors=False)
    b = S.run_algorithm(mu, jax.random.key(5), T, name="log", authors=False)
    assert float(a.regret) == float(b.regret)
    # UE and naive read level-0 samples from the same keys: with equal batch sizes they coincide.
    # Here batches differ, so just check the run is a pure function of (mu, key, T).
    c = jax.jit(lambda m, k: S.run_algorithm(m, k, T, name="log", authors=False))(
        mu, jax.random.key(5)
    )
    assert_close(c.regret, a.regret)


def test_vmap_equals_loop():
    K, T = 40, 1e7
    keys = jax.random.split(jax.random.key(6), 3)
    mu = jax.vmap(lambda k: S.mix_in_means(k, K))(keys)
    run = jax.jit(lambda m, k: S.run_algorithm(m, k, T, name="loglog", authors=False))
    batched = jax.jit(jax.vmap(run))(mu, keys)
    for r in range(3):
        single = run(mu[r], keys[r])  # one compiled program for the three runs
        assert_close(batched.regret[r], single.regret)


# --- closed form vs estimator ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,bound",
    [
        ("uniform", B.uniform_exploration_regret_bound),
        ("naive", B.naive_eps_best_regret_bound),
    ],
)
def test_simulated_regret_below_upper_bound(name, bound):
    # Expected regret <= bound for every instance with rewards in [0, 1]; the mean of R runs may
    # exceed it only by noise, so we allow 4 SE.
    K, T, R = 50, 1e9, 32
    keys = jax.random.split(jax.random.key(7), R)
    mu = jax.vmap(lambda k: S.mix_in_means(k, K))(keys)
    reg = np.asarray(
        jax.vmap(lambda m, k: S.run_algorithm(m, k, T, name=name, authors=False))(mu, keys).regret
    )
    se = reg.std(ddof=1) / math.sqrt(R)
    assert reg.mean() <= float(bound(K, T)) + 4 * se


def test_hard_family_regret_is_at_least_the_exploration_floor():
    # On the hard family every arm but one has gap eps0, so exploring K-1 of them at m pulls costs
    # (K-1) m eps0 at least (uniform exploration explores every arm).
    K, T = 50, 1e9
    eps0 = float(B.hard_instance_gap(K, T))
    mu = S.hard_means(jax.random.key(8), K, eps0)
    out = S.run_algorithm(mu, jax.random.key(9), T, name="uniform", authors=False)
    m = math.ceil(B.uniform_exploration_pulls(K, T))
    assert float(out.regret) >= (K - 1) * m * eps0 * (1 - 1e-12)


def test_jax_scan_matches_independent_numpy_loop():
    # Same algorithm (corrected uniform exploration), same instances, independent randomness: the
    # mean regrets over R runs agree within 4 SE of their difference.
    K, T, R = 60, 1e8, 48
    keys = jax.random.split(jax.random.key(10), R)
    mu = jax.vmap(lambda k: S.mix_in_means(k, K))(keys)
    jx = np.asarray(
        jax.vmap(lambda m, k: S.run_algorithm(m, k, T, name="uniform", authors=False))(
            mu, keys
        ).regret
    )
    rng = np.random.default_rng(0)
    nx = np.array([numpy_uniform_exploration(np.asarray(mu[r]), T, rng) for r in range(R)])
    se = math.sqrt(jx.var(ddof=1) / R + nx.var(ddof=1) / R)
    assert_within_se(jx.mean(), nx.mean(), se, what="jax vs numpy mean regret")


# --- instances and validation -----------------------------------------------------------------


def test_instances():
    K = 1000
    mu = np.asarray(S.clear_cut_means(jax.random.key(11), K))
    assert np.sum(mu == 0.82) == 1 and mu.max() == 0.82
    crowd = mu[mu != 0.82]
    assert crowd.min() >= 0.0 and crowd.max() <= 0.8
    # TruncNormal(0.5, 0.1; [0, 0.8]): mean 0.5 + 0.1 (phi(-5) - phi(3)) / (Phi(3) - Phi(-5))
    # = 0.49956; the sample mean of 999 draws has SE <= 0.1/sqrt(999).
    assert_within_se(crowd.mean(), 0.4996, 0.1 / math.sqrt(999), what="crowd mean")
    hard = np.asarray(S.hard_means(jax.random.key(12), K, 0.01))
    assert np.sum(hard == 0.5) == K - 1 and np.isclose(hard.max(), 0.51)


@pytest.mark.parametrize(
    "K,T,mu,msg",
    [
        (1, 10.0, None, "K must be >= 2"),
        (10, 5.0, None, "T must be >= K"),
        (2, 10.0, jnp.array([0.5, 1.2]), "arm means must lie in [0, 1]"),
    ],
)
def test_validation_messages(K, T, mu, msg):
    with pytest.raises(ValueError, match=re_escape(msg)):
        S.validate_instance(K, T, mu)


def re_escape(s):
    import re

    return re.escape(s)


def _golden_inputs():
    K, R = 48, 4
    key = jax.random.key(11)
    mus, Ts = [], []
    makers = (
        lambda k: S.clear_cut_means(k, K),
        lambda k: S.mix_in_means(k, K),
        lambda k: S.hard_means(k, K, 0.05),
    )
    for i, make in enumerate(makers):
        mu = jax.vmap(make)(jax.random.split(jax.random.fold_in(key, i), R))
        for T in (1.0 * K**3, 1e3 * K**3):
            mus.append(mu)
            Ts += [T] * R
    keys = jax.random.split(jax.random.fold_in(key, 7), len(Ts))
    return jnp.concatenate(mus), keys, jnp.asarray(Ts)


GOLDEN = json.loads((ROOT / "tests" / "fixtures" / "streaming_bandits_golden.json").read_text())


# 48 cases (algorithm x mode x pre-drawing sampler x QUICK_COMPILE), one compiled program each
# (~3-5 s cold). The fast suite runs four, at its own XLA flags: goa (the early-stopping
# challenge loop and the one pre-drawing call) with both samplers (compact=False is jax's own,
# as the smoke and quick presets run), log in the authors' mode (duels and the pre-drawn level
# 0) and the authors' uniform (its stored-0 first arm); make test-slow runs the other 44.
FAST_GOLDEN = (("goa", False, True), ("log", True, True), ("uniform", True, True))
FAST_GOLDEN += (("goa", False, False),)


@pytest.mark.parametrize(
    "name,authors,compact,quick",
    [
        pytest.param(
            n, a, c, q, marks=() if (n, a, c) in FAST_GOLDEN and not q else pytest.mark.slow
        )
        for n in S.ALGORITHMS
        for a in (False, True)
        for c in (True, False)
        for q in (False, True)
    ],
)
def test_bit_for_bit_with_the_recorded_slower_form(name, authors, compact, quick):
    """The early-stopping challenge loop and the pre-drawn level-0 samples change no bit of any
    outcome, with either exact sampler (tests/fixtures/streaming_bandits_golden.json says what
    was recorded and from what); quick: nor does compiling with
    runtime.compile_options.QUICK_COMPILE, as experiments.streaming_bandit_regret does on CPU
    (slow tier only: the fast tier's own XLA flags take its place there)."""
    mu, keys, T = _golden_inputs()
    fast_tier = FAST_TIER_XLA_FLAGS[0] in os.environ.get("XLA_FLAGS", "").split()
    options = quick_compile_options() if quick else None
    if quick and not fast_tier and jax.default_backend() == "cpu":
        assert options, "QUICK_COMPILE not in force: this case would test nothing new"
    out = jax.jit(
        jax.vmap(
            lambda m, k, t: S.run_algorithm(m, k, t, name=name, authors=authors, compact=compact)
        ),
        compiler_options=options,
    )(mu, keys, T)
    want = GOLDEN["cases_fast_tier" if fast_tier else "cases"][f"{name}/{authors}"]
    for field, values in out._asdict().items():
        got = np.asarray(values)
        expect = [float.fromhex(v) if isinstance(v, str) else v for v in want[field]]
        np.testing.assert_array_equal(got.astype(np.float64), np.asarray(expect, np.float64),
                                      err_msg=field)  # fmt: skip
