"""The Figure 2 model: causal mixers ignore the future, non-causal ones do not, the normaliser
variants differ, the state-size convention matches the authors' formula, gradients are finite."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models import based_nets as BN


def _mixer_outputs(module_cls, cfg, x):
    m = module_cls(cfg)
    params = m.init(jax.random.key(0), x)
    return m.apply(params, x)


@pytest.mark.parametrize(
    ("module_cls", "causal"),
    [(BN.BaseConv, True), (BN.BaseConv, False), (BN.BasedAttention, True),
     (BN.BasedAttention, False), (BN.SoftmaxAttention, True)],  # softmax: causal only
)  # fmt: skip
def test_causal_mixers_ignore_the_future(module_cls, causal):
    cfg = BN.ModelConfig(vocab=16, d_model=8, heads=2, feature_dim=3, causal=causal)
    x = jax.random.normal(jax.random.key(1), (2, 9, 8))
    x2 = x.at[:, 6:].set(jax.random.normal(jax.random.key(2), (2, 3, 8)))
    y, y2 = _mixer_outputs(module_cls, cfg, x), _mixer_outputs(module_cls, cfg, x2)
    same_past = np.allclose(y[:, :6], y2[:, :6], atol=1e-6)
    assert same_past == causal


def test_short_conv_windows():
    """causal: i sees i-2..i; centred circular: i-1..i+1 (mod L); the authors': i-2..i (mod L)."""
    x = jnp.zeros((1, 7, 1)).at[0, 3].set(1.0)
    w = jnp.ones((3, 1))
    for causal, conv, seen in ((True, "centered", {3, 4, 5}), (False, "centered", {2, 3, 4}),
                               (False, "authors", {3, 4, 5})):  # fmt: skip
        y = BN.short_conv(x, w, causal=causal, conv=conv)
        assert set(np.nonzero(np.asarray(y[0, :, 0]))[0].tolist()) == seen
    x0 = jnp.zeros((1, 7, 1)).at[0, 6].set(1.0)  # the last token: wraps only when circular
    assert float(BN.short_conv(x0, w, causal=False, conv="authors")[0, 0, 0]) == 1.0
    assert float(BN.short_conv(x0, w, causal=False, conv="centered")[0, 0, 0]) == 1.0
    assert float(BN.short_conv(x0, w, causal=True)[0, 0, 0]) == 0.0


def test_authors_diagonal_normaliser_differs_from_the_paper():
    x = jax.random.normal(jax.random.key(3), (1, 12, 8))
    cfg = BN.ModelConfig(vocab=8, d_model=8, heads=2, feature_dim=3)
    m, m2 = (
        BN.BasedAttention(cfg),
        BN.BasedAttention(
            BN.ModelConfig(
                vocab=8, d_model=8, heads=2, feature_dim=3, normaliser="authors_diagonal"
            )
        ),
    )
    p = m.init(jax.random.key(0), x)
    y, y2 = m.apply(p, x), m2.apply(p, x)
    np.testing.assert_allclose(y[:, 0], y2[:, 0], rtol=1e-5)  # one key: the two agree
    assert float(jnp.abs(y - y2)[:, 5:].max()) > 1e-2  # later, the sum over j matters


def test_state_bytes_convention():
    cfg = BN.ModelConfig(vocab=2048, d_model=64, heads=2, feature_dim=16)
    # authors' Based.state_size: heads*head_dim*F + heads*F, F = d(d+1)/2 + d + 1 = 153 at d=16;
    # two attention layers; ShortConvolution: d_model * kernel_size per conv layer; float32
    f = 153
    want = 4 * (2 * (2 * 32 * f + 2 * f) + 2 * 64 * 3)
    assert BN.state_bytes(cfg, 100) == want
    soft = BN.ModelConfig(vocab=2048, d_model=64, heads=2, mixer="softmax")
    assert BN.state_bytes(soft, 200) > BN.state_bytes(soft, 100)  # KV cache grows with L


@pytest.mark.parametrize("mlp", [True, False])
def test_lm_logits_and_gradients(mlp):
    cfg = BN.ModelConfig(vocab=20, d_model=8, heads=2, feature_dim=2, mlp=mlp)
    model = BN.BasedLM(cfg)
    tok = jax.random.randint(jax.random.key(4), (3, 11), 0, 20)
    # jitted, as training calls them (eagerly, every primitive of the model compiles on its own)
    p = jax.jit(model.init)(jax.random.key(5), tok)
    logits = jax.jit(model.apply)(p, tok)
    assert logits.shape == (3, 20)
    g = jax.jit(jax.grad(lambda p: jax.nn.logsumexp(model.apply(p, tok)).sum()))(p)
    assert all(bool(jnp.isfinite(v).all()) for v in jax.tree.leaves(g))


def test_bad_model_configs():
    with pytest.raises(ValueError, match="divisible"):
        BN.ModelConfig(vocab=8, d_model=9, heads=2)
    with pytest.raises(ValueError, match="causal only"):
        BN.ModelConfig(vocab=8, mixer="softmax", causal=False)
