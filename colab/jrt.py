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
# # Just read twice: set disjointness, linear attention as memory, JRT prompting
#
# Arora et al., *Just read twice: closing the recall gap for recurrent language models*
# (arXiv:2407.05483v1). The walk: (1) the set-disjointness synthetic and the exact streaming
# algorithms, whose memory depends on which set comes first; (2) a linear-attention state used as
# a set memory, where large-first needs far more state than small-first and reading twice closes
# the gap; (3) the linear-attention kernels (causal, chunked, prefix); (4) a trained Based model.
# Code: `theory/set_disjointness.py`, `kernels/linear_attention.py`, `models/based_nets.py`,
# `experiments/set_disjointness.py`, `experiments/jrt_training.py`.
#
# Set `QUICK = False` (or `NOTEBOOK_QUICK=0`) for larger sizes.

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
import IPython.display
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import runtime  # noqa: F401
from kernels import linear_attention as LA
from theory import set_disjointness as SD

V = 512

# %% [markdown]
# ## 1. The synthetic and the exact streaming algorithms
#
# `[PREFIX] A [SEP] B [SEP_ANSWER] -> t`, with exactly one token of A also in B. One pass must
# store all of A; a JR-2 prompt (the input twice) lets a streaming algorithm count both sets on
# the first pass and store only the smaller one on the second.

# %%
bt = SD.sd_batch(jax.random.key(0), 4, 3, 6, 32)
print(np.asarray(bt["tokens"]), np.asarray(bt["target"]))
for a, b in [(4, 32), (32, 4)]:
    bt = SD.sd_batch(jax.random.key(1), 500, a, b, V)
    one = SD.run_stream(
        jax.random.key(2), bt["tokens"], vocab=V, budget=10**6, algorithm="one_pass"
    )
    jrt = SD.run_stream(
        jax.random.key(2), SD.jrt_prompt(bt["tokens"]), vocab=V, budget=10**6, algorithm="jrt"
    )
    print(
        f"|A|={a:3d} |B|={b:3d}  one pass: acc {float(jnp.mean(one[0] == bt['target'])):.2f},"
        f" peak {int(one[1].max())}   JRT: acc {float(jnp.mean(jrt[0] == bt['target'])):.2f},"
        f" peak {int(jrt[1].max())}"
    )

# %% [markdown]
# With a budget of m elements the accuracy is r + (1 - r)/|probe|, r = min(m, s)/s, where s is
# the stored set (the first set for one pass, the smaller for JRT).

# %%
bt = SD.sd_batch(jax.random.key(3), 2000, 32, 8, V)
ms = [1, 2, 4, 8, 16, 32]
fig, ax = plt.subplots(figsize=(5, 3.5))
for alg, toks, s, l in (
    ("one_pass", bt["tokens"], 32, 8),
    ("jrt", SD.jrt_prompt(bt["tokens"]), 8, 32),
):
    acc = [
        float(
            jnp.mean(
                SD.run_stream(jax.random.key(4), toks, vocab=V, budget=m, algorithm=alg)[0]
                == bt["target"]
            )
        )
        for m in ms
    ]
    ax.plot(ms, acc, "o", label=f"{alg} (measured)")
    ax.plot(ms, SD.budgeted_accuracy(s, l, np.array(ms)), "-", label=f"{alg} closed form")
ax.set_xscale("log", base=2)
ax.set_xlabel("memory budget m")
ax.set_ylabel("accuracy")
ax.set_title("|A| = 32 first, |B| = 8")
ax.legend(fontsize=7)
IPython.display.display(fig)
plt.close(fig)

# %% [markdown]
# ## 2. A linear-attention state as a set memory
#
# Random +-1/sqrt(f) features, state S = sum of the stored set's features, read-out argmax over the
# probe set. The state needed grows with the *stored* set, so the order matters unless the model
# reads twice.

# %%
small, large = 16, 64
bt = SD.sd_batch(jax.random.key(5), 2000, small, large, V)
fs = [32, 64, 128, 256, 512, 1024, 2048]
res = {"small first": [], "large first": []}
for _f, gram in SD.nested_grams(jax.random.key(6), V, fs):
    res["small first"].append(
        float(
            jnp.mean(
                SD.rf_memory_predict(gram, bt["a"], bt["b"], jax.random.key(7)) == bt["target"]
            )
        )
    )
    res["large first"].append(
        float(
            jnp.mean(
                SD.rf_memory_predict(gram, bt["b"], bt["a"], jax.random.key(7)) == bt["target"]
            )
        )
    )
fig, ax = plt.subplots(figsize=(5, 3.5))
for (name, acc), (s, l) in zip(res.items(), [(small, large), (large, small)], strict=True):
    (line,) = ax.plot(fs, acc, "o", label=f"{name} (measured)")
    ax.plot(fs, SD.rf_accuracy_gaussian(s, l, np.array(fs)), "-", color=line.get_color())
ax.set_xscale("log", base=2)
ax.set_xlabel("state size f")
ax.set_ylabel("accuracy")
ax.set_title("one pass; JRT = the small-first curve in both orders")
ax.legend(fontsize=7)
IPython.display.display(fig)
plt.close(fig)
print("state for 95%:", {s: round(SD.rf_state_for_accuracy(s, 64)) for s in (8, 16, 32, 64)})

# %% [markdown]
# ## 3. The kernels: causal, chunked, prefix linear attention
#
# All forms agree; PLA (Eq. 3) = the encoder's non-causal state as the causal scan's initial
# state, and its prefill state (Eq. 4) followed by recurrent decoding (Eq. 2) gives the same
# outputs.

# %%
kq, kk, kv, ke, kve = jax.random.split(jax.random.key(8), 5)
q = jax.random.normal(kq, (1, 2, 40, 4)) / 2
k = jax.random.normal(kk, (1, 2, 40, 4)) / 2
v = jax.random.normal(kv, (1, 2, 40, 8))
qf, kf = LA.taylor_feature_map(q), LA.taylor_feature_map(k)
ys = {
    impl: LA.causal_linear_attention(qf, kf, v, chunk=16, implementation=impl)[0]
    for impl in ("quadratic", "scan", "chunked")
}
print({impl: float(jnp.abs(y - ys["quadratic"]).max()) for impl, y in ys.items()})
k_enc = jax.random.normal(ke, (1, 2, 16, 4)) / 2
v_enc = jax.random.normal(kve, (1, 2, 16, 8))
y_pla, _ = LA.prefix_linear_attention(qf, kf, v, LA.taylor_feature_map(k_enc), v_enc)
state = LA.pla_prefill_state(kf[:, :, :16], v[:, :, :16], LA.taylor_feature_map(k_enc), v_enc)
y_dec, _ = LA.decode_step(state, qf[:, :, 16], kf[:, :, 16], v[:, :, 16])
print("prefill + decode vs parallel:", float(jnp.abs(y_dec - y_pla[:, :, 16]).max()))

# %% [markdown]
# ## 4. Trained models: Based (Figure 2's architecture) and JRT-RNN at equal state
#
# The quick preset is a training smoke test; the full preset trains the reduced grid whose figure
# is shown (committed results): causal and non-causal Based and JRT-RNN (prefix linear attention,
# `models.based_nets` with `mixer="prefix"`) at five state sizes, plus two extensions.
# `python -m experiments.jrt_training --preset full` reruns it.

# %%
from experiments import jrt_training

full = repo / "results" / "jrt_training" / "full"
if full.exists():
    IPython.display.display(IPython.display.Image(str(full / "fig_figure2.png")))
else:
    print(jrt_training.PRESETS["quick"])

# %% [markdown]
# ## 5. The whole theory experiment
#
# `experiments/set_disjointness.py` runs everything above at the paper's sizes and judges each
# claim (papers_repro/arora2024_jrt.md): `python -m experiments.set_disjointness --preset full`
# (~2 min). Its own notebook, `colab/set_disjointness.ipynb`, runs it and shows the committed
# full run's verdicts and figures.
