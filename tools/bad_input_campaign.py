"""Bad-input campaign: every experiment, every Config field set to a value that makes no sense, the
CLI's own arguments, and Ctrl-C mid-run, each in its own process under a memory cap; counts how
each was answered.

    python tools/bad_input_campaign.py [--classes huge,negative,nonfinite,cli,interrupt]
        [--timeout 120] [--jobs 2] [--only name,...] [--json out.json]

Classes (fields chosen from each dataclass, so a new field is covered without editing this file):
    huge       every int and tuple-of-int field (sizes, counts, steps, widths) at 10^12
    negative   the same fields at -1 (no int field means anything negative)
    nonfinite  every float and tuple-of-float field at nan and at inf
    cli        --seed -1, --seed 2^32, --preset nope, --set nofield=1, and --out at an existing
               file, under a file and under /proc; plus `experiments.all --preset nope`
    interrupt  the smoke preset into a folder holding a previous run's file, SIGINT after 6 s and
               after 20 s (inside the import, inside compile/compute)

A refusal is exit status 2 with one line on stderr, answered within the timeout, nothing written
(and a user's file at --out untouched, results/SUMMARY.md untouched for experiments.all). An
interrupt is answered by exit 130 with the previous run's folder intact and no temporary folder
left beside it. Anything else is a finding: a traceback, an exit 0 (a silent run), a timeout (work
started), a kill (the memory cap of the child), a signal exit (rc < 0 or 139). Not a test: it starts
~450 processes (~30 min on 2 idle cores at --jobs 2); the fast suite tests one case per class
(tests/experiments/test_lib.py).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import os
import pathlib
import resource
import signal
import subprocess
import sys
import tempfile
import typing

ROOT = pathlib.Path(__file__).resolve().parents[1]
HUGE = "1000000000000"
MEM_CAP = 6 * 2**30  # address-space cap of each child: a run that allocates is killed, not the box


def _fields(name: str):
    """(field, kind) of the experiment's Config: kind 'int' (int or tuple of int) or 'float'."""
    sys.path.insert(0, str(ROOT))
    from experiments._lib import registry

    cfg_t = registry.load(name).Config
    hints = typing.get_type_hints(cfg_t)
    for f in dataclasses.fields(cfg_t):
        h = hints[f.name]
        first = typing.get_args(h)[:1] if typing.get_origin(h) is tuple else ()
        if f.name == "seed":
            continue
        if h is int or first == (int,):
            yield f.name, "int"
        elif h is float or first == (float,):
            yield f.name, "float"


def _cases(name: str, classes: set[str]):
    """(class, argv, sigint_after_s or None) of every case for one experiment."""
    for field, kind in _fields(name):
        if kind == "int" and "huge" in classes:
            yield "huge", ["--set", f"{field}={HUGE}"], None
        if kind == "int" and "negative" in classes:
            yield "negative", ["--set", f"{field}=-1"], None
        if kind == "float" and "nonfinite" in classes:
            yield "nonfinite", ["--set", f"{field}=nan"], None
            yield "nonfinite", ["--set", f"{field}=inf"], None
    if "cli" in classes:
        for argv in (["--seed", "-1"], ["--seed", str(2**32)], ["--preset", "nope"],
                     ["--set", "nofield=1"]):  # fmt: skip
            yield "cli", argv, None
        for where in ("file", "under_file", "proc"):
            yield "cli", ["--out", f"<{where}>"], None
    if "interrupt" in classes:
        for after in (6.0, 20.0):
            yield "interrupt", ["--preset", "smoke"], after


def _limit():
    resource.setrlimit(resource.RLIMIT_AS, (MEM_CAP, MEM_CAP))


def _start(module: str, argv: list[str]) -> subprocess.Popen:
    """`python -m module argv` from the checkout, under the memory cap, stdout/stderr piped."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", module, *argv]
    pipe = subprocess.PIPE
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, text=True, stdout=pipe, stderr=pipe, preexec_fn=_limit
    )


def _last(err: list[str]) -> str:
    return err[-1][:160] if err else ""


def _answer(p_rc: int, err: list[str], wrote: bool) -> str:
    if p_rc == 2 and len(err) == 1 and not wrote:
        return "refused"
    if p_rc == 0:
        return "exit 0 (ran)"
    if any("Traceback" in e for e in err):
        return "traceback"
    return f"exit {p_rc}"


def classify(name: str, argv: list[str], sigint: float | None, timeout: float) -> dict:
    """Runs one case in a fresh process (SIGINT `sigint` seconds in, if given);
    {'answer', 'line'}."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        user_file = tmp / "mine.txt"
        user_file.write_text("mine")
        out = tmp / "out"
        outs = {"<file>": user_file, "<under_file>": user_file / "out", "<proc>": "/proc/memlearn"}
        argv = [str(outs.get(a, a)) for a in argv]
        if sigint is not None:  # a previous run's folder that the interrupted run must leave as is
            out.mkdir()
            (out / "results.json").write_text("previous")
        if "--out" not in argv:
            argv += ["--out", str(out)]
        p = _start(f"experiments.{name}", argv)
        sent = False
        try:
            if sigint is not None:
                try:
                    p.wait(timeout=sigint)
                except subprocess.TimeoutExpired:
                    p.send_signal(signal.SIGINT)
                    sent = True
            _, stderr = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            return {"answer": "timeout (work started)", "line": ""}
        err = stderr.strip().splitlines()
        line = _last(err)
        if sigint is not None:
            left = sorted(q.name for q in tmp.iterdir())
            intact = (out / "results.json").exists() and (
                p.returncode == 0 or (out / "results.json").read_text() == "previous"
            )
            if p.returncode == 130 and intact and left == ["mine.txt", "out"]:
                return {"answer": "interrupted cleanly", "line": line}
            if p.returncode == 0 and not sent:  # finished first: says nothing about interrupts
                return {"answer": "finished before SIGINT", "line": line}
            if p.returncode == 0:  # the signal reached a running process that then exited 0:
                # swallowed (the run went on and replaced the folder), or it landed in the
                # interpreter's teardown after the results were written; the line tells which
                return {"answer": "exit 0 after SIGINT", "line": line}
            return {"answer": f"interrupt: exit {p.returncode}, intact={intact}, left={left}",
                    "line": line}  # fmt: skip
        untouched = user_file.read_text() == "mine"
        wrote = out.exists() or not untouched or len(list(tmp.iterdir())) != 1
    return {"answer": _answer(p.returncode, err, wrote), "line": line}


def classify_all(timeout: float) -> dict:
    """`python -m experiments.all --preset nope`: refused, results/SUMMARY.md untouched."""
    summary = ROOT / "results" / "SUMMARY.md"
    before = summary.read_bytes() if summary.exists() else None
    p = _start("experiments.all", ["--preset", "nope"])
    try:
        _, stderr = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        return {"answer": "timeout (work started)", "line": ""}
    after = summary.read_bytes() if summary.exists() else None
    err = stderr.strip().splitlines()
    return {"answer": _answer(p.returncode, err, after != before), "line": _last(err)}


GOOD = {"refused", "interrupted cleanly", "finished before SIGINT"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--classes", default="huge,negative,nonfinite,cli,interrupt")
    # a refusal takes an import (~3 s idle); under load (other runs on these 2 cores) an import
    # alone can take 30 s, so a timeout is a finding only on an otherwise idle machine
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", default="")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    classes = set(a.classes.split(","))
    unknown = classes - {"huge", "negative", "nonfinite", "cli", "interrupt"}
    if unknown or a.jobs < 1 or not a.timeout > 0:
        print(f"bad_input_campaign: error: classes {sorted(unknown)}, --jobs >= 1, --timeout > 0",
              file=sys.stderr)  # fmt: skip
        return 2
    sys.path.insert(0, str(ROOT))
    from experiments._lib import registry

    names = [n for n in registry.names() if not a.only or n in a.only.split(",")]
    cases = [(n, *case) for n in names for case in _cases(n, classes)]
    rows = []

    def one(case):
        name, kind, argv, sigint = case
        r = classify(name, argv, sigint, a.timeout)
        shown = argv + ([f"<SIGINT after {sigint:g} s>"] if sigint is not None else [])
        row = {"experiment": name, "class": kind, "argv": " ".join(shown), **r}
        print(f"{name:24s} {kind:9s} {row['argv'][:34]:34s} {r['answer']:22s} {r['line']}",
              flush=True)  # fmt: skip
        return row

    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        rows = list(pool.map(one, cases))
    if "cli" in classes and not a.only:
        r = classify_all(a.timeout)
        rows.append({"experiment": "all", "class": "cli", "argv": "--preset nope", **r})
        print(f"{'all':24s} {'cli':9s} {'--preset nope':34s} {r['answer']:22s} {r['line']}")
    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        c = counts.setdefault(r["class"], {})
        c[r["answer"]] = c.get(r["answer"], 0) + 1
    print("counts:", json.dumps(counts, sort_keys=True))
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps({"counts": counts, "rows": rows}, indent=1))
    return 0 if all(r["answer"] in GOOD for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
