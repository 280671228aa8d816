"""End-to-end lossless coding with an HCLT: round trips, bad input, single stream."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from models import pc, pc_coding, rans

PAPER = "liu2022_pc_compression"  # the paper this module's time is charged to (conftest)

SIDE, K, M = 4, 5, 4
D = SIDE * SIDE


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    x = rng.integers(0, K, (300, D))
    tree = pc.chow_liu_tree(pc.mutual_information(x, K))
    params = pc.init_params(jax.random.key(1), D, M, K)
    em_step = jax.jit(lambda p: pc.em_update(pc.expected_flows(p, tree, x), 0.1))  # not op by op
    for _ in range(3):
        params = em_step(params)
    return tree, params


def _images():
    rng = np.random.default_rng(5)
    return np.concatenate(
        [np.zeros((1, D), np.int64), np.full((1, D), K - 1), rng.integers(0, K, (5, D))]
    )


@pytest.mark.parametrize("scheme", pc_coding.SCHEMES)
def test_per_image_round_trip(model, scheme):
    tree, params = model
    x = _images()
    stepper = pc_coding.Stepper(params, tree, scheme, batch=4)  # 7 images: a padded last batch
    streams, ideal = pc_coding.encode(stepper, x, K)
    np.testing.assert_array_equal(pc_coding.decode(stepper, streams, D), x)
    assert np.all(np.array([8 * len(s) for s in streams]) <= ideal + 96)


def test_single_stream_round_trip_and_overhead(model):
    tree, params = model
    x = _images()
    stepper = pc_coding.Stepper(params, tree, "outside", batch=3)
    words, ideal = pc_coding.encode_single_stream(stepper, x, K)
    np.testing.assert_array_equal(pc_coding.decode_single_stream(stepper, words, D), x)
    # the ANS body: ideal + the final state flush (64 bits); the header is 4 words on top
    assert 32 * (len(words) - pc_coding.HEADER_WORDS) <= ideal + 64


def test_single_stream_refuses_short_padded_empty_and_foreign_streams(model):
    """The header's count and check value catch what ANS alone decodes as garbage: a truncated
    stream, one padded with a zero word, an empty one, a flipped word, another model's shape."""
    tree, params = model
    x = _images()
    stepper = pc_coding.Stepper(params, tree, "outside", batch=3)
    words, _ = pc_coding.encode_single_stream(stepper, x, K)
    flipped = words.copy()
    flipped[-1] ^= np.uint32(1)
    bad = {
        "truncated": words[: len(words) // 2],
        "padded": np.concatenate([words, np.zeros(1, np.uint32)]),
        "empty": np.zeros(0, np.uint32),
        "header only": words[: pc_coding.HEADER_WORDS - 1],
        "flipped": flipped,
        "foreign": np.concatenate([[np.uint32(1)], words[1:]]),
    }
    for what, w in bad.items():
        with pytest.raises(rans.StreamError):
            pc_coding.decode_single_stream(stepper, w, D)
            pytest.fail(what)
    with pytest.raises(rans.StreamError, match="variables"):
        pc_coding.decode_single_stream(stepper, words, D + 1)
    # an empty set is a valid stream of zero images; decode([]) is zero images too
    w0, _ = pc_coding.encode_single_stream(stepper, x[:0], K)
    assert pc_coding.decode_single_stream(stepper, w0, D).shape == (0, D)
    assert pc_coding.decode(stepper, [], D).shape == (0, D)


def test_out_of_alphabet_images_are_rejected(model):
    tree, params = model
    stepper = pc_coding.Stepper(params, tree, "outside", batch=2)
    bad = _images()[:2].copy()
    bad[0, 3] = K
    with pytest.raises(ValueError, match="alphabet"):
        pc_coding.encode(stepper, bad, K)
    with pytest.raises(ValueError, match="alphabet"):
        pc_coding.encode(stepper, _images()[:2].astype(np.float64), K)
    with pytest.raises(ValueError, match="images must be"):
        pc_coding.encode(stepper, _images()[:2, :5], K)
