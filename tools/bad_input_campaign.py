"""Bad-input campaign: every experiment, every size-like Config field set to a huge value, each in
its own process under a memory cap; counts how each was answered.

    python tools/bad_input_campaign.py [--timeout 60] [--only name,...] [--json out.json]

A refusal is exit status 2 with one line on stderr, answered within the timeout (before any
work: the whole process is an import plus the check). Anything else is a finding: a traceback,
an exit 0 (a silent run), a timeout (work started), or a kill (the memory cap of the child).
Fields are chosen from the dataclass: every int and tuple-of-int field (sizes, counts, steps,
widths) gets 10^12, except `seed` (its range is checked by the CLI and tested elsewhere). Not a
test: it starts ~100 processes (several minutes); the fast suite tests one case per class.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import typing

ROOT = pathlib.Path(__file__).resolve().parents[1]
HUGE = "1000000000000"
MEM_CAP = 6 * 2**30  # address-space cap of each child: a run that allocates is killed, not the box


def _cases(name: str):
    sys.path.insert(0, str(ROOT))
    from experiments._lib import registry

    cfg_t = registry.load(name).Config
    hints = typing.get_type_hints(cfg_t)
    for f in dataclasses.fields(cfg_t):
        h = hints[f.name]
        if f.name == "seed":
            continue
        if h is int:
            yield f.name, HUGE
        elif typing.get_origin(h) is tuple and typing.get_args(h)[:1] == (int,):
            yield f.name, HUGE


def _limit():
    resource.setrlimit(resource.RLIMIT_AS, (MEM_CAP, MEM_CAP))


def classify(name: str, field: str, value: str, timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "out"
        cmd = [sys.executable, "-m", f"experiments.{name}", "--set", f"{field}={value}"]
        cmd += ["--out", str(out)]
        try:
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                               preexec_fn=_limit, env=env)  # fmt: skip
        except subprocess.TimeoutExpired:
            return {"answer": "timeout (work started)", "line": ""}
        err = p.stderr.strip().splitlines()
        wrote = out.exists()
    if p.returncode == 2 and len(err) == 1 and not wrote:
        kind = "refused"
    elif p.returncode == 0:
        kind = "exit 0 (ran)"
    elif any("Traceback" in e for e in err):
        kind = "traceback"
    else:
        kind = f"exit {p.returncode}"
    return {"answer": kind, "line": err[-1][:160] if err else ""}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # a refusal takes an import (~3 s idle); under load (other runs on these 2 cores) an import
    # alone can take 30 s, so a timeout is a finding only on an otherwise idle machine
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--only", default="")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from experiments._lib import registry

    names = [n for n in registry.names() if not a.only or n in a.only.split(",")]
    rows = []
    for name in names:
        for field, value in _cases(name):
            r = classify(name, field, value, a.timeout)
            rows.append({"experiment": name, "field": field, "value": value, **r})
            print(f"{name:26s} {field:22s} {r['answer']:24s} {r['line']}", flush=True)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["answer"]] = counts.get(r["answer"], 0) + 1
    print("counts:", json.dumps(counts, sort_keys=True))
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps(rows, indent=1))
    return 0 if counts.get("refused", 0) == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
