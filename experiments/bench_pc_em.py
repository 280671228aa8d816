"""Benchmark: probabilistic-circuit EM flows and conditionals against their peers and the roofline.

The hot loops of `pc_compression` (Liu, Mandt, Van den Broeck, ICLR 2022, arXiv:2111.11632v2):
the expected flows of one EM mini-batch on the HCLT learned from the data, and the coder's
conditionals p(x_i | x_<i) for a batch of images. Same work for every candidate:

    ours          models.pc.expected_flows: an explicit inside-outside pass over level-contiguous
                  slices (what pc_compression's EM calls)
    autodiff      models.pc.expected_flows_autodiff: jax.grad of the level-by-level log-likelihood
                  (log-space sum layers through kernels.logmatmul), the way EM is usually written
                  in JAX/PyTorch circuit libraries (flows as gradients, as in EiNets); the form
                  pc_compression used until 2026-12-04
    dense_einsum  not an EM implementation: the flows' multiply-adds (per node, the inside sum
                  layer, the outside one and the batch-summed pair counts) as three batched einsums
                  over all D nodes at once, with no tree order, no exp/log, no gathers: what XLA
                  makes of the bare arithmetic
    roofline      max(flops / peak, bytes / bandwidth): flops = 3 x 2 D B M^2 (the three
                  products), bytes = the two-pass algorithm's least traffic, 16 D B M (float32 E and
                  s written by the inside pass and read back by the outside pass); peak = a float32
                  matmul of side `peak_side`, bandwidth = a streaming copy, both measured in the
                  same process

The coder (outside scheme, `models.pc_coding.conditionals`: D sequential steps of a jitted pmf and
commit) is timed per image against the same floor: its multiply-adds per image (per variable one
outside message, (M, M), and one leaf pmf, (M, K); subtree closes add < 1 node) as one batched
einsum, and its flops over the measured peak.

Commands:
    python -m experiments.bench_pc_em                  # quick: 8x8 digits (D = 64), M = 8, 16
    python -m experiments.bench_pc_em --preset full    # Fashion-MNIST, M = 8..64, B = 500: 631 s

Time: medians of interleaved repeats after one compiling call, all EM candidates in one process
(runtime.timing), compile time apart; wall-clock numbers stay in results.json's `timing`. The
claims carry what is a function of the seed: the flows' agreement with float64.
"""

from __future__ import annotations

import dataclasses
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from experiments import pc_compression as pcx
from experiments._lib import claims as C
from experiments._lib import cli, plotting
from models import image_data, pc, pc_coding
from runtime import progress, rng
from runtime.timing import matmul_rate, time_fn, time_fns

PAPER = "liu2022_pc_compression"
CITED_PRESET = "full"
DEBIAN_PACKAGES: tuple[str, ...] = ("dataset-fashion-mnist",)
CANDIDATES = ("ours", "autodiff", "dense_einsum")
PEER = "autodiff"
STREAM_PARAMS = 1  # random circuit parameters per latent size: rng.key(seed, STREAM_PARAMS, M)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    dataset: str = "fashion_mnist"
    latents: tuple[int, ...] = (16,)  # M per timed circuit
    batch_size: int = 500  # B: images per EM mini-batch
    mi_images: int = 10_000  # training images for the structure (as pc_compression's full)
    mi_bins: int = 16
    autodiff_max_m: int = 32  # the gradient form only up to this M (its memory: memory_estimate)
    accuracy_batch: int = 200  # images whose flows are also computed in float64
    code_batch: int = 100  # images per coder batch (pc_compression's code_batch)
    peak_side: int = 2048  # the float32 matmul that measures peak flops
    stream_mb: int = 256  # the array copied to measure bandwidth
    repeats: int = 3
    seed: int = 0

    def __post_init__(self):
        if self.dataset not in pcx.DATASETS:
            raise ValueError(f"dataset must be one of {pcx.DATASETS}, got {self.dataset!r}")
        if not self.latents or min(self.latents) < 1 or max(self.latents) > 4096:
            raise ValueError("latents must be one or more sizes M in 1..4096")
        if list(self.latents) != sorted(set(self.latents)):
            raise ValueError("latents must be increasing")
        n_tr, n_te = image_data.SPLITS[self.dataset]
        for name, top in (("batch_size", n_tr), ("mi_images", n_tr), ("code_batch", n_te)):
            v = getattr(self, name)
            if not 1 <= v <= top:
                raise ValueError(f"{name} must be in 1..{top} (the {self.dataset} split)")
        if self.autodiff_max_m < min(self.latents):
            raise ValueError("autodiff_max_m must be >= the smallest latent size (the peer)")
        if not 1 <= self.accuracy_batch <= self.batch_size:
            raise ValueError("accuracy_batch must be in 1..batch_size")
        if self.mi_bins < 2:
            raise ValueError("mi_bins must be >= 2")
        if not 16 <= self.peak_side <= 16384 or not 1 <= self.stream_mb <= 4096:
            raise ValueError("peak_side must be in 16..16384 and stream_mb in 1..4096")
        if not 1 <= self.repeats <= 1000:
            raise ValueError("repeats must be in 1..1000")


def memory_estimate(cfg: Config) -> int:
    """Peak bytes: the largest of (float32 unless said)
    - the autodiff candidate at its largest M: its backward pass keeps two (D + 1, B, M) node
      arrays per level, 8 levels (D + 1) B M bytes (measured: 20.7 GB above the resident set at
      D = 784, M = 64, B = 1000, 49 levels; the formula gives 19.7 GB); levels bounded by 64 for
      Fashion-MNIST's centre-rooted trees (49 measured) and by D for digits;
    - the float64 accuracy pass (the gradient form, so up to autodiff_max_m too): the same at
      accuracy_batch, 8-byte values;
    - ours: ~6 D B M (inside values, posteriors, temporaries), below the autodiff term;
    - the peak matmul (3 side^2) and the bandwidth copy (2 x stream_mb);
    - the data as int64 (60k + 10k) x D; the structure's (D, D, bins, bins) float64 pair counts."""
    k, d = image_data.SHAPES[cfg.dataset]
    m_ad = max(m for m in cfg.latents if m <= cfg.autodiff_max_m)
    n_tr, n_te = image_data.SPLITS[cfg.dataset]
    levels = min(d, 64)
    autodiff = 8 * levels * (d + 1) * cfg.batch_size * m_ad
    accuracy = 16 * levels * (d + 1) * cfg.accuracy_batch * m_ad
    ours = 4 * 6 * d * cfg.batch_size * max(cfg.latents)
    peak = 4 * 3 * cfg.peak_side**2 + 2 * cfg.stream_mb * 2**20
    data = 8 * (n_tr + n_te) * d + 8 * d * d * cfg.mi_bins**2
    return data + max(autodiff, accuracy, ours, peak)


PRESETS = {
    # smoke: seconds, for the tests: every candidate, the coder and the roofline at tiny sizes
    "smoke": Config(
        dataset="digits",
        latents=(4,),
        batch_size=100,
        mi_images=500,
        accuracy_batch=50,
        code_batch=10,
        peak_side=256,
        stream_mb=8,
        repeats=1,
    ),
    # quick: scikit-learn's digits (as pc_compression's quick preset): the Fashion-MNIST circuit
    # at M = 16 alone took 4.6 min in the slow tier, most of it compiling the three candidates
    "quick": Config(dataset="digits", latents=(8, 16), batch_size=1000, mi_images=1497),
    # autodiff to M = 32 (at M = 64, B = 1000 its backward pass held 20.7 GB); B = 500 as
    # pc_compression's quick preset, so the gradient form at M = 32 fits a 24 GB machine
    "full": Config(latents=(8, 16, 32, 64), batch_size=500, repeats=5),
}


# ------------------------------------------------------------------------------- inputs
def structure(cfg: Config):
    """(train images, the HCLT tree, K) as pc_compression builds them (MI on quantised pixels)."""
    train, _, K, _ = pcx.load(pcx.Config(dataset=cfg.dataset))
    mi_x = train[: cfg.mi_images]
    if cfg.mi_bins < K:
        mi_x = (mi_x * cfg.mi_bins) // K
    tree = pc.chow_liu_tree(pc.mutual_information(mi_x, int(mi_x.max()) + 1))
    return train, tree, K


def params_for(cfg: Config, D: int, M: int, K: int):
    return pc.init_params(rng.key(cfg.seed, STREAM_PARAMS, M), D, M, K)


@jax.jit
def dense_einsum(a, t):
    """The flows' multiply-adds as three batched einsums (no tree, no exp/log): a floor.
    a: (D, B, M) node values, t: (D, M, M)."""
    s = jnp.einsum("nbz,nyz->nby", a, t)  # inside: sum_z T[z', z] E(z)
    p = jnp.einsum("nby,nyz->nbz", s, t)  # outside: sum_z' u(z') T[z', z]
    return p, jnp.einsum("nbz,nby->nzy", p, a)  # pair counts summed over the batch


@jax.jit
def coder_floor(a, t, leaf):
    """The coder's multiply-adds per variable (outside message, leaf pmf) as two einsums."""
    return jnp.einsum("nbz,nzy->nby", a, t), jnp.einsum("nbz,nzk->nbk", a, leaf)


def em_flops(D: int, B: int, M: int) -> float:
    return 3 * 2 * D * B * M * M


def em_bytes(D: int, B: int, M: int) -> float:
    return 16 * D * B * M  # float32 E and s: written inside, read outside


def measure_peak(cfg: Config) -> dict:
    """Float32 matmul flops/s and streaming-copy bytes/s on this backend, medians of repeats."""
    n = cfg.peak_side
    a = jax.random.normal(rng.key(cfg.seed, 2), (n, n), jnp.float32)
    flops, t = matmul_rate(a, repeats=max(3, cfg.repeats))
    x = jnp.ones((cfg.stream_mb * 2**20 // 4,), jnp.float32)
    tc, _ = time_fn(jax.jit(lambda v: v * 2.0), x, repeats=max(3, cfg.repeats))
    return {
        "matmul_flops_per_s": flops / t.median_s,
        "copy_bytes_per_s": 2 * x.size * 4 / tc.median_s,  # read + write
        "matmul_side": n,
        "copy_bytes": int(x.size * 4),
    }


def _rel_errors(got: dict, ref: dict) -> dict:
    """Per parameter group: max |got - ref| / max |ref| and sum |got - ref| / sum |ref|."""
    out = {}
    for k, r in ref.items():
        r = np.asarray(r, np.float64)
        d = np.abs(np.asarray(got[k], np.float64) - r)
        out[k] = {"max_over_max": float(d.max() / np.abs(r).max()),
                  "sum_over_sum": float(d.sum() / np.abs(r).sum())}  # fmt: skip
    return out


# ------------------------------------------------------------------------------- run
def run(cfg: Config) -> dict:
    t_start = time.perf_counter()
    train, tree, K = structure(cfg)
    D = tree.n_vars
    B = cfg.batch_size
    xb = jnp.asarray(train[:B])
    xa = jnp.asarray(train[: cfg.accuracy_batch])
    xc = train[: cfg.code_batch]
    peak = measure_peak(cfg)
    flows = jax.jit(pc.expected_flows, static_argnums=1)
    grads = jax.jit(pc.expected_flows_autodiff, static_argnums=1)
    seconds = {c: [] for c in CANDIDATES}
    compile_s = {c: [] for c in CANDIDATES}
    accuracy = {"ours": [], "autodiff": []}
    coder = {"seconds_per_image": [], "compile_s": [], "dense_einsum_seconds_per_image": [],
             "flops_per_image": []}  # fmt: skip
    for M in progress.bar(cfg.latents, desc="latent sizes"):
        params = params_for(cfg, D, M, K)
        a = jax.random.uniform(rng.key(cfg.seed, 3, M), (D, B, M), jnp.float32)
        fns = {
            "ours": lambda x, p=params: flows(p, tree, x),
            "autodiff": lambda x, p=params: grads(p, tree, x),
            "dense_einsum": lambda x, a=a, p=params: dense_einsum(a, p["log_trans"]),
        }
        if M > cfg.autodiff_max_m:
            del fns["autodiff"]
        ts, _ = time_fns(fns, xb, repeats=cfg.repeats)
        for c in CANDIDATES:
            seconds[c].append(ts[c].median_s if c in ts else None)
            compile_s[c].append(ts[c].compile_s if c in ts else None)
        # accuracy against float64 (the gradient form in float64 is the reference)
        if M <= cfg.autodiff_max_m:
            ours32, grad32 = flows(params, tree, xa), grads(params, tree, xa)  # (small batch)
            with jax.enable_x64(True):
                p64 = jax.tree_util.tree_map(lambda v: np.asarray(v, np.float64), params)
                ref = jax.tree_util.tree_map(np.asarray, grads(p64, tree, xa))
            accuracy["ours"].append(_rel_errors(ours32, ref))
            accuracy["autodiff"].append(_rel_errors(grad32, ref))
        else:
            accuracy["ours"].append(None)
            accuracy["autodiff"].append(None)
        # the coder: conditionals of one code batch, outside scheme
        stepper = pc_coding.Stepper(params, tree, "outside", cfg.code_batch)
        tc, _ = time_fn(lambda s=stepper: pc_coding.conditionals(s, xc), repeats=cfg.repeats)
        coder["seconds_per_image"].append(tc.median_s / cfg.code_batch)
        coder["compile_s"].append(tc.compile_s)
        cb = cfg.code_batch
        am = jax.random.uniform(rng.key(cfg.seed, 4, M), (D, cb, M), jnp.float32)
        tf, _ = time_fn(coder_floor, am, params["log_trans"], params["log_leaf"],
                        repeats=max(3, cfg.repeats))  # fmt: skip
        coder["dense_einsum_seconds_per_image"].append(tf.median_s / cb)
        coder["flops_per_image"].append(2 * D * (M * M + M * K))
    lat = np.asarray(cfg.latents, float)
    flops = [em_flops(D, B, int(m)) for m in lat]
    nbytes = [em_bytes(D, B, int(m)) for m in lat]
    roof = [max(f / peak["matmul_flops_per_s"], b / peak["copy_bytes_per_s"])
            for f, b in zip(flops, nbytes, strict=True)]  # fmt: skip
    timing = {
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind),
        "devices": len(jax.devices()),
        "seconds": seconds,
        "compile_s": compile_s,
        "time_over_ours": {
            c: [
                None if t is None else t / o
                for t, o in zip(seconds[c], seconds["ours"], strict=True)
            ]
            for c in CANDIDATES
            if c != "ours"
        },  # > 1: ours is faster
        "images_per_s": {
            c: [None if t is None else B / t for t in seconds[c]] for c in ("ours", "autodiff")
        },
        "peak": peak,
        "roofline_s": roof,
        "roofline_fraction_ours": [r / t for r, t in zip(roof, seconds["ours"], strict=True)],
        "coder": {
            **coder,
            "roofline_fraction": [
                f / peak["matmul_flops_per_s"] / t
                for f, t in zip(coder["flops_per_image"], coder["seconds_per_image"], strict=True)
            ],
        },
        "run_s": time.perf_counter() - t_start,
    }
    metrics = {
        "D": D,
        "K": K,
        "batch_size": B,
        "accuracy_batch": cfg.accuracy_batch,
        "tree_levels": len(tree.levels),
        "accuracy_vs_float64": accuracy,
        "em_flops": flops,
        "em_bytes": nbytes,
    }
    return {"metrics": metrics, "series": {"latents": list(cfg.latents)}, "timing": timing}


# ------------------------------------------------------------------------------- claims
# A flow is a batch sum of posteriors, each a ratio of O(depth) float32 sums of positive terms:
# relative error ~ (4 depth + 8) eps32. The learned trees' depth is <= 49 (Fashion-MNIST), so
# ~200 x 6e-8 = 1.2e-5 relative to the flow's size; 1e-4 of the largest flow leaves 8x room. A
# wrong edge, level or normalisation moves flows by a visible fraction of the batch size.
FLOW_TOL = 1e-4


def check_claims(results: dict) -> list[dict]:
    m = results["metrics"]
    lat = results["series"]["latents"]
    acc = m["accuracy_vs_float64"]
    worst = {
        c: max(max(v["max_over_max"] for v in a.values()) for a in acc[c] if a is not None)
        for c in acc
    }
    checked = [m_ for m_, a in zip(lat, acc["ours"], strict=True) if a is not None]
    rows = [C.claim(
        "bench_pc_flows_equal_float64",
        "ours (inside-outside, float32) = the gradient of sum_b log p(x_b) in float64, every "
        "flow, every latent size up to the gradient form's",
        "models.pc.expected_flows_autodiff (float64)", "equal",
        f"max |diff| / max |flow| {worst['ours']:.1e} (autodiff in float32: "
        f"{worst['autodiff']:.1e})",
        f"<= {FLOW_TOL:.0e} (O(depth) float32 sums per posterior; bench_pc_em.FLOW_TOL)",
        worst["ours"] <= FLOW_TOL,
        f"M = {checked}: the flows of {m['accuracy_batch']} images, D = {m['D']}",
        kind=C.CHECK, source=C.DERIVED,
    )]  # fmt: skip
    rows.append(C.claim(
        "bench_pc_em_time",
        "wall time of one EM mini-batch's flows: the gradient form and the bare einsum "
        "arithmetic over ours, one run, interleaved medians; ours' fraction of the roofline",
        "our benchmark (no paper value)", None,
        "timing.time_over_ours, timing.roofline_fraction_ours", "", None,
        "seconds: timing.seconds; compile apart: timing.compile_s; peak flops and bandwidth "
        "measured in the run: timing.peak",
        kind=C.MEASUREMENT, source=C.NONE,
    ))  # fmt: skip
    rows.append(C.claim(
        "bench_pc_coder_time",
        "the coder's conditionals (outside scheme), seconds per image, against the same "
        "multiply-adds as one batched einsum and the flops roofline",
        "our benchmark (no paper value)", None, "timing.coder", "", None,
        "D sequential steps of jitted pmf + commit per batch: dispatch-bound on CPU",
        kind=C.MEASUREMENT, source=C.NONE,
    ))  # fmt: skip
    return rows


# ------------------------------------------------------------------------------- figure
LABELS = {
    "ours": "ours (inside-outside)",
    "autodiff": "gradient of log p (autodiff)",
    "dense_einsum": "bare einsums (no tree, no exp/log)",
}


def plot(results: dict, out_dir) -> None:
    import matplotlib.pyplot as plt

    t = results["timing"]
    m = np.asarray(results["series"]["latents"], float)
    B = results["metrics"]["batch_size"]
    with plotting.style():
        fig, axes = plt.subplots(1, 2, figsize=(10.5, 4))
        ax = axes[0]
        for c, name in enumerate(CANDIDATES):
            sec = [np.nan if v is None else v for v in t["seconds"][name]]
            ax.plot(m, sec, marker=plotting.MARKERS[c], color=plotting.color(c),
                    label=LABELS[name])  # fmt: skip
        ax.plot(m, t["roofline_s"], ":", color="k", lw=1,
                label="roofline: max(flops / peak, bytes / bandwidth)")  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("M (states per latent)")
        ax.set_ylabel(f"seconds per {B}-image EM batch")
        dev = t["backend"] if t["device"] == t["backend"] else f"{t['backend']} ({t['device']})"
        ax.set_title(f"EM flows, D = {results['metrics']['D']}, {dev}")
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi * (hi / lo) ** 0.45)  # headroom: the legend above the lines
        ax.legend(fontsize=7, loc="upper left")
        ax = axes[1]
        r = [np.nan if v is None else v for v in t["time_over_ours"]["autodiff"]]
        ax.plot(m, r, marker=plotting.MARKERS[1],
                color=plotting.color(1), label="autodiff / ours (time)")  # fmt: skip
        ax.plot(m, np.asarray(t["roofline_fraction_ours"]) * 100, marker=plotting.MARKERS[0],
                color=plotting.color(0), label="ours: % of roofline")  # fmt: skip
        ax.plot(m, np.asarray(t["coder"]["roofline_fraction"]) * 100, ls="--",
                marker=plotting.MARKERS[2], color=plotting.color(2),
                label="coder (outside scheme): % of flops roofline")  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("M (states per latent)")
        ax.set_ylabel("ratio / percent (same run)")
        ax.set_title("speed-up over autodiff; share of the roofline")
        ax.legend(fontsize=7)
        fig.tight_layout()
        plotting.savefig(fig, out_dir, "bench")


def main(argv: list[str] | None = None) -> int:
    return cli.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    cli.exit_script(main())
