"""The rate RNN of the rich/lazy experiments (Liu et al., ICLR 2024, arXiv:2310.08513), its
initial connectivities, and the empirical tangent kernel w.r.t. the recurrent weights.

The network is the authors' (github Helena-Yuhan-Liu/BioRNN_RichLazy, main.py; read, not
copied): h_t = relu((1 - alpha) h_{t-1} + alpha (W_in x_t + W_rec h_{t-1})), h_0 = 0, output
W_out h_t at every step, no biases; alpha = dt/tau = 1 for the tasks here. Inputs and readout
start as PyTorch's nn.Linear default, U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the recurrent matrix
as the rank-r SVD truncation of g N(0, 1/N), rescaled to the Gaussian's Frobenius norm.

Parameters are a dict {"w_in": (N, n_in), "w_rec": (N, N), "w_out": (n_out, N)} (float32), so
`models.train` vmaps them over runs (ranks x seeds) directly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from theory import rich_lazy as R


def check_init(n: int, rank: int, gain: float) -> None:
    """One-line errors for an initial connectivity that makes no sense."""
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"hidden size must be an int >= 2, got {n!r}")
    if not 1 <= rank <= n:
        raise ValueError(f"rank must be in [1, {n}] (the hidden size), got {rank}")
    if not (np.isfinite(gain) and gain > 0):
        raise ValueError(f"gain must be finite and > 0, got {gain}")


def gaussian(key, n: int, gain: float) -> jax.Array:
    """g N(0, 1/N) entries: spectral radius ~ g (circular law)."""
    return gain * jax.random.normal(key, (n, n), jnp.float32) / np.sqrt(n)


def ei_connectivity(key, n: int, *, frac_e: float = 0.8, p: float = 0.2, inh_ratio: float = 4.0):
    """A sparse excitatory/inhibitory matrix obeying Dale's law (column j's sign is the type of
    presynaptic cell j): connection probability p, |w| ~ |N(0, 1)|, inhibitory columns scaled by
    inh_ratio (inhibition-dominated: the mean input is negative). The nonzero mean gives an
    outlier eigenvalue ~ N p mean(w) far from the bulk, hence a low effective rank; the caller
    rescales the norm. Unscaled (entries O(1))."""
    km, kw = jax.random.split(key)
    mask = jax.random.bernoulli(km, p, (n, n))
    w = jnp.abs(jax.random.normal(kw, (n, n), jnp.float32))
    n_e = int(round(frac_e * n))
    sign = jnp.where(jnp.arange(n) < n_e, 1.0, -inh_ratio)
    return mask * w * sign[None, :]


def spectral_radius(w) -> float:
    return float(np.abs(np.linalg.eigvals(np.asarray(w, np.float64))).max())


def uniform_linear(key, fan_out: int, fan_in: int) -> jax.Array:
    """PyTorch's nn.Linear default weight: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    b = 1.0 / np.sqrt(fan_in)
    return jax.random.uniform(key, (fan_out, fan_in), jnp.float32, -b, b)


def init_params(key, w_rec, n_in: int, n_out: int) -> dict:
    """Input and readout weights drawn from `key` around a given recurrent matrix."""
    ki, ko = jax.random.split(key)
    n = w_rec.shape[0]
    return {
        "w_in": uniform_linear(ki, n, n_in),
        "w_rec": jnp.asarray(w_rec, jnp.float32),
        "w_out": uniform_linear(ko, n_out, n),
    }


def lowrank(w_gauss, rank: int) -> jax.Array:
    """The authors' rank-r initial recurrent matrix from a Gaussian one (same Frobenius norm)."""
    return R.svd_truncate(w_gauss, rank)


def forward(params, x, alpha: float = 1.0, probe=None):
    """x: (T, B, n_in) -> (outputs (T, B, n_out), hidden states (T, B, N)).

    probe (T, B, N), zero by default, is added to the recurrent input W_rec h_{t-1} at each step:
    d out / d probe_s = the backpropagated signal g_s, and d out / d W_rec = sum_s g_s h_{s-1}^T
    (what `rec_ntk` uses)."""
    w_in, w_rec, w_out = params["w_in"], params["w_rec"], params["w_out"]
    h0 = jnp.zeros((x.shape[1], w_rec.shape[0]), x.dtype)
    probe = jnp.zeros(x.shape[:2] + (w_rec.shape[0],), x.dtype) if probe is None else probe

    def step(h, xe):
        xt, et = xe
        h = jax.nn.relu((1 - alpha) * h + alpha * (xt @ w_in.T + h @ w_rec.T + et))
        return h, h

    _, hs = jax.lax.scan(step, h0, (x, probe))
    return hs @ w_out.T, hs


def cross_entropy(params, x, y, alpha: float = 1.0, last_only: bool = False):
    """Mean cross-entropy over every step and trial (the authors' loss on the flattened outputs),
    or over the last step's only (`last_only`: their sMNIST loss on `output[-1]`)."""
    out, _ = forward(params, x, alpha)
    if last_only:
        out, y = out[-1:], y[-1:]
    logp = jax.nn.log_softmax(out, axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, y[..., None], axis=-1))


def accuracy_at_decision(params, x, y, alpha: float = 1.0):
    """Fraction of trials whose argmax output at the last (decision) step is the target."""
    out, _ = forward(params, x, alpha)
    return jnp.mean(jnp.argmax(out[-1], -1) == y[-1])


def rec_jacobian(params, x, alpha: float = 1.0):
    """d outputs / d W_rec for every (step, trial, output): (T * B * n_out, N * N), vectorised
    (one jacrev over the recurrent matrix, vmapped over trials)."""

    def one(w_rec, xb):  # one trial: xb (T, n_in) -> (T, n_out)
        out, _ = forward({**params, "w_rec": w_rec}, xb[:, None, :], alpha)
        return out[:, 0, :]

    jac = jax.vmap(jax.jacrev(one), in_axes=(None, 1))(params["w_rec"], x)  # (B, T, K, N, N)
    jac = jnp.transpose(jac, (1, 0, 2, 3, 4))  # the authors' order: t, then b, then k
    return jac.reshape(-1, jac.shape[-2] * jac.shape[-1])


NTK_FORMS = ("auto", "factored", "jacobian")


def ntk_form(steps: int, hidden: int) -> str:
    """The cheaper exact form of `rec_ntk` for T = `steps` and N = `hidden`: per pair of outputs
    the factored form sums T^2 products of N-vectors (T^2 N flops) where the Gram of the
    Jacobian takes one product of N^2-vectors (N^2), so the factored form wins when T^2 < N
    (8 steps at 300 units: 64 < 300) and the Jacobian when T^2 > N (28 rows: 784 > 300; measured
    4x, papers_repro/liu2024_rich_lazy.md). Forming the Jacobian from the same probe gradients
    costs T N^2 per output, below the Gram's (outputs) N^2 once there are more outputs than T."""
    return "factored" if steps * steps <= hidden else "jacobian"


def rec_ntk(params, x, alpha: float = 1.0, last_only: bool = False, form: str = "auto"):
    """The empirical tangent kernel w.r.t. the recurrent weights over (step, trial, output),
    in the order of `rec_jacobian`. `last_only`: over the last step's outputs alone, (trial,
    output) (the authors' sMNIST kernel; the rows of `rec_jacobian` with t = T - 1).

    Each Jacobian row is a sum of T outer products, d out[t,b,k] / d W_rec = sum_s g^{tbk}_s
    h^b_{s-1}^T (g = d out / d probe, h_{-1} = 0), so
        K[(t,b,k), (t',b',k')] = sum_{s,s'} <g^{tbk}_s, g^{t'b'k'}_{s'}> <h^b_{s-1}, h^{b'}_{s'-1}>.
    form "factored" evaluates that sum: O((T B K)^2 T^2 N) work and O((T B K T)^2) memory, without
    the (T B K, N^2) Jacobian; "jacobian" forms J from the same g and h (one einsum, O(T B K T
    N^2)) and returns J J^T (O((T B K)^2 N^2)); "auto" picks the cheaper (`ntk_form`). Both are
    exact; they differ in float32 round-off only."""
    if form not in NTK_FORMS:
        raise ValueError(f"form must be one of {NTK_FORMS}, got {form!r}")
    T, B, _ = x.shape
    N = params["w_rec"].shape[0]
    form = ntk_form(T, N) if form == "auto" else form

    def one(xb):  # d out (T, K) / d probe (T, N) for one trial
        def f(e):
            out, _ = forward(params, xb[:, None, :], alpha, e[:, None, :])
            return out[-1:, 0, :] if last_only else out[:, 0, :]

        return jax.jacrev(f)(jnp.zeros((T, N), x.dtype))  # (T or 1, K, T_s, N)

    g = jax.vmap(one, in_axes=1)(x)  # (B, T or 1, K, T_s, N)
    _, hs = forward(params, x, alpha)  # (T, B, N)
    hprev = jnp.concatenate([jnp.zeros_like(hs[:1]), hs[:-1]], axis=0)  # h_{s-1}
    n = (1 if last_only else T) * B * params["w_out"].shape[0]
    if form == "jacobian":
        # rows (t, b, k) in the authors' order; column (i, j) = d / d W_rec[i, j]
        j = jnp.einsum("btksi,sbj->tbkij", g, hprev).reshape(n, N * N)
        return j @ j.T
    hgram = jnp.einsum("sbn,rcn->bscr", hprev, hprev)  # (B, T_s, B, T_s)
    ggram = jnp.einsum("btksn,culrn->btksculr", g, g)  # (B,T,K,T_s, B,T,K,T_s)
    k = jnp.einsum("btksculr,bscr->tbkulc", ggram, hgram)
    # (t, b, k, u, l, c) -> rows (t, b, k), columns (u, c, l): the authors' order is t, b, k
    k = jnp.transpose(k, (0, 1, 2, 3, 5, 4))
    return k.reshape(n, n)


def rec_ntk_loop(params, x, alpha: float = 1.0) -> np.ndarray:
    """The same kernel one output gradient at a time (the authors' form: a Python loop over
    steps, trials and outputs, each a backward pass), for the speed comparison only."""
    T, B, _ = x.shape
    K = params["w_out"].shape[0]

    def scalar(w_rec, xb, t, k):
        out, _ = forward({**params, "w_rec": w_rec}, xb[:, None, :], alpha)
        return out[t, 0, k]

    g = jax.jit(jax.grad(scalar))  # t, k traced: one compiled backward pass, called T * B * K times
    rows = [
        np.asarray(g(params["w_rec"], x[:, b], np.int32(t), np.int32(k))).ravel()
        for t in range(T)
        for b in range(B)
        for k in range(K)
    ]
    j = np.stack(rows)
    return j @ j.T
