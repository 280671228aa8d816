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
# # Minimum entropy coupling with bottleneck (MEC-B)
#
# Ebrahimi, Chen, Khisti, *Minimum Entropy Coupling with Bottleneck*, NeurIPS 2024
# (arXiv:2410.21666). MEC-B compresses X into T with H(T) <= R bits (the encoder problem, EBIM:
# maximise I(X;T)) and then couples T with a prescribed output distribution p_Y at minimum entropy
# (the decoder problem, MEC). This notebook solves both for a distribution you choose, draws the
# EBIM trade-off curve of the paper's Fig. 2, and composes the two halves. The code lives in
# `theory/information.py`, `theory/mecb.py` and `experiments/mecb_coupling.py`.
#
# Set `QUICK = False` (or the environment variable `NOTEBOOK_QUICK=0`) for a finer brute force.

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

import dataclasses
import functools

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

import runtime  # noqa: F401
from experiments import mecb_coupling as E
from theory import information as info
from theory import mecb as M

jax.config.update("jax_enable_x64", True)  # the information code is float64

# %% [markdown]
# ## The encoder: EBIM at one rate
#
# Choose p_X and a rate R (bits). The greedy (the paper's Algorithm 1) returns a deterministic
# encoder T = g(X), so I(X;T) = H(T); the brute force tries every partition of X's alphabet.

# %%
p_x = info.check_distribution([0.35, 0.25, 0.15, 0.1, 0.08, 0.05, 0.02])
R = 1.5
h_greedy, labels = M.ebim_greedy(jnp.asarray(p_x), R)
h_best, best = M.deterministic_optimum(p_x, R)
print(f"H(X) = {info.entropy_np(p_x):.4f} bits, R = {R}")
print(f"greedy:              I(X;T) = {float(h_greedy):.4f}, cells {np.asarray(labels).tolist()}")
print(f"best deterministic:  I(X;T) = {h_best:.4f}, cells {best.tolist()}")
print(f"guarantee h(p_2) = {M.binary_entropy(np.sort(p_x)[-2]):.4f} bits")

# %% [markdown]
# ## The decoder: minimum-entropy coupling of p_T and p_Y
#
# The greedy coupling puts the smaller of the two largest remaining masses on their cell, exactly
# n + m - 1 times; for small alphabets the exact optimum is found by enumerating the vertices of
# the transportation polytope.

# %%
p_t = np.bincount(np.asarray(labels), weights=p_x, minlength=p_x.size)
p_t = p_t[p_t > 0]
p_y = np.array([0.5, 0.3, 0.2])
coupling = np.asarray(M.greedy_coupling(jnp.asarray(p_t), jnp.asarray(p_y)))
print("p_T =", np.round(p_t, 3), " p_Y =", p_y)
print("greedy coupling:\n", np.round(coupling, 4))
print(f"H = {info.entropy_np(coupling.ravel()):.4f} bits")
if p_t.size * p_y.size <= M.MAX_VERTEX_CELLS:
    print(f"exact MEC: H = {M.exact_mec(p_t, p_y)[0]:.4f} bits")

# %% [markdown]
# ## MEC-B composed, across rates
#
# p(x, y) = sum_t p(x, t) p(y | t). As R falls, I(X;Y) falls and the map from X to Y becomes
# more stochastic (H(Y|X) grows): the trend of the paper's Fig. 10.

# %%
p_y7 = np.array([0.3, 0.2, 0.15, 0.12, 0.1, 0.08, 0.05])
rates = np.linspace(0.05, info.entropy_np(p_x), 30)
sweep = jax.jit(jax.vmap(M.mecb, in_axes=(None, None, 0)))  # one compile for every rate
out = sweep(jnp.asarray(p_x), jnp.asarray(p_y7), jnp.asarray(rates))
fig, ax = plt.subplots(figsize=(6, 3.8))
ax.plot(rates, out["i_xy"], "o-", ms=3, label="I(X;Y)")
ax.plot(rates, out["h_y_given_x"], "s-", ms=3, label="H(Y|X)")
ax.plot(rates, out["i_xt"], "--", label="I(X;T) (greedy EBIM)")
ax.set_xlabel("R (bits)")
ax.set_ylabel("bits")
ax.set_title("MEC-B: greedy EBIM + greedy MEC")
ax.legend()
display(fig)
plt.close(fig)

# %% [markdown]
# ## Fig. 2: the EBIM optimum curve for p_X = (0.7, 0.2, 0.1)
#
# The experiment's Fig. 2 routine: the exact envelope of the one-symbol moves between
# deterministic encoders, against a brute-force search over stochastic encoders (a simplex
# lattice, the best point per rate polished by pattern search).

# %%
cfg = dataclasses.replace(E.PRESETS["smoke" if QUICK else "quick"], fig2_p=(0.7, 0.2, 0.1))
with jax.enable_x64(True):
    f2 = E.fig2(cfg)
fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(f2["fine"], f2["fine_envelope"], lw=2, label="envelope of one-symbol moves")
ax.plot(f2["grid"], f2["polished_lattice"], "o", mfc="none", label="brute force")
ax.plot(f2["fine"], f2["fine_greedy"], "--", label="greedy (Algorithm 1)")
ax.plot(f2["det_h"], f2["det_h"], "k^", label="deterministic encoders")
ax.set_xlabel("R (bits)")
ax.set_ylabel("I(X;T) (bits)")
ax.legend(fontsize=8)
display(fig)
plt.close(fig)
gap = np.max(np.subtract(f2["polished_lattice"], f2["envelope"]))
print(f"largest excess of the brute force over the envelope: {gap:.2e} bits")

# %% [markdown]
# ## The rate-limited Markov Coding Game
#
# The sender walks the authors' 8 x 8 grid world (goal +1 top right, trap -1 below it, a diagonal
# wall) and must tell the receiver which of |M| messages it holds through its actions alone. At
# every step EBIM compresses the receiver's current belief to R bits, MEC couples the cells with
# the soft-Q policy, and the receiver updates its belief from the action it sees. R/H(M) is the
# authors' `compression_rate`.

# %%
from models import mcg  # noqa: E402

grid = mcg.make_grid()
policy, _ = mcg.soft_q_policy(grid.T, grid.reward, grid.terminal, np.exp(-5.0))
n_msg, n_ep = (8, 64) if QUICK else (50, 400)
prior = jnp.ones(n_msg) / n_msg
msg = jax.random.randint(jax.random.key(0), (n_ep,), 0, n_msg)
keys = jax.random.split(jax.random.key(1), n_ep)
axes = (None, None, None, None, None, 0, None, None, 0)
for enc in ("greedy", "uniform"):
    game = jax.jit(jax.vmap(functools.partial(mcg.episode, encoder=enc), in_axes=axes))
    ret, belief, steps, _ = game(grid.T, grid.reward, grid.terminal, policy, prior, msg,
                                 5 * 8 + 4, 0.5 * np.log2(n_msg), keys)  # fmt: skip
    acc = np.mean(np.argmax(np.asarray(belief), 1) == np.asarray(msg))
    print(f"{enc:8s} R/H(M) = 0.5: reward {float(ret.mean()):.3f}, accuracy {acc:.3f}, "
          f"{float(steps.mean()):.0f} steps per episode")  # fmt: skip
