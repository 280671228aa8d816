"""Spectra of hierarchical CNN kernels and the learning-curve exponents they imply.

Cagnetta, Favero, Wyart, ICML 2023, arXiv:2208.01003v5, Sec. 3 (spectrum) and Sec. 4-5
(generalisation, teacher-student). Notation as in theory/cnn_kernels.py: filters (s_1, ..., s_L),
first-level patches on S^{s_1 - 1}.

Closed forms implemented here (each with the finite-sample estimator it is tested against):

* Eigenfunctions are products of spherical harmonics, one per first-level patch; an eigenfunction
  belongs to the *sector* l of the smallest meta-patch (set of patches under one level-l node)
  containing every patch where its degree is non-zero (Sec. 3). Its eigenvalue decays as

      Lambda ~ |k|^{-(2 nu + d_eff(l))},   d_eff(l) = (s_1 - 1) s_2 ... s_l,

  the dimension of the level-l meta-patch as a product of spheres, with nu = 1/2 for the NTK and
  nu = 3/2 for the NNGP/RFK (the exponent of the (1 - t)^nu non-analyticity of kappa_0 and
  kappa_1 at t = 1). `sector_exponent`. Estimator: `torus_spectrum` (exact Fourier coefficients
  when s_1 = 2) and Gram eigenvalues.
* Counting the eigenfunctions of sector l with |k| <= k (~ k^{d_eff(l)}) gives the rank-ordered
  spectrum lambda_rho ~ rho^{-(1 + 2 nu / d_eff(l))} within a sector; the top sector (largest
  d_eff) dominates at large rank: `rank_slope`. Estimator: eigenvalues of K(X, X) / n.
* Learning curves (ridgeless kernel regression, Gaussian-random-field target with covariance the
  teacher kernel): with the spectral-bias ansatz the paper uses in Sec. 5 (modes are learnt in the
  order of the student's eigenvalues; n samples learn the n largest), the top sector of the
  student, of dimension d_S, fixes the eigenvalue threshold lambda* ~ n^{-(2 nu_S + d_S)/d_S}; the
  teacher's power sits in its own sector of dimension d_T <= d_S, where the student's eigenvalue
  reaches lambda* at |k*| ~ lambda*^{-1/(2 nu_S + d_T)}, and the tail of the teacher's power
  sum_{|k| > k*} |k|^{d_T - 1} |k|^{-(2 nu_T + d_T)} ~ k*^{-2 nu_T} gives

      beta = 2 nu_T (2 nu_S + d_S) / (d_S (2 nu_S + d_T)),   `learning_curve_exponent`.

  For a full-input teacher (d_T = d_S = d_eff(L)) this is 2 nu_T / d_eff(L): inversely
  proportional to the input dimension (the random-CNN / NNGP teacher, nu_T = 3/2, included: "too
  rich to be learnable in high dimension"); for a local teacher it tends to 2 nu_T /
  (2 nu_S + d_T) as d_S grows: controlled by the teacher's effective dimension. A fully-connected
  student has a single sector of dimension d_S = d_eff(L) containing every teacher mode, so
  d_T -> d_S: beta_FC = 2 nu_T / d_eff(L) whatever the teacher's locality.
  The equation numbers of the paper could not be checked against its text from this machine;
  the derivation above is the one implemented and is what the tests and claims use.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from kernels import cnn_tree as tree

NU = {"ntk": 0.5, "nngp": 1.5}


def _nu(kind: str) -> float:
    if kind not in NU:
        raise ValueError(f"kernel kind must be one of {tuple(NU)}, got {kind!r}")
    return NU[kind]


# ------------------------------------------------------------------------------ closed forms
def d_eff(filters, level: int) -> int:
    """Effective dimension of a level-`level` meta-patch: (s_1 - 1) s_2 ... s_level."""
    filters = tuple(filters)
    if not 1 <= level <= len(filters):
        raise ValueError(f"level must be in 1..{len(filters)}, got {level}")
    return (filters[0] - 1) * math.prod(filters[1:level])


def sector_exponent(kind: str, filters, level: int) -> float:
    """Lambda_k ~ |k|^{-exponent} in sector `level`: 2 nu + d_eff(level)."""
    return 2 * _nu(kind) + d_eff(filters, level)


def rank_slope(kind: str, filters, level: int | None = None) -> float:
    """lambda_rho ~ rho^{-slope}: 1 + 2 nu / d_eff(level), level = L (the top sector) by default."""
    level = len(tuple(filters)) if level is None else level
    return 1.0 + 2 * _nu(kind) / d_eff(filters, level)


def learning_curve_exponent(
    teacher_kind: str, d_teacher: int, student_kind: str, d_student: int
) -> float:
    """beta of eps(n) ~ n^{-beta}: 2 nu_T (2 nu_S + d_S) / (d_S (2 nu_S + d_T)) (module doc)."""
    if d_teacher > d_student:
        raise ValueError(
            f"teacher sector d_T = {d_teacher} exceeds the student's d_S = {d_student}"
        )
    nt, ns = _nu(teacher_kind), _nu(student_kind)
    return 2 * nt * (2 * ns + d_student) / (d_student * (2 * ns + d_teacher))


# ---------------------------------------------------------------- exact spectrum on the torus
def _axis_cosines(n_axes: int, n_grid: int):
    phi = 2 * np.pi * np.arange(n_grid) / n_grid
    out = []
    for i in range(n_axes):
        shape = [1] * n_axes
        shape[i] = n_grid
        out.append(jnp.asarray(np.cos(phi).reshape(shape)))
    return out


def _check_torus(filters, kind):
    if filters[0] != 2:
        raise ValueError("the torus spectrum needs first-level patches of size 2 (circles)")
    _nu(kind)


def torus_spectrum(filters, n_grid: int, kind: str):
    """All eigenvalues of the kernel on the torus (S^1)^P, exactly, as an n_grid^P array.

    For s_1 = 2 the kernel depends only on the angle differences, so it is translation-invariant
    on the torus and its eigenfunctions are exp(i k . theta), eigenvalue = the k-th Fourier
    coefficient of K(phi) (uniform probability measure). Computed by FFT on the grid; aliasing
    adds the coefficients at k + n_grid m, relatively ~ (|k| / (n_grid - |k|))^{2 nu + d_eff}, so
    fits stay below |k| = n_grid / 8. Index k_i in [0, n_grid) stands for the signed frequency
    k_i - n_grid [k_i >= n_grid / 2].
    """
    filters = tuple(int(s) for s in filters)
    _check_torus(filters, kind)
    with jax.enable_x64(True):
        return np.asarray(_torus_fft(filters, n_grid, kind))


@functools.partial(jax.jit, static_argnums=(0, 1, 2))  # one program, not one compile per op
def _torus_fft(filters, n_grid: int, kind: str):
    n_patches = math.prod(filters[1:])
    k, t = tree.tree_from_cosine_list(_axis_cosines(n_patches, n_grid), filters)
    grid = jnp.broadcast_to(k if kind == "nngp" else t, (n_grid,) * n_patches)
    return jnp.fft.fftn(grid).real / grid.size


def torus_eigenvalues_at(filters, n_grid: int, kind: str, targets):
    """Eigenvalues at selected multi-indices targets (T, P), for grids too large to hold.

    Loops over the first angle (slabs of n_grid^(P-1) points): FFT over the other axes, keep the
    target columns, then a direct DFT over the first axis. Memory n_grid^(P-1); exact as
    `torus_spectrum` (same aliasing).
    """
    filters = tuple(int(s) for s in filters)
    _check_torus(filters, kind)
    n_patches = math.prod(filters[1:])
    targets = np.asarray(targets, np.int64) % n_grid
    if targets.ndim != 2 or targets.shape[1] != n_patches:
        raise ValueError(f"targets must be (T, {n_patches}), got {targets.shape}")
    phi = 2 * np.pi * np.arange(n_grid) / n_grid
    rest = tuple(jnp.asarray(targets[:, i].astype(np.int32)) for i in range(1, n_patches))
    with jax.enable_x64(True):
        others = _axis_cosines(n_patches - 1, n_grid)
        k1 = jnp.asarray(targets[:, 0].astype(np.float64))

        def slab(acc, p):
            k, t = tree.tree_from_cosine_list([jnp.cos(p)] + others, filters)
            g = jnp.broadcast_to(k if kind == "nngp" else t, (n_grid,) * (n_patches - 1))
            f = jnp.fft.fftn(g)[rest]
            return acc + f * jnp.exp(-1j * k1 * p), None

        acc0 = jnp.zeros(targets.shape[0], jnp.complex128)
        acc, _ = jax.jit(lambda a, ps: jax.lax.scan(slab, a, ps))(acc0, jnp.asarray(phi))
        return np.asarray(acc.real) / n_grid**n_patches


def diagonal_targets(filters, level: int, ks, *, direction=None):
    """Multi-indices of sector `level` along a direction: degree k * direction_i on the i-th patch
    of the first level-`level` meta-patch, 0 elsewhere (default direction: all ones)."""
    filters = tuple(filters)
    n_patches = math.prod(filters[1:])
    per = math.prod(filters[1:level])
    direction = np.ones(per, np.int64) if direction is None else np.asarray(direction, np.int64)
    if direction.shape != (per,):
        raise ValueError(f"direction must have {per} entries for level {level}")
    out = np.zeros((len(ks), n_patches), np.int64)
    out[:, :per] = np.asarray(ks, np.int64)[:, None] * direction[None, :]
    return out


def sector_of(k_index, filters) -> int:
    """Sector (level) of the multi-index k over the P first-level patches; 0 for k = 0, and
    len(filters) + 1 for a k spanning several top positions (a zero eigenvalue: the readout is
    additive over positions)."""
    k_index = np.asarray(k_index)
    support = np.flatnonzero(k_index)
    if support.size == 0:
        return 0
    for level in range(1, len(filters) + 1):
        per = math.prod(filters[1:level])  # patches per level-`level` meta-patch
        if np.unique(support // per).size == 1:
            return level
    return len(filters) + 1


# --------------------------------------------------------------------------------- fits
def fit_power_law(x, y):
    """Least-squares slope and intercept of log y against log x (positive entries only)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = (x > 0) & (y > 0) & np.isfinite(y)
    if ok.sum() < 2:
        return float("nan"), float("nan")
    slope, icpt = np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)
    return float(slope), float(icpt)


def gram_spectrum(gram):
    """Eigenvalues of gram / n in decreasing order (the paper's estimator of the operator's)."""
    n = gram.shape[0]
    ev = np.linalg.eigvalsh(np.asarray(gram, np.float64))[::-1] / n
    return ev


# ---------------------------------------------------------------- teacher-student estimator
def sample_grf(key, cov, n_samples: int = 1):
    """Gaussian random field values with covariance `cov` (N, N): eigh with negative rounding
    eigenvalues clipped (the teacher Gram of a local kernel is numerically rank deficient, where
    Cholesky fails). Returns (n_samples, N)."""
    w, v = jnp.linalg.eigh(cov)
    root = v * jnp.sqrt(jnp.clip(w, 0.0, None))[None, :]
    z = jax.random.normal(key, (cov.shape[0], n_samples), cov.dtype)
    return (root @ z).T


def ridgeless_errors(k_train, k_test_train, y_train, y_test, sizes, *, ridge: float = 0.0):
    """Test MSE of (ridgeless) kernel regression on nested training sets of the given sizes.

    k_train: (n_max, n_max) student Gram, k_test_train: (n_test, n_max), y_*: (..., n) targets
    (leading axis: independent target draws). SPD solves by Cholesky (no explicit inverse).
    """
    errs = []
    for n in sizes:
        kn = k_train[:n, :n] + ridge * jnp.eye(n, dtype=k_train.dtype)
        cf = jax.scipy.linalg.cho_factor(kn, lower=True)
        alpha = jax.scipy.linalg.cho_solve(cf, y_train[..., :n].T)  # (n, S)
        pred = (k_test_train[:, :n] @ alpha).T
        errs.append(jnp.mean((pred - y_test) ** 2, axis=-1))
    return jnp.stack(errs, axis=-1)
