"""Benchmark: training throughput of the few-shot experiment's GPT (tokens per second), CPU and GPU.

Orhan (2023), arXiv:2303.17557, studies sentences by fine-tuning language models; issue 20 asks
for the training tokens/s of the models trained here, on CPU and on a lent GPU. This times one
AdamW step of models.gpt.GPT (forward and backward through the tied head, the jnp reference:
the Pallas scoring kernel has no VJP) at the sizes fewshot_retention trains (d_model, layers)
= (32, 1), (64, 2), (96, 3) with its vocabulary and context, and on a GPU also at GPT-2 small's
shape (d = 768, 12 layers, 12 heads, V = 50257, context 1024). Achieved FLOP/s use the usual
6 N per token for a step (N = parameters) plus the attention's 12 L T d per token (Kaplan et al.
2020, Table 1): an estimate of the work, stated so that the roofline comparison is checkable.

Commands:
    python -m experiments.bench_gpt_train                  # quick, ~20 s (CPU)
    python -m experiments.bench_gpt_train --preset full    # the fewshot full preset's sizes,
                                                           # ~1 min (CPU); GPT-2 small on a GPU
"""

from __future__ import annotations

import dataclasses
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments._lib import claims as C
from experiments._lib import cli, plotting
from models import gpt
from models.train import update_fn
from runtime import progress, rng
from runtime.timing import failure_text, matmul_rate, time_fn

PAPER = "orhan2023_fewshot"
CITED_PRESET = "full"
DEBIAN_PACKAGES: tuple[str, ...] = ()
CHECK_STEPS = 4  # steps on one batch whose losses must fall (the step trains)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    sizes: tuple[tuple[int, ...], ...] = ((32, 1), (64, 2))  # (d_model, layers), on every backend
    n_heads: int = 4
    vocab: int = 2048
    context: int = 64
    batch: int = 32
    # GPU only (skipped elsewhere): GPT-2 small's shape
    gpu_sizes: tuple[tuple[int, ...], ...] = ((768, 12),)
    gpu_heads: int = 12
    gpu_vocab: int = 50257
    gpu_context: int = 1024
    gpu_batch: int = 8
    lr: float = 1e-3
    peak_side: int = 2048  # a float32 matmul of this side measures the device's peak FLOP/s
    repeats: int = 5
    seed: int = 0

    def __post_init__(self):
        for name in ("n_heads", "gpu_heads", "batch", "gpu_batch"):
            if not 1 <= getattr(self, name) <= 4096:
                raise ValueError(f"{name} must be in 1..4096, got {getattr(self, name)}")
        for name, heads in (("sizes", self.n_heads), ("gpu_sizes", self.gpu_heads)):
            sizes = getattr(self, name)
            if name == "sizes" and not sizes:
                raise ValueError("sizes must name at least one (d_model, layers)")
            for s in sizes:
                if len(s) != 2 or min(s) < 1 or s[0] > 8192 or s[1] > 128:
                    raise ValueError(
                        f"{name} are (d_model, layers), d_model in 1..8192 and layers in "
                        f"1..128, got {s}"
                    )
                if s[0] % heads:
                    raise ValueError(f"{name}: d_model {s[0]} is not a multiple of {heads} heads")
        for name in ("vocab", "gpu_vocab"):
            if not 3 <= getattr(self, name) <= 2**20:
                raise ValueError(f"{name} must be in 3..2^20, got {getattr(self, name)}")
        for name in ("context", "gpu_context"):
            if not 2 <= getattr(self, name) <= 8192:
                raise ValueError(f"{name} must be in 2..8192, got {getattr(self, name)}")
        if not (0.0 < self.lr < 1.0):
            raise ValueError(f"lr must be in (0, 1), got {self.lr}")
        if not 3 <= self.repeats <= 1000:
            raise ValueError("repeats must be in 3..1000 (a minimum over repeats)")
        if not 16 <= self.peak_side <= 16384:
            raise ValueError(f"peak_side must be in 16..16384, got {self.peak_side}")


def _params(d: int, layers: int, vocab: int, context: int) -> int:
    """Parameters of models.gpt.GPT: tied embedding V d, positions T d, per block 12 d^2 + 13 d
    (attention 4 d^2 + 4 d, MLP 8 d^2 + 5 d, two layer norms 4 d), final layer norm 2 d."""
    return vocab * d + context * d + layers * (12 * d * d + 13 * d) + 2 * d


def memory_estimate(cfg: Config) -> int:
    """Peak host bytes of the CPU sizes: parameters, gradients and AdamW's two moments (4 N
    float32), and the step's activations kept for the backward pass: per layer ~16 B T d floats
    plus the B H T^2 attention weights, and the B T V logits of the head twice (float32)."""

    def one(d, layers):
        n = _params(d, layers, cfg.vocab, cfg.context)
        b, t = cfg.batch, cfg.context
        act = layers * (16 * b * t * d + 2 * b * cfg.n_heads * t * t) + 2 * b * t * cfg.vocab
        return 4 * (4 * n + act)

    return max(max(one(d, layers) for d, layers in cfg.sizes), 4 * 3 * cfg.peak_side**2)


PRESETS = {
    # smoke: seconds, for the tests
    "smoke": Config(sizes=((16, 1),), vocab=128, context=16, batch=4, peak_side=256, repeats=3),
    "quick": Config(),
    "full": Config(sizes=((32, 1), (64, 2), (96, 3)), repeats=7),
}


def _measure(cfg, d, layers, heads, vocab, context, batch):
    model = gpt.GPT(vocab, context, d, layers, heads)
    k_init, k_data = jax.random.split(rng.key(cfg.seed, d, layers, vocab, context))
    params = model.init(k_init, jnp.zeros((1, 8), jnp.int32))
    # random tokens in 1..V-1 (0 is the padding id): every target is real
    tokens = jax.random.randint(k_data, (batch, context), 1, vocab)
    opt = optax.adamw(cfg.lr, weight_decay=0.0)
    state = opt.init(params)
    # the training path's own update (models.train, as fewshot_retention trains), one model
    step = jax.jit(update_fn(lambda p, b: gpt.batch_loss(model, p, b), opt))
    t, _ = time_fn(step, params, state, tokens, repeats=cfg.repeats)
    losses, p, s = [], params, state
    for _ in range(CHECK_STEPS):
        p, s, loss = step(p, s, tokens)
        losses.append(float(loss))
    n = gpt.param_count(params)
    tok = batch * (context - 1)  # predicted tokens per step
    flops = tok * (6 * n + 12 * layers * context * d)
    return {
        "size": [d, layers], "heads": heads, "vocab": vocab, "context": context, "batch": batch,
        "params": n, "step_s": t.min_s, "compile_s": t.compile_s,
        "tokens_per_s": tok / t.min_s, "gflop_per_s": flops / t.min_s / 1e9,
    }, {"size": [d, layers], "params": n, "params_formula": _params(d, layers, vocab, context),
        "losses": losses}  # fmt: skip


def _peak_gflop_per_s(cfg) -> float:
    """The measured roof: a float32 matmul of side peak_side (runtime.timing.matmul_rate), min
    of repeats like the training step it is compared with."""
    a = jax.random.normal(rng.key(cfg.seed, cfg.peak_side), (cfg.peak_side,) * 2, jnp.float32)
    flops, t = matmul_rate(a, repeats=cfg.repeats)
    return flops / t.min_s / 1e9


def run(cfg: Config) -> dict:
    t0 = time.perf_counter()
    peak = _peak_gflop_per_s(cfg)
    timed, checked = [], []
    for d, layers in progress.bar(cfg.sizes, desc="sizes"):
        tm, ck = _measure(cfg, d, layers, cfg.n_heads, cfg.vocab, cfg.context, cfg.batch)
        timed.append(tm)
        checked.append(ck)
    gpu = None
    if jax.default_backend() == "gpu":
        gpu = []
        for d, layers in cfg.gpu_sizes:
            try:
                tm, ck = _measure(cfg, d, layers, cfg.gpu_heads, cfg.gpu_vocab, cfg.gpu_context,
                                  cfg.gpu_batch)  # fmt: skip
                gpu.append({**tm, "losses": ck["losses"]})
            except Exception as e:  # noqa: BLE001 - recorded, e.g. RESOURCE_EXHAUSTED
                gpu.append({"size": [d, layers], "failed": failure_text(e)})
    for r in [*timed, *(g for g in gpu or [] if "failed" not in g)]:
        r["fraction_of_matmul_peak"] = r["gflop_per_s"] / peak
    timing = {
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind),
        "matmul_peak_gflop_per_s": peak,
        "sizes": timed,
        "gpu": gpu,
        "run_s": time.perf_counter() - t0,
    }
    return {"metrics": {"steps": checked}, "series": {}, "timing": timing}


def check_claims(results: dict) -> list[dict]:
    steps, t = results["metrics"]["steps"], results["timing"]
    rows = []
    ok = all(s["params"] == s["params_formula"] for s in steps)
    rows.append(C.claim(
        "param_count_formula", "the model has the parameters the FLOP estimate counts",
        "experiments.bench_gpt_train._params", "equal",
        ", ".join(f"{tuple(s['size'])}: {s['params']}" for s in steps), "exact", ok,
        kind=C.CHECK, source=C.DERIVED,
    ))  # fmt: skip
    falls = all(
        all(b < a for a, b in zip(s["losses"], s["losses"][1:], strict=False)) for s in steps
    )
    rows.append(C.claim(
        "the_timed_step_trains",
        f"the timed step trains: {CHECK_STEPS} steps on one batch lower its loss every time",
        "models.gpt.batch_loss with optax.adamw", "strictly falling",
        "; ".join(
            f"{tuple(s['size'])}: " + " > ".join(f"{x:.3f}" for x in s["losses"]) for s in steps
        ),
        "each step below the one before", falls, kind=C.CHECK, source=C.DERIVED,
    ))  # fmt: skip
    rows.append(C.claim(
        "training_throughput", f"training tokens/s and achieved GFLOP/s on {t['backend']}",
        "our benchmark (no paper value)", None,
        # wall-clock numbers stay in `timing`: results.json outside it is a function of the seed
        "timing.sizes[*].tokens_per_s, gflop_per_s, fraction_of_matmul_peak"
        + ("" if t["gpu"] is None else "; GPT-2 small on the GPU: timing.gpu"),
        "", None,
        "FLOPs per step = predicted tokens x (6 N + 12 L T d); the roof: a float32 matmul of "
        "side peak_side measured in the same run (timing.matmul_peak_gflop_per_s)"
        + ("; the GPU rate: not in this run (no GPU; make gpu-check)" if t["gpu"] is None else ""),
        kind=C.MEASUREMENT, source=C.NONE,
    ))  # fmt: skip
    return rows


def plot(results: dict, out_dir) -> None:
    import matplotlib.pyplot as plt

    t = results["timing"]
    rows = t["sizes"] + [g for g in (t["gpu"] or []) if "failed" not in g]
    labels = [f"d={r['size'][0]}, L={r['size'][1]}\n{r['params'] / 1e6:.2f}M params" for r in rows]
    x = np.arange(len(rows))
    with plotting.style():
        fig, axes = plt.subplots(1, 2, figsize=(10.5, 4))
        for ax, key, ylabel, c in (
            (axes[0], "tokens_per_s", "training tokens / s (one AdamW step)", 0),
            (axes[1], "gflop_per_s", "achieved GFLOP/s (6N + 12LTd per token)", 1),
        ):
            ax.bar(x, [r[key] for r in rows], 0.6, color=plotting.color(c), label=t["backend"])
            if key == "gflop_per_s":
                ax.axhline(t["matmul_peak_gflop_per_s"], color="k", ls="--", lw=1,
                           label="float32 matmul peak (same run)")  # fmt: skip
            ax.set_xticks(x, labels, fontsize=7)
            ax.set_yscale("log")
            ax.set_ylabel(ylabel)
            ax.legend(fontsize=7)
        axes[0].set_title("training throughput")
        axes[1].set_title("arithmetic rate")
        fig.tight_layout()
        plotting.savefig(fig, out_dir, "bench")


def main(argv: list[str] | None = None) -> int:
    return cli.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    cli.exit_script(main())
