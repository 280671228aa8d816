"""Each colab/<name>.py (jupytext percent, the source of truth) has a paired .ipynb that executes.

The notebooks run in a real Jupyter kernel (nbclient + ipykernel): on their quick path
(NOTEBOOK_QUICK=1: the experiments' smoke presets and the notebooks' small sizes) in the fast
suite, and on their larger path (NOTEBOOK_QUICK=0: the quick presets) in the slow tier.
"""

from __future__ import annotations

import pathlib

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

from tests._asserts import allowance_s

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "colab").glob("*.py"))
# Notebooks whose quick path runs an experiment's smoke preset: they join that experiment's
# pytest-xdist group, after its smoke test (collected first), so on a cold suite they read the
# compiled programs from the persistent cache instead of compiling them a second time.
RUNS_SMOKE_PRESET = {
    "pc_compression": "pc_compression",
    "streaming_bandits": "streaming_bandit_regret",
    "fewshot_retention": "fewshot_retention",
}
# Each quick path's time (s) in one cold `make test` here (2026-12-02; a Jupyter kernel's start,
# imports, the run and its figures). Allowance: tests._asserts.allowance_s.
# fewshot_retention: 56 s on 2026-12-03 after its smoke test (the persistent cache warm for the
# smoke programs, as in the suite's xdist group).
MEASURED_NOTEBOOK_S = {"cnn_ntk": 71, "streaming_bandits": 66, "jrt": 57, "pc_compression": 48,
                       "fewshot_retention": 56}  # fmt: skip


def _script_param(script: pathlib.Path):
    marks = []
    if script.stem in RUNS_SMOKE_PRESET:
        marks.append(pytest.mark.xdist_group(RUNS_SMOKE_PRESET[script.stem]))
    if script.stem in MEASURED_NOTEBOOK_S:
        marks.append(pytest.mark.budget(allowance_s(MEASURED_NOTEBOOK_S[script.stem])))
    return pytest.param(script, marks=marks, id=script.stem)


def _sources(nb):
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


@pytest.mark.parametrize(
    "quick",
    [pytest.param("1", id="quick_path"), pytest.param("0", id="larger", marks=pytest.mark.slow)],
)
@pytest.mark.parametrize("script", [_script_param(s) for s in SCRIPTS])
def test_notebook_is_paired_and_runs(script, quick, monkeypatch):
    ipynb = script.with_suffix(".ipynb")
    assert ipynb.exists(), f"run: jupytext --to ipynb {script.relative_to(ROOT)}"
    paired = nbformat.read(ipynb, as_version=4)
    assert _sources(paired) == _sources(jupytext.read(script)), "ipynb out of sync with .py"
    monkeypatch.setenv("NOTEBOOK_QUICK", quick)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    NotebookClient(
        paired,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(script.parent)}},
    ).execute()
    outputs = [o for c in paired.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any(o.get("output_type") == "display_data" for o in outputs), "no figure displayed"


def test_every_notebook_script_has_an_ipynb():
    assert SCRIPTS
    for script in SCRIPTS:
        assert script.with_suffix(".ipynb").exists()
