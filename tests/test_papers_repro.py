"""Committed claim tables equal what papers_repro.render makes from the committed results.json."""

from __future__ import annotations

from papers_repro import render


def test_claim_tables_match_their_json():
    for md, text in render.paper_files().items():
        assert md.read_text() == text, f"{md.name} drifted: run python -m papers_repro.render"


def test_every_paper_experiment_has_a_claim_file():
    for name in render.registry.names():
        _, paper, _ = render.cited(name)
        assert paper is not None, f"experiments.{name} names no PAPER"
        assert (render.ROOT / "papers_repro" / f"{paper}.md").exists()
