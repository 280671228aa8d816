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


def test_every_reproduction_is_reached_from_a_notebook():
    """Each experiment that reproduces a paper (the bench_* timings apart) is run or pointed to
    by some notebook, as `experiments.<name>` or `experiments/<name>.py`, so a researcher who
    opens the paper's notebook finds every run behind its claim file."""
    from experiments._lib import registry

    text = "\n".join(s.read_text() for s in SCRIPTS)
    missing = [
        n
        for n in registry.names()
        if not n.startswith("bench_")
        and f"experiments.{n}" not in text
        and f"experiments/{n}.py" not in text
    ]
    assert not missing, f"no notebook reaches {missing}"


SETUP_START, SETUP_END = "# Setup.", "sys.path.insert(0, str(repo))\n"


def _setup_block(script: pathlib.Path) -> str:
    """The setup code every notebook opens with, from its '# Setup.' comment to the sys.path
    line (imports a notebook adds between them are its own)."""
    text = script.read_text()
    start = text.index(SETUP_START)
    return text[start : text.index(SETUP_END, start) + len(SETUP_END)]


def test_every_notebook_opens_with_the_same_setup():
    blocks = {s.stem: _setup_block(s) for s in SCRIPTS}
    strip = {k: "\n".join(ln for ln in b.splitlines() if ln != "import dataclasses")
             for k, b in blocks.items()}  # fmt: skip
    assert len(set(strip.values())) == 1, sorted(strip)


def _run_setup_as_in_colab(tmp_path, env_extra: dict):
    """The setup block in a fresh interpreter that believes it is Colab (a `google.colab`
    module present), with the checkout's location and URL from the environment."""
    import os
    import subprocess
    import sys

    fake = (
        "import sys, types\n"
        "sys.modules['google'] = types.ModuleType('google')\n"
        "sys.modules['google.colab'] = types.ModuleType('google.colab')\n"
    )
    code = fake + _setup_block(SCRIPTS[0]) + "print('REPO', repo, os.getcwd())\n"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMLEARN_REPO")}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


@pytest.mark.budget(allowance_s(10))
def test_setup_in_colab_clones_the_repository_and_installs(tmp_path):
    """In Colab with REPO_URL (here the environment variable, pointing at this checkout's git
    history) the cell clones, installs the pinned requirements (all present here: pip has
    nothing to fetch) and the Debian packages that are missing (none here: `make setup` installed
    them), and continues from the clone."""
    clone = tmp_path / "memlearn"
    p = _run_setup_as_in_colab(
        tmp_path, {"MEMLEARN_REPO": str(clone), "MEMLEARN_REPO_URL": f"file://{ROOT}"}
    )
    assert p.returncode == 0, p.stderr[-2000:]
    assert f"REPO {clone} {clone}" in p.stdout
    assert (clone / "WORKSPACE.md").exists() and (clone / "requirements.lock").exists()


def test_setup_in_colab_without_a_checkout_or_url_says_what_to_set(tmp_path):
    p = _run_setup_as_in_colab(tmp_path, {"MEMLEARN_REPO": str(tmp_path / "absent")})
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("setup: no checkout at"), p.stderr
    assert "REPO_URL" in lines[0]
