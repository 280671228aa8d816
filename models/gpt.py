"""A small GPT-style language model in flax: pre-LN blocks, causal attention, learned positions,
tied input/output embeddings; per-sentence scoring and greedy recall with a KV cache.

Sequences are right-padded token arrays (B, T) with `BOS` at position 0 and `PAD` after the
sentence; every position after BOS is predicted (the loss ignores PAD targets). Right padding with
a causal mask needs no padding mask: a pad never precedes a real token.

    model = GPT(vocab=V, context=T, d_model=64, n_layers=2, n_heads=4)
    params = model.init(key, jnp.zeros((1, T), jnp.int32))
    sentence_nll(model, params, tokens)      (B,) mean token NLL of each sentence (scoring)
    batch_loss(model, params, tokens)        mean over every real token of the batch (training,
                                             the HF causal-LM loss the author's train.py uses)
    greedy_complete(model, params, tokens, prompt_len)   (B, T): the prompt kept, the rest decoded
                                             greedily, one lax.scan over positions with a KV cache
    next_token_argmax(model, params, tokens) (B, T-1): the teacher-forced argmax predictions
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from kernels.token_nll import token_nll

PAD, BOS = 0, 1  # reserved token ids (the tokenizer in models/text_data.py assigns them)
_INIT = nn.initializers.normal(0.02)  # GPT-2's initialisation scale


class Block(nn.Module):
    d_model: int
    n_heads: int

    def setup(self):
        d = self.d_model
        self.ln1, self.ln2 = nn.LayerNorm(), nn.LayerNorm()
        self.qkv = nn.Dense(3 * d, kernel_init=_INIT)
        self.proj = nn.Dense(d, kernel_init=_INIT)
        self.fc = nn.Dense(4 * d, kernel_init=_INIT)
        self.out = nn.Dense(d, kernel_init=_INIT)

    def _heads(self, x):  # (..., D) -> (..., H, D/H)
        return x.reshape(*x.shape[:-1], self.n_heads, self.d_model // self.n_heads)

    def _mlp(self, x):
        return x + self.out(nn.gelu(self.fc(self.ln2(x))))

    def __call__(self, x):  # x: (B, T, D)
        q, k, v = jnp.split(self.qkv(self.ln1(x)), 3, axis=-1)
        q, k, v = self._heads(q), self._heads(k), self._heads(v)  # (B, T, H, Dh)
        t = x.shape[1]
        causal = jnp.tril(jnp.ones((t, t), bool))
        s = jnp.einsum("bqhd,bkhd->bhqk", q, k) / jnp.sqrt(q.shape[-1]).astype(q.dtype)
        s = jnp.where(causal[None, None], s, -1e30)
        a = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(s, axis=-1), v)
        return self._mlp(x + self.proj(a.reshape(x.shape)))

    def step(self, x, pos, k_cache, v_cache):  # x: (B, D); caches (B, T, H, Dh)
        q, k, v = jnp.split(self.qkv(self.ln1(x)), 3, axis=-1)
        q, k, v = self._heads(q), self._heads(k), self._heads(v)  # (B, H, Dh)
        k_cache = jax.lax.dynamic_update_slice_in_dim(k_cache, k[:, None], pos, axis=1)
        v_cache = jax.lax.dynamic_update_slice_in_dim(v_cache, v[:, None], pos, axis=1)
        s = jnp.einsum("bhd,bkhd->bhk", q, k_cache) / jnp.sqrt(q.shape[-1]).astype(q.dtype)
        s = jnp.where((jnp.arange(k_cache.shape[1]) <= pos)[None, None], s, -1e30)
        a = jnp.einsum("bhk,bkhd->bhd", jax.nn.softmax(s, axis=-1), v_cache)
        return self._mlp(x + self.proj(a.reshape(x.shape))), k_cache, v_cache


class GPT(nn.Module):
    vocab: int
    context: int
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4

    def setup(self):
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not a multiple of n_heads {self.n_heads}")
        self.embed = nn.Embed(self.vocab, self.d_model, embedding_init=_INIT)
        self.pos = self.param("pos", nn.initializers.normal(0.01), (self.context, self.d_model))
        self.blocks = [Block(self.d_model, self.n_heads) for _ in range(self.n_layers)]
        self.ln_f = nn.LayerNorm()

    def __call__(self, tokens):
        """(B, T) ids -> (B, T, D) final hidden states (after the last layer norm)."""
        x = self.embed(tokens) + self.pos[None, : tokens.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x)

    def table(self):
        """The tied (V, D) embedding: the output head is h @ table.T."""
        return self.embed.embedding

    def step(self, token, pos, cache):
        """One decoding position for a batch: token (B,), pos scalar, cache = (k, v) per layer,
        each (B, T, H, Dh) -> (hidden (B, D), cache)."""
        x = self.embed(token) + self.pos[pos][None]
        new = []
        for block, (kc, vc) in zip(self.blocks, cache, strict=True):
            x, kc, vc = block.step(x, pos, kc, vc)
            new.append((kc, vc))
        return self.ln_f(x), tuple(new)


def param_count(params) -> int:
    return int(sum(x.size for x in jax.tree_util.tree_leaves(params)))


def _hidden_and_table(model, params, tokens):
    h = model.apply(params, tokens[:, :-1])
    return h, model.apply(params, method=GPT.table)


def token_nlls(model, params, tokens, *, implementation=None):
    """(B, T-1) NLL of each target token (0 at PAD targets) and the (B, T-1) real-target mask."""
    h, table = _hidden_and_table(model, params, tokens)
    targets = tokens[:, 1:]
    b, t1, d = h.shape
    flat = token_nll(
        h.reshape(b * t1, d), table, targets.reshape(-1), implementation=implementation
    )
    nll = flat.reshape(b, t1)
    mask = targets != PAD
    return jnp.where(mask, nll, 0.0), mask


def sentence_nll(model, params, tokens, *, implementation=None):
    """(B,) each sentence's mean NLL over its real tokens: the recognition score of the author's
    test.py (HF's loss of one sentence, pads ignored). `implementation` selects the scoring kernel
    (kernels/token_nll.py dispatcher)."""
    nll, mask = token_nlls(model, params, tokens, implementation=implementation)
    return nll.sum(1) / jnp.maximum(mask.sum(1), 1)


def batch_loss(model, params, tokens):
    """Mean NLL over every real target token of the batch (the author's train.py: HF's causal-LM
    loss, padding labelled -100). Differentiable: the jnp reference head on every backend (the
    Pallas kernel has no VJP)."""
    nll, mask = token_nlls(model, params, tokens, implementation="reference")
    return nll.sum() / jnp.maximum(mask.sum(), 1)


def next_token_argmax(model, params, tokens):
    """(B, T-1) teacher-forced greedy predictions: argmax of the logits at every position."""
    h, table = _hidden_and_table(model, params, tokens)
    return jnp.argmax(jnp.einsum("btd,vd->btv", h, table), axis=-1).astype(tokens.dtype)


def greedy_complete(model, params, tokens, prompt_len):
    """Greedy recall: keep tokens[:, :prompt_len[b]] and decode every later position of the
    context greedily from the model's own outputs (one lax.scan over positions; a KV cache of
    (B, T, H, Dh) per layer). Returns (B, T) ids; the caller cuts each row at its length."""
    b, t = tokens.shape
    heads = model.n_heads
    dh = model.d_model // heads
    cache = tuple(
        (jnp.zeros((b, t, heads, dh)), jnp.zeros((b, t, heads, dh))) for _ in range(model.n_layers)
    )
    table = model.apply(params, method=GPT.table)

    def body(carry, pos):
        cache, current = carry  # current: the token at position pos (prompt or generated)
        h, cache = model.apply(params, current, pos, cache, method=GPT.step)
        guess = jnp.argmax(h @ table.T, axis=-1).astype(tokens.dtype)
        nxt = jnp.where(pos + 1 < prompt_len, tokens[:, jnp.minimum(pos + 1, t - 1)], guess)
        return (cache, nxt), nxt

    _, out = jax.lax.scan(body, (cache, tokens[:, 0]), jnp.arange(t - 1))
    return jnp.concatenate([tokens[:, :1], out.T], axis=1)
