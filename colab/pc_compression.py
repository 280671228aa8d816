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
# # Lossless compression with a probabilistic circuit
#
# Liu, Mandt, Van den Broeck, *Lossless Compression with Probabilistic Circuits*, ICLR 2022
# (arXiv:2111.11632v2). This notebook learns a hidden Chow-Liu tree circuit on scikit-learn's
# 8x8 digits, compresses a few test images to rANS streams, decompresses them bit-exactly and
# compares the three ways of computing p(x_i | x_<i). Everything lives in `models/pc.py`,
# `models/pc_coding.py`, `models/rans.py` and `experiments/pc_compression.py`.
#
# Set `QUICK = False` (or the environment variable `NOTEBOOK_QUICK=0`) for the quick preset.

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

import matplotlib.pyplot as plt
import numpy as np

import runtime  # noqa: F401
from experiments import pc_compression as pcc
from models import pc, pc_coding

# QUICK: the experiment's smoke preset (seconds; what the tests run), else its quick preset
cfg = pcc.PRESETS["smoke" if QUICK else "quick"]
train, test, K, side = pcc.load(cfg)
tree = pc.chow_liu_tree(pc.mutual_information(train, K))
params, curve = pcc.train_hclt(cfg, tree, train, test, K)
print(f"D = {tree.n_vars}, tree height {tree.height}, test bpd {curve['test_bpd'][-1]:.3f}")

# %% [markdown]
# Compress six test images (one rANS stream each) and decompress them.

# %%
stepper = pc_coding.Stepper(params, tree, "outside", batch=6)
x = test[:6]
streams, ideal = pc_coding.encode(stepper, x, K)
y = pc_coding.decode(stepper, streams, tree.n_vars)
print("bit-exact:", bool((y == x).all()))
for s, b in zip(streams, ideal, strict=True):
    print(f"{len(s):4d} bytes   ideal {b / 8:6.1f} bytes   raw {tree.n_vars} bytes")

# %%
fig, axes = plt.subplots(2, 6, figsize=(6, 2.2))
for j in range(6):
    axes[0, j].imshow(x[j].reshape(side, side), cmap="gray_r")
    axes[1, j].imshow(y[j].reshape(side, side), cmap="gray_r")
    axes[0, j].axis("off")
    axes[1, j].axis("off")
axes[0, 0].set_title("original", fontsize=8, loc="left")
axes[1, 0].set_title("decoded", fontsize=8, loc="left")
from IPython.display import display  # noqa: E402

display(fig)
plt.close(fig)

# %% [markdown]
# The conditional pmfs three ways (naive re-evaluation, the paper's cached path updates, outside
# messages in pre-order) agree, at very different costs per variable.

# %%
lps = {
    s: pc_coding.conditionals(pc_coding.Stepper(params, tree, s, 2), x[:2])
    for s in pc_coding.SCHEMES
}
for s in pc_coding.SCHEMES:
    diff = np.abs(np.exp(lps[s]) - np.exp(lps["outside"])).max()
    work = pc.nodes_per_variable(tree, s).mean()
    print(f"{s:8s} max |dp| vs outside {diff:.1e}   tree nodes per variable {work:.1f}")

# %% [markdown]
# A corrupted stream is caught by the end-of-stream check instead of yielding a wrong image.

# %%
from models import rans

bad = bytearray(streams[0])
bad[9] ^= 0xFF
try:
    pc_coding.decode(stepper, [bytes(bad)] + streams[1:], tree.n_vars)
except rans.StreamError as e:
    print("rejected:", e)
