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
# # Sequential Bayesian inference for continual learning: exact, and with HMC
#
# Kessler, Cobb, Rudner, Zohren, Roberts, *On Sequential Bayesian Inference for Continual
# Learning*, Entropy 2023 (arXiv:2301.01828). Exact sequential inference equals the joint
# posterior, yet a misspecified model forgets and a small task is outweighed by a large one;
# with a Bayesian neural network, HMC posteriors propagated as the next task's prior through a
# fitted density forget about as much as no propagation at all. The code lives in
# `theory/sequential_bayes.py`, `models/bnn.py`, `models/density.py`, `models/hmc.py` and
# `experiments/seqbayes_hmc.py`.
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

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

import runtime  # noqa: F401
from experiments import seqbayes_hmc as E
from models import bnn, density, hmc
from theory import sequential_bayes as SB

# %% [markdown]
# ## Exact inference: sequential = joint, and still forgetting
#
# Task 1 samples f(x) = |x| on x < 0, task 2 on x > 0. Linear features (1, x) fit each task but
# not both; hinge features (1, x, |x|) fit both. Task 1's expected excess risk after each task,
# in closed form (`SB.expected_risk`, derivation in the module docstring):

# %%
n, s2, v0 = 40, 0.25, 4.0
with jax.enable_x64(True):
    x1 = jax.random.uniform(jax.random.key(0), (n,), jnp.float64, -2.0, 0.0)
    x2 = jax.random.uniform(jax.random.key(1), (n,), jnp.float64, 0.0, 2.0)
    for kind in SB.FEATURES:
        p = SB.features(kind, x1).shape[1]
        m0, c0 = jnp.zeros(p), v0 * jnp.eye(p)
        mom = SB.task_moments(kind, -2.0, 0.0)
        phi1, phi12 = SB.features(kind, x1), SB.features(kind, jnp.concatenate([x1, x2]))
        after1 = float(SB.expected_risk(m0, c0, phi1, SB.target(x1), s2, mom)) - s2
        f12 = SB.target(jnp.concatenate([x1, x2]))
        after2 = float(SB.expected_risk(m0, c0, phi12, f12, s2, mom)) - s2
        print(f"{kind:6s} features: task 1 excess risk {after1:.4f} -> {after2:.4f}")
    ratios = np.geomspace(0.1, 1000, 30)
    bias, var = SB.imbalance(20, 20 * ratios, 1.0, -1.0, s2, v0)
fig, ax = plt.subplots(figsize=(4.2, 3))
ax.plot(ratios, np.asarray(bias) / -2.0)
ax.set_xscale("log")
ax.set_xlabel("N2 / N1")
ax.set_ylabel("bias of task 1's mean / (mu2 - mu1)")
ax.set_title("task imbalance, exact inference")
display(fig)
plt.close(fig)

# %% [markdown]
# ## HMC on the 2-D toy: propagate the posterior, or not
#
# The authors' blobs, a 2-10-10-2 MLP with prior N(0, I/10), NUTS with a dense mass matrix
# (`models.hmc.Sampler`: one compiled program for every task and prior). Propagation: none, a
# full-covariance Gaussian fitted to the draws; the joint posterior as the reference. The full
# preset (`python -m experiments.seqbayes_hmc --preset full`, hours on 2 cores) adds a diagonal
# Gaussian, a Gaussian mixture (`models.density`) and the paper's RealNVP flow
# (`models.flow.fit`; a flow prior needs its own sampler:
# `hmc.Sampler(..., prior_log_density=models.flow.log_density)`).

# %%
cfg = E.PRESETS["smoke" if QUICK else "quick"]
mlp = bnn.MLP(2, cfg.hidden, 2)
data = E.toy_tasks(cfg, 0)
kw = dict(chains=cfg.chains, warmup=cfg.warmup, samples=cfg.samples,
          max_tree_depth=cfg.max_tree_depth)  # fmt: skip
sampler = hmc.Sampler(mlp, kind="nuts", **kw)
iso = bnn.isotropic(mlp.size, cfg.prior_precision, cfg.k_max)
# every run sees all tasks' data, weighted 0 outside the tasks it is given: one compiled sampler
xs, ys = data["pooled"]
per = data["train"][0][1].shape[0]
idx = jnp.arange(ys.shape[0])


def posterior(prior, tasks, key):
    w = sum((idx // per == t) for t in tasks).astype(jnp.float32)
    init = bnn.sample(prior, jax.random.fold_in(key, 0), cfg.chains)
    return sampler.run(jax.random.fold_in(key, 1), xs, ys, w, prior, init).draws


acc = {}
for method in ("none", "gaussian"):
    prior, rows = iso, []
    for t in range(cfg.tasks):
        draws = posterior(prior, [t], jax.random.key(10 + t))
        rows.append([float(hmc.predictive_accuracy(mlp, draws, *data["test"][j]))
                     for j in range(t + 1)])  # fmt: skip
        if method == "gaussian":
            fitted = density.gaussian(np.asarray(draws.reshape(-1, mlp.size)))
            prior = bnn.pad(fitted, cfg.k_max)
    acc[method] = rows
draws = posterior(iso, range(cfg.tasks), jax.random.key(30))
acc["joint"] = [[float(hmc.predictive_accuracy(mlp, draws, *data["test"][j]))
                 for j in range(cfg.tasks)]]  # fmt: skip
for m, rows in acc.items():
    print(f"{m:8s} accuracy on each task after the last: {np.round(rows[-1], 3).tolist()}")
grid = E.boundary_grid()
p = np.asarray(hmc.class1_probs(mlp, draws, grid)).mean((0, 1)).reshape(E.GRID[1], E.GRID[0])
fig, ax = plt.subplots(figsize=(4.2, 3))
(x0, x1_), (y0, y1) = E.BOX
ax.imshow(p, origin="lower", extent=(x0, x1_, y0, y1), vmin=0, vmax=1, cmap="RdBu_r",
          aspect="auto")  # fmt: skip
ax.scatter(*np.asarray(xs).T, c=np.asarray(ys), s=4, cmap="coolwarm", edgecolors="k",
           linewidths=0.2)  # fmt: skip
ax.set_title("joint posterior: P(class 1)")
display(fig)
plt.close(fig)

# %% [markdown]
# ## The paper's fix: ProtoCL on Split Fashion-MNIST
#
# Runs as its own experiment (Fashion-MNIST from Debian's `dataset-fashion-mnist`):
# `python -m experiments.protocl_split_fmnist` (quick, ~1.5 min) or `--preset full` (the cited
# run, ~25 min): the corrected model, the same without its coreset, the authors' form (per-row
# posteriors, test-label updates) and the test-label updates alone; the numbers and the reading
# are in papers_repro/kessler2023_seqbayes.md. Its own notebook,
# `colab/protocl_split_fmnist.ipynb`, runs it and shows the committed full run's verdicts and
# figure.
