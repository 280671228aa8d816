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
# # Rich and lazy learning: the effective rank of the initial connectivity
#
# Liu, Baratin, Cornford, Mihalas, Shea-Brown, Lajoie, *How connectivity structure shapes rich
# and lazy learning in neural circuits*, ICLR 2024 (arXiv:2310.08513). Low-rank initial weights
# make learning richer (the tangent kernel turns more), high-rank lazier, except when a low-rank
# start is aligned with the task. This notebook checks our closed form for the two-layer linear
# network against gradient descent, shows the aligned exception, and trains small RNNs from
# recurrent matrices of different ranks. The code lives in `theory/rich_lazy.py`,
# `models/rnn.py`, `models/neurotasks.py` and `experiments/rich_lazy_lowrank.py`.
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
import optax
from IPython.display import display

import runtime  # noqa: F401
from models import neurotasks as NT
from models import rnn
from models.train import train
from theory import rich_lazy as R

# %% [markdown]
# ## The linear network: closed form vs gradient descent
#
# f(x) = w^T W x on whitened inputs, tasks uniform on the sphere. From a small start the
# task-averaged kernel alignment is E[KA](PR, q, d) (`R.alignment_small_init`, derivation in its
# docstring), PR the participation ratio of W0 and q = |w0|^2 / |W0|_F^2. Gradient descent from
# eps (W0, w0) lands on it.

# %%
d, h, q, eps = 12, 16, 0.1, 1e-3
n_tasks = 32 if QUICK else 256
with jax.enable_x64(True):
    gauss = jax.random.normal(jax.random.key(0), (h, d), jnp.float64)
    v = jax.random.normal(jax.random.key(1), (h,), jnp.float64)
    v = v / jnp.linalg.norm(v) * np.sqrt(q)
    betas = jax.random.normal(jax.random.key(2), (n_tasks, d), jnp.float64)
    betas = betas / jnp.linalg.norm(betas, axis=1, keepdims=True)

    def one(W, b):
        Wf, wf, _ = R.train_linear(eps * W, eps * v, b, lr=0.05, steps=3000)
        return R.kernel_alignment(R.linear_ntk_matrix(W, v), R.linear_ntk_matrix(Wf, wf))

    sim_fn = jax.jit(jax.vmap(one, in_axes=(None, 0)))  # one compile for every rank
    rows = []
    for r in (1, 2, 4, 8, 12):
        W = R.svd_truncate(gauss, r)
        W = W / jnp.linalg.norm(W)
        pr = float(R.participation_ratio(W))
        rows.append(
            (r, pr, float(sim_fn(W, betas).mean()), float(R.alignment_small_init(pr, q, d)))
        )
for r, pr, s_, c in rows:
    print(f"rank {r:2d}  PR {pr:5.2f}  simulated {s_:.4f}  closed form {c:.4f}")

# %% [markdown]
# ## The aligned exception (Proposition 1 / Fig. 3)
#
# Features z = F x with condition number 4; first layers of equal norm: aligned with the task,
# partially aligned (through F's rank-d/2 truncation), random rank 1, random full rank.

# %%
with jax.enable_x64(True):
    F = R.anisotropic_features(jax.random.key(3), d, 4.0)
    keys = jax.random.split(jax.random.key(4), n_tasks)

    def exc(k, scale=3.0):  # every kind from the same teacher and readout: paired
        kt, ki = jax.random.split(k)
        t = jax.random.normal(kt, (d,), jnp.float64)
        t = t / jnp.linalg.norm(t)
        w0 = 0.01 * jnp.ones(h) / np.sqrt(h)

        def fit(W0):
            Wf, wf, _ = R.train_linear(W0, w0, F.T @ t, lr=0.01, steps=6000, F=F)
            m0, mf = R.linear_ntk_matrix(W0, w0, F), R.linear_ntk_matrix(Wf, wf, F)
            return R.kernel_alignment(m0, mf)

        W0s = jnp.stack([R.exception_init(ki, kd, t, F, h=h, scale=scale) for kd in R.INIT_KINDS])
        return jax.vmap(fit)(W0s)

    ka = jax.jit(jax.vmap(exc))(keys).mean(0)
for kind, a in zip(R.INIT_KINDS, ka, strict=True):
    print(f"{kind:13s} kernel alignment {float(a):.3f}")

# %% [markdown]
# ## RNNs: kernel alignment against the initial rank
#
# The authors' network (ReLU, no biases, dt = tau) on the perceptual decision task, from the
# rank-r truncation of a Gaussian recurrent matrix, all ranks trained at once.

# %%
n, steps = (32, 100) if QUICK else (300, 2000)
ranks = (1, n // 4, n)
kg, kp = jax.random.split(jax.random.key(5))
gauss_rec = rnn.gaussian(kg, n, 1.25)
params = [rnn.init_params(kp, rnn.lowrank(gauss_rec, r), 3, NT.N_OUT) for r in ranks]
p0 = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *params)


def loss_fn(p, key):
    x, y = NT.perceptual(key, 32)
    return rnn.cross_entropy(p, x, y)


def batch_fn(t):
    return jnp.stack([jax.random.fold_in(jax.random.key(6), t)] * len(ranks))  # same data: paired


res = train(loss_fn, optax.sgd(0.003 if n == 300 else 0.02, momentum=0.9), p0, batch_fn,
            steps=steps)  # fmt: skip
xk, _ = NT.perceptual(jax.random.key(7), 8)
kernel = jax.jit(rnn.rec_ntk)
ka = []
for i in range(len(ranks)):
    a = jax.tree_util.tree_map(lambda v, i=i: v[i], p0)
    b = jax.tree_util.tree_map(lambda v, i=i: v[i], res.params)
    ka.append(float(R.kernel_alignment(kernel(a, xk), kernel(b, xk))))
fig, axs = plt.subplots(1, 2, figsize=(8, 3.2))
axs[0].plot(ranks, ka, "o-")
axs[0].set_xscale("log")
axs[0].set_xlabel("initial rank of W_rec")
axs[0].set_ylabel("kernel alignment")
axs[0].set_title("(a) lazier with higher rank")
for i, r in enumerate(ranks):
    axs[1].plot(res.losses[i], label=f"rank {r}")
axs[1].set_yscale("log")
axs[1].set_xlabel("step")
axs[1].set_ylabel("cross-entropy")
axs[1].set_title("(b) training loss")
axs[1].legend()
fig.tight_layout()
display(fig)
plt.close(fig)

# %% [markdown]
# ## Sequential (Fashion-)MNIST and the committed runs
#
# The authors' fourth task is sequential MNIST: one 28-pixel image row per step, the class read
# out at the last step. MNIST ships in no registry package here, so Fashion-MNIST rows (Debian's
# `dataset-fashion-mnist`) stand in: `python -m experiments.rich_lazy_lowrank --preset rows`
# (~15 min on 2 cores; the cognitive tasks are `--preset full`, ~1 h). The committed runs'
# RNN verdicts are shown here when present (papers_repro/liu2024_rich_lazy.md has every row).

# %%
from experiments import rich_lazy_lowrank
from experiments._lib import cli

for preset in (rich_lazy_lowrank.CITED_PRESET, *rich_lazy_lowrank.EXTRA_CITED):
    print(f"--- {preset} ---")
    cli.show_committed("rich_lazy_lowrank", preset, keep=lambda c: c["id"].startswith("rnn_"))
