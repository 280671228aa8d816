"""Summarise the author's own recognition results (Orhan 2023) into papers_repro/data/.

The author's repository (github eminorhan/llm-memory) kept every recognition test's output in its
history until the "clean up" commit: `evals/shot-{1,2,3}/expt{1..6}-<family>/<model>_seen_data_
<split>_<lr>_<batch>_results.npz` (test.py's `seen_losses`, `unseen_losses`, `accuracies`,
`mean_accuracy`; 600 pairs each), `<model>_init_seen_data_<split>` files for two models before
study, and the retention probes `re-evals/expt<k>-data_<split>/gptj_step_<n>_results.npz`
(GPT-J) and
`scratch-re-evals/...` (GPT-J trained from scratch). This reads them from a local clone with git
and writes, per experiment, model and number of exposures, the best (learning rate, batch size)
cell by mean accuracy over the four splits, with its mean seen and foil losses; the pre-study
accuracies; and the retention curves. Recall (generate.py's outputs) is not in the repository.

    python tools/orhan_author_results.py /path/to/llm-memory/.git \
        > papers_repro/data/orhan2023_author_results.json

Standard library + numpy; run once by hand (the output is committed), never at experiment time.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections import defaultdict

import numpy as np

COMMIT = "b7ce973c"  # the last commit holding evals/ (the next, cbeccfc6, removed them)
_STUDY = re.compile(
    r"^evals/shot-(?P<shot>\d)/expt(?P<expt>\d)-[^/]+/(?P<model>.+?)_seen_data_(?P<split>\d)_"
    r"(?P<lr>[0-9.]+)_(?P<bs>\d+)_results\.npz$"
)
_INIT = re.compile(
    r"^evals/shot-(?P<shot>\d)/expt(?P<expt>\d)-[^/]+/(?P<model>.+?)_init_seen_data_(?P<split>\d)"
    r"_results\.npz$"
)
_RET = re.compile(
    r"^(?P<kind>re-evals|scratch-re-evals)/expt(?P<expt>\d)-data_(?P<split>\d)/gptj_step_"
    r"(?P<step>\d+)_results\.npz$"
)


def _git(gitdir: str, *args: str) -> bytes:
    cmd = ["git", f"--git-dir={gitdir}", *args]
    return subprocess.run(cmd, check=True, capture_output=True).stdout


def _load(gitdir: str, path: str) -> dict:
    d = np.load(io.BytesIO(_git(gitdir, "show", f"{COMMIT}:{path}")))
    return {
        "acc": float(d["mean_accuracy"]),
        "seen": float(np.mean(d["seen_losses"])),
        "foil": float(np.mean(d["unseen_losses"])),
    }


def main(gitdir: str) -> dict:
    paths = _git(gitdir, "ls-tree", "-r", "--name-only", COMMIT).decode().split("\n")
    study = defaultdict(list)  # (expt, model, shot, lr, bs) -> per split
    init = defaultdict(list)  # (expt, model) -> per split
    ret = defaultdict(list)  # (kind, expt, step) -> per split
    for p in paths:
        if m := _STUDY.match(p):
            g = m.groupdict()
            study[(g["expt"], g["model"], g["shot"], g["lr"], g["bs"])].append(_load(gitdir, p))
        elif m := _INIT.match(p):
            g = m.groupdict()
            init[(g["expt"], g["model"])].append(_load(gitdir, p))
        elif m := _RET.match(p):
            g = m.groupdict()
            ret[(g["kind"], g["expt"], int(g["step"]))].append(_load(gitdir, p))
    mean = lambda rs, k: float(np.mean([r[k] for r in rs]))  # noqa: E731
    best: dict = defaultdict(dict)
    for (expt, model, shot, lr, bs), rs in study.items():
        key = f"expt{expt}"
        cur = best[key].setdefault(model, {}).get(shot)
        acc = mean(rs, "acc")
        if cur is None or acc > cur["accuracy"]:
            best[key][model][shot] = {
                "accuracy": acc, "lr": float(lr), "batch": int(bs), "splits": len(rs),
                "seen_loss": mean(rs, "seen"), "foil_loss": mean(rs, "foil"),
            }  # fmt: skip
    before: dict = defaultdict(dict)
    for (e, m), rs in init.items():
        before[f"expt{e}"][m] = {
            "accuracy": mean(rs, "acc"), "seen_loss": mean(rs, "seen"),
            "foil_loss": mean(rs, "foil"), "splits": len(rs),
        }  # fmt: skip
    retention: dict = defaultdict(lambda: defaultdict(dict))
    for (kind, expt, step), rs in sorted(ret.items()):
        name = "gpt_j" if kind == "re-evals" else "gpt_j_scratch"
        retention[name][f"expt{expt}"][str(step)] = {"accuracy": mean(rs, "acc"), "splits": len(rs)}
    return {
        "source": f"github eminorhan/llm-memory at {COMMIT}: evals/, re-evals/, scratch-re-evals/ "
        "(test.py's mean_accuracy, seen_losses, unseen_losses; 600 pairs per file)",
        "best_cell_by_exposures": best,
        "before_study": before,
        "retention": retention,
    }


if __name__ == "__main__":
    json.dump(main(sys.argv[1]), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
