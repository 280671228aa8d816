"""`pytest -m slow`: rerun each cited full preset and compare with the committed results.json.

The committed run is what papers_repro/ cites; rerunning it from the same code and seed must give
the same numbers (everything except the wall-clock `timing` section). Marked `full_rerun` as well
as `slow`, so the rest of the slow tier runs apart (`make test-slow-rest`); each rerun takes as
long as the committed run, whose manifest records its wall time (WORKSPACE.md sums them).

Bit equality is what the same code promises on the same CPU and library versions. Across CPUs it
does not hold: XLA:CPU and OpenBLAS pick their kernels by instruction set, so float reductions
(and least-squares fits through them) move in the last bits, and chaotic computations (a
Hamiltonian trajectory, the Markov coding game's episodes) carry such a move anywhere. So:
- where the committed manifest records the same CPU (`manifest.cpu()`: model and ISA flags) and
  the same versions, or records no CPU (runs before 2026-12-07), every number must be equal;
- where it records another CPU or other versions, every claim and check must keep its status
  (what papers_repro/ states), and how far the numbers moved is reported, not judged.
"""

from __future__ import annotations

import warnings

import pytest

from experiments._lib import io, manifest, registry
from tools.compare_results import compare

CITED = [
    name
    for name in registry.names()
    if (
        registry.results_dir(name, getattr(registry.load(name), "CITED_PRESET", "full"))
        / "results.json"
    ).exists()
]


def judge_rerun(committed: dict, fresh: dict, made_on: dict, here: dict):
    """(failure, report) for the rerun `fresh` against `committed`, as the module docstring says:
    failure is why it does not agree (None when it does); report, the numbers that moved on
    another CPU or versions, where moving is allowed (None when nothing moved).
    made_on: the committed manifest; here: this machine's {"cpu", "versions"}."""
    committed = {k: v for k, v in committed.items() if k != "timing"}
    fresh = {k: v for k, v in fresh.items() if k != "timing"}
    if fresh == committed:
        return None, None
    diff = compare(committed, fresh)
    summary = (f"{diff['moved']} numbers moved (largest relative change "
               f"{diff['largest_relative_change']}), {diff['other_changed']} other leaves "
               f"changed, claim statuses changed: {diff['claims_status_changed']}")  # fmt: skip
    there = {"cpu": made_on.get("cpu"), "versions": made_on["versions"]}
    if there["cpu"] is None or here == there:
        return f"the rerun differs from the committed run on its machine: {summary}", None
    if (diff["claims_status_changed"] or diff["claims_missing"] or diff["claims_added"]
            or diff["missing"] or diff["added"]):  # fmt: skip
        return f"on another CPU or versions ({there} vs {here}): {summary}", None
    return None, f"committed on {there}, rerun on {here}: {summary}"


def test_judge_rerun_is_exact_on_the_same_machine_and_keeps_statuses_across():
    here = {"cpu": {"model": "A", "isa": ["avx2"]}, "versions": {"jax": "1"}}
    run = {"metrics": {"x": 1.0}, "series": {}, "timing": {"s": 1},
           "claims": [{"id": "c", "status": "reproduced", "measured": 1.0}]}  # fmt: skip
    moved = {**run, "metrics": {"x": 1.0 + 1e-15}, "timing": {"s": 2}}
    flipped = {**moved, "claims": [{"id": "c", "status": "not reproduced", "measured": 1.0}]}
    same = {**here}
    other = {**here, "cpu": {"model": "B", "isa": ["avx512f"]}}
    unknown = {"versions": here["versions"]}  # a manifest written before the cpu field
    # timing ignored
    assert judge_rerun(run, {**run, "timing": {"s": 9}}, other, here) == (None, None)
    for made_on in (same, unknown):  # one last bit on the same (or an unknown) machine fails
        failure, report = judge_rerun(run, moved, made_on, here)
        assert failure.startswith("the rerun differs") and report is None
    failure, report = judge_rerun(run, moved, other, here)  # reported across CPUs
    assert failure is None and report.startswith("committed on")
    failure, report = judge_rerun(run, flipped, other, here)
    assert failure.startswith("on another CPU") and report is None
    newer = {**here, "versions": {"jax": "2"}}  # other versions count as another machine
    failure, report = judge_rerun(run, moved, newer, here)
    assert failure is None and report.startswith("committed on")


@pytest.mark.slow
@pytest.mark.full_rerun
@pytest.mark.parametrize("name", CITED)
def test_full_preset_reproduces_committed_results(name, tmp_path):
    module = registry.load(name)
    preset = getattr(module, "CITED_PRESET", "full")
    where = registry.results_dir(name, preset)
    assert module.main(["--preset", preset, "--out", str(tmp_path / name)]) == 0
    failure, report = judge_rerun(
        io.read_json(where / "results.json"),
        io.read_json(tmp_path / name / "results.json"),
        io.read_json(where / "manifest.json"),
        {"cpu": manifest.cpu(), "versions": manifest.versions()},
    )
    assert failure is None, failure
    if report:
        warnings.warn(f"{name}: {report}", stacklevel=1)
