"""Rich vs lazy learning and the effective rank of the initial weights: the two-layer linear
network, its tangent kernel, a closed form for the task-averaged kernel alignment, and the
laziness measures used on trained networks.

Liu, Baratin, Cornford, Mihalas, Shea-Brown, Lajoie, "How connectivity structure shapes rich and
lazy learning in neural circuits", ICLR 2024, arXiv:2310.08513v2 (Sec. 3: two-layer linear
network, whitened inputs, tasks uniform on the sphere; Proposition 1 / Fig. 3: the aligned
low-rank exception). The paper's own statement of its theorem could not be read from this
machine; the closed form below is our derivation, stated in full in `alignment_small_init`.

Setting (float64 throughout; call under `jax.enable_x64(True)`):
    f(x) = w^T W x,   W: (h, d) first layer,  w: (h,) readout,  inputs whitened (X X^T = P I),
    task y = beta^T x with beta/|beta| uniform on the unit sphere S^{d-1},
    loss 1/(2P) sum_mu (f(x_mu) - y_mu)^2 = 1/2 |W^T w - beta|^2  (whitening).
Tangent kernel: grad_W f(x) = w x^T and grad_w f(x) = W x, so
    K(x, x') = x^T (W^T W + |w|^2 I) x' = x^T M x',   M = M(W, w) = W^T W + |w|^2 I   (d, d),
and on whitened data <X^T A X, X^T B X>_F = P^2 tr(A B): the alignment of the two Gram matrices
K0 = X^T M0 X and Kf = X^T Mf X equals the alignment of M0 and Mf (`kernel_alignment`).
With input features z = F x (Fig. 3's anisotropy), M = F^T (W^T W + |w|^2 I) F.

Effective rank (the paper's two measures): the participation ratio of the squared singular
values, PR(W) = (sum s_i^2)^2 / sum s_i^4 in [1, rank W], and for square matrices
sum_i |lambda_i| / (N max_i |lambda_i|) over the eigenvalues lambda of W.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

# --- effective rank ----------------------------------------------------------------------------


def participation_ratio(w) -> jax.Array:
    """(sum s^2)^2 / sum s^4 over the singular values s of w (matrix or batch of matrices)."""
    s2 = jnp.linalg.svd(w, compute_uv=False) ** 2
    return s2.sum(-1) ** 2 / (s2**2).sum(-1)


def eigen_effective_rank(w) -> np.ndarray:
    """sum |lambda| / (N max |lambda|) over the eigenvalues of a square w (NumPy: jax's general
    eigendecomposition is CPU-only anyway). 1 for a scaled orthogonal matrix, 1/N for rank 1."""
    lam = np.abs(np.linalg.eigvals(np.asarray(w, np.float64)))
    return lam.sum(-1) / (lam.shape[-1] * lam.max(-1))


def svd_truncate(w, rank: int) -> jax.Array:
    """The rank-`rank` SVD truncation of w rescaled to w's Frobenius norm (the authors' low-rank
    initialisation: the top singular triplets kept, the norm of the full matrix restored)."""
    if not 1 <= rank <= min(w.shape):
        raise ValueError(f"rank must be in [1, {min(w.shape)}], got {rank}")
    u, s, vt = jnp.linalg.svd(w, full_matrices=False)
    keep = (jnp.arange(s.shape[0]) < rank).astype(w.dtype)
    t = (u * (s * keep)[None, :]) @ vt
    return t * (jnp.linalg.norm(w) / jnp.linalg.norm(t))


# --- laziness measures (estimators on any trained network) ------------------------------------


def kernel_alignment(k0, k1) -> jax.Array:
    """<K0, K1>_F / (|K0|_F |K1|_F): 1 when the kernel only rescales (lazy), lower when it turns
    (rich). Over the last two axes."""
    num = jnp.sum(k0 * k1, axis=(-2, -1))
    return num / (jnp.linalg.norm(k0, axis=(-2, -1)) * jnp.linalg.norm(k1, axis=(-2, -1)))


def representation_alignment(h0, h1) -> jax.Array:
    """Kernel alignment of the (uncentred) representation Gram matrices H H^T of hidden states
    h: (batch, units), before (h0) and after (h1) learning (the authors' `rep_sim`)."""
    return kernel_alignment(h0 @ h0.T, h1 @ h1.T)


def sign_similarity(a0, a1) -> jax.Array:
    """Fraction of activations whose sign is unchanged by learning (ReLU: active stays active)."""
    return jnp.mean(jnp.sign(a0) == jnp.sign(a1))


def weight_change(w0, w1) -> jax.Array:
    """|W1 - W0|_F."""
    return jnp.linalg.norm(w1 - w0)


# --- the two-layer linear network -------------------------------------------------------------


def linear_ntk_matrix(W, w, F=None) -> jax.Array:
    """M with K(x, x') = x^T M x' for f = w^T W F x: F^T (W^T W + |w|^2 I) F (F = I default)."""
    m = W.T @ W + jnp.sum(w**2) * jnp.eye(W.shape[1], dtype=W.dtype)
    return m if F is None else F.T @ m @ F


def linear_ntk(W, w, X, F=None) -> jax.Array:
    """The tangent kernel on inputs X (d, P) by autodiff (the definition, for checking
    `linear_ntk_matrix`): J J^T with J the Jacobian of the P outputs w.r.t. (W, w)."""
    Fm = jnp.eye(W.shape[1], dtype=W.dtype) if F is None else F

    def f(params):
        W_, w_ = params
        return w_ @ W_ @ Fm @ X

    jac = jax.jacrev(f)((W, w))
    flat = jnp.concatenate([jac[0].reshape(X.shape[1], -1), jac[1]], axis=1)
    return flat @ flat.T


def train_linear(W, w, beta, *, lr: float, steps: int, F=None, record: int = 0):
    """Gradient descent on 1/2 |F^T W^T w - beta|^2 (whitened inputs: the empirical loss of any
    X with X X^T = P I). Returns (W, w, alignments): the alignment of M(t) with M(0) at `record`
    evenly spaced steps (empty when record = 0). A lax.scan; vmap it over tasks and inits."""
    Fm = jnp.eye(W.shape[1], dtype=W.dtype) if F is None else F
    m0 = linear_ntk_matrix(W, w, Fm)

    def step(carry, _):
        W_, w_ = carry
        r = Fm.T @ (W_.T @ w_) - beta  # residual in input space, (d,)
        g = Fm @ r  # back through the features
        return (W_ - lr * jnp.outer(w_, g), w_ - lr * (W_ @ g)), None

    if record:
        every = steps // record

        def chunk(carry, _):
            carry, _ = jax.lax.scan(step, carry, None, length=every)
            return carry, kernel_alignment(m0, linear_ntk_matrix(*carry, Fm))

        (W, w), al = jax.lax.scan(chunk, (W, w), None, length=record)
        (W, w), _ = jax.lax.scan(step, (W, w), None, length=steps - every * record)
        return W, w, al
    (W, w), _ = jax.lax.scan(step, (W, w), None, length=steps)
    return W, w, jnp.zeros((0,), W.dtype)


def alignment_small_init_task(W0, w0, beta) -> jax.Array:
    """The kernel alignment after learning task beta from W0, w0 in the small-initialisation
    limit (scale -> 0 at fixed shape); see `alignment_small_init` for the derivation."""
    d = W0.shape[1]
    b = beta / jnp.linalg.norm(beta)
    m0 = linear_ntk_matrix(W0, w0)
    mf = jnp.eye(d, dtype=W0.dtype) + jnp.outer(b, b)
    return kernel_alignment(m0, mf)


def alignment_small_init(pr, q, d):
    """E_beta[KA(K0, Kf)] in the small-initialisation limit, as a function of the first layer's
    participation ratio PR = (tr S)^2 / tr S^2 (S = W0^T W0), the layer-norm ratio
    q = |w0|^2 / |W0|_F^2 and the input dimension d:

        E[KA] = (d + 1)(1 + d q) / ( d sqrt(d + 3) sqrt(1/PR + 2 q + d q^2) ).

    Derivation (ours). Let (W0, w0) = eps (V, v) and eps -> 0.
    1. Gradient flow conserves C = W W^T - w w^T (d/dt W W^T = w r^T W^T + W r w^T = d/dt w w^T,
       r = W^T w - beta), so C = O(eps^2) for all time: W W^T = w w^T + O(eps^2).
    2. From a small start the flow escapes the saddle at 0 and converges to a global minimum
       W^T w = beta (the rank-1 solution reached from generic small inits). With
       W W^T = w w^T, W = w a^T for some a, so W^T w = |w|^2 a = beta and W W^T = |a|^2 w w^T
       gives |a| = 1: a = beta/|beta|, |w|^2 = |beta|. Hence, up to O(eps),
       Mf = W^T W + |w|^2 I = |beta| (I + b b^T),  b = beta/|beta|.
    3. M0 = eps^2 (S + a I), a = |v|^2. Alignment is scale-free, so with T = tr S:
       <M0, Mf> ~ T + d a + b^T S b + a,   |Mf| ~ sqrt(d + 3)  (eigenvalues 2, 1 x (d-1)),
       |M0|^2 ~ tr S^2 + 2 a T + d a^2,    all independent of b except b^T S b.
    4. For b uniform on S^{d-1}, E[b b^T] = I/d, so E[b^T S b] = T/d, and since the denominator
       does not depend on b the expectation is exact:
       E[KA] = (T(1 + 1/d) + a(d + 1)) / (sqrt(d+3) sqrt(tr S^2 + 2aT + d a^2)); divide through
       by T with tr S^2 = T^2/PR and a = qT.
    It increases with PR at every q (lazier with higher effective rank), from
    (d+1)(1+dq) / (d sqrt(d+3) sqrt(1 + 2q + dq^2)) at rank 1 to
    (d+1)(1+dq) / (d sqrt(d+3) sqrt(1/d + 2q + dq^2)) at PR = d (isotropic W0).
    """
    pr, q = jnp.asarray(pr, jnp.float64), jnp.asarray(q, jnp.float64)
    return (d + 1) * (1 + d * q) / (d * jnp.sqrt(d + 3.0) * jnp.sqrt(1 / pr + 2 * q + d * q**2))


# --- Proposition 1 / Fig. 3: inits aligned with the task ---------------------------------------


def anisotropic_features(key, d: int, kappa: float) -> jax.Array:
    """F = U diag(s) V^T with random orthogonal U, V; the top half of s equal to kappa and the
    bottom half 1 (condition number kappa; Fig. 3A)."""
    if kappa < 1 or d < 2:
        raise ValueError(f"kappa must be >= 1 and d >= 2, got {kappa}, {d}")
    ku, kv = jax.random.split(key)
    u, _ = jnp.linalg.qr(jax.random.normal(ku, (d, d), jnp.float64))
    v, _ = jnp.linalg.qr(jax.random.normal(kv, (d, d), jnp.float64))
    s = jnp.where(jnp.arange(d) < d // 2, kappa, 1.0)
    return (u * s[None, :]) @ v.T


def top_half_projector(F) -> jax.Array:
    """P onto the left singular directions of F's top d/2 singular values: F_trunc F^-1 = P for
    the rank-(d/2) truncation F_trunc, so W = u (P w*)^T is 'aligned with the truncated F'."""
    u, _, _ = jnp.linalg.svd(F)
    top = u[:, : F.shape[0] // 2]
    return top @ top.T


INIT_KINDS = ("aligned", "partial", "random_rank1", "random_full")


def exception_init(key, kind: str, teacher, F, *, h: int, scale: float) -> jax.Array:
    """A first layer W (h, d) of Frobenius norm `scale` for the Fig. 3 comparison, the task being
    y = teacher^T z, z = F x:
    - aligned: W = scale u t^T with t = teacher/|teacher| (W F = scale u beta^T/|teacher|,
      beta = F^T teacher: the first layer already reads the task direction);
    - partial: the same with F replaced by its rank-(d/2) truncation, t ~ P teacher;
    - random_rank1: t uniform on the sphere, independent of the task;
    - random_full: a Gaussian matrix (full rank, PR ~ d h/(d + h)).
    u is uniform on S^{h-1}."""
    ku, kt, kg = jax.random.split(key, 3)
    d = F.shape[0]
    u = jax.random.normal(ku, (h,), jnp.float64)
    u = u / jnp.linalg.norm(u)
    if kind == "random_full":
        g = jax.random.normal(kg, (h, d), jnp.float64)
        return scale * g / jnp.linalg.norm(g)
    if kind == "aligned":
        t = teacher
    elif kind == "partial":
        t = top_half_projector(F) @ teacher
    elif kind == "random_rank1":
        t = jax.random.normal(kt, (d,), jnp.float64)
    else:
        raise ValueError(f"unknown init kind {kind!r}; expected one of {INIT_KINDS}")
    return scale * jnp.outer(u, t / jnp.linalg.norm(t))
