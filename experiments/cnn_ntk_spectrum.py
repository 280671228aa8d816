"""Wide hierarchical CNNs: exact kernels, their sector-resolved spectra, and how far n scales.

Reproduces the kernel and spectrum half of Cagnetta, Favero, Wyart, "What Can Be Learnt With Wide
Convolutional Neural Networks?", ICML 2023, arXiv:2208.01003v5 (Sec. 2-3); the learning curves are
`experiments.cnn_learning_curves`. Semantics from the authors' code (github
alesfav/convolutional_neural_kernels: kernel_functions.dcntk/dcrfk, spectrum.py).

Commands:
    python -m experiments.cnn_ntk_spectrum                 # quick: ~1 min on 2 CPU cores
    python -m experiments.cnn_ntk_spectrum --preset full   # ~18 min, peak RSS 7.4 GB (2 CPU cores)

Headline (full): kernels = neural-tangents to 4e-8; finite nets converge like width^-0.47..-0.49;
27/28 exact sector exponents within tolerance of 2 nu + d_eff(l) (28/28 at torus grid 384, preset
torus384); 6/8 rank-ordered slopes at n = 8192; Gram + eigh at n = 16384; 22x less memory than
the materialised approach at n = 4096.

What runs:
1. Analytic NNGP/NTK (theory/cnn_kernels.py, float64) against neural-tangents stax (1-D Conv,
   VALID, stride = filter, W_std = sqrt(s_1) then sqrt(2), Flatten, Dense), and the invariants.
2. Empirical NTK / NNGP of finite flax CNNs and locally connected nets (models/cnn_nets.py) at
   growing width: relative error vs width, fitted slope (theory -1/2); the authors' nets without
   the He factor beside them.
3. Exact sector-resolved spectra for first-level patches of size 2 (the kernel is
   translation-invariant on the torus; eigenvalues = Fourier coefficients): fitted decay
   exponents per sector, per parity, per kernel, against 2 nu + d_eff(l).
4. Rank-ordered Gram spectra (the paper's estimator: eigenvalues of K(X, X) / n) for patch sizes
   2 and 3 and several depths, against 1 + 2 nu / d_eff(L), and against the exact torus
   eigenvalues where those exist.
5. Scale: Gram + eigendecomposition at growing n with the row-blocked path (kernels/cnn_gram.py),
   and time/memory against the authors' approach (materialise the (n, n, d / s_1) cosines and a
   per-level array) at the same n, as ratios measured in one run.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from experiments._lib import claims as C
from experiments._lib import cli, plotting
from kernels import cnn_gram as G
from models import cnn_nets as nets
from runtime import memory, progress, rng
from runtime.timing import time_fns
from theory import cnn_kernels as ck
from theory import cnn_spectra as S
from theory import stats
from theory.stats import loglog_slope

PAPER = "cagnetta2023_wide_cnn"
CITED_PRESET = "full"
DEBIAN_PACKAGES: tuple[str, ...] = ()

STREAM_NT, STREAM_WIDTH, STREAM_RANK, STREAM_SCALE = 1, 2, 3, 4
KINDS = ("ntk", "nngp")


def _arch_ok(filters) -> bool:
    return len(filters) >= 1 and all(int(s) >= 1 for s in filters) and filters[0] >= 2


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    # 1. oracle check: architectures (input length = product of the filters) and points
    check_archs: tuple[tuple[int, ...], ...] = ((2, 2, 2), (3, 3), (2, 4))
    check_n: int = 12
    # 2. finite width
    width_arch: tuple[int, ...] = (2, 2, 2)
    widths: tuple[int, ...] = (16, 64, 256)
    width_seeds: int = 3
    width_n: int = 8
    # 3. exact torus spectra: (filters, grid points per angle)
    torus: tuple[tuple[int, ...], ...] = ((2, 2), (2, 3), (2, 2, 2))
    torus_grid: tuple[int, ...] = (256, 64, 32)
    # 4. rank-ordered Gram spectra
    rank_archs: tuple[tuple[int, ...], ...] = ((2, 2, 2), (2, 2, 2, 2), (3, 3), (3, 3, 3))
    rank_n: int = 1024
    fc_depth: int = 4  # the fully-connected contrast kernel, on the (2, 2, 2, 2) inputs
    # 5. scale
    scale_arch: tuple[int, ...] = (2, 2, 2, 2)
    scale_n: tuple[int, ...] = (512, 1024, 2048)
    compare_n: int = 1024  # n at which the authors' materialised approach is timed against ours
    seed: int = 0

    def __post_init__(self):
        for name in ("check_archs", "rank_archs", "torus"):
            for f in getattr(self, name):
                if not _arch_ok(f):
                    raise ValueError(f"{name}: filter sizes must be >= 1 with s_1 >= 2, got {f}")
        if not _arch_ok(self.width_arch) or not _arch_ok(self.scale_arch):
            raise ValueError("width_arch and scale_arch need filter sizes >= 1 with s_1 >= 2")
        if any(f[0] != 2 for f in self.torus):
            raise ValueError("torus spectra need first-level patches of size 2 (circles)")
        if len(self.torus_grid) != len(self.torus):
            raise ValueError("torus_grid needs one grid size per torus architecture")
        if min(self.torus_grid) < 16:
            raise ValueError("torus_grid must be >= 16 points per angle")
        if len(self.widths) < 3 or min(self.widths) < 1:
            raise ValueError("widths needs >= 3 widths, each >= 1, for a fitted slope")
        if min(self.width_seeds, self.width_n, self.check_n, self.fc_depth) < 1:
            raise ValueError("width_seeds, width_n, check_n and fc_depth must be >= 1")
        if self.rank_n < 64:
            raise ValueError("rank_n must be >= 64 for a rank window")
        if len(self.scale_n) < 1 or min(self.scale_n) < 2 or self.compare_n < 2:
            raise ValueError("scale_n and compare_n must be >= 2")
        if self.width_seeds > 1000 or self.fc_depth > 64:
            raise ValueError("width_seeds must be <= 1000 and fc_depth <= 64")


def memory_estimate(cfg: Config) -> int:
    """Peak bytes, the largest study (float64 = 8 bytes unless said):
    - Gram studies (rank, scale): NNGP + NTK + two work arrays, 4 n^2 (kernels.cnn_gram;
      checked by the CLI before any work, not in Config, so that a preset too large for this
      host, the full one under a memory cap, does not stop the module's import);
    - the authors' materialised form at compare_n: per-patch cosines, n^2 (d + 4) (d = prod f);
    - the oracle check: n^2 d for each patch level (<= d levels) at check_n;
    - finite width: the float32 Jacobian (n, P) of P ~ w^2 sum(f) + w s_1 parameters, x3 for
      the NTK product and the NNGP, at the largest width;
    - torus spectra: a complex128 (16 bytes) grid of n_grid^P points (P = prod f[1:] <= 3) or a
      slab of n_grid^(P - 1) beyond, x4 for the FFT's work arrays."""
    gram = max(32 * n * n for n in (*cfg.scale_n, cfg.rank_n))
    d_scale = _d(cfg.scale_arch)
    compare = 8 * cfg.compare_n**2 * (d_scale + 4)
    check = max(8 * cfg.check_n**2 * _d(f) ** 2 for f in cfg.check_archs)
    w = max(cfg.widths)
    n_par = w * w * sum(cfg.width_arch) + w * cfg.width_arch[0]
    width = 3 * 4 * cfg.width_n * n_par
    torus = max(
        64 * g ** (math.prod(f[1:]) if math.prod(f[1:]) <= 3 else math.prod(f[1:]) - 1)
        for f, g in zip(cfg.torus, cfg.torus_grid, strict=True)
    )
    return max(gram, compare, check, width, torus)


PRESETS = {
    # smoke: seconds, for the tests: every study and claim at the smallest sizes
    "smoke": Config(
        check_archs=((2, 2, 2), (3, 3)),
        check_n=4,
        widths=(8, 16, 32),
        width_seeds=2,
        width_n=4,
        torus_grid=(32, 16, 16),
        rank_archs=((2, 2, 2), (3, 3)),
        rank_n=64,
        scale_n=(64,),
        compare_n=64,
    ),
    "quick": Config(),
    "full": Config(
        check_n=24,
        widths=(16, 32, 64, 128, 256, 512, 1024, 2048),
        width_seeds=8,
        torus_grid=(2048, 256, 192),
        rank_n=8192,
        scale_n=(1024, 2048, 4096, 8192, 16384),
        compare_n=4096,
    ),
}
# The pre-asymptotic test of the (2, 2, 2) torus sector rows (issue 13): the full preset with that
# torus at grid 384 instead of 192, so the sector fits use k in [12, 48] (the top two octaves
# below the aliasing cut n_grid / 8) instead of [6, 24]. Everything else is the full preset (its
# rows repeat the full run's). Planned before it ran and cited whatever it shows: rendered
# beside the full run in papers_repro/cagnetta2023_wide_cnn.md (EXTRA_CITED; not counted).
PRESETS["torus384"] = dataclasses.replace(PRESETS["full"], torus_grid=(2048, 256, 384))
EXTRA_CITED = ("torus384",)  # rendered in the paper file too, not counted (papers_repro.render)


def _d(filters) -> int:
    return math.prod(filters)


def _key(cfg, stream):
    return rng.key(cfg.seed, stream)


# ------------------------------------------------------------------------ 1. oracle check


def _oracle(cfg):
    rows = []
    for i, f in enumerate(cfg.check_archs):
        d = _d(f)
        x = ck.sample_product_of_spheres(
            jax.random.fold_in(_key(cfg, STREAM_NT), i), cfg.check_n, d, f[0]
        )
        k, th = (np.asarray(a) for a in ck.cnn_kernels(x, x, f))
        kn, tn = ck.nt_cnn_kernels(x, f)
        off = ~np.eye(cfg.check_n, dtype=bool)
        rows.append(
            {
                "filters": list(f),
                "nngp_max_abs": float(np.max(np.abs(k - kn))),
                "ntk_max_abs": float(np.max(np.abs(th - tn))),
                "nngp_offdiag_max_abs": float(np.max(np.abs((k - kn)[off]))),
                "ntk_offdiag_max_abs": float(np.max(np.abs((th - tn)[off]))),
                "nngp_diag_err": float(np.max(np.abs(np.diag(k) - 1.0))),
                "ntk_diag_err": float(np.max(np.abs(np.diag(th) - (len(f) + 1)))),
            }
        )
    return rows


# ------------------------------------------------------------------------ 2. finite width
def _width_study(cfg):
    f = cfg.width_arch
    d = _d(f)
    with jax.enable_x64(True):
        x = ck.sample_product_of_spheres(_key(cfg, STREAM_WIDTH), cfg.width_n, d, f[0])
        k, th = (np.asarray(a) for a in ck.cnn_kernels(x, x, f))
    x32 = jnp.asarray(x, jnp.float32)
    out = {}
    variants = {"cnn": (True, True), "lcn": (False, True), "cnn_no_he": (True, False)}
    for name, (shared, he) in variants.items():
        ntk_err, nngp_err, ntk_shape_err, scale = [], [], [], []
        for w in progress.bar(cfg.widths, desc=f"width {name}"):
            model = nets.HierarchicalNet(filters=f, width=w, shared=shared, he_factor=he)

            @jax.jit
            def both(key, model=model):
                params = model.init(key, x32)
                return nets.empirical_ntk(model, params, x32), nets.empirical_nngp(
                    model, params, x32
                )

            e1, e2, e3, e4 = [], [], [], []
            for s in range(cfg.width_seeds):
                key = jax.random.fold_in(jax.random.fold_in(_key(cfg, STREAM_WIDTH), w), s)
                ent, eng = (np.asarray(a, np.float64) for a in both(key))
                e1.append(np.linalg.norm(ent - th) / np.linalg.norm(th))
                e2.append(np.linalg.norm(eng - k) / np.linalg.norm(k))
                c = np.sum(ent * th) / np.sum(ent * ent)  # best rescaling: is it only a scale?
                e3.append(np.linalg.norm(c * ent - th) / np.linalg.norm(th))
                e4.append(c)
            ntk_err.append(e1)
            nngp_err.append(e2)
            ntk_shape_err.append(e3)
            scale.append(e4)
        out[name] = {
            "ntk_rel_err": ntk_err,
            "nngp_rel_err": nngp_err,
            "ntk_rescaled_rel_err": ntk_shape_err,
            "ntk_best_scale": scale,
        }
    return out


def _slope_with_se(widths, errs, seed=0):
    """Slope of log mean error vs log width, with a bootstrap SE over seeds (errs: (W, S))."""
    return loglog_slope(widths, errs, seed=seed, ddof=0)


# ------------------------------------------------------------------------ 3. torus sectors
def _torus_study(cfg):
    out = []
    for f, n_grid in zip(cfg.torus, cfg.torus_grid, strict=True):
        n_patches = math.prod(f[1:])
        kmax = n_grid // 8  # aliasing: relative error < (1/7)^(2 nu + d_eff) below n_grid / 8
        ks = np.arange(1, kmax + 1)
        for kind in KINDS:
            if n_patches <= 3:
                coeff = S.torus_spectrum(f, n_grid, kind)
                lam = {
                    lv: coeff[tuple((S.diagonal_targets(f, lv, ks) % n_grid).T)]
                    for lv in range(1, len(f) + 1)
                }
                scatter = None
                if n_patches == 2:  # every eigenvalue by sector, for the scatter figure
                    idx = np.indices(coeff.shape).reshape(n_patches, -1).T
                    signed = np.where(idx >= n_grid // 2, idx - n_grid, idx)
                    norm = np.linalg.norm(signed, axis=1)
                    keep = (norm > 0) & (norm <= min(kmax, 48))  # keeps results.json small
                    sectors = [S.sector_of(k, f) for k in signed[keep]]
                    scatter = {
                        "norm": norm[keep].tolist(),
                        "value": coeff.reshape(-1)[keep].tolist(),
                        "sector": sectors,
                    }
            else:
                # one slab pass for every level's targets (the pass, not the targets, costs)
                levels = range(1, len(f) + 1)
                targets = np.concatenate([S.diagonal_targets(f, lv, ks) for lv in levels])
                vals = S.torus_eigenvalues_at(f, n_grid, kind, targets).reshape(len(f), -1)
                lam = dict(zip(levels, vals, strict=True))
                scatter = None
            row = {
                "filters": list(f),
                "kind": kind,
                "n_grid": n_grid,
                "k": ks.tolist(),
                "sectors": {},
                "scatter": scatter,
            }
            for lv, vals in lam.items():
                vals = np.asarray(vals)
                fits = {}
                for parity in ("even", "odd"):
                    sel = (ks % 2 == 0) if parity == "even" else (ks % 2 == 1)
                    top = sel & (ks >= kmax // 4)  # the top two octaves below the aliasing cut
                    kk, vv = ks[top], vals[top]
                    vanishing = bool(np.all(np.abs(vals[sel & (ks >= 3)]) < 1e-13))
                    slope = S.fit_power_law(kk, vv)[0] if not vanishing else float("nan")
                    fits[parity] = {
                        "exponent": -slope,
                        "vanishing": vanishing,
                        "k_range": [int(kk.min()), int(kk.max())],
                    }
                row["sectors"][str(lv)] = {
                    "values": vals.tolist(),
                    "theory": S.sector_exponent(kind, f, lv),
                    "d_eff": S.d_eff(f, lv),
                    "fits": fits,
                }
            out.append(row)
    return out


# ------------------------------------------------------------------------ 4. rank-ordered
def _rank_window(n):
    # above the degenerate low-degree plateaus, below the ranks where the Gram estimator's tail
    # departs from the operator's (~ n / 4 against the exact torus eigenvalues)
    return max(8, n // 64), max(32, n // 8)


def _rank_study(cfg):
    out = []
    archs = list(cfg.rank_archs)
    for i, f in enumerate(progress.bar(archs, desc="rank spectra")):
        d = _d(f)
        x = ck.sample_product_of_spheres(
            jax.random.fold_in(_key(cfg, STREAM_RANK), i), cfg.rank_n, d, f[0]
        )
        k, th = G.cnn_gram(x, x, f)
        lo, hi = _rank_window(cfg.rank_n)
        ranks = np.arange(1, cfg.rank_n + 1)
        for kind, gram in (("nngp", k), ("ntk", th)):
            ev = S.gram_spectrum(gram)
            del gram
            sel = (ranks >= lo) & (ranks <= hi)
            slope = -S.fit_power_law(ranks[sel], ev[sel])[0]
            row = {
                "filters": list(f),
                "kind": kind,
                "slope": slope,
                "window": [lo, hi],
                "theory": S.rank_slope(kind, f),
                "theory_lower": S.rank_slope(kind, f, len(f) - 1) if len(f) > 1 else None,
                "eigenvalues": _thin(ev),
            }
            if f[0] == 2 and math.prod(f[1:]) <= 4:
                grid = {1: 1024, 2: 256, 3: 96}.get(
                    math.prod(f[1:]), 48 if cfg.rank_n < 4096 else 64
                )
                exact = np.sort(S.torus_spectrum(f, grid, kind).reshape(-1))[::-1]
                m = min(hi, exact.size)
                rel = np.abs(ev[:m] - exact[:m]) / exact[:m]
                row["exact_eigenvalues"] = _thin(exact[: cfg.rank_n])
                row["gram_vs_exact_median_rel"] = float(np.median(rel[lo - 1 : m]))
            out.append(row)
        del k, th
    # fully-connected contrast on the deepest s = 2 architecture's inputs
    f = max((a for a in archs if a[0] == 2), key=len, default=archs[0])
    x = ck.sample_product_of_spheres(
        jax.random.fold_in(_key(cfg, STREAM_RANK), 99), cfg.rank_n, _d(f), f[0]
    )
    with jax.enable_x64(True):
        kf, tf = ck.fc_kernels(x, x, cfg.fc_depth)
    lo, hi = _rank_window(cfg.rank_n)
    ranks = np.arange(1, cfg.rank_n + 1)
    for kind, gram in (("nngp", kf), ("ntk", tf)):
        ev = S.gram_spectrum(gram)
        sel = (ranks >= lo) & (ranks <= hi)
        out.append(
            {
                "filters": ["fc", cfg.fc_depth, _d(f)],
                "kind": kind,
                "slope": -S.fit_power_law(ranks[sel], ev[sel])[0],
                "window": [lo, hi],
                "theory": None,
                "theory_lower": None,
                "eigenvalues": _thin(ev),
            }
        )
    return out


def _thin(ev, n_keep: int = 400):
    """Log-spaced subsample of a rank-ordered list: [[rank, value], ...] for the figure."""
    ranks = np.unique(np.round(np.geomspace(1, len(ev), n_keep)).astype(int))
    return [[int(r), float(ev[r - 1])] for r in ranks]


# ------------------------------------------------------------------------ 5. scale
def _peak_bytes(fn, *args):
    b = memory.compiled_bytes(fn, *args)
    return float("nan") if b is None else float(sum(b.values()))


def _scale_study(cfg):
    f = cfg.scale_arch
    d = _d(f)
    rows, timing = [], {}
    for n in progress.bar(cfg.scale_n, desc="scale"):
        x = ck.sample_product_of_spheres(jax.random.fold_in(_key(cfg, STREAM_SCALE), n), n, d, f[0])
        t0 = time.perf_counter()
        k, th = G.cnn_gram(x, x, f)
        th.block_until_ready()
        t1 = time.perf_counter()
        ev = S.gram_spectrum(th)
        t2 = time.perf_counter()
        rows.append(
            {"n": n, "ntk_top_eigenvalue": float(ev[0]), "ntk_min_eigenvalue": float(ev[-1])}
        )
        timing[f"gram_s_n{n}"] = t1 - t0
        timing[f"eigh_s_n{n}"] = t2 - t1
        del k, th, ev
    # ours vs the authors' approach at the same n (each timed best of 3 in this process)
    n = cfg.compare_n
    x = ck.sample_product_of_spheres(jax.random.fold_in(_key(cfg, STREAM_SCALE), 0), n, d, f[0])
    ours = jax.jit(lambda a: G.cnn_gram_reference(a, a, f))
    theirs = jax.jit(lambda a: ck.cnn_kernels(a, a, f))

    # best of 3 after a compiling call, interleaved (runtime.timing)
    ts, _ = time_fns({"ours": ours, "theirs": theirs}, x, repeats=3)
    t_ours, t_theirs = ts["ours"].min_s, ts["theirs"].min_s
    mem_ours = _peak_bytes(lambda a: G.cnn_gram_reference(a, a, f), x)
    mem_theirs = _peak_bytes(lambda a: ck.cnn_kernels(a, a, f), x)
    timing["compare_time_ratio_materialised_over_blocked"] = t_theirs / t_ours
    if jax.default_backend() != "cpu":  # the compiled Pallas tile kernel against the XLA path
        pallas = jax.jit(lambda a: G.cnn_gram_pallas(a, a, f))
        tp, _ = time_fns({"ours": ours, "pallas": pallas}, x, repeats=3)
        timing["compare_time_ratio_xla_blocked_over_pallas"] = tp["ours"].min_s / tp["pallas"].min_s
    compare = {
        "n": n,
        "bytes_blocked": mem_ours,
        "bytes_materialised": mem_theirs,
        "memory_ratio": mem_theirs / mem_ours,
    }
    return rows, compare, timing


# ------------------------------------------------------------------------ run
def run(cfg: Config) -> dict:
    t0 = time.perf_counter()
    with jax.enable_x64(True):
        oracle = _oracle(cfg)
    width = _width_study(cfg)
    torus = _torus_study(cfg)
    with jax.enable_x64(True):
        rank = _rank_study(cfg)
        scale, compare, timing = _scale_study(cfg)
    slopes = {}
    for name, v in width.items():
        for which in ("ntk_rel_err", "nngp_rel_err", "ntk_rescaled_rel_err"):
            s, se = _slope_with_se(cfg.widths, v[which], seed=cfg.seed)
            slopes[f"{name}_{which}"] = {"slope": s, "se": se}
    metrics = {
        "oracle": oracle,
        "width_slopes": slopes,
        "width_scale": {name: v["ntk_best_scale"][-1] for name, v in width.items()},
        "width_largest": {
            name: {k: float(np.mean(v[k][-1])) for k in v} for name, v in width.items()
        },
        "torus": [{kk: vv for kk, vv in r.items() if kk != "scatter"} for r in torus],
        "rank": [
            {kk: vv for kk, vv in r.items() if kk not in ("eigenvalues", "exact_eigenvalues")}
            for r in rank
        ],
        "scale": scale,
        "largest_n": max(r["n"] for r in scale),
        "compare": compare,
    }
    series = {
        "widths": list(cfg.widths),
        "width": width,
        "torus_scatter": [
            {"filters": r["filters"], "kind": r["kind"], "scatter": r["scatter"]}
            for r in torus
            if r["scatter"] is not None
        ],
        "rank_eigenvalues": [
            {
                "filters": r["filters"],
                "kind": r["kind"],
                "eigenvalues": r["eigenvalues"],
                "exact": r.get("exact_eigenvalues"),
            }
            for r in rank
        ],
    }
    timing["total_s"] = time.perf_counter() - t0
    return {"metrics": metrics, "series": series, "timing": timing}


# ------------------------------------------------------------------------ claims
def check_claims(results: dict) -> list[dict]:
    m = results["metrics"]
    rows = []
    # float64: entries agree to rounding except on the diagonal, where t = x.x is 1 +- a few ulp
    # and kappa_0 has a square-root cusp: arccos(1 - e) ~ sqrt(2 e) ~ 2e-8 per layer for e ~ 2e-16;
    # the NTK sums L + 1 such terms: 1e-7 covers L <= 4.
    tol = 1e-7
    worst = max(max(r["nngp_max_abs"], r["ntk_max_abs"]) for r in m["oracle"])
    worst_off = max(max(r["nngp_offdiag_max_abs"], r["ntk_offdiag_max_abs"]) for r in m["oracle"])
    archs = ", ".join(str(tuple(r["filters"])) for r in m["oracle"])
    rows.append(
        C.claim(
            "kernel_equals_neural_tangents",
            "analytic NNGP and NTK = neural-tangents stax kernels",
            (
                "theory.cnn_kernels.nt_cnn_kernels (neural-tangents "
                "stax, the reference implementation)"
            ),
            0.0,
            worst,
            f"max abs <= {tol:g}",
            worst <= tol,
            f"filters {archs}; off-diagonal max {worst_off:.1e}",
            kind=C.CHECK,
            source=C.DERIVED,
        )
    )
    inv = max(max(r["nngp_diag_err"], r["ntk_diag_err"]) for r in m["oracle"])
    rows.append(
        C.claim(
            "kernel_invariants",
            "NNGP diagonal = 1, NTK diagonal = L + 1",
            "Sec. 2 (normalised inputs: NNGP diagonal 1, NTK diagonal L + 1)",
            0.0,
            inv,
            f"max abs <= {tol:g}",
            inv <= tol,
            f"filters {archs}",
            kind=C.CHECK,
            source=C.PAPER,
        )
    )
    # Finite width: fluctuations of a sum over `width` i.i.d. units -> slope -1/2. The competing
    # hypotheses are -1 (bias-dominated) and 0 (no convergence): gap 1/2, tolerance
    # max(3 bootstrap SE, gap / 2) = 0.25 unless the SE is larger.
    for name, label in (("cnn", "CNN"), ("lcn", "locally connected net")):
        for which, kern in (("ntk_rel_err", "NTK"), ("nngp_rel_err", "NNGP")):
            s = m["width_slopes"][f"{name}_{which}"]
            # The fit must tell -1/2 apart from -1 and 0 (gap 1/2 either side): the band is
            # -1/2 +- 1/4 and the interval slope +- 3 SE must lie inside it.
            d = stats.rate_decision(s["slope"], s["se"], target=-0.5, alternative=0.0)
            rows.append(
                C.claim(
                    f"finite_width_{name}_{kern.lower()}",
                    f"empirical {kern} of a finite {label} -> analytic {kern}, error ~ width^-1/2",
                    "Sec. 2 (the kernel limit our kernels are the limit of)",
                    -0.5,
                    s["slope"],
                    "slope +- 3 SE inside -1/2 +- 1/4 (gap to -1 and to 0)",
                    d.verdict == stats.INSIDE,
                    f"{d.text()}; relative Frobenius error at the largest width "
                    f"{m['width_largest'][name][which]:.3g}; bootstrap SE {s['se']:.3f}",
                    kind=C.CHECK,
                    source=C.PAPER,
                    # an interval straddling the band cannot decide (few seeds or widths)
                    status=C.check_status(d.verdict),
                    decide="more seeds (SE ~ 1/sqrt(seeds)) or wider widths, until 3 SE < 1/4"
                    if d.verdict == stats.UNDECIDED
                    else "",
                )
            )
    nohe = m["width_largest"]["cnn_no_he"]
    he = m["width_largest"]["cnn"]
    # The authors' nets omit the sqrt(2) He factor. With identical weights a ReLU net is
    # positively homogeneous, so their output is 2^(-L/2) times ours and their empirical NTK
    # exactly 2^-L times ours: the analytic NTK is matched up to that factor (immaterial for
    # ridgeless regression; a learning-rate rescaling for gradient descent). Measured: the best
    # rescaling c of their empirical NTK onto the analytic one at the largest width, against 2^L.
    # Tolerance: 3 SE over seeds, or the O(1/width) bias of a ratio estimator (2^L x 4 / width),
    # whichever is larger.
    L = len(results["config"]["width_arch"])
    scales = np.asarray(m["width_scale"]["cnn_no_he"])
    c_mean, c_se = float(scales.mean()), float(scales.std() / np.sqrt(scales.size))
    w_max = results["config"]["widths"][-1]
    tol_c = max(3 * c_se, 2**L * 4 / w_max)
    resc = m["width_slopes"]["cnn_no_he_ntk_rescaled_rel_err"]
    rows.append(
        C.claim(
            "authors_nets_ntk_scale",
            "the authors' finite nets (no sqrt 2 He factor) give the analytic NTK times 2^-L",
            (
                "our derivation (ReLU homogeneity; the comment in "
                "experiments.cnn_ntk_spectrum.check_claims) for the authors' network_functions.py"
            ),
            2.0**L,
            c_mean,
            f"+-{tol_c:.3g}",
            C.within(c_mean, 2.0**L, tol_c),
            f"best rescaling at width {w_max}; unscaled rel. error {nohe['ntk_rel_err']:.3g} vs "
            f"{he['ntk_rel_err']:.3g} with the factor; after rescaling "
            f"{nohe['ntk_rescaled_rel_err']:.3g}, "
            f"falling like width^{resc['slope']:.2f}",
            kind=C.CHECK,
            source=C.DERIVED,
        )
    )
    # Sector exponents (exact Fourier coefficients, no sampling noise). What the fit can be
    # confused with is a neighbouring sector's exponent (they differ by d_eff(l+1) - d_eff(l) >= 1
    # here) or the same sector with the other kernel's nu (differs by 2): tolerance = half the
    # gap to the nearest such alternative.
    for r in m["torus"]:
        f = r["filters"]
        theories = {int(lv): s["theory"] for lv, s in r["sectors"].items()}
        for lv, s in r["sectors"].items():
            others = [t for l2, t in theories.items() if l2 != int(lv)] + [
                s["theory"] + 2 * (-1 if r["kind"] == "nngp" else 1)
            ]
            gap = min(abs(s["theory"] - t) for t in others)
            for parity, fit in s["fits"].items():
                if fit["vanishing"]:
                    rows.append(
                        C.claim(
                            f"sector_{r['kind']}_{'x'.join(map(str, f))}_l{lv}_{parity}",
                            f"{r['kind'].upper()} filters {tuple(f)}: sector {lv}, "
                            f"{parity} degrees",
                            (
                                "Sec. 3: sector eigenvalues ~ k^-(2 nu + d_eff(l)), "
                                "evaluated by theory.cnn_spectra.sector_exponent"
                            ),
                            s["theory"],
                            None,
                            "—",
                            None,
                            "eigenvalues vanish: no exponent to fit",
                            kind=C.MEASUREMENT,
                            source=C.NONE,
                        )
                    )
                    continue
                rows.append(
                    C.claim(
                        f"sector_{r['kind']}_{'x'.join(map(str, f))}_l{lv}_{parity}",
                        f"{r['kind'].upper()} filters {tuple(f)}: sector {lv} "
                        f"(d_eff = {s['d_eff']}) "
                        f"eigenvalues ~ k^-(2 nu + d_eff), {parity} k",
                        (
                            "Sec. 3: sector eigenvalues ~ k^-(2 nu + d_eff(l)), "
                            "evaluated by theory.cnn_spectra.sector_exponent"
                        ),
                        s["theory"],
                        fit["exponent"],
                        f"+-{gap / 2:.3g}",
                        C.within(fit["exponent"], s["theory"], gap / 2),
                        f"exact torus Fourier coefficients, grid {r['n_grid']}, "
                        "diagonal direction, "
                        f"fit k in {fit['k_range']}",
                        kind=C.CLAIM,
                        source=C.PAPER,
                    )
                )
    # Rank-ordered slope: the alternative is the next-lower sector's slope (what the spectrum
    # would show if the top sector did not dominate): tolerance = half that gap.
    for r in m["rank"]:
        if r["theory"] is None:
            rows.append(
                C.claim(
                    f"rank_slope_{r['kind']}_fc",
                    f"fully-connected {r['kind'].upper()} (contrast), "
                    f"depth {r['filters'][1]}, d = {r['filters'][2]}",
                    "fully connected contrast (no paper value)",
                    None,
                    r["slope"],
                    "—",
                    None,
                    f"ranks {r['window']}",
                    kind=C.MEASUREMENT,
                    source=C.NONE,
                )
            )
            continue
        gap = abs(r["theory"] - r["theory_lower"]) if r["theory_lower"] else 0.25
        f = r["filters"]
        ev = f"Gram eigenvalues / n, n = {results['config']['rank_n']}, ranks {r['window']}"
        if "gram_vs_exact_median_rel" in r:
            dev = r["gram_vs_exact_median_rel"]
            ev += f"; median rel. deviation from the exact torus eigenvalues {dev:.2g}"
        rows.append(
            C.claim(
                f"rank_slope_{r['kind']}_{'x'.join(map(str, f))}",
                f"{r['kind'].upper()} filters {tuple(f)}: rank-ordered eigenvalues ~ "
                f"rho^-(1 + 2 nu / d_eff(L))",
                "theory.cnn_spectra.rank_slope (our derivation from Sec. 3's sector exponents)",
                r["theory"],
                r["slope"],
                f"+-{gap / 2:.3g}",
                C.within(r["slope"], r["theory"], gap / 2),
                ev,
                kind=C.CLAIM,
                source=C.DERIVED,
            )
        )
    cmp = m["compare"]
    rows.append(
        C.claim(
            "scale_largest_n",
            "largest n for Gram + eigendecomposition on this machine",
            "this machine (the authors' README: n = 8192 needs up to 200 GB)",
            None,
            m["largest_n"],
            "—",
            None,
            f"filters {tuple(results['config']['scale_arch'])}, float64, row-blocked Gram",
            kind=C.MEASUREMENT,
            source=C.NONE,
        )
    )
    rows.append(
        C.claim(
            "scale_memory_ratio",
            "peak memory: materialised per-level arrays / row-blocked",
            "vs the authors' kernel_functions.py approach (materialised per-level arrays)",
            None,
            cmp["memory_ratio"],
            "—",
            None,
            f"n = {cmp['n']}: {cmp['bytes_materialised'] / 2**20:.0f} MiB vs "
            f"{cmp['bytes_blocked'] / 2**20:.0f} MiB (XLA buffer assignment)",
            kind=C.MEASUREMENT,
            source=C.NONE,
        )
    )
    return rows


# ------------------------------------------------------------------------ figures
def plot(results: dict, out_dir) -> None:
    import matplotlib.pyplot as plt

    m, s = results["metrics"], results["series"]
    with plotting.style():
        # sector-resolved torus spectra, diagonal direction, with theory lines
        torus = m["torus"]
        archs = []
        for r in torus:
            if r["filters"] not in archs:
                archs.append(r["filters"])
        fig, axes = plt.subplots(2, len(archs), figsize=(4.2 * len(archs), 7), squeeze=False)
        for j, f in enumerate(archs):
            for i, kind in enumerate(KINDS):
                ax = axes[i, j]
                r = next(t for t in torus if t["filters"] == f and t["kind"] == kind)
                ks = np.asarray(r["k"])
                for c, (lv, sec) in enumerate(sorted(r["sectors"].items())):
                    vals = np.asarray(sec["values"])
                    for parity, mk in (("even", "o"), ("odd", "^")):
                        sel = (ks % 2 == 0) if parity == "even" else (ks % 2 == 1)
                        ok = sel & (vals > 0)
                        ax.loglog(
                            ks[ok],
                            vals[ok],
                            mk,
                            ms=3.5,
                            color=plotting.color(c),
                            mfc="none" if parity == "odd" else None,
                            label=f"sector {lv} ({parity})",
                        )
                    fit = sec["fits"]["even"]
                    k0 = fit["k_range"][0]
                    if np.any(ks == k0):  # guide line 2x above the data, slope = theory
                        kk = np.asarray([max(2.0, k0 / 4), ks.max()], float)
                        ref = 2 * vals[ks == k0][0]
                        ax.loglog(
                            kk,
                            ref * (kk / k0) ** (-sec["theory"]),
                            "--",
                            lw=1,
                            color=plotting.color(c),
                        )
                ax.set_title(f"{kind.upper()}, filters {tuple(f)}")
                ax.set_xlabel("degree k (diagonal direction)")
                ax.set_ylabel("eigenvalue")
                ax.legend(fontsize=7, ncol=1)
        fig.suptitle(
            "Exact sector spectra on the torus (markers); dashed: slope $-(2\\nu + d_{eff}(l))$"
        )
        fig.tight_layout()
        plotting.savefig(fig, out_dir, "sector_spectra")

        # full scatter of one 2-D torus: every eigenvalue coloured by sector
        if s["torus_scatter"]:
            sc = s["torus_scatter"]
            fig, axes = plt.subplots(1, len(sc), figsize=(4 * len(sc), 3.6), squeeze=False)
            for ax, r in zip(axes[0], sc, strict=True):
                v = np.asarray(r["scatter"]["value"])
                nrm = np.asarray(r["scatter"]["norm"])
                sec = np.asarray(r["scatter"]["sector"])
                for lv in np.unique(sec):
                    ok = (sec == lv) & (v > 1e-16)
                    ax.loglog(
                        nrm[ok],
                        v[ok],
                        ".",
                        ms=1.5,
                        color=plotting.color(int(lv) - 1),
                        label=f"sector {lv}",
                        rasterized=True,
                    )
                ax.set_title(f"{r['kind'].upper()} {tuple(r['filters'])}", fontsize=9)
                ax.set_xlabel("|k|")
                ax.legend(fontsize=7, markerscale=5)
            axes[0, 0].set_ylabel("eigenvalue")
            fig.suptitle("Every torus eigenvalue, by sector")
            fig.tight_layout()
            plotting.savefig(fig, out_dir, "sector_scatter")

        # rank-ordered spectra
        rk = s["rank_eigenvalues"]
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for ax, kind in zip(axes, KINDS, strict=True):
            c = 0
            for r, met in zip(rk, m["rank"], strict=True):
                if r["kind"] != kind:
                    continue
                ev = np.asarray(r["eigenvalues"])
                lab = (
                    f"FC depth {r['filters'][1]}"
                    if r["filters"][0] == "fc"
                    else f"{tuple(r['filters'])}"
                )
                ax.loglog(
                    ev[:, 0],
                    ev[:, 1],
                    "-",
                    color=plotting.color(c),
                    label=f"{lab}: slope {met['slope']:.2f}"
                    + (f" (th. {met['theory']:.2f})" if met["theory"] else ""),
                )
                if r["exact"]:
                    ex = np.asarray(r["exact"])
                    ax.loglog(ex[:, 0], ex[:, 1], ":", color=plotting.color(c), lw=1)
                if met["theory"]:
                    lo, hi = met["window"]
                    rr = np.asarray([lo, hi], float)
                    y0 = np.interp(np.log(lo), np.log(ev[:, 0]), np.log(ev[:, 1]))
                    ax.loglog(
                        rr,
                        np.exp(y0) * 1.8 * (rr / lo) ** (-met["theory"]),
                        "--",
                        color=plotting.color(c),
                        lw=1,
                    )
                c += 1
            ax.set_title(f"{kind.upper()}: Gram eigenvalues / n (dotted: exact torus)")
            ax.set_xlabel("rank")
            ax.set_ylabel("eigenvalue")
            ax.legend(fontsize=7)
        fig.tight_layout()
        plotting.savefig(fig, out_dir, "rank_spectra")

        # finite width
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        w = np.asarray(s["widths"], float)
        for ax, which, kern in ((axes[0], "ntk_rel_err", "NTK"), (axes[1], "nngp_rel_err", "NNGP")):
            for c, (name, lab) in enumerate(
                (
                    ("cnn", "CNN"),
                    ("lcn", "LCN"),
                    ("cnn_no_he", "no He factor (authors' nets), unscaled"),
                )
            ):
                e = np.asarray(s["width"][name][which])
                ax.errorbar(
                    w,
                    e.mean(1),
                    yerr=e.std(1) / np.sqrt(e.shape[1]),
                    marker=plotting.MARKERS[c],
                    color=plotting.color(c),
                    label=lab,
                    capsize=2,
                )
            if which == "ntk_rel_err":
                e = np.asarray(s["width"]["cnn_no_he"]["ntk_rescaled_rel_err"])
                ax.plot(
                    w,
                    e.mean(1),
                    ":",
                    marker=plotting.MARKERS[2],
                    color=plotting.color(2),
                    mfc="none",
                    label="no He factor, after the best rescaling",
                )
            e0 = np.asarray(s["width"]["cnn"][which]).mean(1)[0]
            ax.plot(w, e0 * (w / w[0]) ** -0.5, "k--", lw=1, label="width$^{-1/2}$")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("width (channels)")
            ax.set_ylabel(f"relative error of the empirical {kern}")
            ax.legend(fontsize=7)
        fig.tight_layout()
        plotting.savefig(fig, out_dir, "finite_width")


def main(argv: list[str] | None = None) -> int:
    return cli.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    cli.exit_script(main())
