"""Claim rows: what the paper says, what we measured, the tolerance and the verdict.

Every row has the same keys, so papers_repro/render.py and results/SUMMARY.md need no per-paper
code. `status` is one of REPRODUCED, NOT_REPRODUCED or MEASURED (a number the paper does not give,
reported for context, e.g. the effect of a correction).
"""

from __future__ import annotations

import math

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
MEASURED = "measured"


def claim(
    id: str,
    claim: str,
    where: str,
    paper_value,
    measured,
    tolerance: str,
    ok: bool | None,
    evidence: str = "",
) -> dict:
    if ok is None:
        status = MEASURED
    elif measured is None or (isinstance(measured, float) and not math.isfinite(measured)):
        status = NOT_REPRODUCED
    else:
        status = REPRODUCED if ok else NOT_REPRODUCED
    return {
        "id": id,
        "claim": claim,
        "where": where,
        "paper_value": paper_value,
        "measured": measured,
        "tolerance": tolerance,
        "status": status,
        "evidence": evidence,
    }


def within(measured: float, target: float, tol: float) -> bool:
    return measured is not None and math.isfinite(measured) and abs(measured - target) <= tol
