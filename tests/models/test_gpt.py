"""models/gpt.py: the KV-cache decoding path equals the full forward pass; losses ignore PAD."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models import gpt

PAPER = "orhan2023_fewshot"
V, T = 50, 12


@pytest.fixture(scope="module")
def model_params():
    model = gpt.GPT(vocab=V, context=T, d_model=16, n_layers=2, n_heads=2)
    params = model.init(jax.random.key(0), jnp.zeros((1, T), jnp.int32))
    # Scale the weights up so that predictions depend on the context (an init at 0.02 is
    # nearly uniform, which would make argmax comparisons vacuous).
    params = jax.tree_util.tree_map(lambda x: x * 8.0 if x.ndim == 2 else x, params)
    return model, params


def _tokens(key, b=3):
    x = jax.random.randint(key, (b, T), 2, V)
    lengths = jnp.array([T, 7, 4])[:b]
    x = jnp.where(jnp.arange(T)[None] < lengths[:, None], x, gpt.PAD)
    return x.at[:, 0].set(gpt.BOS)


def test_cached_steps_equal_the_full_forward(model_params):
    model, params = model_params
    x = _tokens(jax.random.key(1))
    full = jax.jit(model.apply)(params, x)  # (B, T, D)
    cache = tuple((jnp.zeros((3, T, 2, 8)), jnp.zeros((3, T, 2, 8))) for _ in range(2))
    step = jax.jit(lambda tok, pos, c: model.apply(params, tok, pos, c, method=gpt.GPT.step))
    for pos in range(T):
        h, cache = step(x[:, pos], pos, cache)
        # float32, D = 16: the two paths sum the same terms in different orders (softmax over a
        # masked full row vs the cache's row): a few ulp of O(1) values.
        np.testing.assert_allclose(np.asarray(h), np.asarray(full[:, pos]), rtol=1e-5, atol=1e-5)


def test_greedy_completion_agrees_with_teacher_forced_argmax(model_params):
    model, params = model_params
    x = _tokens(jax.random.key(2))
    prompt = jnp.array([3, 2, 4])
    out = jax.jit(lambda x, p: gpt.greedy_complete(model, params, x, p))(x, prompt)
    out = np.asarray(out)
    for b in range(3):  # the prompt is kept
        np.testing.assert_array_equal(out[b, : prompt[b]], np.asarray(x[b, : prompt[b]]))
    # Greedy decoding = the argmax of the full forward on its own output at every generated
    # position (by induction), which ties the cache path to the parallel one.
    pred = np.asarray(jax.jit(lambda y: gpt.next_token_argmax(model, params, y))(jnp.asarray(out)))
    for b in range(3):
        for j in range(int(prompt[b]) - 1, T - 1):
            assert pred[b, j] == out[b, j + 1]
    # A prompt covering the whole context changes nothing.
    same = jax.jit(lambda x, p: gpt.greedy_complete(model, params, x, p))(x, jnp.full((3,), T))
    np.testing.assert_array_equal(np.asarray(same), np.asarray(x))


def test_losses_ignore_padding_and_match_log_softmax(model_params):
    model, params = model_params
    x = _tokens(jax.random.key(3))
    nll = np.asarray(jax.jit(lambda y: gpt.sentence_nll(model, params, y))(x))
    h = jax.jit(model.apply)(params, x[:, :-1])
    logits = np.asarray(h @ model.apply(params, method=gpt.GPT.table).T, np.float64)
    logp = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
    tgt = np.asarray(x[:, 1:])
    tok = -np.take_along_axis(logp, tgt[..., None], -1)[..., 0]
    mask = tgt != gpt.PAD
    expected = (tok * mask).sum(1) / mask.sum(1)
    # float32 logits of size ~10 (weights scaled by 8): ~1e-6 relative per token.
    np.testing.assert_allclose(nll, expected, rtol=1e-5, atol=1e-5)
    batch_loss = jax.jit(lambda y: gpt.batch_loss(model, params, y))
    loss = float(batch_loss(x))
    np.testing.assert_allclose(loss, (tok * mask).sum() / mask.sum(), rtol=1e-5)
    # An all-PAD row after BOS adds nothing to the batch loss (the study's padded last batch).
    pad_row = jnp.zeros((1, T), jnp.int32).at[0, 0].set(gpt.BOS)
    loss2 = float(batch_loss(jnp.concatenate([x, pad_row])))
    np.testing.assert_allclose(loss2, loss, rtol=1e-6)
