"""Benchmark: wide-CNN Gram matrices (NNGP + NTK) against neural-tangents and the authors' form.

The hot loop of `cnn_ntk_spectrum` and `cnn_learning_curves` (Cagnetta, Favero, Wyart, ICML 2023,
arXiv:2208.01003v5, Sec. 2 and App. A): the (n, n) NNGP and NTK Gram matrices of a hierarchical
CNN with non-overlapping patches, on the paper's product-of-spheres inputs, in float64. Same work
for every candidate:

    ours          kernels.cnn_gram.cnn_gram, the dispatcher the experiments call (on CPU the tiled
                  XLA path: upper tiles only for a symmetric Gram, mirrored; rows over devices)
    nt_batched    neural-tangents 0.6.5 stax kernel_fn of the same net under
                  nt.batch(batch_size=...), the library's own answer for large n
    nt            the same kernel_fn jitted, one call (n <= nt_max_n: it holds (n, n, d / s_1))
    materialised  theory.cnn_kernels.cnn_kernels jitted: the (n, n, d / s_1) cosines and one array
                  per level, the authors' approach (n <= materialised_max_n)

Commands:
    python -m experiments.bench_cnn_gram                  # quick: n <= 2048, ~1 min (2 CPU cores)
    python -m experiments.bench_cnn_gram --preset full    # n = 1024..8192, ~10 min

Time: medians of interleaved repeats after one compiling call, all candidates in one process
(runtime.timing), compile time apart. Memory: the peak resident memory of the timed call (the
second call, so compilation is not counted) above the process's resident memory just before it,
each candidate in a fresh process per size (VmHWM reset through /proc/self/clear_refs; Linux);
outputs included. Both are wall-clock measurements and stay in results.json's `timing`; the
claims carry only values that are a function of the seed (the agreement checks).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import math
import os
import subprocess
import sys
import time

import jax
import numpy as np

from experiments._lib import claims as C
from experiments._lib import cli, plotting
from kernels import cnn_gram as G
from kernels.cnn_tree import check_filters
from runtime import progress, rng
from runtime.timing import time_fns
from theory import cnn_kernels as ck

PAPER = "cagnetta2023_wide_cnn"
CITED_PRESET = "full"
DEBIAN_PACKAGES: tuple[str, ...] = ()
CANDIDATES = ("ours", "nt_batched", "nt", "materialised")
PEER = "nt_batched"  # the strongest peer a researcher would reach for


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    sizes: tuple[int, ...] = (512, 1024, 2048)
    filters: tuple[int, ...] = (2, 2, 2, 2)
    d: int = 16  # input length (a multiple of prod(filters); 16 with (2, 2, 2, 2): one top node)
    tile: int = 128  # ours: output tile side
    nt_batch_size: int = 256  # nt.batch's block side (every size must be a multiple, or below it)
    nt_max_n: int = 2048  # unbatched neural-tangents up to this n
    materialised_max_n: int = 2048  # the authors' materialised form up to this n
    memory_sizes: tuple[int, ...] = (2048,)  # sizes whose peak memory is measured (subprocesses)
    repeats: int = 3
    seed: int = 0

    def __post_init__(self):
        if len(self.sizes) < 2 or list(self.sizes) != sorted(set(self.sizes)) or self.sizes[0] < 2:
            raise ValueError("sizes must be >= 2 increasing sizes n >= 2")
        check_filters(self.d, self.filters)
        if min(self.tile, self.nt_batch_size, self.nt_max_n, self.materialised_max_n) < 1:
            raise ValueError("tile, nt_batch_size, nt_max_n and materialised_max_n must be >= 1")
        bad = [n for n in self.sizes if n % min(n, self.nt_batch_size)]
        if bad:
            raise ValueError(
                f"sizes {bad} are not multiples of nt_batch_size {self.nt_batch_size} "
                "(nt.batch splits the inputs into equal blocks)"
            )
        if not set(self.memory_sizes) <= set(self.sizes):
            raise ValueError("memory_sizes must be among sizes")
        if not 1 <= self.repeats <= 1000:
            raise ValueError("repeats must be in 1..1000")


def memory_estimate(cfg: Config) -> int:
    """Peak bytes (float64): every candidate's two (n, n) outputs stay alive for the agreement
    check (4 candidates x 2 x 8 n^2 at the largest n each runs at), plus the largest working set:
    the materialised form's (n, n, d / s_1) cosines and one array per level (~(d / s_1 + 8) n^2
    at materialised_max_n), unbatched neural-tangents' per-layer (n, n, positions) covariances
    (~4 d n^2 at nt_max_n), ours' tiles (the tile capped at n): a group of 4 (tile, tile) blocks
    of the d / s_1 patch cosines and ~8 per-level arrays, x3 for what XLA keeps live (one 6.0 GB
    buffer measured at tile = n = 2048, found by tools/bad_input_campaign.py; 25 MB at tile 128)."""
    n = max(cfg.sizes)
    p = cfg.d // cfg.filters[0]
    nm = min(cfg.materialised_max_n, n)
    nn = min(cfg.nt_max_n, n)
    t = min(cfg.tile, n)
    outs = 8 * 2 * (2 * n * n + nm * nm + nn * nn)
    work = 8 * max((p + 8) * nm * nm, 4 * cfg.d * nn * nn, 12 * (p + 8) * t * t)
    return outs + work


PRESETS = {
    # smoke: seconds, for the tests: every candidate timed, values checked; memory not measured
    # (the subprocess path is the quick preset's, in the slow tier; tests check the child part)
    "smoke": Config(sizes=(32, 64), nt_batch_size=32, memory_sizes=(), repeats=1),
    "quick": Config(),
    "full": Config(
        sizes=(1024, 2048, 4096, 8192),
        nt_max_n=4096,
        materialised_max_n=4096,
        memory_sizes=(2048, 4096, 8192),
        repeats=3,
    ),
}


# ------------------------------------------------------------------------------- candidates
def candidate_fns(cfg: Config, n: int) -> dict:
    """{name: fn(x) -> (NNGP, NTK)} of the candidates that run at size n."""
    f = tuple(cfg.filters)
    from theory._nt_compat import nt  # imported here: only the benchmark needs it

    kernel_fn = ck.nt_cnn_kernel_fn(f)
    batched = nt.batch(kernel_fn, batch_size=min(cfg.nt_batch_size, n))
    one_call = jax.jit(lambda a: tuple(kernel_fn(a[:, :, None], None, ("nngp", "ntk"))))
    fns = {
        "ours": lambda a: G.cnn_gram(a, a, f, tile=cfg.tile),
        "nt_batched": lambda a: tuple(batched(a[:, :, None], None, ("nngp", "ntk"))),
    }
    if n <= cfg.nt_max_n:
        fns["nt"] = one_call
    if n <= cfg.materialised_max_n:
        fns["materialised"] = jax.jit(lambda a: ck.cnn_kernels(a, a, f))
    return fns


def inputs(cfg: Config, n: int):
    """n points on the product of spheres (float64; call under x64), one stream per size."""
    return ck.sample_product_of_spheres(rng.key(cfg.seed, n), n, cfg.d, cfg.filters[0])


# ------------------------------------------------------------------------------- memory
def _proc_status(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"/proc/self/status has no {field}")


def peak_child(cfg_json: str, name: str, n: int) -> dict:
    """In a fresh process: run candidate `name` at size n twice and return the peak resident
    memory of the second call above the resident memory just before it (the first call
    compiles; its outputs are freed first). Resets VmHWM through /proc/self/clear_refs."""
    fields = json.loads(cfg_json)
    cfg = Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})
    with jax.enable_x64(True):
        x = jax.block_until_ready(inputs(cfg, n))
        fn = candidate_fns(cfg, n)[name]
        out = jax.block_until_ready(fn(x))
        del out
        gc.collect()
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        before = _proc_status("VmRSS")
        out = jax.block_until_ready(fn(x))
        peak = _proc_status("VmHWM")
        del out
    got = {"peak_bytes": peak - before, "rss_before_bytes": before}
    stats = jax.devices()[0].memory_stats() if jax.default_backend() != "cpu" else None
    if stats and "peak_bytes_in_use" in stats:  # an accelerator: host RSS misses its memory
        got["device_peak_bytes"] = int(stats["peak_bytes_in_use"])  # over both calls
    return got


def _peak_in_subprocess(cfg: Config, name: str, n: int) -> dict:
    cfg_json = json.dumps(dataclasses.asdict(cfg))
    code = (
        "import json, sys; from experiments.bench_cnn_gram import peak_child; "
        "print(json.dumps(peak_child(sys.argv[1], sys.argv[2], int(sys.argv[3]))))"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root)
    p = subprocess.run(
        [sys.executable, "-c", code, cfg_json, name, str(n)],
        env=env, capture_output=True, text=True, cwd=root,
    )  # fmt: skip
    if p.returncode:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return {"failed": f"exit {p.returncode}: {tail[:200]}"}
    return json.loads(p.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------- run
def _agreement(a, b) -> dict:
    """Max |a - b| over the off-diagonal entries and over the diagonal, NNGP and NTK."""
    out = {}
    for which, u, v in zip(("nngp", "ntk"), a, b, strict=True):
        u, v = np.asarray(u), np.asarray(v)
        diff = np.abs(u - v)
        np.fill_diagonal(diff, 0.0)
        out[f"{which}_off_diagonal"] = float(diff.max())
        out[f"{which}_diagonal"] = float(np.abs(np.diag(u) - np.diag(v)).max())
    return out


def run(cfg: Config) -> dict:
    t_start = time.perf_counter()
    L = len(cfg.filters)
    seconds = {c: [] for c in CANDIDATES}
    compile_s = {c: [] for c in CANDIDATES}
    agree = {c: [] for c in CANDIDATES if c != "ours"}
    diag_exact = {c: [] for c in CANDIDATES}
    for n in progress.bar(cfg.sizes, desc="sizes"):
        with jax.enable_x64(True):
            x = inputs(cfg, n)
            fns = candidate_fns(cfg, n)
            ts, outs = time_fns(fns, x, repeats=cfg.repeats)
        for c in CANDIDATES:
            seconds[c].append(ts[c].median_s if c in ts else None)
            compile_s[c].append(ts[c].compile_s if c in ts else None)
            if c in outs:  # the exact diagonal: NNGP 1, NTK L + 1 (every t_i = 1 on x = y)
                k, th = (np.diag(np.asarray(a)) for a in outs[c])
                diag_exact[c].append(float(max(np.abs(k - 1).max(), np.abs(th - (L + 1)).max())))
            else:
                diag_exact[c].append(None)
            if c != "ours":
                agree[c].append(_agreement(outs[c], outs["ours"]) if c in outs else None)
        del outs
    memory = {}
    for n in progress.bar(cfg.memory_sizes, desc="memory"):
        for c in CANDIDATES:
            if c == "nt" and n > cfg.nt_max_n or c == "materialised" and n > cfg.materialised_max_n:
                continue
            memory.setdefault(c, {})[str(n)] = _peak_in_subprocess(cfg, c, n)
    ratio = {
        c: [None if t is None else t / o for t, o in zip(seconds[c], seconds["ours"], strict=True)]
        for c in CANDIDATES
        if c != "ours"
    }
    timing = {
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind),
        "devices": len(jax.devices()),
        "seconds": seconds,
        "compile_s": compile_s,
        "time_over_ours": ratio,  # > 1: ours is faster
        "peak_memory": memory,
        "memory_over_ours": {
            c: {
                n: v["peak_bytes"] / memory["ours"][n]["peak_bytes"]
                for n, v in per.items()
                if "peak_bytes" in v and "peak_bytes" in memory["ours"].get(n, {})
            }
            for c, per in memory.items()
            if c != "ours"
        },
        "run_s": time.perf_counter() - t_start,
    }
    metrics = {
        "agreement_with_ours": agree,
        "diagonal_error_vs_exact": diag_exact,
        "levels": L,
        "patches": cfg.d // cfg.filters[0],
    }
    series = {"sizes": list(cfg.sizes)}
    return {"metrics": metrics, "series": series, "timing": timing}


# ------------------------------------------------------------------------------- claims
def _cusp_tolerance(levels: int) -> float:
    """Largest disagreement two correct float64 implementations can show on one entry.

    The degree-0 arc-cosine kappa_0(t) = 1 - arccos(t) / pi has an infinite slope at t = 1:
    a cosine within rounding eps of 1 (the diagonal, and at large n the closest pairs of patches)
    moves it by up to arccos(1 - eps) / pi ~ sqrt(2 eps) / pi. The NTK carries one kappa_0 factor
    per level (Theta_{l+1} = mean(kappa_1 + kappa_0 Theta_l), Theta_l <= l), so an entry moves by
    at most sum_l l sqrt(2 eps) / pi <= (L + 1)^2 sqrt(2 eps) / pi (~1.2e-7 for L = 4); the NNGP
    has no kappa_0 and stays near eps. A wrong architecture or scaling moves entries by ~1e-2, far
    outside this band."""
    return (levels + 1) ** 2 * math.sqrt(2 * np.finfo(np.float64).eps) / math.pi


def check_claims(results: dict) -> list[dict]:
    m = results["metrics"]
    L = m["levels"]
    tol = _cusp_tolerance(L)
    rows = []
    nt_rows = [a for a in m["agreement_with_ours"]["nt_batched"] if a is not None]
    worst = max(max(a.values()) for a in nt_rows)
    off = max(max(a["nngp_off_diagonal"], a["ntk_off_diagonal"]) for a in nt_rows)
    rows.append(C.claim(
        "bench_gram_equals_neural_tangents",
        "ours = neural-tangents' stax kernel of the same net (NNGP and NTK, every entry, every n)",
        "theory.cnn_kernels.nt_cnn_kernel_fn (neural-tangents 0.6.5, nt.batch)", "equal",
        f"max |diff| {worst:.1e} (off the diagonal {off:.1e})",
        f"<= (L + 1)^2 sqrt(2 eps) / pi = {tol:.1e} (the kappa_0 cusp at t = 1; "
        "derivation: bench_cnn_gram._cusp_tolerance)",
        worst <= tol, f"sizes {results['series']['sizes']}",
        kind=C.CHECK, source=C.DERIVED,
    ))  # fmt: skip
    mat = [a for a in m["agreement_with_ours"]["materialised"] if a is not None]
    worst_m = max(max(a.values()) for a in mat)
    rows.append(C.claim(
        "bench_gram_equals_materialised",
        "ours (tiled, symmetric) = the materialised form (the authors' approach), every entry",
        "theory.cnn_kernels.cnn_kernels (jitted)", "equal", f"max |diff| {worst_m:.1e}",
        f"<= {tol:.1e} (the same cusp bound: two programs XLA fuses differently may round a "
        "cosine near 1 differently; bench_cnn_gram._cusp_tolerance)",
        worst_m <= tol,
        "same arithmetic in a different order (tiles, groups, mirrored upper half): a misplaced "
        "tile or level would differ by O(1e-2) or more",
        kind=C.CHECK, source=C.DERIVED,
    ))  # fmt: skip
    d_ours = max(v for v in m["diagonal_error_vs_exact"]["ours"] if v is not None)
    d_nt = max(v for v in m["diagonal_error_vs_exact"]["nt_batched"] if v is not None)
    rows.append(C.claim(
        "bench_diagonal",
        "the diagonal is NNGP 1, NTK L + 1 (every patch cosine is 1 on x = y), up to the cusp: "
        "a unit patch's cosine with itself rounds to 1 - O(eps)",
        "theory.cnn_kernels.cnn_kernels (docstring: the invariants)", "1 and L + 1", d_ours,
        f"<= {tol:.1e} (bench_cnn_gram._cusp_tolerance)", d_ours <= tol,
        f"neural-tangents' diagonal is off by {d_nt:.1e}",
        kind=C.CHECK, source=C.DERIVED,
    ))  # fmt: skip
    rows.append(C.claim(
        "bench_time_vs_neural_tangents",
        "wall time of the same Gram, neural-tangents (batched, unbatched) and the materialised "
        "form over ours, one run, interleaved medians",
        "our benchmark (no paper value)", None, "timing.time_over_ours", "", None,
        "seconds per candidate and size: timing.seconds; compile apart: timing.compile_s",
        kind=C.MEASUREMENT, source=C.NONE,
    ))  # fmt: skip
    rows.append(C.claim(
        "bench_memory_vs_neural_tangents",
        "peak resident memory of the same Gram (second call, outputs included), over ours",
        "our benchmark (no paper value)", None, "timing.memory_over_ours", "", None,
        "bytes per candidate and size: timing.peak_memory (one fresh process each)",
        kind=C.MEASUREMENT, source=C.NONE,
    ))  # fmt: skip
    return rows


# ------------------------------------------------------------------------------- figure
LABELS = {
    "ours": "ours (kernels.cnn_gram)",
    "nt_batched": "neural-tangents, nt.batch",
    "nt": "neural-tangents, one call",
    "materialised": "materialised (authors' form)",
}


def plot(results: dict, out_dir) -> None:
    import matplotlib.pyplot as plt

    t = results["timing"]
    n = np.asarray(results["series"]["sizes"], float)
    with plotting.style():
        fig, axes = plt.subplots(1, 2, figsize=(12.5, 4))
        ax = axes[0]
        for c, name in enumerate(CANDIDATES):
            s = [np.nan if v is None else v for v in t["seconds"][name]]
            ax.plot(n, s, marker=plotting.MARKERS[c], color=plotting.color(c), label=LABELS[name])
        ours = np.asarray(t["seconds"]["ours"], float)
        ax.plot(n, ours[-1] * (n / n[-1]) ** 2, ":", color="k", lw=1, label="$\\propto n^2$")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("n (Gram side)")
        ax.set_ylabel("seconds (median of repeats)")
        dev = t["backend"] if t["device"] == t["backend"] else f"{t['backend']} ({t['device']})"
        ax.set_title(f"NNGP + NTK Gram, float64, {dev}")
        ax.legend(fontsize=7)
        ax = axes[1]
        for c, name in enumerate(CANDIDATES[1:], start=1):
            r = [np.nan if v is None else v for v in t["time_over_ours"][name]]
            ax.plot(n, r, marker=plotting.MARKERS[c], color=plotting.color(c),
                    label=f"time: {LABELS[name]}")  # fmt: skip
            mem = t["memory_over_ours"].get(name, {})
            if mem:
                xs = sorted(int(k) for k in mem)
                ax.plot(xs, [mem[str(k)] for k in xs], ls="--", marker=plotting.MARKERS[c],
                        mfc="none", color=plotting.color(c),
                        label=f"peak memory: {LABELS[name]}")  # fmt: skip
        ax.axhline(1, color="k", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("n (Gram side)")
        ax.set_ylabel("candidate / ours (same run; > 1: ours ahead)")
        ax.set_title("relative to ours")
        # outside the axes: inside, it covered the materialised time line at n = 4096
        ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.02, 0.5))
        fig.tight_layout()
        plotting.savefig(fig, out_dir, "bench")


def main(argv: list[str] | None = None) -> int:
    return cli.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    cli.exit_script(main())
