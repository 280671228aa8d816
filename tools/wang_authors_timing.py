"""Time the authors' streaming-bandit code against our simulator on the same instances.

Wang (ICML 2023, arXiv:2306.02208v1); the authors' code is github jhwjhw0123/streaming-regret-
minimization-MABs at d3328e6 (algorithms.py, streamingMAB.py; NumPy, one arm at a time). Nothing
of it is in this repository: pass a directory holding those two files, unmodified, e.g.

    git -C <clone> show d3328e6:algorithms.py > /tmp/wang/algorithms.py   (and streamingMAB.py)
    python tools/wang_authors_timing.py /tmp/wang --K 50000 --seeds 4 \
        > papers_repro/data/wang2023_authors_timing.json

Instances from the authors' test.py distributions (np.random.seed(s); clear-cut: K - 1 truncated-
Gaussian means from their `truncated_normal()` and one at 0.82; mix-in: K uniform means; a
shuffle) and T = 1000 K^3; the means are drawn in one call per instance (test.py draws one per
arm, so the numbers differ; the distribution and their algorithms' work do not). test.py shuffles
with Python's unseeded `random`; here `random.seed(s)` makes the order reproducible.
For each routine, in one process: the authors' function once per seed (wall clock), then ours
(`experiments.streaming_bandit_regret.simulate`, authors=True: their accounting) on the same
instances as one vectorised batch, after one compiling call, median of `--repeats` calls.
Ratios: their seconds per run over ours. Run by hand (the output is committed), never at
experiment time; it takes minutes at K = 5e4 (their code pulls arm by arm in Python).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time

import numpy as np

ROUTINES = {  # ours -> theirs
    "uniform": "uniform_exploration_algorithm",
    "naive": "naive_eps_best_algorithm",
    "log": "log_eps_best_algorithm",
    "loglog": "loglog_eps_best_algorithm",
    "logstar": "logstar_eps_best_algorithm",
    "goa": "Game_of_Arms_regret_min",
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("authors_dir")
    ap.add_argument("--K", type=int, default=50_000)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--family", choices=("clear_cut", "mix_in"), default="clear_cut")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    if not (2 <= a.K <= 10**6 and 1 <= a.seeds <= 1000 and 1 <= a.repeats <= 100):
        ap.error("K in 2..1e6, seeds in 1..1000, repeats in 1..100")
    sys.path.insert(0, a.authors_dir)
    import jax

    from experiments import streaming_bandit_regret as sbr
    from runtime import rng

    theirs = __import__("algorithms")  # their modules, from the directory given
    mab = __import__("streamingMAB")
    Arm_Reading_Buffer, Bernoulli_Arm = mab.Arm_Reading_Buffer, mab.Bernoulli_Arm

    K, T = a.K, 1000.0 * a.K**3
    buffers, mus = [], []
    for s in range(a.seeds):
        np.random.seed(s)  # noqa: NPY002 (their code draws from NumPy's global state)
        random.seed(s)
        # their means, drawn in one call per instance: Bernoulli_Arm(random_mean="gaussian")
        # builds a scipy truncnorm per arm (~1 ms each: 20 min for 24 instances at K = 5e4)
        if a.family == "clear_cut":
            ps = list(mab.truncated_normal().rvs(K - 1)) + [0.82]
        else:
            ps = list(np.random.uniform(size=K))  # noqa: NPY002
        arms = [Bernoulli_Arm(p=float(p)) for p in ps]
        random.shuffle(arms)
        buffers.append(Arm_Reading_Buffer(arm_set=np.array(arms)))
        mus.append([arm.p for arm in arms])
    out = {"K": K, "T": T, "family": a.family, "seeds": a.seeds, "repeats": a.repeats,
           "source": "authors' code @ d3328e6 (algorithms.py, streamingMAB.py, unmodified)",
           "device": None, "routines": {}}  # fmt: skip
    with jax.enable_x64(True):
        mu = jax.numpy.asarray(np.asarray(mus, np.float64))
        keys = jax.random.split(rng.key(0), a.seeds)
        Tb = jax.numpy.full((a.seeds,), T)
        out["device"] = str(jax.devices()[0].device_kind)
        for ours, fn_name in ROUTINES.items():
            fn = getattr(theirs, fn_name)
            t_theirs, r_theirs = [], []
            for s, buf in enumerate(buffers):
                np.random.seed(1000 + s)  # noqa: NPY002 (their pulls use the global state)
                buf.reset()
                t0 = time.perf_counter()
                r_theirs.append(float(fn(buf, T, verbose=False)[2]))
                t_theirs.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            got = sbr.simulate(mu, keys, Tb, name=ours, authors=True)
            compile_s = time.perf_counter() - t0
            ts = []
            for _ in range(a.repeats):
                t0 = time.perf_counter()
                got = sbr.simulate(mu, keys, Tb, name=ours, authors=True)
                ts.append(time.perf_counter() - t0)
            ours_run = statistics.median(ts) / a.seeds
            theirs_run = statistics.median(t_theirs)
            out["routines"][ours] = {
                "theirs_seconds_per_run": t_theirs,
                "ours_seconds_per_run": ours_run,
                "ours_compile_plus_first_call_s": compile_s,
                "theirs_over_ours": theirs_run / ours_run,
                "theirs_mean_regret": float(np.mean(r_theirs)),
                "ours_mean_regret": float(np.mean(got["regret"])),
            }
            print(f"{ours}: theirs {theirs_run:.3g} s/run, ours {ours_run:.3g} s/run "
                  f"(batch of {a.seeds}), ratio {theirs_run / ours_run:.3g}",
                  file=sys.stderr, flush=True)  # fmt: skip
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
