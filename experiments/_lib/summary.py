"""results/SUMMARY.md: every experiment's claims for one preset, in one table.

Written by `python -m experiments.all` (and `python -m papers_repro.render --summary`); lives in
experiments/_lib so that the orchestration layer does not import papers_repro (the layer above).
"""

from __future__ import annotations

from experiments._lib import claims as C
from experiments._lib import io, registry


def fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v).replace("|", "\\|")


def summary(preset: str) -> str:
    """Counts by kind and status per experiment (the same counts as each paper file), then every
    row. Smoke and quick presets are too small to decide some claims: their rows are evidence
    that the code runs, and the cited full runs (papers_repro/) are the reproduction."""
    labels = [label for _, label in C.COUNT_COLUMNS]
    head = [
        "| paper | experiment | " + " | ".join(labels) + " |",
        "|---|---|" + "---|" * len(labels),
    ]
    rows = [
        "| paper | experiment | kind | row | reference | measured | status |",
        "|---|---|---|---|---|---|---|",
    ]
    every: list[dict] = []
    for name in registry.names():
        paper = getattr(registry.load(name), "PAPER", None)
        res = registry.results_dir(name, preset) / "results.json"
        if not res.exists():
            head.append(f"| {paper} | {name} | (no results for preset {preset}) |||||||")
            continue
        claims = io.read_json(res)["claims"]
        every += claims
        head.append(f"| {paper} | {name} | " + " | ".join(C.count_cells(claims)) + " |")
        for r in claims:
            rows.append(
                f"| {paper} | {name} | {r['kind']} | `{r['id']}` | {fmt(r['reference'])} "
                f"| {fmt(r['measured'])} | {r['status']} |"
            )
    head.append("| **total** | | " + " | ".join(C.count_cells(every, bold=True)) + " |")
    note = (
        f"Counts by kind and status for the {preset} presets ({C.counts_line(C.counts(every))})."
        + (
            ""
            if preset == "full"
            else " These presets are sized to run in minutes: a claim row here is evidence that "
            "the code path runs, and may be too small to decide; the reproductions are the cited "
            "full runs in papers_repro/."
        )
    )
    return (
        f"# Reproduction summary ({preset} presets)\n\n{note}\n\n"
        + "\n".join(head)
        + "\n\n## Every row\n\n"
        + "\n".join(rows)
        + "\n"
    )


def write_summary(preset: str) -> str:
    """Writes results/SUMMARY.md for `preset`; returns its text."""
    text = summary(preset)
    out = registry.ROOT / "results" / "SUMMARY.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text)
    return text
