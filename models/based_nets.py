"""The Figure 2 model of Arora et al., "Just read twice", arXiv:2407.05483v1 (App. B.1): Based
blocks alternating a short gated convolution and Taylor linear attention, causal or not, in flax.

Model (App. B.1 and the authors' synthetic/zoology config): token embedding (no positional
embedding; the short convolutions carry position), n_layers pre-LN residual blocks; block i mixes
with BaseConv when i is even and Based linear attention when i is odd (zoology's Hybrid picks
configs[i % 2]); each block has a GeLU MLP (the paper's text; the released config uses an
identity "state mixer", `mlp=False`); final LayerNorm and a vocabulary head. Loss and accuracy on
the last position only (the answer token t).

BaseConv: y = compress(conv_k(expand(u))) * proj(u) + u, a depthwise conv of width 3. Causal:
left zero-padding. Non-causal: a circular convolution centred on each position (the paper: "non-
causal circular convolutions"); the authors' code pads circularly by k - 1 on both sides and keeps
the first L outputs, i.e. a backward window that wraps around (`conv="authors"`).

Based linear attention (kernels/linear_attention.py): q, k projected to `feature_dim` per head,
Taylor feature map, v per head of d_model / heads; causal: y_i = phi(q_i).S_i / phi(q_i).z_i;
non-causal: sums over all positions. `normaliser="authors_diagonal"` reproduces the released
`train_view="quadratic"` branch, which divides by phi(q_i).phi(k_i) (the diagonal term) instead of
the sum over j.

JRT-RNN (Sec. 4, Eq. 3; `mixer="prefix"`): the linear-attention layers become prefix linear
attention: a causal decoder sum (projections q, k, v) plus an encoder sum over the first M tokens
(separate projections k_e, v_e, every query sees all M), one shared normaliser, as the authors'
PrefixLinearAttention computes it (kernels.linear_attention.prefix_linear_attention). `prefix_len`
is M; 0 means the whole input is the prompt (the set-disjointness input is all prompt: the answer
is read at its last position). The short convolutions stay causal (the model is a recurrent
decoder; only its attention reads the prompt twice). After the prompt the recurrent state is
Eq. (4), one (S, z) of the same shape as Based's, so JRT-RNN and Based have equal state at equal
feature_dim and d_model; the encoder projections are extra parameters, not extra state.

Extensions the paper did not train: `mixer="softmax"` replaces linear attention by causal softmax
attention (jax.nn.dot_product_attention); JRT prompting is a data transform (the input repeated
twice, theory/set_disjointness.jrt_prompt) fed to the causal model.

State size (`state_bytes`), convention stated: what recurrent inference must keep per sequence,
float32 (4 bytes): per linear-attention layer, heads x (F x head_dim + F) with F = 1 + d + d(d+1)/2
(the Taylor features up to the symmetric second-order packing, the authors' `expanded_size`);
per conv layer d_model x kernel_size (the authors' ShortConvolution.state_size). Softmax
attention keeps its KV cache, 2 x L x d_model per layer, so its state grows with L.
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from kernels import linear_attention as LA

MIXERS = ("based", "softmax", "prefix")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    vocab: int
    d_model: int = 64
    n_layers: int = 4
    heads: int = 2
    feature_dim: int = 8
    kernel_size: int = 3
    causal: bool = True
    mlp: bool = True
    mixer: str = "based"  # or "softmax", or "prefix" (JRT-RNN)
    prefix_len: int = 0  # JRT-RNN's encoder length M; 0: the whole input
    conv: str = "centered"  # non-causal conv: "centered" or "authors"
    normaliser: str = "paper"  # or "authors_diagonal"

    def __post_init__(self):
        if self.d_model % self.heads:
            raise ValueError(f"d_model {self.d_model} must be divisible by heads {self.heads}")
        if self.mixer not in MIXERS or self.conv not in ("centered", "authors"):
            raise ValueError(f"mixer must be one of {MIXERS} and conv 'centered'|'authors'")
        if self.normaliser not in ("paper", "authors_diagonal"):
            raise ValueError("normaliser must be 'paper' or 'authors_diagonal'")
        if self.mixer in ("softmax", "prefix") and not self.causal:
            raise ValueError(f"the {self.mixer} mixer is causal only (prefix: causal decoder)")
        if self.prefix_len < 0:
            raise ValueError(f"prefix_len must be >= 0 (0: the whole input), got {self.prefix_len}")
        if self.normaliser != "paper" and self.mixer != "based":
            raise ValueError("normaliser='authors_diagonal' applies to mixer='based' only")
        if self.prefix_len and self.mixer != "prefix":
            raise ValueError("prefix_len applies to mixer='prefix' only")


def state_bytes(cfg: ModelConfig, seq_len: int) -> int:
    n_attn = cfg.n_layers // 2
    n_conv = cfg.n_layers - n_attn
    conv = n_conv * cfg.d_model * cfg.kernel_size
    if cfg.mixer == "softmax":
        attn = n_attn * 2 * seq_len * cfg.d_model
    else:
        d = cfg.feature_dim
        f = 1 + d + d * (d + 1) // 2
        attn = n_attn * cfg.heads * (f * (cfg.d_model // cfg.heads) + f)
    return 4 * (conv + attn)


def _dense(features, name=None, bias=True):
    return nn.Dense(features, use_bias=bias, kernel_init=nn.initializers.normal(0.02), name=name)


def _split_heads(x, heads: int):
    """(B, L, heads * w) -> (B, heads, L, w)."""
    b, L, hw = x.shape
    return x.reshape(b, L, heads, hw // heads).transpose(0, 2, 1, 3)


def _merge_heads(y):
    """(B, heads, L, w) -> (B, L, heads * w)."""
    b, h, L, w = y.shape
    return y.transpose(0, 2, 1, 3).reshape(b, L, h * w)


def short_conv(x, w, *, causal: bool, conv: str = "centered"):
    """Depthwise conv of width k = len(w) along the sequence; x (B, L, D), w (k, D).

    causal: y_i = sum_j w_j x_{i-(k-1)+j} (zero left padding); non-causal "centered": the window
    i-k//2 .. i+k//2, circular; "authors": the causal window, circular (wraps to the end)."""
    k = w.shape[0]
    if causal:
        xp = jnp.pad(x, ((0, 0), (k - 1, 0), (0, 0)))
        return sum(w[j][None, None] * xp[:, j : j + x.shape[1]] for j in range(k))
    shift = (k - 1) if conv == "authors" else k // 2
    return sum(w[j][None, None] * jnp.roll(x, shift - j, axis=1) for j in range(k))


class BaseConv(nn.Module):
    cfg: ModelConfig

    @nn.compact
    def __call__(self, u):
        c = self.cfg
        x = _dense(c.d_model, "expand")(u)
        w = self.param("filter", nn.initializers.normal(0.3), (c.kernel_size, c.d_model))
        y = _dense(c.d_model, "compress")(short_conv(x, w, causal=c.causal, conv=c.conv))
        return y * _dense(c.d_model, "proj")(u) + u


class BasedAttention(nn.Module):
    """Taylor linear attention: causal, non-causal, or JRT-RNN's prefix form (cfg.mixer)."""

    cfg: ModelConfig

    @nn.compact
    def __call__(self, u):
        c = self.cfg
        L = u.shape[1]
        fd = c.heads * c.feature_dim
        q = _split_heads(_dense(fd, "q", bias=False)(u), c.heads)
        k = _split_heads(_dense(fd, "k", bias=False)(u), c.heads)
        v = _split_heads(_dense(c.d_model, "v", bias=False)(u), c.heads)
        qf, kf = LA.taylor_feature_map(q), LA.taylor_feature_map(k)
        if c.mixer == "prefix":
            m = L if c.prefix_len == 0 else min(c.prefix_len, L)
            ke = _split_heads(_dense(fd, "k_enc", bias=False)(u[:, :m]), c.heads)
            ve = _split_heads(_dense(c.d_model, "v_enc", bias=False)(u[:, :m]), c.heads)
            y, _ = LA.prefix_linear_attention(qf, kf, v, LA.taylor_feature_map(ke), ve)
        elif c.normaliser == "authors_diagonal":
            a = jnp.einsum("bhlf,bhmf->bhlm", qf, kf)
            if c.causal:
                a = a * jnp.tril(jnp.ones((1, 1, L, L), a.dtype))
            z = jnp.einsum("bhlf,bhlf->bhl", qf, kf)  # only the j = i term
            y = (a @ v) / (z[..., None] + LA.EPS)
        elif c.causal:
            y, _ = LA.causal_linear_attention(qf, kf, v)
        else:
            y, _ = LA.noncausal_linear_attention(qf, kf, v)
        return _dense(c.d_model, "o", bias=False)(_merge_heads(y))


class SoftmaxAttention(nn.Module):
    cfg: ModelConfig

    @nn.compact
    def __call__(self, u):
        c = self.cfg
        b, L, _ = u.shape
        qkv = _dense(3 * c.d_model, "qkv", bias=False)(u).reshape(b, L, 3, c.heads, -1)
        y = jax.nn.dot_product_attention(qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2], is_causal=True)
        return _dense(c.d_model, "o", bias=False)(y.reshape(b, L, c.d_model))


class BasedLM(nn.Module):
    cfg: ModelConfig

    @nn.compact
    def __call__(self, tokens):
        """tokens (B, L) int -> logits at the last position (B, vocab)."""
        c = self.cfg
        x = nn.Embed(c.vocab, c.d_model, embedding_init=nn.initializers.normal(0.02))(tokens)
        for i in range(c.n_layers):
            h = nn.LayerNorm(name=f"ln_mix{i}")(x)
            if i % 2 == 0:
                x = x + BaseConv(c, name=f"conv{i}")(h)
            elif c.mixer == "softmax":
                x = x + SoftmaxAttention(c, name=f"attn{i}")(h)
            else:
                x = x + BasedAttention(c, name=f"attn{i}")(h)
            if c.mlp:
                h = nn.LayerNorm(name=f"ln_mlp{i}")(x)
                h = _dense(4 * c.d_model, f"mlp_in{i}")(h)
                x = x + _dense(c.d_model, f"mlp_out{i}")(nn.gelu(h))
        x = nn.LayerNorm(name="ln_f")(x[:, -1])
        return _dense(c.vocab, "head")(x)
