"""Set disjointness: the generator against Algorithm 1, the exact streaming algorithms' memory,
budgeted accuracy and the random-feature memory against their closed forms (Monte Carlo)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests._asserts import sampled_grid
from theory import set_disjointness as SD

PAPER = "arora2024_jrt"  # the paper this module's time is charged to (conftest)

V = 512  # small vocabulary keeps the per-example permutations cheap


def binom_tol(p, n, k=4.0):
    """k binomial standard errors of a Monte-Carlo accuracy over n examples: with k = 4 a correct
    closed form fails one comparison with probability 6e-5."""
    return k * np.sqrt(max(p * (1 - p), 1.0 / n) / n)


# Grids sampled (tests._asserts.sampled_grid): every split / algorithm in the fast suite, the
# rest of each grid under `slow`; each case is its own compile of the stream scans (~4 s cold).
@pytest.mark.parametrize(
    ("split", "a", "b"),
    sampled_grid(
        [(s, *ab) for s in ("random", "fixed") for ab in ((1, 2), (4, 16), (16, 4), (7, 7))], 3
    ),
)
def test_generator_is_algorithm_1(split, a, b):
    bt = jax.device_get(SD.sd_batch(jax.random.key(0), 200, a, b, V, split=split))
    toks = bt["tokens"]
    assert toks.shape == (200, a + b + 3)
    assert (toks[:, 0] == SD.PREFIX).all() and (toks[:, a + 1] == SD.SEP_SETS).all()
    assert (toks[:, -1] == SD.SEP_ANSWER).all()
    for i in range(200):
        assert SD.check_sets(toks[i, 1 : a + 1], toks[i, a + 2 : -1]) == bt["target"][i]
    if split == "fixed":  # Algorithm 1 literally: A from the first half, B (but t) from the second
        half = V // 2
        assert (bt["a"] < SD.N_SPECIAL + half).all()
        assert ((bt["b"] >= SD.N_SPECIAL + half) | (bt["b"] == bt["target"][:, None])).all()


def test_generator_position_of_the_common_element_is_uniform():
    b = 8
    bt = SD.sd_batch(jax.random.key(1), 8000, 4, b, 64)
    pos = np.argmax(np.asarray(bt["b"]) == np.asarray(bt["target"])[:, None], 1)
    counts = np.bincount(pos, minlength=b)
    # chi-square with 7 dof: the 0.9999 quantile is 29.9
    assert ((counts - 1000) ** 2 / 1000).sum() < 29.9


def test_random_split_uses_the_whole_vocabulary_and_removes_the_shortcut():
    bt = SD.sd_batch(jax.random.key(2), 4000, 8, 8, V)
    assert np.asarray(bt["a"]).max() >= SD.N_SPECIAL + V // 2  # A is not confined to a half
    fixed = SD.sd_batch(jax.random.key(2), 500, 8, 8, V, split="fixed")
    leak = SD.zero_memory_fixed_split(fixed["tokens"], SD.N_SPECIAL, SD.N_SPECIAL + V // 2)
    assert bool((leak == fixed["target"]).all())  # the literal text needs no memory at all
    leak_r = SD.zero_memory_fixed_split(bt["tokens"], SD.N_SPECIAL, SD.N_SPECIAL + V // 2)
    assert float((leak_r == bt["target"]).mean()) < 0.2


@pytest.mark.parametrize(
    ("a", "b", "msg"),
    [([], [5], "non-empty"), ([5, 6], [5, 6], "overlap in 2"), ([5, 6], [7], "overlap in 0"),
     ([5, 5], [5], "repeats"), ([2, 5], [5], "special")],
)  # fmt: skip
def test_bad_sets_are_clear_errors(a, b, msg):
    with pytest.raises(ValueError, match=msg):
        SD.check_sets(a, b)


def test_bad_sizes_are_clear_errors():
    with pytest.raises(ValueError, match="non-empty"):
        SD.sd_batch(jax.random.key(0), 4, 0, 3, V)
    with pytest.raises(ValueError, match="halves"):
        SD.sd_batch(jax.random.key(0), 4, 3, 30, 64)


@pytest.mark.parametrize(
    ("a", "b"), sampled_grid([(1, 5), (4, 16), (16, 4), (9, 9), (30, 2)], 2, cover=None)
)
def test_exact_algorithms_memory(a, b):
    bt = SD.sd_batch(jax.random.key(3), 300, a, b, V)
    big = 10**6
    ans, peak, found = SD.run_stream(
        jax.random.key(4), bt["tokens"], vocab=V, budget=big, algorithm=SD.Stream.ONE_PASS
    )
    assert bool((ans == bt["target"]).all() and found.all()) and set(np.asarray(peak)) == {a}
    ans, peak, found = SD.run_stream(
        jax.random.key(4), SD.jrt_prompt(bt["tokens"]), vocab=V, budget=big, algorithm=SD.Stream.JRT
    )
    assert bool((ans == bt["target"]).all() and found.all())
    assert set(np.asarray(peak)) == {min(a, b)}


@pytest.mark.parametrize(
    ("alg", "a", "b", "m"),
    sampled_grid(
        [
            (alg, *c)
            for alg in (SD.Stream.ONE_PASS, SD.Stream.JRT)
            for c in ((8, 24, 3), (24, 8, 3), (16, 16, 5), (12, 6, 1))
        ],
        3,
    ),
)
def test_budgeted_accuracy_matches_closed_form(alg, a, b, m):
    n = 4000
    bt = SD.sd_batch(jax.random.key(5), n, a, b, V)
    toks = bt["tokens"] if alg == SD.Stream.ONE_PASS else SD.jrt_prompt(bt["tokens"])
    ans, peak, _ = SD.run_stream(jax.random.key(6), toks, vocab=V, budget=m, algorithm=alg)
    s, l = (a, b) if alg == SD.Stream.ONE_PASS else (min(a, b), max(a, b))
    want = float(SD.budgeted_accuracy(s, l, m))
    got = float((ans == bt["target"]).mean())
    assert abs(got - want) <= binom_tol(want, n)
    assert int(peak.max()) == min(m, s)


def test_lower_bounds():
    u = V - SD.N_SPECIAL
    # the one-pass bound is the optimal code of the first set; plain storage is above it
    for a in (1, 4, 64, 256):
        lb = SD.one_pass_lower_bound_bits(a, u)
        assert lb == pytest.approx(SD.set_bits(a, u))
        assert lb <= a * np.log2(u) + 1e-9
    assert SD.one_pass_lower_bound_bits(1, u) == pytest.approx(np.log2(u))
    assert SD.jr_p_lower_bound_bits(64, 8, 2) == 4.0 == SD.jr_p_lower_bound_bits(8, 64, 2)
    assert SD.jr_p_lower_bound_bits(64, 64, 1) == 2 * SD.jr_p_lower_bound_bits(64, 64, 2)


@pytest.mark.parametrize(
    ("s", "l", "f"),
    sampled_grid([(16, 64, 256), (64, 16, 256), (64, 64, 1024), (128, 8, 2048)], 2, cover=None),
)
def test_rf_memory_matches_gaussian_closed_form(s, l, f):
    """Large f (f >= 4 s): the CLT regime of the closed form. At small f the scores are
    discrete (multiples of 1/f) and the closed form is only approximate (see the experiment)."""
    n = 4000
    bt = SD.sd_batch(jax.random.key(7), n, s, l, V)
    _, gram = next(SD.nested_grams(jax.random.key(8), V, [f]))
    pred = SD.rf_memory_predict(gram, bt["a"], bt["b"], jax.random.key(9))
    got = float((pred == bt["target"]).mean())
    want = float(SD.rf_accuracy_gaussian(s, l, f))
    assert abs(got - want) <= binom_tol(want, n)


def test_rf_state_for_95_percent_grows_linearly_in_the_stored_set():
    fs = np.array([SD.rf_state_for_accuracy(s, 64) for s in (32, 64, 128, 256)])
    assert float(SD.rf_accuracy_gaussian(64, 64, fs[1])) == pytest.approx(0.95, abs=1e-3)
    slope = np.polyfit(np.log([32, 64, 128, 256]), np.log(fs), 1)[0]
    assert abs(slope - 1.0) < 0.05  # f* ~ s z^2 with z fixed by the probe size: exactly linear
    # small-first beats large-first at equal state
    assert SD.rf_accuracy_gaussian(16, 128, 512) > SD.rf_accuracy_gaussian(128, 16, 512) + 0.2


def test_exact_kernel_and_reductions():
    bt = SD.sd_batch(jax.random.key(10), 500, 20, 6, V)
    small, large = bt["b"], bt["a"]
    pred, f = SD.exact_kernel_predict(small, large)
    assert bool((pred == bt["target"]).all()) and f == 6
    keys, vals, queries = SD.sd_to_gar(bt["a"], bt["b"])
    ans, hits = SD.sd_from_gar(queries, SD.gar_answer(keys, vals, queries))
    assert bool((ans == bt["target"]).all() and (hits == 1).all())
    m = SD.mqar_batch(jax.random.key(11), n=50, num_kv=8, num_queries=4, vocab=128)
    np.testing.assert_array_equal(SD.gar_answer(m["keys"], m["values"], m["queries"]), m["answers"])
    assert m["tokens"].shape == (50, 2 * 8 + 1 + 4)
    sw = SD.swap_order(bt)
    assert bool((sw["tokens"][:, 1:7] == bt["b"]).all())
    assert SD.jrt_prompt(bt["tokens"], 3).shape == (500, 3 * bt["tokens"].shape[1])
    with pytest.raises(ValueError, match="p must"):
        SD.jrt_prompt(bt["tokens"], 0)
    assert jnp.issubdtype(bt["tokens"].dtype, jnp.integer)
