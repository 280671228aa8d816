"""Compare two results.json files number by number: did a rerun move anything?

    python tools/compare_results.py OLD.json NEW.json
    python tools/compare_results.py --git REV results/<name>/full/results.json   # vs a commit

Walks `metrics`, `series` and `claims` (not `timing`, `config`: wall clock and inputs) and
reports how many numeric leaves are bit-identical, how many moved and by how much (largest
relative change, with its path), and every claim whose status changed. Exit 0 whenever it
compares (it reports, it does not judge); 2, with a one-line error, when a file cannot be read.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys


def leaves(x, path=""):
    """(path, value) for every scalar leaf of a JSON tree."""
    if isinstance(x, dict):
        for k in sorted(x):
            yield from leaves(x[k], f"{path}.{k}" if path else k)
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from leaves(v, f"{path}[{i}]")
    else:
        yield path, x


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def compare(old: dict, new: dict) -> dict:
    out = {"identical": 0, "moved": 0, "other_changed": 0, "missing": 0, "added": 0}
    worst = (0.0, None, None, None)
    for section in ("metrics", "series"):
        a = dict(leaves(old.get(section, {}), section))
        b = dict(leaves(new.get(section, {}), section))
        out["missing"] += len(a.keys() - b.keys())
        out["added"] += len(b.keys() - a.keys())
        for k in a.keys() & b.keys():
            va, vb = a[k], b[k]
            if va == vb:
                out["identical"] += 1
            elif _num(va) and _num(vb):
                out["moved"] += 1
                rel = abs(vb - va) / max(abs(va), abs(vb), 1e-300)
                if math.isfinite(rel) and rel > worst[0]:
                    worst = (rel, k, va, vb)
            else:
                out["other_changed"] += 1
    out["largest_relative_change"] = {"rel": worst[0], "path": worst[1], "old": worst[2],
                                      "new": worst[3]}  # fmt: skip
    old_c = {c["id"]: c for c in old.get("claims", [])}
    new_c = {c["id"]: c for c in new.get("claims", [])}
    out["claims"] = len(new_c)
    out["claims_status_changed"] = [
        f"{i}: {old_c[i]['status']} -> {new_c[i]['status']}"
        for i in sorted(old_c.keys() & new_c.keys())
        if old_c[i]["status"] != new_c[i]["status"]
    ]
    out["claims_measured_changed"] = sorted(
        i for i in old_c.keys() & new_c.keys() if old_c[i]["measured"] != new_c[i]["measured"]
    )
    out["claims_missing"] = sorted(old_c.keys() - new_c.keys())
    out["claims_added"] = sorted(new_c.keys() - old_c.keys())
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python tools/compare_results.py")
    p.add_argument("old", help="old results.json, or a git revision with --git")
    p.add_argument("new")
    p.add_argument("--git", action="store_true", help="OLD is a revision; read NEW's path there")
    args = p.parse_args(argv)
    try:
        if args.git:
            # NEW's path inside the repository (a path outside it has no old version to read).
            top = subprocess.run(
                ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True
            ).stdout.strip()
            rel = os.path.relpath(os.path.abspath(args.new), top)
            shown = subprocess.run(
                ["git", "show", f"{args.old}:{rel}"], capture_output=True, text=True
            )
            if shown.returncode:
                raise ValueError(shown.stderr.strip().splitlines()[-1])
            old = json.loads(shown.stdout)
        else:
            old = json.load(open(args.old))
        new = json.load(open(args.new))
    except (OSError, ValueError, subprocess.CalledProcessError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        json.dump(compare(old, new), sys.stdout, indent=1)
        print()
    except BrokenPipeError:  # `| head`: the reader left; say nothing more
        sys.stdout = None
    return 0


if __name__ == "__main__":
    sys.exit(main())
