"""results/SUMMARY.md: every experiment's claims for one preset, in one table.

Written by `python -m experiments.all` (and `python -m papers_repro.render --summary`); lives in
experiments/_lib so that the orchestration layer does not import papers_repro (the layer above).
"""

from __future__ import annotations

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
    rows = [
        "| paper | experiment | claim | paper value | measured | status |",
        "|---|---|---|---|---|---|",
    ]
    for name in registry.names():
        paper = getattr(registry.load(name), "PAPER", None)
        res = registry.results_dir(name, preset) / "results.json"
        if not res.exists():
            rows.append(f"| {paper} | {name} | (no results for preset {preset}) | | | missing |")
            continue
        for c in io.read_json(res)["claims"]:
            rows.append(
                f"| {paper} | {name} | `{c['id']}` | {fmt(c['paper_value'])} "
                f"| {fmt(c['measured'])} | {c['status']} |"
            )
    return f"# Reproduction summary ({preset} presets)\n\n" + "\n".join(rows) + "\n"


def write_summary(preset: str) -> str:
    """Writes results/SUMMARY.md for `preset`; returns its text."""
    text = summary(preset)
    out = registry.ROOT / "results" / "SUMMARY.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text)
    return text
