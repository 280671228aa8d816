"""Claim rows (schema v2): what is compared, against which reference, and the verdict.

Every row has the same keys, so papers_repro/render.py and results/SUMMARY.md need no per-paper
code:

- `kind`: CLAIM (a statement of the paper that could fail), CHECK (holds by construction or
  verifies our code: a correctness test, a reduction, arithmetic on the paper's own table; never
  counted as a reproduction) or MEASUREMENT (a number reported for context, with no verdict).
- `source` + `where`: where the reference value comes from. PAPER: `where` is the section /
  table / figure and `reference` the value or statement quoted from it. DERIVED: our own
  derivation; `where` names the function that computes it (a dotted name, e.g.
  `theory.cnn_spectra.rank_slope`). AUTHORS_CODE: our run of the authors' released code; `where`
  names the commit and the run. NONE: a measurement or a check with no external reference.
- `status`: for claims REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE (the run cannot decide --
  underpowered, or the wrong regime; `decide` says what run would) or NOT_ATTEMPTED (a main
  claim we cannot run here; `decide` says what it would take); PASSED / FAILED for checks, or
  INCONCLUSIVE for a check whose interval straddles its band (the run cannot decide, e.g. a
  smoke preset's few items; `decide` says what run would: `check_status`); MEASURED for
  measurements.

Agreement is an interval inside a stated band (theory.stats), never a test that failed to reject.
"""

from __future__ import annotations

import math
import re

from theory import stats

# kinds
CLAIM, CHECK, MEASUREMENT = "claim", "check", "measurement"
KINDS = (CLAIM, CHECK, MEASUREMENT)
# sources of the reference value
PAPER, DERIVED, AUTHORS_CODE, NONE = "paper", "derived", "authors' code", "none"
SOURCES = (PAPER, DERIVED, AUTHORS_CODE, NONE)
# statuses
REPRODUCED, NOT_REPRODUCED = "reproduced", "not reproduced"
INCONCLUSIVE, NOT_ATTEMPTED = "inconclusive", "not attempted"
PASSED, FAILED, MEASURED = "passed", "failed", "measured"
CLAIM_STATUSES = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_ATTEMPTED)
STATUSES = {
    CLAIM: CLAIM_STATUSES,
    CHECK: (PASSED, FAILED, INCONCLUSIVE),
    MEASUREMENT: (MEASURED,),
}
KEYS = (
    "id",
    "kind",
    "claim",
    "source",
    "where",
    "reference",
    "measured",
    "tolerance",
    "status",
    "evidence",
    "decide",
)

_DOTTED = re.compile(r"\b[a-z_][a-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+\b")
_COMMIT = re.compile(r"\b[0-9a-f]{7,40}\b")


def claim(
    id: str,
    claim: str,
    where: str,
    reference,
    measured,
    tolerance: str,
    ok: bool | None,
    evidence: str = "",
    *,
    kind: str,
    source: str,
    status: str | None = None,
    decide: str = "",
) -> dict:
    """One row. `ok` gives the verdict of a claim or check (None: a measurement); `status`
    overrides it for INCONCLUSIVE / NOT_ATTEMPTED claims, which must say in `decide` what would
    settle them. Raises ValueError on a row that breaks the schema (a programming error)."""
    if kind not in KINDS:
        raise ValueError(f"{id}: kind {kind!r} not in {KINDS}")
    if source not in SOURCES:
        raise ValueError(f"{id}: source {source!r} not in {SOURCES}")
    if source == DERIVED and not _DOTTED.search(where):
        raise ValueError(f"{id}: a derived reference must name its function in `where`: {where!r}")
    if source == AUTHORS_CODE and not _COMMIT.search(where):
        raise ValueError(f"{id}: an authors'-code reference must name the commit: {where!r}")
    if source == PAPER and not where.strip():
        raise ValueError(f"{id}: a paper reference needs its section/table/figure")
    if status is None:
        if kind == MEASUREMENT or ok is None:
            if kind != MEASUREMENT:
                raise ValueError(f"{id}: a {kind} needs a verdict (ok) or a status")
            status = MEASURED
        else:
            finite = not (
                measured is None or (isinstance(measured, float) and not math.isfinite(measured))
            )
            good = bool(ok) and finite
            if kind == CLAIM:
                status = REPRODUCED if good else NOT_REPRODUCED
            else:
                status = PASSED if good else FAILED
    if status not in STATUSES[kind]:
        raise ValueError(f"{id}: status {status!r} is not one of {STATUSES[kind]} for a {kind}")
    if status in (INCONCLUSIVE, NOT_ATTEMPTED) and not decide.strip():
        raise ValueError(f"{id}: an {status} claim must say what run would decide it (decide=)")
    return {
        "id": id,
        "kind": kind,
        "claim": claim,
        "source": source,
        "where": where,
        "reference": reference,
        "measured": measured,
        "tolerance": tolerance,
        "status": status,
        "evidence": evidence,
        "decide": decide,
    }


def same_rows(a, b, rtol: float = 1e-12) -> bool:
    """Two claim lists (or any JSON trees) equal, floats to `rtol`: re-judging a committed run on
    another machine recomputes derived references through numpy/XLA, whose last bits differ by
    CPU (seen: 0.6756996787937006 vs ...007); that is not a change of the claims."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_rows(a[k], b[k], rtol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_rows(x, y, rtol) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or abs(a - b) <= rtol * max(abs(a), abs(b))
    return type(a) is type(b) and a == b


def within(measured: float, target: float, tol: float) -> bool:
    return measured is not None and math.isfinite(measured) and abs(measured - target) <= tol


def verdict_status(verdict: str) -> str:
    """theory.stats verdict (inside / outside / undecided) -> claim status."""
    return {
        stats.INSIDE: REPRODUCED,
        stats.OUTSIDE: NOT_REPRODUCED,
        stats.UNDECIDED: INCONCLUSIVE,
    }[verdict]


def check_status(verdict: str) -> str:
    """theory.stats verdict -> check status: inside the band passed, outside failed, an
    interval straddling it (undecided) inconclusive."""
    return {stats.INSIDE: PASSED, stats.OUTSIDE: FAILED, stats.UNDECIDED: INCONCLUSIVE}[verdict]


def sign_status(lo: float, hi: float) -> str:
    """An interval of "A - B" entirely above 0: reproduced; entirely below: not reproduced;
    otherwise (or undefined, nan) inconclusive."""
    return REPRODUCED if lo > 0 else NOT_REPRODUCED if hi < 0 else INCONCLUSIVE


def rate_claim(
    id: str,
    text: str,
    where: str,
    reference,
    slope: float,
    se: float,
    *,
    target: float,
    alternative: float,
    alternative_name: str,
    source: str,
    evidence: str = "",
    decide: str = "",
    regime_ok: bool = True,
    regime_note: str = "",
) -> dict:
    """A fitted exponent against the claimed rate and the nearest rate the paper tells it apart
    from (theory.stats.rate_decision: slope +- 3 SE inside target +- gap/2 = reproduced, outside
    = not reproduced, else inconclusive). `regime_ok=False` (the fitted range is outside where the
    claim can show, e.g. a discrete level count that changes across it) makes the row
    inconclusive whatever the fit, with `regime_note` saying why."""
    d = stats.rate_decision(slope, se, target=target, alternative=alternative)
    status = verdict_status(d.verdict) if regime_ok else INCONCLUSIVE
    why = ""
    if not regime_ok:
        why = f"wrong regime: {regime_note}. "
    elif not d.powered:
        why = f"underpowered: 3 SE = {3 * se:.3g} >= gap/2 = {(d.band[1] - d.band[0]) / 2:.3g}. "
    if status == INCONCLUSIVE and not decide:
        decide = "more runs (SE ~ 1/sqrt(runs)) until 3 SE < gap/2, or a wider fitted range"
    return claim(
        id,
        text,
        where,
        reference,
        slope,
        f"slope +- 3 SE inside {target:.4g} +- gap/2 (gap = {abs(alternative - target):.3g} to "
        f"{alternative_name} = {alternative:.4g})",
        None,
        why
        + d.text()
        + (f"; SE {se:.2g}" if math.isfinite(se) else "")
        + (f"; {evidence}" if evidence else ""),
        kind=CLAIM,
        source=source,
        status=status,
        decide=decide if status == INCONCLUSIVE else "",
    )


def not_attempted(id: str, text: str, where: str, reference, why: str, decide: str) -> dict:
    """A main claim of the paper with no run here: the reason, and what running it would take."""
    return claim(
        id, text, where, reference, None, "—", None, why,
        kind=CLAIM, source=PAPER, status=NOT_ATTEMPTED, decide=decide,
    )  # fmt: skip


# The counts every table shows, in order, with their column labels.
COUNT_COLUMNS = (
    (f"{CLAIM}/{REPRODUCED}", "claims reproduced"),
    (f"{CLAIM}/{NOT_REPRODUCED}", "not reproduced"),
    (f"{CLAIM}/{INCONCLUSIVE}", "inconclusive"),
    (f"{CLAIM}/{NOT_ATTEMPTED}", "not attempted"),
    (f"{CHECK}/{PASSED}", "checks passed"),
    (f"{CHECK}/{FAILED}", "checks failed"),
    (f"{CHECK}/{INCONCLUSIVE}", "checks inconclusive"),
    (f"{MEASUREMENT}/{MEASURED}", "measurements"),
)


def counts(rows: list[dict]) -> dict[str, int]:
    """Rows counted by kind and status, every key of COUNT_COLUMNS present (0 when none)."""
    out = {key: 0 for key, _ in COUNT_COLUMNS}
    for r in rows:
        out[f"{r['kind']}/{r['status']}"] += 1
    return out


def count_cells(rows: list[dict], bold: bool = False) -> list[str]:
    """counts(rows) as table cells in COUNT_COLUMNS order."""
    c = counts(rows)
    return [f"**{c[k]}**" if bold else str(c[k]) for k, _ in COUNT_COLUMNS]


def counts_line(c: dict[str, int]) -> str:
    judged = sum(c[f"{CLAIM}/{s}"] for s in CLAIM_STATUSES)
    return (
        f"claims: {c['claim/reproduced']} reproduced, {c['claim/not reproduced']} not reproduced, "
        f"{c['claim/inconclusive']} inconclusive, {c['claim/not attempted']} not attempted "
        f"(of {judged}); checks: {c['check/passed']} passed, {c['check/failed']} failed"
        + (f", {c['check/inconclusive']} inconclusive" if c["check/inconclusive"] else "")
        + f"; measurements: {c['measurement/measured']}"
    )
