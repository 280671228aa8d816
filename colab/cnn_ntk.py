# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # What can be learnt with wide CNNs: kernels, spectra, learning curves
#
# Cagnetta, Favero, Wyart, *What Can Be Learnt With Wide Convolutional Neural Networks?*, ICML
# 2023 (arXiv:2208.01003v5). This notebook builds the infinite-width NNGP and NTK of a hierarchical
# CNN (non-overlapping patches), checks them against a finite network, resolves the spectrum into
# the paper's sectors, and runs a small teacher-student experiment. Everything lives in
# `theory/cnn_kernels.py`, `theory/cnn_spectra.py`, `models/cnn_nets.py`, `kernels/cnn_gram.py`
# and `experiments/cnn_ntk_spectrum.py` / `experiments/cnn_learning_curves.py`.
#
# Set `QUICK = False` (or the environment variable `NOTEBOOK_QUICK=0`) for larger sizes.

# %%
# Setup. Locally it uses the checkout this notebook sits in (`make setup` installs it). In
# Colab it needs a checkout at MEMLEARN_REPO (default /content/memlearn; a copy on a mounted
# Drive works), cloned there from REPO_URL below if missing; it then installs the pinned
# requirements and the Debian data packages the experiments read (Fashion-MNIST).
import os
import pathlib
import subprocess
import sys

REPO_URL = os.environ.get("MEMLEARN_REPO_URL", "")  # or paste the repository's git URL here

if "google.colab" in sys.modules:
    repo = pathlib.Path(os.environ.get("MEMLEARN_REPO", "/content/memlearn"))
    if not (repo / "WORKSPACE.md").exists():
        if not REPO_URL:
            raise SystemExit(
                f"setup: no checkout at {repo}: set REPO_URL in this cell to the repository's git "
                "URL (or the environment variable MEMLEARN_REPO to a checkout) and run it again"
            )
        subprocess.run(["git", "clone", "--depth", "1", REPO_URL, str(repo)], check=True)
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps"]
    subprocess.run([*pip, "-r", str(repo / "requirements.lock")], check=True)
    listed = [sys.executable, str(repo / "tools" / "debian_packages.py")]
    debs = subprocess.run(listed, capture_output=True, text=True, check=True).stdout.split()
    missing = [d for d in debs if subprocess.run(["dpkg", "-s", d], capture_output=True).returncode]
    if missing:  # only what is missing: apt needs the network and root (both there in Colab)
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=False)
else:
    here = pathlib.Path.cwd()
    repo = next((p for p in [here, *here.parents] if (p / "WORKSPACE.md").exists()), None)
    if repo is None:
        raise SystemExit(f"setup: {here} is not inside a checkout of this repository")
os.chdir(repo)
sys.path.insert(0, str(repo))
QUICK = os.environ.get("NOTEBOOK_QUICK", "1") == "1"
# The XLA flags this jaxlib needs (runtime/xla_flags.py) must be set before jax starts its
# backend: importing runtime first sets them, and refuses if jax already started without them.
# %%
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

import runtime  # noqa: F401
from kernels import cnn_gram
from models import cnn_nets as nets
from theory import cnn_kernels as ck
from theory import cnn_spectra as S

jax.config.update("jax_enable_x64", True)  # arccos near 1 needs float64
filters = (2, 2, 2)  # depth L = 3, binary filters: d = 8, four circles as input patches
d = int(np.prod(filters))
x = ck.sample_product_of_spheres(jax.random.key(0), 6, d, filters[0])
nngp, ntk = ck.cnn_kernels(x, x, filters)
print("NNGP diagonal", np.round(np.diag(nngp), 6), " NTK diagonal", np.round(np.diag(ntk), 6))

# %% [markdown]
# A finite network of the same architecture (flax), at growing width: its empirical NTK approaches
# the analytic one like width^-1/2.

# %%
x32 = jnp.asarray(x, jnp.float32)
widths = [16, 64, 256] if QUICK else [16, 64, 256, 1024, 4096]
errs = []
for w in widths:
    model = nets.HierarchicalNet(filters=filters, width=w)
    e = [
        np.linalg.norm(nets.empirical_ntk(model, model.init(jax.random.key(s), x32), x32) - ntk)
        / np.linalg.norm(ntk)
        for s in range(3)
    ]
    errs.append(np.mean(e))
    print(f"width {w:5d}: relative NTK error {errs[-1]:.3f}")

# %% [markdown]
# Sectors. With patches of size 2 every patch is a circle, the kernel is translation-invariant on
# the torus and its Fourier coefficients are its eigenvalues. An eigenfunction's sector is the
# smallest meta-patch containing all its non-zero degrees; sector l decays like
# k^-(2 nu + d_eff(l)), d_eff(l) = (s_1 - 1) s_2 ... s_l, nu = 1/2 (NTK), 3/2 (NNGP).

# %%
grid = 256 if QUICK else 1024
coeff = S.torus_spectrum((2, 2), grid, "ntk")
ks = np.arange(1, grid // 8 + 1)
fig, ax = plt.subplots(figsize=(5, 3.6))
for lv in (1, 2):
    vals = coeff[tuple((S.diagonal_targets((2, 2), lv, ks) % grid).T)]
    ax.loglog(
        ks,
        vals,
        "o",
        ms=3,
        label=f"sector {lv}: theory slope -{S.sector_exponent('ntk', (2, 2), lv):g}",
    )
    ax.loglog(
        ks, 2 * vals[-1] * (ks / ks[-1]) ** -S.sector_exponent("ntk", (2, 2), lv), "k--", lw=0.8
    )
ax.set_xlabel("degree k")
ax.set_ylabel("NTK eigenvalue")
ax.legend(fontsize=8)
display(fig)
plt.close(fig)

# %% [markdown]
# Teacher-student: a Gaussian random field drawn from a *local* teacher (a CNN looking at 2 input
# coordinates at a time) and from the *full* teacher, learnt by ridgeless regression with the
# hierarchical student. The local target is learnt much faster, as the paper predicts.

# %%
filters = (2, 2, 2, 2)
d = 16
n_max, n_test = (512, 512) if QUICK else (2048, 1024)
sizes = [n for n in (32, 64, 128, 256, 512, 1024, 2048) if n <= n_max]
xs = ck.sample_product_of_spheres(jax.random.key(1), n_max + n_test, d, 2)
student = cnn_gram.cnn_gram(xs, xs, filters)[1]
fig, ax = plt.subplots(figsize=(5, 3.6))
for i, tf in enumerate([(2,), (2, 2, 2, 2)]):
    teacher = cnn_gram.cnn_gram(xs, xs, tf)[1]
    y = S.sample_grf(jax.random.key(2 + i), teacher)
    e = S.ridgeless_errors(
        student[:n_max, :n_max], student[n_max:, :n_max], y[:, :n_max], y[:, n_max:], sizes
    )[0] / float(jnp.mean(jnp.diag(teacher)))
    beta = -S.fit_power_law(sizes, np.asarray(e))[0]
    th = S.learning_curve_exponent("ntk", S.d_eff(tf, len(tf)), "ntk", S.d_eff(filters, 4))
    ax.loglog(sizes, e, "o-", label=f"teacher {tf}: beta = {beta:.2f} (theory {th:.2f})")
ax.set_xlabel("n")
ax.set_ylabel("test MSE / teacher variance")
ax.legend(fontsize=8)
display(fig)
plt.close(fig)

# %% [markdown]
# The full experiments (all sectors, rank-ordered spectra at n = 8192, several teachers, seeds and
# the dimension sweep) are `python -m experiments.cnn_ntk_spectrum --preset full` and
# `python -m experiments.cnn_learning_curves --preset full`; their claims are in
# `papers_repro/cagnetta2023_wide_cnn.md`.
