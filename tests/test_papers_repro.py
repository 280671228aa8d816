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


def test_decide_shown_only_on_undecided_rows():
    # a decided row keeps its `decide` in results.json but the table does not print it (it would
    # read as if the verdict were provisional); inconclusive / not attempted rows print it
    kw = dict(kind=render.C.CLAIM, source=render.C.NONE, decide="run X")
    rows = [
        render.C.claim("a", "c", "—", 1.0, 1.0, "band", True, "e", **kw),
        render.C.claim(
            "b", "c", "—", 1.0, 1.0, "band", None, "e", status=render.C.INCONCLUSIVE, **kw
        ),  # fmt: skip
    ]
    table = render.claims_table({"experiment": "x", "preset": "full", "claims": rows})
    line = {r["id"]: next(s for s in table.splitlines() if f"`{r['id']}`" in s) for r in rows}
    assert "Decide" not in line["a"]
    assert "**Decide:** run X" in line["b"]
