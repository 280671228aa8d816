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
# Setup. In Colab, set MEMLEARN_REPO_URL to this repository's git URL, or MEMLEARN_REPO to the
# path of a mounted checkout (e.g. on Drive); the cell then installs the pinned requirements.
# Locally it uses the checkout this notebook sits in (installed by `make test` / `make repro`).
import os
import pathlib
import subprocess
import sys

if "google.colab" in sys.modules:
    repo = pathlib.Path(os.environ.get("MEMLEARN_REPO", "/content/memlearn"))
    if not repo.exists():
        subprocess.run(["git", "clone", os.environ["MEMLEARN_REPO_URL"], str(repo)], check=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "-r",
            str(repo / "requirements.lock"),
        ],
        check=True,
    )
else:
    here = pathlib.Path.cwd()
    repo = next(p for p in [here, *here.parents] if (p / "WORKSPACE.md").exists())
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
