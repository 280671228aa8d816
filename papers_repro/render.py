"""Render claim tables from results.json; never typed by hand.

    python -m papers_repro.render             # rewrite each papers_repro/*.md generated block
    python -m papers_repro.render --check     # exit 1 if a committed table drifts from its JSON
    python -m papers_repro.render --summary [--preset quick]   # results/SUMMARY.md, printed
    python -m papers_repro.render --workspace # the status table in WORKSPACE.md

Each experiment module names its paper (`PAPER`) and the preset the paper file cites
(`CITED_PRESET`); that run's results.json is committed under results/<name>/<preset>/.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from experiments._lib import io, registry
from experiments._lib.summary import fmt, write_summary

ROOT = registry.ROOT
BEGIN = "<!-- BEGIN GENERATED: claims (python -m papers_repro.render) -->"
END = "<!-- END GENERATED: claims -->"
WS_BEGIN = "<!-- BEGIN GENERATED: status (python -m papers_repro.render --workspace) -->"
WS_END = "<!-- END GENERATED: status -->"


def claims_table(results: dict) -> str:
    claims = results["claims"]
    n_ok = sum(c["status"] == "reproduced" for c in claims)
    n_bad = sum(c["status"] == "not reproduced" for c in claims)
    lines = [
        f"Rendered from `results/{results['experiment']}/{results['preset']}/results.json` "
        f"({n_ok} reproduced, {n_bad} not reproduced, "
        f"{len(claims) - n_ok - n_bad} measured without a paper value).",
        "",
        "| ID | claim (where) | paper | measured | tolerance | status | evidence |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in claims:
        lines.append(
            f"| `{c['id']}` | {fmt(c['claim'])} ({fmt(c['where'])}) | {fmt(c['paper_value'])} "
            f"| {fmt(c['measured'])} | {fmt(c['tolerance'])} | **{c['status']}** "
            f"| {fmt(c['evidence'])} |"
        )
    timing = results.get("timing") or {}
    if timing:
        lines += [
            "",
            "Timing (wall clock, this run; not a function of the seed): "
            + ", ".join(f"{k} = {fmt(v)}" for k, v in sorted(timing.items()))
            + ".",
        ]
    return "\n".join(lines)


def replace_block(text: str, begin: str, end: str, body: str) -> str:
    if begin not in text or end not in text:
        raise ValueError(f"missing markers {begin!r} / {end!r}")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{body}\n{end}{tail}"


def cited(name: str):
    module = registry.load(name)
    paper = getattr(module, "PAPER", None)
    preset = getattr(module, "CITED_PRESET", "full")
    return module, paper, preset


def paper_files() -> dict[pathlib.Path, str]:
    """Maps papers_repro/<paper>.md to the rendered text it should have."""
    out = {}
    for name in registry.names():
        _, paper, preset = cited(name)
        if paper is None:
            continue
        md = ROOT / "papers_repro" / f"{paper}.md"
        res = registry.results_dir(name, preset) / "results.json"
        if not res.exists():
            raise FileNotFoundError(
                f"{res} is missing: run python -m experiments.{name} "
                f"--preset {preset} and commit it"
            )
        text = out.get(md, md.read_text())
        begin, end = BEGIN, END
        if experiment_begin(name) in text:  # a paper fed by several experiments: one block each
            begin, end = experiment_begin(name), experiment_end(name)
        out[md] = replace_block(text, begin, end, claims_table(io.read_json(res)))
    return out


def experiment_begin(name: str) -> str:
    return f"<!-- BEGIN GENERATED: claims {name} (python -m papers_repro.render) -->"


def experiment_end(name: str) -> str:
    return f"<!-- END GENERATED: claims {name} -->"


def status_table() -> str:
    rows = [
        "| experiment | paper | quick runtime | full runtime (device) | claims reproduced |",
        "|---|---|---|---|---|",
    ]
    for name in registry.names():
        _, paper, preset = cited(name)
        cells = []
        for p in ("quick", "full"):
            man = registry.results_dir(name, p) / "manifest.json"
            if man.exists():
                m = io.read_json(man)
                kinds = ", ".join(m["devices"]["device_kinds"])
                cells.append(f"{m['wall_seconds']:.0f} s" + (f" ({kinds})" if p == "full" else ""))
            else:
                cells.append("not run here")
        res = registry.results_dir(name, preset) / "results.json"
        if res.exists():
            cl = io.read_json(res)["claims"]
            judged = [c for c in cl if c["status"] != "measured"]
            ok = sum(c["status"] == "reproduced" for c in judged)
            claims = f"{ok}/{len(judged)} ({preset})"
        else:
            claims = "—"
        rows.append(f"| `{name}` | {paper} | {cells[0]} | {cells[1]} | {claims} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m papers_repro.render")
    p.add_argument("--check", action="store_true")
    p.add_argument("--summary", action="store_true")
    p.add_argument("--workspace", action="store_true")
    p.add_argument("--preset", default="quick")
    args = p.parse_args(argv)
    if args.summary:
        print(write_summary(args.preset))
        return 0
    if args.workspace:
        ws = ROOT / "WORKSPACE.md"
        ws.write_text(replace_block(ws.read_text(), WS_BEGIN, WS_END, status_table()))
        return 0
    drift = []
    for md, text in paper_files().items():
        if args.check:
            if md.read_text() != text:
                drift.append(md.name)
        else:
            md.write_text(text)
    if drift:
        print(
            f"claim tables out of date: {', '.join(drift)} (run python -m papers_repro.render)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
