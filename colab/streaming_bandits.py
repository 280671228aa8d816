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
# # Single-pass streaming bandits: the $K^{1/3}T^{2/3}$ regret law
#
# Wang, *Tight Regret Bounds for Single-pass Streaming Multi-armed Bandits*, ICML 2023
# (arXiv:2306.02208v1). This notebook runs `experiments.streaming_bandit_regret` on a small
# configuration, prints the claim table and shows the figures. Everything it uses lives in
# `theory/` and `experiments/`; nothing here is imported by other code.
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

import runtime  # noqa: F401
from experiments import streaming_bandit_regret as sbr
from experiments._lib import cli

# QUICK: the experiment's smoke preset (seconds; what the tests run), else its quick preset
cfg = sbr.PRESETS["smoke" if QUICK else "quick"]
cfg

# %%
results = cli.assemble(sbr, cfg, "notebook", sbr.run(cfg))
print(cli.format_claims(results["claims"]))

# %% [markdown]
# Regret against the horizon, with the fitted log-log slopes in the legend, and the ratio of each
# algorithm's regret to uniform exploration's (the paper reports "up to 70% less").

# %%
import tempfile

from IPython.display import Image, display

out = pathlib.Path(tempfile.mkdtemp())
sbr.plot(results, out)
for name in ("regret_vs_T", "ratio_to_uniform", "hard_normalised", "authors_vs_corrected"):
    display(Image(filename=str(out / f"fig_{name}.png")))

# %% [markdown]
# The closed forms behind the guide lines: uniform exploration's bound against its simulated regret.

# %%
from theory import streaming_bandits as B

K = cfg.K
for T, mean in zip(
    results["series"]["T"],
    results["series"]["tsweep/corrected/mix_in"]["uniform"]["mean"],
    strict=True,
):
    bound = float(B.uniform_exploration_regret_bound(K, T))
    print(f"T={T:.2e}  simulated {mean:.3e}  bound {bound:.3e}  ratio {mean / bound:.2f}")
