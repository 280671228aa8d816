"""Render claim tables from results.json; never typed by hand.

    python -m papers_repro.render             # rewrite each papers_repro/*.md generated block
    python -m papers_repro.render --check     # exit 1 if a committed table drifts from its JSON
    python -m papers_repro.render --summary [--preset quick]   # results/SUMMARY.md, printed
    python -m papers_repro.render --workspace # the status table in WORKSPACE.md
    python -m papers_repro.render --rejudge   # recompute the claims of every cited results.json

`--rejudge` applies the current `check_claims` to a committed run's metrics and series (claims are
a pure function of them), rewrites its `claims` and `schema`, and records the commit in its
manifest (`claims_rejudged`); the run's numbers are untouched. The paper files and README.md's
counts are rendered from those files, so they always show the same counts.

Each experiment module names its paper (`PAPER`) and the preset the paper file cites
(`CITED_PRESET`); that run's results.json is committed under results/<name>/<preset>/.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

from experiments._lib import claims as C
from experiments._lib import io, manifest, registry
from experiments._lib.summary import fmt, write_summary

ROOT = registry.ROOT
BEGIN = "<!-- BEGIN GENERATED: claims (python -m papers_repro.render) -->"
END = "<!-- END GENERATED: claims -->"
COUNTS_BEGIN = "<!-- BEGIN GENERATED: counts (python -m papers_repro.render) -->"
COUNTS_END = "<!-- END GENERATED: counts -->"
README_BEGIN = "<!-- BEGIN GENERATED: paper counts (python -m papers_repro.render) -->"
README_END = "<!-- END GENERATED: paper counts -->"
WS_BEGIN = "<!-- BEGIN GENERATED: status (python -m papers_repro.render --workspace) -->"
WS_END = "<!-- END GENERATED: status -->"


SOURCE_LABEL = {
    C.PAPER: "paper",
    C.DERIVED: "derived",
    C.AUTHORS_CODE: "authors' code",
    C.NONE: "—",
}


def _ref(c: dict) -> str:
    return (
        f"{SOURCE_LABEL[c['source']]}: {fmt(c['where'])}"
        if c["source"] != C.NONE
        else fmt(c["where"])
    )


def claims_table(results: dict) -> str:
    """One experiment's rows: claims, then measurements, then checks, each its own table."""
    rows = results["claims"]
    lines = [
        f"Rendered from `results/{results['experiment']}/{results['preset']}/results.json`: "
        + C.counts_line(C.counts(rows))
        + ".",
    ]
    by_kind = {k: [c for c in rows if c["kind"] == k] for k in C.KINDS}
    if by_kind[C.CLAIM]:
        lines += [
            "",
            "**Claims** (statements of the paper that could fail):",
            "",
            "| ID | claim | reference (source: where) | reference value | measured | band / test "
            "| status | evidence; what would decide |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in by_kind[C.CLAIM]:
            # what would decide a row is shown only where the row is undecided: a reproduced or
            # not-reproduced row carrying "Decide: ..." reads as if the verdict were provisional
            undecided = c["status"] in (C.INCONCLUSIVE, C.NOT_ATTEMPTED)
            decide = f" **Decide:** {fmt(c['decide'])}" if c["decide"] and undecided else ""
            lines.append(
                f"| `{c['id']}` | {fmt(c['claim'])} | {_ref(c)} | {fmt(c['reference'])} "
                f"| {fmt(c['measured'])} | {fmt(c['tolerance'])} | **{c['status']}** "
                f"| {fmt(c['evidence'])}{decide} |"
            )
    if by_kind[C.MEASUREMENT]:
        lines += [
            "",
            "**Measurements** (no paper value; reported for context, not judged):",
            "",
            "| ID | quantity | source: where | measured | evidence |",
            "|---|---|---|---|---|",
        ]
        for c in by_kind[C.MEASUREMENT]:
            lines.append(
                f"| `{c['id']}` | {fmt(c['claim'])} | {_ref(c)} | {fmt(c['measured'])} "
                f"| {fmt(c['evidence'])} |"
            )
    if by_kind[C.CHECK]:
        lines += [
            "",
            "**Checks** (hold by construction or verify our code; never counted as reproductions):",
            "",
            "| ID | check | reference (source: where) | expected | measured | tolerance | status "
            "| evidence |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in by_kind[C.CHECK]:
            lines.append(
                f"| `{c['id']}` | {fmt(c['claim'])} | {_ref(c)} | {fmt(c['reference'])} "
                f"| {fmt(c['measured'])} | {fmt(c['tolerance'])} | **{c['status']}** "
                f"| {fmt(c['evidence'])} |"
            )
    timing = results.get("timing") or {}
    if timing:
        lines += [
            "",
            "Timing (wall clock, this run; not a function of the seed): "
            + ", ".join(f"{k} = {_timing(v)}" for k, v in sorted(timing.items()))
            + ".",
        ]
    return "\n".join(lines)


def _timing(v) -> str:
    """A timing entry, compact: numbers to 4 digits, long lists of numbers (per-call seconds) as
    their count, total and median (the values themselves stay in results.json)."""
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_timing(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        nums = all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)
        if nums and len(v) > 16:
            return f"{len(v)} values (total {sum(v):.4g}, median {statistics.median(v):.4g})"
        return "[" + ", ".join(_timing(x) for x in v) + "]"
    return fmt(v)


def _counts_header(first: str) -> list[str]:
    labels = [label for _, label in C.COUNT_COLUMNS]
    return [f"| {first} | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]


def counts_block(experiments: list[tuple[str, dict]]) -> str:
    """The counts a paper file opens with: by kind and status, per experiment and in total."""
    lines = _counts_header("experiment")
    for name, res in experiments:
        cells = " | ".join(C.count_cells(res["claims"]))
        lines.append(f"| `{name}` ({res['preset']}) | {cells} |")
    if len(experiments) > 1:
        every = [r for _, res in experiments for r in res["claims"]]
        lines.append("| **total** | " + " | ".join(C.count_cells(every, bold=True)) + " |")
    return "\n".join(lines)


def readme_counts(fed: dict[pathlib.Path, list[tuple[str, dict]]]) -> str:
    """Per-paper counts of the cited runs, for README.md (the same numbers as each paper file)."""
    lines = _counts_header("paper")
    for md, experiments in fed.items():
        every = [r for _, res in experiments for r in res["claims"]]
        cells = " | ".join(C.count_cells(every))
        lines.append(f"| [{md.stem}](papers_repro/{md.name}) | {cells} |")
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


def extra_runs(name: str) -> tuple[str, ...]:
    """Presets besides the cited one whose committed runs a paper file also shows (the module's
    `EXTRA_CITED`): a follow-up run that decides rows the cited run left open. Their tables are
    rendered in their own block (`claims <name>/<preset>`) and never added to the counts."""
    return tuple(getattr(registry.load(name), "EXTRA_CITED", ()))


def paper_files() -> dict[pathlib.Path, str]:
    """Maps papers_repro/<paper>.md to the rendered text it should have."""
    out, fed = {}, {}
    for name in registry.names():
        _, paper, preset = cited(name)
        if paper is None:
            continue
        md = ROOT / "papers_repro" / f"{paper}.md"
        for extra in extra_runs(name):
            res = io.read_json(registry.results_dir(name, extra) / "results.json")
            text = out.get(md, md.read_text())
            tag = f"{name}/{extra}"
            if experiment_begin(tag) not in text:
                raise ValueError(f"{md.name} has no block for the extra run {tag}")
            out[md] = replace_block(
                text, experiment_begin(tag), experiment_end(tag), claims_table(res)
            )
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
        results = io.read_json(res)
        out[md] = replace_block(text, begin, end, claims_table(results))
        fed.setdefault(md, []).append((name, results))
    for md, experiments in fed.items():
        out[md] = replace_block(out[md], COUNTS_BEGIN, COUNTS_END, counts_block(experiments))
    readme = ROOT / "README.md"
    out[readme] = replace_block(readme.read_text(), README_BEGIN, README_END, readme_counts(fed))
    return out


def rejudge() -> list[str]:
    """Recomputes the claims of every cited results.json with today's check_claims."""
    changed = []
    runs = [
        (name, module, paper, preset, preset == primary)
        for name in registry.names()
        for module, paper, primary in [cited(name)]
        for preset in (primary, *extra_runs(name))
    ]
    for name, module, paper, preset, is_primary in runs:
        folder = registry.results_dir(name, preset)
        if paper is None or not (folder / "results.json").exists():
            continue
        results = io.read_json(folder / "results.json")
        inputs = {k: v for k, v in results.items() if k != "claims"}
        claims = io.to_jsonable(module.check_claims(inputs))
        if C.same_rows(claims, results["claims"]) and results["schema"] == io.SCHEMA:
            continue
        results["claims"], results["schema"] = claims, io.SCHEMA
        io.write_json(folder / "results.json", results)
        man = io.read_json(folder / "manifest.json")
        git = manifest.git_state()
        man.setdefault("claims_rejudged", []).append(
            {
                "git": git,
                "schema": io.SCHEMA,
                "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
        )
        io.write_json(folder / "manifest.json", man)
        changed.append(name if is_primary else f"{name}/{preset}")
    return changed


def experiment_begin(name: str) -> str:
    return f"<!-- BEGIN GENERATED: claims {name} (python -m papers_repro.render) -->"


def experiment_end(name: str) -> str:
    return f"<!-- END GENERATED: claims {name} -->"


def status_table() -> str:
    rows = [
        "| experiment | paper | quick runtime | full runtime (device) | reproduced / judged |",
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
                cells.append(manifest.runtime_text(m) + (f" ({kinds})" if p == "full" else ""))
            else:
                cells.append("not run here")
        res = registry.results_dir(name, preset) / "results.json"
        if res.exists():
            c = C.counts(io.read_json(res)["claims"])
            judged = sum(c[f"claim/{st}"] for st in C.CLAIM_STATUSES)
            claims = (
                f"{c['claim/reproduced']}/{judged} claims, {c['check/passed']}/"
                f"{c['check/passed'] + c['check/failed'] + c['check/inconclusive']} checks "
                f"({preset})"
            )
        else:
            claims = "—"
        rows.append(f"| `{name}` | {paper} | {cells[0]} | {cells[1]} | {claims} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m papers_repro.render")
    p.add_argument("--check", action="store_true")
    p.add_argument("--summary", action="store_true")
    p.add_argument("--workspace", action="store_true")
    p.add_argument("--rejudge", action="store_true")
    p.add_argument("--preset", default="quick")
    args = p.parse_args(argv)
    if args.rejudge:
        changed = rejudge()
        print("re-judged: " + (", ".join(changed) or "nothing changed"))
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
