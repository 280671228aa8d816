"""`pytest -m slow`: rerun each cited full preset and compare with the committed results.json.

The committed run is what papers_repro/ cites; rerunning it from the same code and seed must give
the same numbers (everything except the wall-clock `timing` section). Marked `full_rerun` as well
as `slow`, so the rest of the slow tier runs apart (`make test-slow-rest`); each rerun takes as
long as the committed run, whose manifest records its wall time (WORKSPACE.md sums them).
"""

from __future__ import annotations

import pytest

from experiments._lib import io, registry

CITED = [
    name
    for name in registry.names()
    if (
        registry.results_dir(name, getattr(registry.load(name), "CITED_PRESET", "full"))
        / "results.json"
    ).exists()
]


@pytest.mark.slow
@pytest.mark.full_rerun
@pytest.mark.parametrize("name", CITED)
def test_full_preset_reproduces_committed_results(name, tmp_path):
    module = registry.load(name)
    preset = getattr(module, "CITED_PRESET", "full")
    committed = io.read_json(registry.results_dir(name, preset) / "results.json")
    assert module.main(["--preset", preset, "--out", str(tmp_path / name)]) == 0
    fresh = io.read_json(tmp_path / name / "results.json")
    committed.pop("timing")
    fresh.pop("timing")
    assert fresh == committed
