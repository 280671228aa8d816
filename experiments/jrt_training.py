"""Trained models on set disjointness: causal vs non-causal Based vs JRT-RNN, by state and order.

Reproduces the training experiment (Figure 2) of Arora et al., "Just read twice", arXiv:2407.05483v1
(Sec. 3.1, App. B.1) on a reduced grid, trains the paper's own JRT-RNN (Sec. 4: prefix linear
attention over the prompt, causal decoder; models/based_nets.py `mixer="prefix"`) beside Based at
equal state, plus two models the paper did not train: causal softmax attention and the causal
Based model fed JRT prompts (the input twice).

Commands:
    python -m experiments.jrt_training                 # quick: a training smoke test, ~30 s
    python -m experiments.jrt_training --preset full   # reduced grid, CPU ~75 min (2 cores)

Headline (full): non-causal Based beats causal Based on large-first pairs (0.578 vs 0.353); at
the one binding state (816 B) no model learnt (accuracy 0.08; learnt means >= 0.5), so the
order-gap claims stay inconclusive; above it JRT-RNN recalls more than causal Based at equal
state (0.390 vs 0.195 at 1584 B up to 0.899 vs 0.548 at 9456 B).

Quick checks only that training works (loss falls, nothing NaN); its accuracies mean nothing.
Full (reduced to fit 2 CPU cores; the paper's grid is 5 widths x 4 feature dims x 3 learning
rates x 2 seeds x 48 epochs of 240k sequences, V = 2048, sets up to 256/768, on A100s): V = 64,
sets of 4..12, (d_model, feature dim) = (16, 1), (32, 1), (64, 1), (64, 2), (64, 4) (the state
sweep; the first is binding: fewer floats per layer than `binding_floats`), one learning rate
(3e-3, cosine), 2400 steps of 64, 2 seeds vmapped; causal Based, non-causal Based and JRT-RNN at
every size, JRT-prompted causal and softmax attention at (64, 1).
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
EXTRA_CITED = ("binding",)  # rendered in the paper file too, not counted (papers_repro.render)
DEBIAN_PACKAGES: tuple[str, ...] = ()
VARIANTS = ("causal", "noncausal", "jrt_rnn", "jrt_causal", "softmax")
# trained at every size of the state sweep; the two extensions at `extension_size` only
SWEPT = ("causal", "noncausal", "jrt_rnn")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    vocab: int = 64
    train_pairs: tuple[tuple[int, ...], ...] = ((4, 8), (8, 4))
    test_pairs: tuple[tuple[int, ...], ...] = ((4, 8), (8, 4))
    variants: tuple[str, ...] = ("causal", "noncausal")
    # the state sweep: (d_model, feature_dim) pairs; the state is models.based_nets.state_bytes
    sizes: tuple[tuple[int, ...], ...] = ((32, 4),)
    # jrt_causal and softmax (extensions) are trained at this one size only
    extension_size: tuple[int, ...] = (32, 4)
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
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        for v in self.variants:
            if v not in VARIANTS:
                raise ValueError(f"variants must be among {VARIANTS}, got {v!r}")
        for p in (*self.train_pairs, *self.test_pairs):
            if len(p) != 2:
                raise ValueError(f"set-size pairs are (|A|, |B|), got {p}")
            SD.check_sizes(p[0], p[1], self.vocab)  # and the swapped order (both are run)
            SD.check_sizes(p[1], p[0], self.vocab)
        if self.heads < 1 or self.n_layers < 1:
            raise ValueError("heads and n_layers must be >= 1")
        if not self.sizes:
            raise ValueError("sizes: at least one (d_model, feature_dim) pair")
        for size in (*self.sizes, self.extension_size):
            if len(size) != 2:
                raise ValueError(f"sizes are (d_model, feature_dim) pairs, got {size}")
            d, f = size
            if d < self.heads or d % self.heads:
                raise ValueError(f"d_model {d} must be a positive multiple of heads = {self.heads}")
            if f < 1:
                raise ValueError(f"state size: feature_dim must be >= 1, got {f}")
        if self.steps < 10 or self.batch < 1 or self.seeds < 1 or self.n_eval < 10:
            raise ValueError("steps >= 10, batch >= 1, seeds >= 1, n_eval >= 10")
        if not self.lr > 0:
            raise ValueError("lr must be > 0")
        if self.steps > 10**6 or self.seeds > 64 or self.n_eval > 10**6 or self.n_layers > 64:
            raise ValueError("steps <= 1e6, seeds <= 64, n_eval <= 1e6 and n_layers <= 64")


def memory_estimate(cfg: Config) -> int:
    """Peak bytes of one training call (all seeds at once), an upper bound within a small factor:
    float32 activations kept for the backward pass, per layer and sequence, (T, T) scores per
    head (the quadratic forms) and T x (16 d + H F d_h) (projections, MLP, Based features
    F = 1 + f + f^2 with d_h = d / H), x3 for the backward and XLA's temporaries; plus the
    parameters with AdamW's two moments and the gradient (x4): vocab x d embeddings and
    ~(16 d^2 + 2 d F) per layer. T = 2 (|A| + |B|) + 4 (the read-twice prompt and separators);
    evaluation keeps no backward state (n_eval sequences at x1)."""
    t = 2 * max(a + b for a, b in (*cfg.train_pairs, *cfg.test_pairs)) + 4
    worst = 0
    for d, f in (*cfg.sizes, cfg.extension_size):
        feat = 1 + f + f * f
        dh = d // cfg.heads
        act = cfg.n_layers * (cfg.heads * t * t + t * (16 * d + cfg.heads * feat * dh))
        params = cfg.vocab * d + cfg.n_layers * (16 * d * d + 2 * d * feat)
        b = max(3 * cfg.batch, cfg.n_eval)
        worst = max(worst, 4 * cfg.seeds * (b * act + 4 * params))
    return worst


PRESETS = {
    # smoke: seconds, for the tests: all four variants, two state sizes, a few steps
    "smoke": Config(
        variants=VARIANTS,
        sizes=((16, 1),),
        extension_size=(16, 1),
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
        # (16, 1) holds fewer floats per layer (51) than binding_floats (60 here): the binding
        # state where order should matter
        sizes=((16, 1), (32, 1), (64, 1), (64, 2), (64, 4)),
        extension_size=(64, 1),
        steps=2400,
        batch=64,
        seeds=2,
        n_eval=1000,
    ),
}
# binding: the full preset's binding size (d_model 16, feature dim 1: 51 floats per layer, fewer
# than the 60 element tokens) trained 4x longer, to decide the rows the full run left
# inconclusive (2400 steps did not learn it). Run 2026-12-02 (35 min) and shown beside the full
# run in papers_repro/arora2024_jrt.md (EXTRA_CITED; not counted)
PRESETS["binding"] = dataclasses.replace(
    PRESETS["full"], variants=SWEPT, sizes=((16, 1),), extension_size=(16, 1), steps=9600
)


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
        # jrt_rnn: prefix linear attention with the whole input as the prompt (prefix_len 0)
        mixer={"softmax": "softmax", "jrt_rnn": "prefix"}.get(variant, "based"),
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
        sizes = cfg.sizes if variant in SWEPT else (cfg.extension_size,)
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


def binding_floats(cfg: dict, pairs) -> float:
    """Floats per layer below which the state cannot hold the largest first set: the smaller of
    (a) the random-feature memory's state for 95% recall of it against its probe
    (theory.set_disjointness.rf_state_for_accuracy, the Gaussian closed form the
    set_disjointness experiment checks against simulation) and (b) the number of element tokens,
    V - N_SPECIAL: a learned map can store any set of them exactly as a one-hot bag, so a state
    of that many floats is never binding for a trained model, whatever (a) says."""
    rf = max(SD.rf_state_for_accuracy(a, b) for a, b in pairs)
    return min(rf, cfg["vocab"] - SD.N_SPECIAL)


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

    def seed_se(values):
        """Between-seed SE of a per-seed statistic (0 with one seed)."""
        v = np.asarray(values, float)
        return float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0

    # SEs are the larger of the binomial SE (test sampling) and the between-seed SE (training
    # runs differ far more than test sampling does: two seeds of one model are 0.40 vs 0.57)
    def gap(r):
        sf, lf = np.mean(r["small_first"]), np.mean(r["large_first"])
        se = math.sqrt((sf * (1 - sf) + lf * (1 - lf)) / n_slice + 1e-12)
        se = max(se, seed_se(np.subtract(r["small_first"], r["large_first"])))
        return sf, lf, sf - lf, se

    by = {v: {(r["d_model"], r["feature_dim"]): r for r in runs if r["variant"] == v}
          for v in SWEPT}  # fmt: skip
    causal, nonc, jrt = (list(by[v].values()) for v in SWEPT)
    better_slice = lambda r: max(np.mean(r["small_first"]), np.mean(r["large_first"]))  # noqa: E731
    # A run whose best model is below 50% has not learnt recall (the smoke test): Fig. 2's claims
    # cannot be decided from it. Per model the same rule: learnt iff its better slice >= 0.5.
    judge = max(map(better_slice, runs)) >= 0.5
    learnt = lambda r: better_slice(r) >= 0.5  # noqa: E731
    # Regime: the order effect needs a state that cannot hold the first set (binding_floats).
    cfg = results["config"]
    need = binding_floats(cfg, pairs)
    floats = lambda r: r["state_bytes"] / 4 / cfg["n_layers"]  # noqa: E731
    binding_sizes = sorted(
        (s for s, r in by["causal"].items() if floats(r) < need),
        key=lambda s: by["causal"][s]["state_bytes"],
    )
    regime = (
        "the paper's grid (App. B.1: V = 2048, sets to 256 in training and 768 at test, "
        f"needing ~{SD.rf_state_for_accuracy(256, 256):.0f} features per layer for 95% recall) "
        "on a GPU, where the 3-10 kB states are binding; or here, a binding state "
        f"(< {need:.0f} floats per layer, e.g. d_model 16 with feature dim 1) trained until the "
        f"models learn (> 0.5 recall; {cfg.get('steps', '?')} steps left it below), ~4x the steps"
    )
    # one-sided decisions at 3 SE (as theory.stats.rate_decision): interval = value +- 3 SE
    k = stats.SE_MULT

    def paired(a_runs, b_runs, f):
        """Mean over sizes of f(a) - f(b) with its SE (independent runs and test sets)."""
        d = [f(a)[0] - f(b)[0] for a, b in zip(a_runs, b_runs, strict=True)]
        v = [f(a)[1] ** 2 + f(b)[1] ** 2 for a, b in zip(a_runs, b_runs, strict=True)]
        return float(np.mean(d)), math.sqrt(sum(v)) / len(d)

    def acc(r):  # mean of both slices and its SE
        sf, lf = np.mean(r["small_first"]), np.mean(r["large_first"])
        se = math.sqrt(sf * (1 - sf) + lf * (1 - lf)) / 2 / math.sqrt(n_slice)
        return (sf + lf) / 2, max(se, seed_se(np.add(r["small_first"], r["large_first"]) / 2))

    def gap2(r):
        return gap(r)[2], gap(r)[3]

    def not_learnt(*variants):
        """Why a row about these variants has nothing to judge: none learnt at a binding size."""
        best = []
        for v in variants:
            at = [better_slice(r) for s, r in by[v].items() if s in binding_sizes]
            best.append(f"{v} {max(at, default=float('nan')):.2f}")
        return (
            f"no {' or '.join(variants)} model learnt at a binding state (best slice: "
            f"{', '.join(best)}; learnt = >= 0.5)"
        )

    why_binding = (
        f"no causal state is binding: the smallest holds {min(floats(r) for r in causal):.0f} "
        f"floats per layer >= {need:.0f} (binding_floats: the random-feature memory's need for "
        "the largest first set, or the element tokens' one-hot, whichever is smaller)"
    ) if causal and not binding_sizes else ""  # fmt: skip
    if causal and nonc:
        judged = [s for s in binding_sizes if learnt(by["causal"][s])]
        if judged:
            smallest, why_not = by["causal"][judged[0]], ""
        else:
            smallest = min(causal, key=lambda r: r["state_bytes"])
            why_not = why_binding or not_learnt("causal")
        sf, lf, g, se = gap(smallest)
        verdict = stats.band_verdict(g - k * se, g + k * se, 0.0, math.inf)
        rows.append(C.claim(
            "causal_order_gap",
            "causal Based: better when the smaller set comes first (smallest binding state "
            "at which it learnt)",
            "Fig. 2 (causal models: accuracy depends on set order)",
            "small-first > large-first", f"{sf:.3f} vs {lf:.3f}",
            "gap +- 3 SE > 0, at a binding state where the model learnt", None,
            (why_not + "; " if why_not else "")
            + f"gap {g:+.3f} +- {se:.3f}; state {smallest['state_bytes']} B; all causal gaps: "
            + ", ".join(f"{gap(r)[2]:+.3f} ({r['state_bytes']} B)" for r in causal),
            kind=C.CLAIM, source=C.PAPER,
            status=C.verdict_status(verdict) if not why_not else C.INCONCLUSIVE, decide=regime,
        ))  # fmt: skip
    # order sensitivity and recall of the non-causal readers vs causal Based, paired by size over
    # the binding sizes at which some model of the pair learnt
    compare = (
        ("noncausal_less_order_sensitive", nonc, "noncausal",
         "non-causal Based varies less with set order than causal (binding states)",
         "Fig. 2 (Right)"),
        ("jrt_rnn_less_order_sensitive", jrt, "jrt_rnn",
         "JRT-RNN (prefix linear attention over the prompt) varies less with set order than "
         "causal Based (binding states)",
         "Abstract and Sec. 4: processing prompts non-causally mitigates the reliance on data "
         "order"),
    )  # fmt: skip

    def at_binding(a, b, stat):
        """stat(a) - stat(b), paired over the binding sizes where a or b learnt, mean +- SE:
        (sizes, verdict of the interval +- k SE against > 0, why undecidable, text)."""
        common = [s for s in binding_sizes if s in by[a] and s in by[b]]
        sizes = [s for s in common if learnt(by[a][s]) or learnt(by[b][s])]
        if not sizes:
            return sizes, stats.UNDECIDED, why_binding or not_learnt(a, b), "no binding size learnt"
        d, se = paired([by[a][s] for s in sizes], [by[b][s] for s in sizes], stat)
        verdict = stats.band_verdict(d - k * se, d + k * se, 0.0, math.inf)
        return sizes, verdict, "", f"{a} - {b} {d:+.3f} +- {se:.3f}"

    for cid, others, v, text, where in compare:
        if not (causal and others):
            continue
        sizes, verdict, why_not, measured = at_binding("causal", v, gap2)
        rows.append(C.claim(
            cid, text, where, "smaller order gap", measured,
            "causal gap - its gap, mean over binding sizes, +- 3 SE > 0", None,
            (why_not + "; " if why_not else "")
            + f"sizes {sizes}; gaps by state: "
            + ", ".join(f"{gap(r)[2]:+.3f} ({r['state_bytes']} B)" for r in by[v].values()),
            kind=C.CLAIM, source=C.PAPER,
            status=C.verdict_status(verdict) if not why_not else C.INCONCLUSIVE, decide=regime,
        ))  # fmt: skip
    if causal and jrt:
        sizes, verdict, why_not, measured = at_binding("jrt_rnn", "causal", acc)
        rows.append(C.claim(
            "jrt_rnn_recall_at_equal_state",
            "JRT-RNN recalls better than causal Based at equal recurrent state",
            "Sec. 4 (JRT-RNN: prefix linear attention reads the prompt non-causally, "
            "Eq. 3-4: same state as Based); Sec. 5 at scale",
            "JRT-RNN > Based", measured,
            "accuracy difference (both orders), mean over binding sizes, +- 3 SE > 0", None,
            (why_not + "; " if why_not else "") + f"sizes {sizes}; by state: "
            + ", ".join(f"{acc(by['jrt_rnn'][s])[0]:.3f} vs {acc(by['causal'][s])[0]:.3f} "
                        f"({by['causal'][s]['state_bytes']} B)"
                        for s in by["causal"] if s in by["jrt_rnn"]),
            kind=C.CLAIM, source=C.PAPER,
            status=C.verdict_status(verdict) if not why_not else C.INCONCLUSIVE, decide=regime,
        ))  # fmt: skip
    if causal and jrt:
        # JRT-RNN - causal Based at every size (binding or not), both orders: measured, not a
        # verdict (the claim above is judged at binding states only, where order should matter)
        bj, bc = by["jrt_rnn"], by["causal"]
        both = [s for s in bc if s in bj]
        diffs = [(acc(bj[s])[0] - acc(bc[s])[0], math.hypot(acc(bj[s])[1], acc(bc[s])[1]))
                 for s in both]  # fmt: skip
        rows.append(C.claim(
            "jrt_rnn_minus_based_by_state",
            "JRT-RNN - causal Based accuracy (both orders) at each state size, binding or not",
            "measured at every size of the sweep (no paper value at this scale)", None,
            ", ".join(f"{d:+.3f}" for d, _ in diffs), "", None,
            "; ".join(f"{bc[s]['state_bytes']} B (d {s[0]}, f {s[1]}): "
                      f"{acc(bj[s])[0]:.3f} vs {acc(bc[s])[0]:.3f}, "
                      f"diff {d:+.3f} +- {e:.3f}" for s, (d, e) in zip(both, diffs, strict=True)),
            kind=C.MEASUREMENT, source=C.NONE,
        ))  # fmt: skip
    if causal and nonc:
        lf_c = np.mean([np.mean(r["large_first"]) for r in causal])
        lf_n = np.mean([np.mean(r["large_first"]) for r in nonc])
        d = lf_n - lf_c
        # SE of a difference of two grid means of binomial slices
        se_lf = lambda r: max(  # noqa: E731
            math.sqrt(np.mean(r["large_first"]) * (1 - np.mean(r["large_first"])) / n_slice),
            seed_se(r["large_first"]),
        )
        se_m = math.sqrt(
            sum(se_lf(r) ** 2 for r in causal) / len(causal) ** 2
            + sum(se_lf(r) ** 2 for r in nonc) / len(nonc) ** 2
        )
        verdict = stats.band_verdict(d - k * se_m, d + k * se_m, 0.0, math.inf)
        rows.append(C.claim(
            "noncausal_better_large_first",
            "non-causal beats causal when the large set comes first (mean over the grid)",
            "Fig. 2 (Left)", "non-causal > causal", f"{lf_n:.3f} vs {lf_c:.3f}",
            "difference +- 3 SE > 0", None,
            f"difference {d:+.3f}, SE ~ {se_m:.3f}"
            + ("" if judge else "; not learnt (best accuracy < 0.5)"),
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
            for i, r in enumerate(rs):
                loss = np.asarray(r["loss"]).mean(0)
                w = max(1, len(loss) // 50)
                sm = np.convolve(loss, np.ones(w) / w, mode="valid")
                # one legend entry per variant (its runs differ by state, shown in panels 1-3)
                axes[3].plot(sm, color=plotting.color(c), lw=1, label=variant if i == 0 else None)
        titles = ("|A| > |B| (large first)", "|A| < |B| (small first)", "small-first - large-first")
        # the binding region of check_claims
        need = binding_floats(results["config"], results["series"]["test_pairs"])
        edge = need * 4 * results["config"]["n_layers"]
        lo = min(r["state_bytes"] for r in runs)
        for ax, title in zip(axes[:3], titles, strict=True):
            if lo < edge:
                ax.axvspan(lo / 1.2, edge, color="0.9", zorder=0,
                           label=f"state binding (< {need:.0f} floats/layer)")  # fmt: skip
            ax.set_xscale("log")
            ax.set_xlabel("recurrent state (bytes, float32)")
            ax.set_title(title)
            ax.legend(fontsize=7)
        axes[0].set_ylabel("accuracy")
        axes[2].axhline(0, color="k", lw=0.8)
        # room above the points for the legend, in 3 columns (points sit anywhere below)
        lo_y, hi_y = axes[2].get_ylim()
        axes[2].set_ylim(lo_y, hi_y + 0.45 * (hi_y - lo_y))
        axes[2].legend(fontsize=6.5, loc="upper center", ncol=3)
        axes[3].set_xlabel("step")
        axes[3].set_ylabel("training loss (seed mean, smoothed)")
        axes[3].set_title("training curves (every state size)")
        axes[3].legend(fontsize=7)
        fig.tight_layout()
        plotting.savefig(fig, out_dir, "figure2")


def main(argv: list[str] | None = None) -> int:
    return cli.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    cli.exit_script(main())
