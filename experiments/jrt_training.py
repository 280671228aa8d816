"""Trained models on set disjointness: causal vs non-causal Based, by state size and set order.

Reproduces the training experiment (Figure 2) of Arora et al., "Just read twice", arXiv:2407.05483v1
(Sec. 3.1, App. B.1) on a reduced grid, plus two models the paper did not train: causal softmax
attention and the causal Based model fed JRT prompts (the input twice). Model: models/based_nets.py.

Commands:
    python -m experiments.jrt_training                 # quick: a training smoke test, ~30 s
    python -m experiments.jrt_training --preset full   # reduced grid, CPU ~35 min (2 cores)

Quick checks only that training works (loss falls, nothing NaN); its accuracies mean nothing.
Full (reduced to fit 2 CPU cores; the paper's grid is 5 widths x 4 feature dims x 3 learning
rates x 2 seeds x 48 epochs of 240k sequences, V = 2048, sets up to 256/768, on A100s): V = 64,
sets of 4..12, width 64, feature dims 1/2/4 (the state sweep), one learning rate (3e-3, cosine),
2400 steps of 64, 2 seeds vmapped; causal and non-causal Based, plus JRT-prompted causal and
softmax attention at feature dim 1.
Accuracy is sliced into small-first (|A| < |B|) and large-first (|A| > |B|) test pairs, x-axis the
recurrent state in bytes (convention in models/based_nets.state_bytes).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments._lib import claims as C
from experiments._lib import cli, plotting
from models import based_nets as BN
from models import train
from runtime import rng
from theory import set_disjointness as SD
from theory import stats

PAPER = "arora2024_jrt"
CITED_PRESET = "full"
DEBIAN_PACKAGES: tuple[str, ...] = ()
VARIANTS = ("causal", "noncausal", "jrt_causal", "softmax")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    vocab: int = 64
    train_pairs: tuple[tuple[int, ...], ...] = ((4, 8), (8, 4))
    test_pairs: tuple[tuple[int, ...], ...] = ((4, 8), (8, 4))
    variants: tuple[str, ...] = ("causal", "noncausal")
    d_models: tuple[int, ...] = (32,)
    feature_dims: tuple[int, ...] = (4,)
    # the two extensions are trained at one size only (the first d_model / feature_dim)
    heads: int = 2
    n_layers: int = 4
    mlp: bool = True
    lr: float = 3e-3
    weight_decay: float = 0.1
    steps: int = 150
    batch: int = 32
    seeds: int = 2
    n_eval: int = 200
    seed: int = 0

    def __post_init__(self):
        for v in self.variants:
            if v not in VARIANTS:
                raise ValueError(f"variants must be among {VARIANTS}, got {v!r}")
        for p in (*self.train_pairs, *self.test_pairs):
            if len(p) != 2:
                raise ValueError(f"set-size pairs are (|A|, |B|), got {p}")
            SD.check_sizes(p[0], p[1], self.vocab)  # and the swapped order (both are run)
            SD.check_sizes(p[1], p[0], self.vocab)
        if min(self.d_models) < self.heads or any(d % self.heads for d in self.d_models):
            raise ValueError(f"d_models must be multiples of heads = {self.heads}")
        if min(self.feature_dims) < 1:
            raise ValueError("state size: feature_dims must be >= 1")
        if self.steps < 10 or self.batch < 1 or self.seeds < 1 or self.n_eval < 10:
            raise ValueError("steps >= 10, batch >= 1, seeds >= 1, n_eval >= 10")
        if not self.lr > 0:
            raise ValueError("lr must be > 0")


PRESETS = {
    # smoke: seconds, for the tests: all four variants, two state sizes, a few steps
    "smoke": Config(
        variants=VARIANTS,
        d_models=(16,),
        feature_dims=(1, 2),
        n_layers=2,
        steps=10,
        batch=8,
        seeds=2,
        n_eval=20,
    ),
    "quick": Config(),
    "full": Config(
        vocab=64,
        train_pairs=((4, 12), (12, 4), (8, 12), (12, 8), (6, 6)),
        test_pairs=((4, 12), (12, 4), (8, 12), (12, 8)),
        variants=VARIANTS,
        d_models=(64,),
        feature_dims=(1, 2, 4),
        steps=2400,
        batch=64,
        seeds=2,
        n_eval=1000,
    ),
}


def _key(cfg, *stream):
    return rng.key(cfg.seed, *stream)


def _inputs(tokens, variant):
    return SD.jrt_prompt(tokens) if variant == "jrt_causal" else tokens


def model_config(cfg, variant, d_model, feature_dim):
    return BN.ModelConfig(
        vocab=cfg.vocab,
        d_model=d_model,
        n_layers=cfg.n_layers,
        heads=cfg.heads,
        feature_dim=feature_dim,
        causal=variant != "noncausal",
        mlp=cfg.mlp,
        mixer="softmax" if variant == "softmax" else "based",
    )


def train_one(cfg, variant, d_model, feature_dim, tag):
    """Train `cfg.seeds` models (vmapped over seeds); returns losses and eval accuracies."""
    mc = model_config(cfg, variant, d_model, feature_dim)
    model = BN.BasedLM(mc)
    sched = optax.cosine_decay_schedule(cfg.lr, cfg.steps)
    opt = optax.adamw(sched, weight_decay=cfg.weight_decay)
    a0, b0 = cfg.train_pairs[0]
    dummy = _inputs(jnp.zeros((1, a0 + b0 + 3), jnp.int32), variant)
    params = train.init_seeds(
        lambda k: model.init(k, dummy), jax.random.split(_key(cfg, 1, tag), cfg.seeds)
    )

    def loss_fn(p, batch):
        x, y = batch
        logits = model.apply(p, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def predict(params, x):
        return jax.vmap(lambda p, x: jnp.argmax(model.apply(p, x), -1))(params, x)

    # every training batch drawn up front, one vectorised draw per (|A|, |B|) pair; step t uses
    # pair t mod (number of pairs): fresh data every step, as the paper's 20k examples per pair
    # are only ever seen 48 times
    n_pairs = len(cfg.train_pairs)
    data = []
    for i, (a, b) in enumerate(cfg.train_pairs):
        per_pair = -(-cfg.steps // n_pairs)
        bt = SD.sd_batch(_key(cfg, 2, i), per_pair * cfg.seeds * cfg.batch, a, b, cfg.vocab)
        x = _inputs(bt["tokens"], variant).reshape(per_pair, cfg.seeds, cfg.batch, -1)
        data.append((x, bt["target"].reshape(per_pair, cfg.seeds, cfg.batch)))

    def batch_fn(t):
        x, y = data[t % n_pairs]
        return x[t // n_pairs], y[t // n_pairs]

    params, _, losses = train.train(
        loss_fn, opt, params, batch_fn, steps=cfg.steps,
        desc=f"{variant} d={d_model} f={feature_dim}",
    )  # fmt: skip
    acc = {}
    for i, (a, b) in enumerate(cfg.test_pairs):
        bt = SD.sd_batch(_key(cfg, 3, i), cfg.n_eval, a, b, cfg.vocab)  # same test set for all
        x = _inputs(bt["tokens"], variant)
        x = jnp.broadcast_to(x, (cfg.seeds, *x.shape))
        pred = predict(params, x)
        acc[f"{a},{b}"] = np.asarray(jnp.mean(pred == bt["target"][None], axis=1)).tolist()
    L = max(a + b for a, b in cfg.test_pairs) + 3
    return {
        "variant": variant,
        "d_model": d_model,
        "feature_dim": feature_dim,
        "state_bytes": BN.state_bytes(mc, L),
        "loss": losses.tolist(),  # (seeds, steps)
        "acc": acc,  # pair -> per-seed accuracy
    }


def _slices(rec, pairs):
    small = [f"{a},{b}" for a, b in pairs if a < b]
    large = [f"{a},{b}" for a, b in pairs if a > b]
    per_seed = lambda keys: np.mean([rec["acc"][k] for k in keys], axis=0)  # noqa: E731
    return per_seed(small), per_seed(large)


def run(cfg: Config) -> dict:
    t0 = time.perf_counter()
    runs = []
    tag = 0
    for variant in cfg.variants:
        sizes = [(d, f) for d in cfg.d_models for f in cfg.feature_dims]
        if variant in ("jrt_causal", "softmax"):
            sizes = sizes[:1]
        for d, f in sizes:
            tag += 1
            runs.append(train_one(cfg, variant, d, f, tag))
    for r in runs:
        sf, lf = _slices(r, cfg.test_pairs)
        r["small_first"], r["large_first"] = sf.tolist(), lf.tolist()
        loss = np.asarray(r["loss"])
        w = max(1, loss.shape[1] // 10)
        r["loss_first"] = loss[:, :w].mean(1).tolist()
        r["loss_last"] = loss[:, -w:].mean(1).tolist()
        r["finite"] = bool(np.isfinite(loss).all())
    return {
        "metrics": {"runs": runs, "n_eval": cfg.n_eval, "seeds": cfg.seeds},
        "series": {"test_pairs": [list(p) for p in cfg.test_pairs]},
        "timing": {"run_s": time.perf_counter() - t0},
    }


def check_claims(results: dict) -> list[dict]:
    m = results["metrics"]
    runs = m["runs"]
    rows = []
    fell = all(min(r["loss_first"]) > max(r["loss_last"]) for r in runs)
    finite = all(r["finite"] for r in runs)
    rows.append(C.claim(
        "training_smoke", "training works: loss falls for every model and seed, nothing NaN",
        "App. B.1 (training setup)", "loss falls",
        "; ".join(f"{r['variant']} d{r['d_model']} f{r['feature_dim']}: "
                  f"{np.mean(r['loss_first']):.2f} -> {np.mean(r['loss_last']):.2f}"
                  for r in runs),
        "last 10% < first 10%, all finite", fell and finite, kind=C.CHECK, source=C.PAPER,
    ))  # fmt: skip
    # standard error of a slice accuracy: binomial over n_eval x (test pairs in the slice) x seeds
    pairs = results["series"]["test_pairs"]
    n_slice = m["n_eval"] * sum(a < b for a, b in pairs) * m["seeds"]

    def gap(r):
        sf, lf = np.mean(r["small_first"]), np.mean(r["large_first"])
        se = math.sqrt((sf * (1 - sf) + lf * (1 - lf)) / n_slice + 1e-12)
        return sf, lf, sf - lf, se

    causal = [r for r in runs if r["variant"] == "causal"]
    nonc = [r for r in runs if r["variant"] == "noncausal"]
    best = max(max(np.mean(r["small_first"]), np.mean(r["large_first"])) for r in runs)
    # A run whose best model is below 50% has not learnt recall (the smoke test): Fig. 2's claims
    # cannot be decided from it.
    judge = best >= 0.5
    # Regime: the order effect needs a state that cannot hold the first set. Binding iff the
    # smallest causal state (floats per layer) is below the random-feature memory's state for 95%
    # recall of the largest first set against its probe (theory.set_disjointness, the Gaussian
    # closed form that the set_disjointness experiment checks against simulation).
    cfg = results["config"]
    need = max(SD.rf_state_for_accuracy(a, b) for a, b in pairs)
    regime = (
        "the paper's grid (App. B.1: V = 2048, sets to 256 in training and 768 at test, "
        f"needing ~{SD.rf_state_for_accuracy(256, 256):.0f} features per layer for 95% recall) "
        "on a GPU, where the 3-10 kB states are binding"
    )
    if causal and nonc:
        smallest = min(causal, key=lambda r: r["state_bytes"])
        floats = smallest["state_bytes"] / 4 / cfg["n_layers"]
        binding = floats < need
        why_not = (
            f"not learnt (best accuracy {best:.2f} < 0.5)" if not judge
            else f"state not binding: {floats:.0f} floats per layer >= {need:.0f} features the "
            "random-feature memory needs for the largest first set"
        )  # fmt: skip
        decidable = judge and binding
        sf, lf, g, se = gap(smallest)
        verdict = stats.band_verdict(g - 3 * se, g + 3 * se, 0.0, math.inf)
        rows.append(C.claim(
            "causal_order_gap",
            "causal Based: better when the smaller set comes first (smallest state)",
            "Fig. 2 (causal models: accuracy depends on set order)",
            "small-first > large-first", f"{sf:.3f} vs {lf:.3f}",
            "gap +- 3 SE > 0, in a regime where the state is binding", None,
            ("" if decidable else why_not + "; ")
            + f"gap {g:+.3f} +- {se:.3f}; state {smallest['state_bytes']} B; all causal gaps: "
            + ", ".join(f"{gap(r)[2]:+.3f} ({r['state_bytes']} B)" for r in causal),
            kind=C.CLAIM, source=C.PAPER,
            status=C.verdict_status(verdict) if decidable else C.INCONCLUSIVE, decide=regime,
        ))  # fmt: skip
        cg = np.mean([gap(r)[2] for r in causal])
        ng = np.mean([gap(r)[2] for r in nonc])
        se_m = max(gap(r)[3] for r in causal + nonc) / math.sqrt(min(len(causal), len(nonc)))
        d = cg - ng
        verdict = stats.band_verdict(d - 2 * se_m, d + 2 * se_m, 0.0, math.inf)
        rows.append(C.claim(
            "noncausal_less_order_sensitive",
            "non-causal Based varies less with set order than causal (mean gap over the grid)",
            "Fig. 2 (Right)", "smaller gap", f"causal {cg:+.3f}, non-causal {ng:+.3f}",
            "causal - non-causal +- 2 SE > 0, state binding", None,
            ("" if decidable else why_not + "; ") + f"difference {d:+.3f}, SE ~ {se_m:.3f}",
            kind=C.CLAIM, source=C.PAPER,
            status=C.verdict_status(verdict) if decidable else C.INCONCLUSIVE, decide=regime,
        ))  # fmt: skip
        lf_c = np.mean([np.mean(r["large_first"]) for r in causal])
        lf_n = np.mean([np.mean(r["large_first"]) for r in nonc])
        d = lf_n - lf_c
        verdict = stats.band_verdict(d - 2 * se_m, d + 2 * se_m, 0.0, math.inf)
        rows.append(C.claim(
            "noncausal_better_large_first",
            "non-causal beats causal when the large set comes first (mean over the grid)",
            "Fig. 2 (Left)", "non-causal > causal", f"{lf_n:.3f} vs {lf_c:.3f}",
            "difference +- 2 SE > 0", None,
            f"difference {d:+.3f}, SE ~ {se_m:.3f}" + ("" if judge else "; " + why_not),
            kind=C.CLAIM, source=C.PAPER,
            status=C.verdict_status(verdict) if judge else C.INCONCLUSIVE,
            decide="a longer run in which some model exceeds 50% recall",
        ))  # fmt: skip
    extensions = (("jrt_causal", "JRT-prompted causal Based (input twice)"),
                  ("softmax", "causal softmax attention (KV cache grows with L)"))  # fmt: skip
    for variant, what in extensions:
        for r in runs:
            if r["variant"] == variant:
                sf, lf, g, se = gap(r)
                rows.append(C.claim(
                    f"{variant}_extension", f"{what}: accuracy by set order (not in the paper)",
                    "extension (no paper value)", None,
                    f"small-first {sf:.3f}, large-first {lf:.3f}", "", None,
                    f"state {r['state_bytes']} B; gap {g:+.3f} +- {se:.3f}",
                    kind=C.MEASUREMENT, source=C.NONE,
                ))  # fmt: skip
    rows += [
        C.not_attempted(
            "jrt_rnn_recall_at_equal_state",
            "JRT-RNN (prefix linear attention + causal decoder) recalls better than Based at "
            "equal state on the synthetic recall task",
            "Sec. 4 (JRT-RNN); Fig. 2-style comparison at equal state",
            "JRT-RNN > Based",
            "not run yet: JRT-RNN's prefix linear attention exists (kernels.linear_attention."
            "prefix_linear_attention) but the model is not trained here yet (issue 13, open)",
            "add a jrt_rnn variant (prefix linear attention over the prompt, causal over the "
            "rest) to models.based_nets and this grid, at the Based variants' state sizes",
        ),
        C.not_attempted(
            "jrt_rnn_language_quality",
            "JRT-RNN at 360M / 1.3B parameters matches or beats Based and approaches "
            "Transformer++ on recall-intensive tasks (and perplexity)",
            "Sec. 5, Tables 2-3",
            "JRT-RNN within a few points of Transformer++",
            "language-model pretraining (30-50B tokens of the Pile) is far beyond this machine "
            "and no such corpus is in a registry package",
            "pretraining both models at >= 360M parameters on >= 30B tokens on a multi-GPU host, "
            "then the recall benchmarks (SWDE, FDA, SQuAD, ...)",
        ),
    ]
    return rows


def plot(results: dict, out_dir) -> None:
    import matplotlib.pyplot as plt

    runs = results["metrics"]["runs"]
    with plotting.style():
        fig, axes = plt.subplots(1, 4, figsize=(17, 4))
        for c, variant in enumerate(VARIANTS):
            rs = sorted(
                [r for r in runs if r["variant"] == variant], key=lambda r: r["state_bytes"]
            )
            if not rs:
                continue
            x = [r["state_bytes"] for r in rs]
            kw = {"color": plotting.color(c), "marker": plotting.MARKERS[c], "label": variant}
            for ax, key in ((axes[0], "large_first"), (axes[1], "small_first")):
                ax.errorbar(x, [np.mean(r[key]) for r in rs],
                            yerr=[np.std(r[key]) for r in rs], capsize=2, **kw)  # fmt: skip
            axes[2].plot(x, [np.mean(r["small_first"]) - np.mean(r["large_first"]) for r in rs],
                         **kw)  # fmt: skip
            for r in rs:
                loss = np.asarray(r["loss"]).mean(0)
                w = max(1, len(loss) // 50)
                sm = np.convolve(loss, np.ones(w) / w, mode="valid")
                axes[3].plot(sm, color=plotting.color(c), lw=1)
        titles = ("|A| > |B| (large first)", "|A| < |B| (small first)", "small-first - large-first")
        for ax, title in zip(axes[:3], titles, strict=True):
            ax.set_xscale("log")
            ax.set_xlabel("recurrent state (bytes, float32)")
            ax.set_title(title)
            ax.legend(fontsize=7)
        axes[0].set_ylabel("accuracy")
        axes[2].axhline(0, color="k", lw=0.8)
        axes[3].set_xlabel("step")
        axes[3].set_ylabel("training loss (seed mean, smoothed)")
        axes[3].set_title("training curves")
        fig.tight_layout()
        plotting.savefig(fig, out_dir, "figure2")


def main(argv: list[str] | None = None) -> int:
    return cli.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    raise SystemExit(main())
