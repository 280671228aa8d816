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
# # ProtoCL on Split Fashion-MNIST: the paper's fix for sequential Bayesian continual learning
#
# Kessler et al., *On Sequential Bayesian Inference for Continual Learning*, Entropy 2023
# (arXiv:2301.01828): prototype-based continual learning (ProtoCL) on Split Fashion-MNIST (from
# Debian's `dataset-fashion-mnist`), the corrected model, the same without its coreset, the
# authors' form (per-row posteriors, test-label updates) and the test-label updates alone.
# `experiments/protocl_split_fmnist.py` runs it and judges its rows
# (papers_repro/kessler2023_seqbayes.md); `colab/seqbayes.ipynb` has the HMC experiments.
#
# Set `QUICK = False` (or the environment variable `NOTEBOOK_QUICK=0`) for the quick preset.

# %%
# Setup. Locally it uses the checkout this notebook sits in (`make setup` installs it). In
# Colab it needs a checkout at MEMLEARN_REPO (default /content/memlearn; a copy on a mounted
# Drive works), cloned there from REPO_URL below if missing; it then installs the pinned
# requirements and the Debian data packages the experiments read (Fashion-MNIST).
import dataclasses
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

from IPython.display import Image, display

import runtime  # noqa: F401
from experiments import protocl_split_fmnist as E
from experiments._lib import cli

# %% [markdown]
# ## One run of the experiment
#
# The smoke preset (seconds) on the quick path, the quick preset otherwise, with its claim rows
# and its figures, drawn from the results alone (`E.plot`).

# %%
cfg = E.PRESETS["smoke" if QUICK else "quick"]
results = {"config": dataclasses.asdict(cfg), **E.run(cfg)}
print(cli.format_claims(E.check_claims(results)))
out = pathlib.Path("/tmp/protocl_split_fmnist_notebook")
out.mkdir(parents=True, exist_ok=True)
E.plot(results, out)
for fig in ("average_accuracy", "accuracy_matrices"):
    display(Image(filename=str(out / f"fig_{fig}.png")))

# %% [markdown]
# ## The committed full run
#
# `python -m experiments.protocl_split_fmnist --preset full` (~25 min on 2 cores): its verdicts
# and its figure, when the run is committed.

# %%
full = cli.show_committed("protocl_split_fmnist", E.CITED_PRESET)
if full is not None:
    for fig in ("fig_average_accuracy.png",):
        display(Image(filename=str(full / fig)))
