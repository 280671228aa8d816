"""Single-pass streaming bandits: the K^(1/3) T^(2/3) regret law, algorithms vs uniform exploration.

Reproduces Wang, "Tight Regret Bounds for Single-pass Streaming Multi-armed Bandits", ICML 2023,
arXiv:2306.02208v1, with the semantics of the authors' code (github
jhwjhw0123/streaming-regret-minimization-MABs) behind `authors=True` and corrected accounting as
the default (see theory/streaming_bandits_sim.py for the six departures and their fixes).

Commands:
    python -m experiments.streaming_bandit_regret                  # quick: K=100, ~2 min
    python -m experiments.streaming_bandit_regret --preset full    # K=5e4, T up to 1e4 K^3 (the
        authors' K = 5e4, T = 1000 K^3 included), 24 runs (the authors ran 50)

Headline (quick, CPU, 2026-12-07): on the clear-cut and mix-in families the fitted regret-vs-T
slopes of naive, log, loglog and log* lie within 0.01 of 2/3 and uniform exploration's at 0.685
(its log^(1/3) T excess); game of arms is 0.80 on clear-cut at K = 100 (0.67 on mix-in); the best
routine's regret is 0.37x uniform exploration's (corrected accounting).

What runs: per family (clear-cut, mix-in, hard) x horizon T x run, every algorithm in both modes,
as one `jit(vmap(lax.scan))` per (algorithm, mode) with the batch axis sharded over jax.devices().
A run touches an arm only through exact Binomial(n, mu)/n draws, so T up to 1e17 costs the same as
T = 1e6. No Pallas here: the arm scan is sequential with tiny per-step work (a few scalar draws and
compares per arm), which is XLA's job; a Pallas kernel would only run interpreted on CPU and would
save nothing on GPU.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from experiments._lib import claims as C
from experiments._lib import cli, plotting
from runtime import progress, rng
from runtime.compile_options import quick_compile_options
from runtime.sharding import shard_map_batch
from runtime.timing import time_fn
from theory import stats
from theory import streaming_bandits as B
from theory import streaming_bandits_sim as S
from theory.stats import loglog_slope, loglog_slope_from_means

PAPER = "wang2023_streaming_bandits"
CITED_PRESET = "full"
DEBIAN_PACKAGES: tuple[str, ...] = ()

FAMILIES = ("clear_cut", "mix_in", "hard")
K_FAMILIES = ("clear_cut", "mix_in")  # the K law is claimed for these (see check_claims)
LABELS = {
    "uniform": "uniform exploration",
    "naive": "naive eps-best (1 arm)",
    "goa": "game of arms (2 arms)",
    "log": "log-level promotion",
    "loglog": "loglog-level promotion",
    "logstar": "log*-level promotion",
}
# Regrets measured by running the authors' released code (github
# jhwjhw0123/streaming-regret-minimization-MABs @ d3328e6, its test.py setup: np.random.seed(s) for
# s = 0..49) at given (family, K, T); see papers_repro/wang2023_streaming_bandits.md. The repository
# ships no result files, so these runs stand in for "the authors' released numbers".
AUTHORS_CODE_RESULTS = (
    pathlib.Path(__file__).resolve().parents[1]
    / "papers_repro"
    / "data"
    / "wang2023_authors_code.json"
)
# PRNG streams (fold_in of the root key).
STREAM_INSTANCE = 1
STREAM_ALGORITHM = 2
STREAM_KSWEEP = 3
STREAM_BENCH = 4


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    K: int = 200  # arms in the T sweep
    t_factors: tuple[float, ...] = (1.0, 10.0, 100.0, 1000.0, 1e4)  # T = factor * K^3
    runs: int = 16
    algorithms: tuple[str, ...] = S.ALGORITHMS
    k_sweep: tuple[int, ...] = (50, 100, 200, 400, 800)
    k_sweep_T: float = 1e11
    hard_c: float = 1.0  # hidden gap eps0 = hard_c (K/T)^(1/3)
    clear_cut_best: float = 0.82  # the clear-cut family's best mean (authors' test.py)
    authors_t_factor: float = 1000.0  # the authors' T = 1000 K^3
    bench_runs: int = 8
    max_memory: int = 0  # arm-memory budget every algorithm must meet (0: no budget)
    seed: int = 0

    def __post_init__(self):
        # The simulators' own input check, for every (K, T) pair the sweeps will run.
        for f in self.t_factors:
            S.validate_instance(self.K, f * self.K**3)
        for k in self.k_sweep:
            S.validate_instance(k, self.k_sweep_T)
        if len(self.t_factors) < 2 or len(self.k_sweep) < 2:
            raise ValueError("t_factors and k_sweep need at least 2 values for a slope")
        unknown = set(self.algorithms) - set(S.ALGORITHMS)
        if unknown:
            raise ValueError(f"unknown algorithms {sorted(unknown)} (known: {S.ALGORITHMS})")
        if "uniform" not in self.algorithms:
            raise ValueError("algorithms must include 'uniform' (the baseline for ratios)")
        if self.authors_t_factor not in self.t_factors:
            raise ValueError("authors_t_factor must be one of t_factors")
        if self.runs < 2 or self.bench_runs < 1:
            raise ValueError("runs must be >= 2 (standard errors) and bench_runs >= 1")
        if max(self.runs, self.bench_runs) > 100_000:
            raise ValueError("runs and bench_runs must be <= 100000")
        if not 0.0 <= self.clear_cut_best <= 1.0:
            raise ValueError(f"arm means must lie in [0, 1] (clear_cut_best={self.clear_cut_best})")
        if self.max_memory < 0:
            raise ValueError("max_memory must be >= 0 (0 means no budget)")
        if self.max_memory > max(self.K, *self.k_sweep):
            # storing every arm meets any budget of K or more: such a budget constrains nothing
            raise ValueError(
                f"max_memory {self.max_memory} exceeds the largest K "
                f"({max(self.K, *self.k_sweep)}), where it constrains nothing; use 0 for no budget"
            )
        if self.max_memory:
            for K in (self.K, *self.k_sweep):
                for name in self.algorithms:
                    need = S.memory_bound(name, K)
                    if need > self.max_memory:
                        raise ValueError(
                            f"algorithm {name!r} stores {need} arms at K={K}, over the "
                            f"max_memory budget {self.max_memory}; drop it or raise the budget"
                        )
        if not 0.0 < self.hard_c * (self.K / (min(self.t_factors) * self.K**3)) ** (1 / 3) <= 0.5:
            raise ValueError("hard_c gives a hidden arm mean outside [0, 1]")


PRESETS = {
    # smoke: seconds, for the tests: every algorithm, family and claim at the smallest sizes
    "smoke": Config(
        K=24, runs=4, t_factors=(1.0, 10.0, 1000.0), k_sweep=(12, 24), k_sweep_T=1e6, bench_runs=1
    ),
    # The quick run is compile-bound (2026-12-06: 502 of 555 s compiling 31 programs, one per
    # algorithm x mode x K shape, 6-17 s each beside another run): its K sweep includes the T
    # sweep's K, whose programs it reuses (run() pads to that batch), 6 compiles fewer; its
    # pre-drawn samples use jax's own sampler (simulate's `compact`): 200 -> 162 s alone; its
    # programs compile with runtime.compile_options.QUICK_COMPILE: 196 -> 112 s (2026-12-07, run
    # alone back to back, results.json equal but for the timings); game of arms' pre-drawn
    # sites in one sampler call (theory.streaming_bandits_sim.run_goa): 79 -> 68 s.
    "quick": Config(K=100, runs=16, k_sweep=(25, 100, 400), k_sweep_T=1e10, bench_runs=16),
    "full": Config(
        K=50_000,
        t_factors=(1.0, 10.0, 100.0, 1000.0, 1e4),
        runs=24,
        k_sweep=(1000, 3000, 10_000, 30_000),
        k_sweep_T=1e16,
        bench_runs=96,
    ),
}


def memory_estimate(cfg: Config) -> int:
    """Peak bytes of one simulate() call, the flat batch of (family, T, run) instances of the T
    sweep or of one K-sweep point: per instance the K arm means and the scan's per-arm state
    (counts, sums, the level bookkeeping of the multi-level routines: ~16 float64 per arm),
    x2 for the output and XLA's temporaries."""
    t_batch = len(FAMILIES) * len(cfg.t_factors) * cfg.runs * cfg.K
    k_batch = len(K_FAMILIES) * cfg.runs * max(cfg.k_sweep)
    bench = cfg.bench_runs * cfg.K
    return 2 * 8 * 17 * max(t_batch, k_batch, bench)


# --- simulation ------------------------------------------------------------------------------


def _instances(key, family: str, K: int, Ts: np.ndarray, runs: int, cfg: Config):
    """Means of shape (len(Ts), runs, K): one instance per run, shared across T (and algorithms)."""
    keys = jax.random.split(key, runs)
    if family == "clear_cut":
        mu = jax.vmap(lambda k: S.clear_cut_means(k, K, best=cfg.clear_cut_best))(keys)
        return jnp.broadcast_to(mu, (len(Ts), runs, K))
    if family == "mix_in":
        mu = jax.vmap(lambda k: S.mix_in_means(k, K))(keys)
        return jnp.broadcast_to(mu, (len(Ts), runs, K))
    eps0 = B.hard_instance_gap(K, jnp.asarray(Ts), c=cfg.hard_c)
    return jax.vmap(lambda e: jax.vmap(lambda k: S.hard_means(k, K, e))(keys))(eps0)


def simulate(
    mu_BxK, key_B, T_B, *, name: str, authors: bool, pad_to: int = 0, compact: bool | None = None
) -> dict:
    """Runs one algorithm over a flat batch of (instance, key, T), sharded over devices.

    pad_to: run the batch padded (with copies of its first instance) to this many rows and
    drop the padding: a batch of another call's shape then reuses that call's compiled program
    (instances are independent under vmap). compact: the pre-drawn samples' exact sampler
    (theory.streaming_bandits_sim.sample_means; the same numbers either way); by default the
    compacted one only where a call draws >= COMPACT_MIN_DRAWS values (B x K per site), the
    size at which its speed repays its longer compile. On CPU every program compiles with
    runtime.compile_options.QUICK_COMPILE (half the compile time, the same bits: measured and
    tested there)."""
    n = mu_BxK.shape[0]
    if pad_to > n:
        mu_BxK, key_B, T_B = (
            jnp.concatenate([x, jnp.repeat(x[:1], pad_to - n, axis=0)])
            for x in (mu_BxK, key_B, T_B)
        )
    if compact is None:
        compact = mu_BxK.shape[0] * mu_BxK.shape[1] >= S.COMPACT_MIN_DRAWS
    fn = _runner(name, authors, compact)
    out = shard_map_batch(fn, mu_BxK, key_B, T_B, compiler_options=quick_compile_options())
    return {k: np.asarray(v)[:n] for k, v in out._asdict().items()}


_RUNNERS: dict = {}


def _runner(name: str, authors: bool, compact: bool):
    if (name, authors, compact) not in _RUNNERS:

        def fn(mu, key, T):
            return S.run_algorithm(mu, key, T, name=name, authors=authors, compact=compact)

        _RUNNERS[(name, authors, compact)] = fn
    return _RUNNERS[(name, authors, compact)]


def _batch(root, K: int, Ts, runs: int, cfg: Config, families, stream: int):
    """Flat batch over (family, T, run); algorithm keys shared across algorithms (CRN)."""
    mus, keys, Tb = [], [], []
    Ts = np.asarray(Ts, np.float64)
    for f_i, family in enumerate(families):
        k_inst = jax.random.fold_in(jax.random.fold_in(root, stream + 10 * STREAM_INSTANCE), f_i)
        mu = _instances(k_inst, family, K, Ts, runs, cfg)  # (nT, R, K)
        mus.append(mu.reshape(-1, K))
        k_alg = jax.random.fold_in(jax.random.fold_in(root, stream + 10 * STREAM_ALGORITHM), f_i)
        k = jax.random.split(k_alg, len(Ts) * runs)
        keys.append(k)
        Tb.append(np.repeat(Ts, runs))
    return jnp.concatenate(mus), jnp.concatenate(keys), jnp.asarray(np.concatenate(Tb))


def _summarise(out: dict, n_fam: int, n_T: int, runs: int) -> dict:
    shape = (n_fam, n_T, runs)
    return {k: v.reshape(shape) for k, v in out.items()}


def numpy_uniform_exploration(mu: np.ndarray, T: float, rng: np.random.Generator) -> float:
    """Straightforward NumPy loop over arms (the speed baseline): corrected uniform exploration."""
    K = len(mu)
    # Plain NumPy throughout: a JAX call here would add dispatch overhead to the baseline.
    m = float(np.ceil((T / K) ** (2.0 / 3.0) * np.log(T) ** (1.0 / 3.0)))
    best = mu.max()
    regret, pulls, king, king_est = 0.0, 0.0, -1, -np.inf
    for i in range(K):
        if pulls + m > T:
            break
        x = rng.binomial(int(m), mu[i]) / m
        regret += m * (best - mu[i])
        pulls += m
        if king < 0 or x > king_est:
            king, king_est = i, x
    return regret + max(T - pulls, 0.0) * (best - mu[king])


def _bench(root, cfg: Config) -> dict:
    """Arm-runs per second: vectorised scan vs the NumPy loop, same algorithm, one process."""
    K, R = cfg.K, cfg.bench_runs
    T = cfg.authors_t_factor * K**3
    key = jax.random.fold_in(root, STREAM_BENCH)
    mu = jax.vmap(lambda k: S.clear_cut_means(k, K))(jax.random.split(key, R))
    keys = jax.random.split(jax.random.fold_in(key, 1), R)
    Tb = jnp.full((R,), T)
    # median of 3 after a compiling call (runtime.timing); the faster-running sampler, whatever
    # the batch: this times the simulation, not its compile
    t, _ = time_fn(
        lambda: simulate(mu, keys, Tb, name="uniform", authors=False, compact=True), repeats=3
    )
    jax_rate = R * K / t.median_s
    mu_np = np.asarray(mu)
    gen = np.random.default_rng(cfg.seed)
    t0 = time.perf_counter()
    np_regret = [numpy_uniform_exploration(mu_np[r], T, gen) for r in range(R)]
    np_rate = R * K / (time.perf_counter() - t0)
    return {
        "jax_arm_runs_per_s": jax_rate,
        "numpy_arm_runs_per_s": np_rate,
        "speedup": jax_rate / np_rate,
        "numpy_mean_regret": float(np.mean(np_regret)),
        "device": jax.devices()[0].device_kind,
        "bench_runs": R,
        "K": K,
    }


def run(cfg: Config) -> dict:
    with jax.enable_x64(True):
        return _run(cfg)


def _run(cfg: Config) -> dict:
    root = rng.key(cfg.seed)
    K, R = cfg.K, cfg.runs
    Ts = [f * K**3 for f in cfg.t_factors]
    modes = (("corrected", False), ("authors", True))
    main_batch = _batch(root, K, Ts, R, cfg, FAMILIES, stream=0)
    tsweep: dict = {}
    jobs = [(m, a, name) for m, a in modes for name in cfg.algorithms]
    for mode, authors, name in progress.bar(jobs, desc="T sweep"):
        out = simulate(*main_batch, name=name, authors=authors)
        tsweep.setdefault(mode, {})[name] = _summarise(out, len(FAMILIES), len(Ts), R)

    ksweep: dict = {}
    kjobs = [(k, name) for k in cfg.k_sweep for name in cfg.algorithms]
    for k, name in progress.bar(kjobs, desc="K sweep"):
        batch = _batch(root, k, [cfg.k_sweep_T], R, cfg, K_FAMILIES, stream=STREAM_KSWEEP)
        # At K = cfg.K the T sweep compiled this algorithm for its (larger) batch already: pad
        # to that shape and reuse it (each compile is seconds; the smoke preset hits this)
        pad = main_batch[0].shape[0] if k == K else 0
        out = simulate(*batch, name=name, authors=False, pad_to=pad)
        ksweep.setdefault(name, []).append(_summarise(out, len(K_FAMILIES), 1, R))

    t_bench = _bench(root, cfg)
    metrics_authors_code = _authors_code_reference(cfg, tsweep)

    series: dict = {"T": Ts, "K_sweep": list(cfg.k_sweep), "families": list(FAMILIES)}
    metrics: dict = {"memory_bound": {}, "max_memory": {}, "overruns": {}, "goa_failed": 0}
    for mode in tsweep:
        for name, o in tsweep[mode].items():
            for f_i, family in enumerate(FAMILIES):
                reg = o["regret"][f_i]  # (nT, R)
                s = series.setdefault(f"tsweep/{mode}/{family}", {})
                s[name] = {
                    "mean": reg.mean(axis=1),
                    "se": reg.std(axis=1, ddof=1) / np.sqrt(R),
                    "chosen_gap_mean": o["chosen_gap"][f_i].mean(axis=1),
                    "explore_fraction_mean": (
                        o["explore_pulls"][f_i] / np.asarray(Ts)[:, None]
                    ).mean(axis=1),
                }
                slope, se = loglog_slope(Ts, reg, seed=cfg.seed)
                metrics.setdefault(f"slope_T/{mode}/{family}", {})[name] = {
                    "slope": slope,
                    "se": se,
                }
                if family == "hard":
                    norm = reg / np.asarray(B.regret_rate(K, np.asarray(Ts)))[:, None]
                    slope, se = loglog_slope(Ts, norm, seed=cfg.seed)
                    metrics.setdefault(f"hard_norm_slope/{mode}", {})[name] = {
                        "slope": slope,
                        "se": se,
                        "normalised_mean": norm.mean(axis=1),
                    }
            metrics["max_memory"][f"{mode}/{name}"] = int(o["max_memory"].max())
            metrics["overruns"][f"{mode}/{name}"] = int(o["overrun"].sum())
            metrics["goa_failed"] += int(o["failed"].sum())
            metrics["memory_bound"][name] = S.memory_bound(name, K)
    # Ratios to uniform exploration (paired: same instances and keys), per family and T.
    for mode in tsweep:
        ue = tsweep[mode]["uniform"]["regret"]
        for name, o in tsweep[mode].items():
            r = o["regret"].mean(axis=2) / ue.mean(axis=2)  # (F, nT)
            for f_i, family in enumerate(FAMILIES):
                series.setdefault(f"ratio_to_uniform/{mode}/{family}", {})[name] = r[f_i]
    a_idx = list(cfg.t_factors).index(cfg.authors_t_factor)
    for name in cfg.algorithms:
        for f_i, family in enumerate(FAMILIES):
            c = tsweep["corrected"][name]["regret"][f_i, a_idx].mean()
            a = tsweep["authors"][name]["regret"][f_i, a_idx].mean()
            metrics.setdefault(f"authors_over_corrected/{family}", {})[name] = a / c
    for name, outs in ksweep.items():
        for f_i, family in enumerate(K_FAMILIES):
            reg = np.stack([o["regret"][f_i, 0] for o in outs])  # (nK, R)
            s = series.setdefault(f"ksweep/{family}", {})
            s[name] = {"mean": reg.mean(axis=1), "se": reg.std(axis=1, ddof=1) / np.sqrt(R)}
            slope, se = loglog_slope(cfg.k_sweep, reg, seed=cfg.seed)
            metrics.setdefault(f"slope_K/{family}", {})[name] = {"slope": slope, "se": se}
        # Each K's outcome covers every family at once: count its overruns once.
        metrics["overruns"][f"ksweep/{name}"] = sum(int(o["overrun"].sum()) for o in outs)
    metrics["authors_code"] = metrics_authors_code
    return {"metrics": metrics, "series": series, "timing": t_bench}


def _authors_code_reference(cfg: Config, tsweep: dict) -> dict:
    """Pairs our authors-mode runs with the authors' code's regrets at the same (family, K, T)."""
    if not AUTHORS_CODE_RESULTS.exists():
        return {}
    T = cfg.authors_t_factor * cfg.K**3
    t_idx = list(cfg.t_factors).index(cfg.authors_t_factor)
    out = {}
    for entry in json.loads(AUTHORS_CODE_RESULTS.read_text())["runs"]:
        if entry["K"] != cfg.K or not np.isclose(entry["T"], T) or entry["family"] not in FAMILIES:
            continue
        f_i = FAMILIES.index(entry["family"])
        for name, theirs in entry["regret"].items():
            if name not in tsweep["authors"]:
                continue
            theirs = np.asarray(theirs, np.float64)
            ours = tsweep["authors"][name]["regret"][f_i, t_idx]
            out.setdefault(entry["family"], {})[name] = {
                "authors_code_mean": theirs.mean(),
                "authors_code_se": theirs.std(ddof=1) / np.sqrt(len(theirs)),
                "authors_code_runs": theirs,
                "ours_mean": ours.mean(),
                "ours_se": ours.std(ddof=1) / np.sqrt(len(ours)),
                "ours_runs": ours,
            }
    return out


# --- claims ---------------------------------------------------------------------------------

# A T-slope whose bootstrap SE is below this is deterministic: every run committed to the same arm
# at the same cost, so the slope is the exponent of the exploration budget the routine was given
# (eps chosen so that it grows as T^(2/3)), not a property of learning: a check, not a claim.
# Stochastic slopes have SE >= 1e-4 here; deterministic ones <= 1e-8 (float64 rounding).
DETERMINISTIC_SE = 1e-6
# Equivalence margin for our authors-mode runs vs the authors' code: the paper reports its
# headline to 10 points ("up to 70% less", i.e. a ratio to UE in [0.25, 0.35)); a routine's mean
# regret off by less than 0.05 / 0.30 = 1/6 relative cannot move any ratio the paper reports out of
# its rounding interval, one off by more can.
AUTHORS_MARGIN = 1.0 / 6.0
AUTHORS_WHERE = "authors' code @ d3328e6, test.py setup, seeds 0..9 (papers_repro/data)"
PAPER_RATE = "Thm. 1 + §4: regret Theta(K^(1/3) T^(2/3)) with o(K) memory"


def _geomean(x) -> float:
    return float(np.exp(np.mean(np.log(np.asarray(x, np.float64)))))


def _expected_T_slope(name: str, Ts) -> float:
    """2/3, plus uniform exploration's log^(1/3) T excess at the sweep's geometric-mean T."""
    if name == "uniform":
        return 2.0 / 3.0 + float(B.loglog_slope_excess(_geomean(Ts)))
    return 2.0 / 3.0


def _budget(name: str, K: int, Ts) -> np.ndarray:
    """The pulls per arm a single-level routine is given at each T, as the simulator computes
    them (corrected mode: ceil'd, in float64)."""
    with jax.enable_x64(True):
        return np.array(
            [float(S.batch_sizes(name, K, jnp.float64(T), authors=False)[0]) for T in Ts]
        )


def _level_run(name: str, ks) -> tuple[list[int], list[int]]:
    """The K values that share the level count of the largest K, and every K's level count."""
    levels = [S.memory_bound(name, int(k)) for k in ks]
    keep = [i for i, lv in enumerate(levels) if lv == levels[-1]]
    return keep, levels


def _t_slope_rows(m, Ts, cfg, t_res) -> list[dict]:
    out = []
    for family in ("clear_cut", "mix_in"):
        for name, v in m[f"slope_T/corrected/{family}"].items():
            target = _expected_T_slope(name, Ts)
            uniform = name == "uniform"
            text = f"regret ~ T^(2/3): log-log slope vs T, {family}, {LABELS[name]}" + (
                " (+ log^(1/3) T excess)" if uniform else ""
            )
            ev = f"T = {Ts[0]:.3g}..{Ts[-1]:.3g}, K = {cfg['K']}"
            if v["se"] < DETERMINISTIC_SE:
                # The exact exponent of the budget over this sweep. UE and naive explore every
                # arm with the one budget the simulator was given, ceil(m(T)) pulls
                # (theory.streaming_bandits_sim.batch_sizes), and commit to the same arm, so the
                # regret is that budget times a constant: the target is the log-log slope of
                # ceil(m(T)) fitted over the same T values, equal up to float64 rounding. Tolerance
                # 1e-9: each regret is a float64 sum of <= 10^6 terms (relative error <= 10^6 *
                # 2^-53 ~ 1e-10, moving each log by as much), and an OLS slope moves by at most
                # max |d log| * sum|x - mean| / sum (x - mean)^2 <= that (T spans >= a decade
                # per point). Before, the target was the unrounded budget's slope, within 1e-6
                # only once m >= 1e6 (smoke's m ~ 150-220 put it 6e-4 off). Multi-level cascades
                # keep 2/3 with the 1e-6 argument (their budgets differ per level).
                budget = "theory.streaming_bandits.eps_star (eps chosen so pulls ~ T^(2/3))"
                tol = 1e-6
                if name in ("uniform", "naive"):
                    target = loglog_slope(Ts, _budget(name, cfg["K"], Ts))[0]
                    budget = (
                        "theory.streaming_bandits_sim.batch_sizes (the ceil'd pulls per arm), "
                        "its log-log slope over T"
                    )
                    tol = 1e-9
                out.append(
                    C.claim(
                        f"slope_T/{family}/{name}",
                        text + ": deterministic, the exploration budget's exponent",
                        budget,
                        target,
                        v["slope"],
                        f"|slope - target| <= {tol:.0e}".replace("e-0", "e-"),
                        C.within(v["slope"], target, tol),
                        f"bootstrap SE {v['se']:.2g} (every run commits to the same arm); {ev}",
                        kind=C.CHECK,
                        source=C.DERIVED,
                    )
                )
                continue
            alt = 2.0 / 3.0 if uniform else 2.0 / 3.0 + t_res
            out.append(
                C.rate_claim(
                    f"slope_T/{family}/{name}",
                    text,
                    PAPER_RATE
                    if not uniform
                    else "theory.streaming_bandits.loglog_slope_excess (UE bound, §4)",
                    target,
                    v["slope"],
                    v["se"],
                    target=target,
                    alternative=alt,
                    alternative_name="T^(2/3)" if uniform else "T^(2/3) log^(1/3) T",
                    source=C.DERIVED if uniform else C.PAPER,
                    evidence=ev,
                )
            )
    return out


def _k_slope_rows(m, s, cfg, k_res) -> list[dict]:
    out = []
    ks = cfg["k_sweep"]
    for family in ("clear_cut", "mix_in"):
        for name, v in m[f"slope_K/{family}"].items():
            naive = name == "naive"
            target = 1.0 / 3.0 + (k_res if naive else 0.0)
            alt = 1.0 / 3.0 if naive else 1.0 / 3.0 + k_res
            slope, se, note, regime_ok = v["slope"], v["se"], "", True
            keep, levels = _level_run(name, ks)
            if len(set(levels)) == 2:
                # One jump in the level count inside the sweep: the fit across it measures the
                # jump, not the K law. Refit on the K values at the largest K's level count
                # (independent instances per K: delta-method SE from each K's mean and SE).
                if len(keep) >= 3:
                    ser = s[f"ksweep/{family}"][name]
                    slope, se = loglog_slope_from_means(
                        [ks[i] for i in keep],
                        [ser["mean"][i] for i in keep],
                        [ser["se"][i] for i in keep],
                    )
                    note = (
                        f"refit at {levels[-1]} levels on K = {[ks[i] for i in keep]} (level "
                        f"counts {levels}; all-K fit {v['slope']:.4f} +- {v['se']:.2g} spans the "
                        f"jump); "
                    )
                else:
                    regime_ok = False
            elif len(set(levels)) > 2:
                note = f"level counts {levels} (grow with K by design); "
            out.append(
                C.rate_claim(
                    f"slope_K/{family}/{name}",
                    f"regret ~ K^(1/3) at fixed T, {family}, {LABELS[name]}"
                    + (" (+ ln K factor)" if naive else ""),
                    "theory.streaming_bandits.naive_eps_best_regret_bound (K ln K exploration)"
                    if naive
                    else PAPER_RATE,
                    target,
                    slope,
                    se,
                    target=target,
                    alternative=alt,
                    alternative_name="K^(1/3)" if naive else "K^(1/3) ln K",
                    source=C.DERIVED if naive else C.PAPER,
                    evidence=note + f"T = {cfg['k_sweep_T']:.3g}, K = {ks[0]}..{ks[-1]}",
                    regime_ok=regime_ok,
                    regime_note=f"level counts {levels} jump inside the sweep",
                    decide="a K sweep with >= 3 values at one level count",
                )
            )
    return out


def _hard_rows(m, t_res) -> list[dict]:
    # Normalised regret = T eps0 P(miss) / (K^(1/3) T^(2/3)) = P(miss) up to the constant c: the
    # lower bound says it stays bounded below (slope 0); a routine that resolved gaps of eps0 for
    # free would have P(miss) ~ T^(-1/3) (what the naive routine's ln K / eps^2 pulls give), so
    # -1/3 is the alternative the band must exclude: gap 1/3, band +- 1/6.
    out = []
    for name, v in m["hard_norm_slope/corrected"].items():
        target = t_res if name == "uniform" else 0.0
        out.append(
            C.rate_claim(
                f"hard_flat/{name}",
                f"hard family: regret / (K^(1/3) T^(2/3)) flat in T, {LABELS[name]}",
                "Thm. 1 (lower bound, hard family with eps0 = (K/T)^(1/3))",
                target,
                v["slope"],
                v["se"],
                target=target,
                alternative=target - 1.0 / 3.0,
                alternative_name="P(miss) ~ T^(-1/3)",
                source=C.PAPER,
                evidence="normalised regret per T: "
                + ", ".join(f"{x:.3g}" for x in v["normalised_mean"]),
                decide="more runs per T: 3 SE must fall below 1/6 (SE ~ 1/sqrt(runs))",
            )
        )
    return out


def _authors_code_rows(m, cfg) -> list[dict]:
    out = []
    for family, rows in m.get("authors_code", {}).items():
        for name, v in rows.items():
            # Two one-sided tests (bootstrap form, alpha = 0.05 each): the 90% interval of
            # mean(ours) / mean(theirs) inside [1/(1+margin), 1+margin] = reproduced.
            eq = stats.equivalence_ratio(
                v["ours_runs"], v["authors_code_runs"], margin=AUTHORS_MARGIN, seed=cfg["seed"]
            )
            out.append(
                C.claim(
                    f"authors_code/{family}/{name}",
                    f"our authors-mode regret = the authors' code's, {family}, {LABELS[name]}, "
                    f"K = {cfg['K']}, T = {cfg['authors_t_factor']:g} K^3 (mean regret)",
                    AUTHORS_WHERE,
                    float(v["authors_code_mean"]),
                    float(v["ours_mean"]),
                    "TOST: 90% interval of the mean ratio inside 1 +- 1/6 (margin: the paper's "
                    "10-point rounding)",
                    None,
                    eq.text() + f"; medians {np.median(v['ours_runs']):.3g} (ours) vs "
                    f"{np.median(v['authors_code_runs']):.3g}; {len(v['ours_runs'])} vs "
                    f"{len(v['authors_code_runs'])} runs",
                    kind=C.CLAIM,
                    source=C.AUTHORS_CODE,
                    status=C.verdict_status(eq.verdict),
                    decide="more runs of both (the interval narrows as 1/sqrt(runs)); heavy "
                    "tails (a wrong commit costs ~T x gap) need the most",
                )
            )
    return out


def check_claims(results: dict) -> list[dict]:
    m, s, cfg = results["metrics"], results["series"], results["config"]
    Ts = s["T"]
    t_res = float(B.loglog_slope_excess(_geomean(Ts)))
    k_res = 1.0 / np.log(_geomean(cfg["k_sweep"]))
    out = _t_slope_rows(m, Ts, cfg, t_res)
    # The hard family is left out of the K law: its regret is T eps0 P(miss) with P(miss) set by
    # each routine's resolution relative to eps0, so its K dependence is not the K^(1/3) claim.
    out += _k_slope_rows(m, s, cfg, k_res)
    out += _hard_rows(m, t_res)
    for mode in ("corrected", "authors"):
        best, where = np.inf, ""
        holds = []
        for family in ("clear_cut", "mix_in"):
            ratios = s[f"ratio_to_uniform/{mode}/{family}"]
            for t_i, T in enumerate(Ts):
                r = min(ratios[n][t_i] for n in ratios if n != "uniform")
                holds.append(f"{family}@T={T:.0e}:{r:.2f}")
                if r < best:
                    arg = min((n for n in ratios if n != "uniform"), key=lambda n: ratios[n][t_i])
                    best, where = r, f"{family}, T={T:.3g}, {arg}"
        out.append(
            C.claim(
                f"up_to_70pct_less/{mode}",
                f"best algorithm vs uniform exploration ({mode} mode): 'up to 70% less regret'",
                "Abstract and §6: 'up to 70% less regret' than uniform exploration",
                0.30,
                float(best),
                # "70%" is a rounded figure: any reduction in [65%, 75%) reads as 70%, so a best
                # ratio up to 0.35 reproduces "up to 70% less".
                "min regret ratio <= 0.35 (70% rounded)",
                bool(best <= 0.35),
                f"best at {where}; best ratio per setting: " + "; ".join(holds),
                kind=C.CLAIM,
                source=C.PAPER,
            )
        )
    out += _authors_code_rows(m, cfg)
    for family in ("clear_cut", "mix_in"):
        ratios = m[f"authors_over_corrected/{family}"]
        for name in (n for n in S.ALGORITHMS if n in ratios):  # the paper's order, not the dict's
            ratio = ratios[name]
            out.append(
                C.claim(
                    f"authors_effect/{family}/{name}",
                    f"authors' code vs corrected accounting at T = "
                    f"{cfg['authors_t_factor']:g} K^3, {family}, {LABELS[name]} (regret ratio)",
                    "the effect of our corrections (no paper value)",
                    None,
                    float(ratio),
                    "—",
                    None,
                    "ratio of mean regrets, same instances and keys",
                    kind=C.MEASUREMENT,
                    source=C.NONE,
                )
            )
    total_overruns = sum(m["overruns"].values())
    out.append(
        C.claim(
            "budget_overruns",
            "explored pulls never exceed T in the plotted regimes",
            "problem definition (§2)",
            0,
            int(total_overruns),
            "== 0",
            total_overruns == 0,
            ", ".join(f"{k}={v}" for k, v in m["overruns"].items() if v),
            kind=C.CHECK,
            source=C.PAPER,
        )
    )
    out.append(
        C.claim(
            "goa_no_failure",
            "game of arms never runs out of challenge rounds (the authors' code raises if it does)",
            "authors' code @ d3328e6, Game_of_Arms_regret_min",
            0,
            int(m["goa_failed"]),
            "== 0",
            m["goa_failed"] == 0,
            "runs over every family, T and both modes",
            kind=C.CHECK,
            source=C.AUTHORS_CODE,
        )
    )
    worst = {n: m["max_memory"][f"corrected/{n}"] for n in m["memory_bound"]}
    ok = all(worst[n] <= m["memory_bound"][n] for n in worst)
    out.append(
        C.claim(
            "memory_bound",
            "arms stored at once <= the routine's memory (1, 2, levels)",
            "§4 (memory of each routine)",
            None,
            ", ".join(f"{n}:{worst[n]}/{m['memory_bound'][n]}" for n in worst),
            "stored <= bound",
            ok,
            f"K = {cfg['K']}",
            kind=C.CHECK,
            source=C.PAPER,
        )
    )
    return out


# --- figures ---------------------------------------------------------------------------------


def plot(results: dict, out_dir) -> None:
    s, m, cfg = results["series"], results["metrics"], results["config"]
    Ts = np.asarray(s["T"])
    K = cfg["K"]
    names = [n for n in S.ALGORITHMS if n in cfg["algorithms"]]
    with plotting.style():
        _plot_vs(
            Ts,
            [s[f"tsweep/corrected/{f}"] for f in ("clear_cut", "mix_in")],
            [m[f"slope_T/corrected/{f}"] for f in ("clear_cut", "mix_in")],
            names,
            ("clear-cut", "mix-in"),
            f"horizon T (K = {K})",
            B.regret_rate(K, Ts),
            "$K^{1/3}T^{2/3}$",
            out_dir,
            "regret_vs_T",
        )
        Ks = np.asarray(s["K_sweep"], np.float64)
        _plot_vs(
            Ks,
            [s[f"ksweep/{f}"] for f in ("clear_cut", "mix_in")],
            [m[f"slope_K/{f}"] for f in ("clear_cut", "mix_in")],
            names,
            ("clear-cut", "mix-in"),
            f"arms K (T = {cfg['k_sweep_T']:.0e})",
            B.regret_rate(Ks, cfg["k_sweep_T"]),
            "$K^{1/3}T^{2/3}$",
            out_dir,
            "regret_vs_K",
        )
        _plot_ratios(s, Ts, names, out_dir)
        _plot_hard(m, Ts, names, out_dir)
        _plot_authors(m, names, cfg, out_dir)


def _plot_vs(x, panels, slopes, names, titles, xlabel, guide, guide_label, out_dir, fname):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(7.6, 4.4), sharey=False)
    for ax, series, slope, title in zip(axes, panels, slopes, titles, strict=True):
        for i, n in enumerate(names):
            mean, se = np.asarray(series[n]["mean"]), np.asarray(series[n]["se"])
            ax.errorbar(
                x,
                mean,
                yerr=se,
                color=plotting.color(i),
                marker=plotting.marker(i),
                label=f"{LABELS[n]} ({slope[n]['slope']:.3f})",
                capsize=2,
            )
        # The guide sits a factor 2 below the lowest curve's first point, so it never hides one.
        g = np.asarray(guide)
        lowest = min(np.asarray(series[n]["mean"])[0] for n in names)
        ax.plot(x, g * (0.5 * lowest / g[0]), "k--", lw=1, label=f"{guide_label} guide (x const)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        # one legend per panel: the fitted slopes differ between the two families
        ax.legend(
            title="algorithm (fitted slope, this panel)",
            loc="upper center",
            bbox_to_anchor=(0.5, -0.2),
            ncol=2,
            fontsize=6,
            title_fontsize=6.5,
        )
    axes[0].set_ylabel("mean pseudo-regret (reward units)")
    fig.tight_layout()
    plotting.savefig(fig, out_dir, fname)


def _plot_ratios(s, Ts, names, out_dir):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(7.0, 2.7), sharey=True)
    others = [n for n in names if n != "uniform"]
    width = 0.8 / len(others)
    for ax, family, title in zip(
        axes, ("clear_cut", "mix_in"), ("clear-cut", "mix-in"), strict=True
    ):
        ratios = s[f"ratio_to_uniform/corrected/{family}"]
        for i, n in enumerate(others):
            xs = np.arange(len(Ts)) + (i - (len(others) - 1) / 2) * width
            ax.bar(xs, ratios[n], width, color=plotting.color(i + 1), label=LABELS[n])
        ax.axhline(1.0, color="k", lw=0.8)
        ax.axhline(0.3, color="k", ls=":", lw=1, label="paper: 70% less")
        ax.set_xticks(np.arange(len(Ts)), [f"{t:.0e}" for t in Ts], rotation=30)
        ax.set_xlabel("horizon T")
        ax.set_title(title)
    axes[0].set_ylabel("regret / uniform exploration")
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=6.5)
    plotting.savefig(fig, out_dir, "ratio_to_uniform")


def _plot_hard(m, Ts, names, out_dir):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 2.9))
    hard = m["hard_norm_slope/corrected"]
    for i, n in enumerate(names):
        ax.plot(
            Ts,
            hard[n]["normalised_mean"],
            color=plotting.color(i),
            marker=plotting.marker(i),
            label=f"{LABELS[n]} (slope {hard[n]['slope']:+.3f})",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("horizon T")
    ax.set_ylabel("regret / $K^{1/3}T^{2/3}$")
    ax.set_title("hard family: one arm at 1/2 + (K/T)$^{1/3}$")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=6.5)
    plotting.savefig(fig, out_dir, "hard_normalised")


def _plot_authors(m, names, cfg, out_dir):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 2.7))
    width = 0.38
    for j, (family, label) in enumerate((("clear_cut", "clear-cut"), ("mix_in", "mix-in"))):
        r = m[f"authors_over_corrected/{family}"]
        xs = np.arange(len(names)) + (j - 0.5) * width
        ax.bar(xs, [r[n] for n in names], width, color=plotting.color(j), label=label)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_yscale("log")  # effects range from ~1x to ~70x
    ax.set_xticks(np.arange(len(names)), [n for n in names], rotation=0)
    ax.set_ylabel("regret ratio: authors' mode / corrected")
    ax.set_title(
        f"effect of the corrections at T = {cfg['authors_t_factor']:g} K$^3$, K = {cfg['K']}"
    )
    ax.legend()
    plotting.savefig(fig, out_dir, "authors_vs_corrected")


def main(argv: list[str] | None = None) -> int:
    return cli.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    cli.exit_script(main())
