"""Claim rows v2: the schema refuses a row a referee could not read, and committed runs carry
the claims today's check_claims gives them."""

from __future__ import annotations

import pytest

from experiments._lib import claims as C
from experiments._lib import io
from papers_repro import render


def _row(**kw):
    base = dict(kind=C.CLAIM, source=C.PAPER)
    base.update(kw)
    return C.claim("x", "text", kw.pop("where", "Sec. 1"), 1.0, 1.0, "tol", kw.pop("ok", True),
                   **{k: v for k, v in base.items() if k not in ("where", "ok")})  # fmt: skip


def test_statuses_by_kind():
    assert _row()["status"] == C.REPRODUCED
    assert _row(ok=False)["status"] == C.NOT_REPRODUCED
    assert _row(kind=C.CHECK)["status"] == C.PASSED
    assert _row(kind=C.CHECK, ok=False)["status"] == C.FAILED
    assert _row(kind=C.MEASUREMENT, ok=None)["status"] == C.MEASURED
    row = _row(status=C.INCONCLUSIVE, decide="more runs")
    assert row["status"] == C.INCONCLUSIVE and row["decide"] == "more runs"
    # a check whose interval straddles its band cannot decide: inconclusive, with what would
    from theory import stats

    assert [C.check_status(v) for v in (stats.INSIDE, stats.OUTSIDE, stats.UNDECIDED)] == [
        C.PASSED, C.FAILED, C.INCONCLUSIVE,
    ]  # fmt: skip
    row = _row(kind=C.CHECK, status=C.INCONCLUSIVE, decide="more seeds")
    assert row["status"] == C.INCONCLUSIVE
    with pytest.raises(ValueError, match="what run would decide"):
        _row(kind=C.CHECK, status=C.INCONCLUSIVE)
    counted = C.counts([row])
    assert counted["check/inconclusive"] == 1
    assert "1 inconclusive; measurements" in C.counts_line(counted)


@pytest.mark.parametrize(
    "bad",
    [
        dict(kind="claims"),
        dict(source="paper value"),
        dict(source=C.DERIVED, where="our derivation"),  # must name its function
        dict(source=C.AUTHORS_CODE, where="their repository"),  # must name the commit
        dict(status=C.INCONCLUSIVE),  # must say what would decide it
        dict(kind=C.CHECK, status=C.REPRODUCED),  # a check is never a reproduction
        dict(ok=None),  # a claim needs a verdict
    ],
)
def test_schema_refuses(bad):
    with pytest.raises(ValueError):
        _row(**bad)


def test_counts_cover_every_kind_and_status():
    rows = [_row(), _row(kind=C.CHECK), _row(kind=C.MEASUREMENT, ok=None)]
    c = C.counts(rows)
    assert c["claim/reproduced"] == 1 and c["check/passed"] == 1
    assert c["measurement/measured"] == 1 and sum(c.values()) == 3


def test_committed_claims_are_todays_check_claims():
    """Each cited results.json holds the claims its experiment's check_claims gives today (run
    `python -m papers_repro.render --rejudge` after changing a check_claims)."""
    for name in render.registry.names():
        module, paper, cited = render.cited(name)
        for preset in (cited, *render.extra_runs(name)):
            _check_committed(module, name, preset)


def _check_committed(module, name, preset):
    results = io.read_json(render.registry.results_dir(name, preset) / "results.json")
    inputs = {k: v for k, v in results.items() if k != "claims"}
    assert results["schema"] == io.SCHEMA, name
    assert C.same_rows(io.to_jsonable(module.check_claims(inputs)), results["claims"]), (
        f"{name}/{preset}: committed claims are stale (python -m papers_repro.render --rejudge)"
    )


def test_same_rows_allows_last_bit_float_noise_only():
    row = {"id": "x", "reference": 0.6756996787937006, "measured": 1.0, "status": "passed"}
    assert C.same_rows([row], [{**row, "reference": 0.6756996787937007}])
    assert not C.same_rows([row], [{**row, "reference": 0.6757}])
    assert not C.same_rows([row], [{**row, "status": "failed"}])
    assert not C.same_rows([row], [row, row])
    assert not C.same_rows([{**row, "measured": 1}], [row])  # int vs float: a different value
