"""The Figure 2 model: causal mixers ignore the future, non-causal ones do not, the normaliser
variants differ, the state-size convention matches the authors' formula, gradients are finite."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models import based_nets as BN

PAPER = "arora2024_jrt"  # the paper this module's time is charged to (conftest)


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


def test_prefix_mixer_reads_the_prompt_non_causally_and_the_rest_causally():
    """JRT-RNN's prefix attention with M = 6 of L = 9: changing tokens 6.. leaves positions < 6
    unchanged (causal after the prefix); changing a prompt token (3) changes position 0."""
    cfg = BN.ModelConfig(vocab=16, d_model=8, heads=2, feature_dim=3, mixer="prefix", prefix_len=6)
    x = jax.random.normal(jax.random.key(1), (2, 9, 8))
    late = x.at[:, 6:].set(jax.random.normal(jax.random.key(2), (2, 3, 8)))
    early = x.at[:, 3].set(jax.random.normal(jax.random.key(2), (2, 8)))
    y, y_late, y_early = (_mixer_outputs(BN.BasedAttention, cfg, t) for t in (x, late, early))
    np.testing.assert_allclose(y[:, :6], y_late[:, :6], atol=1e-6)
    assert float(jnp.abs(y[:, 0] - y_early[:, 0]).max()) > 1e-3


@pytest.mark.parametrize("prefix_len", [0, 5])
def test_prefix_mixer_is_equation_3(prefix_len):
    """The module against Eq. (3) written as quadratic attention from its own weights:
    y_i = phi(q_i)(sum_{j<=i} phi(k_j) v_j^T + sum_{j<M} phi(ke_j) ve_j^T) / (same with v = 1)."""
    from kernels import linear_attention as LA

    cfg = BN.ModelConfig(
        vocab=16, d_model=8, heads=2, feature_dim=3, mixer="prefix", prefix_len=prefix_len
    )
    x = jax.random.normal(jax.random.key(7), (2, 9, 8))
    m = BN.BasedAttention(cfg)
    p = m.init(jax.random.key(0), x)
    w = {k: v["kernel"] for k, v in p["params"].items()}
    M = 9 if prefix_len == 0 else prefix_len

    def heads(t):
        return t.reshape(*t.shape[:2], 2, -1).transpose(0, 2, 1, 3)

    qf, kf = (LA.taylor_feature_map(heads(x @ w[n])) for n in ("q", "k"))
    kef = LA.taylor_feature_map(heads(x[:, :M] @ w["k_enc"]))
    v, ve = heads(x @ w["v"]), heads(x[:, :M] @ w["v_enc"])
    a_dec = jnp.einsum("bhlf,bhmf->bhlm", qf, kf) * jnp.tril(jnp.ones((1, 1, 9, 9)))
    a_enc = jnp.einsum("bhlf,bhmf->bhlm", qf, kef)
    y = (a_dec @ v + a_enc @ ve) / (a_dec.sum(-1) + a_enc.sum(-1))[..., None]
    want = y.transpose(0, 2, 1, 3).reshape(2, 9, 8) @ w["o"]
    np.testing.assert_allclose(m.apply(p, x), want, rtol=2e-5, atol=2e-6)


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
    # JRT-RNN keeps one (S, z) per layer after the prompt (Eq. 4): Based's state, not more
    jrt = BN.ModelConfig(vocab=2048, d_model=64, heads=2, feature_dim=16, mixer="prefix")
    assert BN.state_bytes(jrt, 100) == want
    soft = BN.ModelConfig(vocab=2048, d_model=64, heads=2, mixer="softmax")
    assert BN.state_bytes(soft, 200) > BN.state_bytes(soft, 100)  # KV cache grows with L


@pytest.mark.parametrize(("mlp", "mixer"), [(True, "based"), (False, "based"), (True, "prefix")])
def test_lm_logits_and_gradients(mlp, mixer):
    cfg = BN.ModelConfig(vocab=20, d_model=8, heads=2, feature_dim=2, mlp=mlp, mixer=mixer)
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
    with pytest.raises(ValueError, match="causal only"):
        BN.ModelConfig(vocab=8, mixer="prefix", causal=False)
    with pytest.raises(ValueError, match="prefix_len must be >= 0"):
        BN.ModelConfig(vocab=8, mixer="prefix", prefix_len=-1)
    with pytest.raises(ValueError, match="mixer='prefix' only"):
        BN.ModelConfig(vocab=8, prefix_len=4)
    with pytest.raises(ValueError, match="mixer='based' only"):
        BN.ModelConfig(vocab=8, mixer="prefix", normaliser="authors_diagonal")
