"""The experiment contract: CLI errors, typed overrides, atomic output, canonical JSON."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import types
import typing

import numpy as np
import pytest

from experiments import streaming_bandit_regret as sbr
from experiments._lib import cli, io, registry
from experiments._lib.config import UsageError, override


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Cfg:
    n: int = 1
    x: float = 0.5
    name: str = "a"
    flag: bool = False
    sizes: tuple[int, ...] = (1, 2)

    def __post_init__(self):
        if self.n < 0:
            raise ValueError("n must be >= 0")


def test_override_types():
    cfg = override(_Cfg(), ["n=3", "x=1e-3", "name=b", "flag=true", "sizes=4,5,6"])
    assert cfg == _Cfg(n=3, x=1e-3, name="b", flag=True, sizes=(4, 5, 6))
    assert override(_Cfg(), ["n=1e6"]).n == 1_000_000


@pytest.mark.parametrize(
    "item,msg",
    [
        ("m=3", "unknown config field 'm'"),
        ("n=abc", "expected int"),
        ("n=1.5", "expected int"),
        ("flag=maybe", "expected bool"),
        ("sizes=1,x", "expected int"),
        ("n", "field=value"),
        ("n=-1", "n must be >= 0"),
    ],
)
def test_override_errors(item, msg):
    with pytest.raises(UsageError, match=msg):
        override(_Cfg(), [item])


@pytest.mark.parametrize(
    "argv,msg",
    [
        (["--preset", "huge"], "unknown preset 'huge'"),
        (["--set", "nope=1"], "unknown config field 'nope'"),
        (["--set", "K=ten"], "expected int"),
        (["--set", "K=1"], "K must be >= 2"),
        (["--set", "t_factors=1e-9,1"], "T must be >= K"),
        (["--set", "max_memory=2"], "over the max_memory budget 2"),
        (["--set", "max_memory=1000000000000"], "where it constrains nothing"),
        (["--set", "clear_cut_best=1.3"], "arm means must lie in [0, 1]"),
        (["--bogus"], "unrecognized arguments"),
        (["--seed", "-1"], "seed must be an integer in [0, 2^32)"),
        (["--set", "k_sweep_T=inf"], "k_sweep_T must be finite, got inf"),
        (["--set", "t_factors=1,nan"], "t_factors must be finite, got nan"),
        (["--set", "seed=4294967296"], "seed must be an integer in [0, 2^32)"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(argv, msg, tmp_path, capsys):
    out = tmp_path / "out"
    code = sbr.main([*argv, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and msg in err and err.startswith("streaming_bandit_regret: error:")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_unknown_experiment(capsys):
    with pytest.raises(UsageError, match="unknown experiment 'nope'"):
        registry.load("nope")
    from experiments.__main__ import main as experiments_main

    assert experiments_main(["nope", "--preset", "quick"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown experiment 'nope'" in err


def test_missing_debian_data_is_a_clear_error(tmp_path):
    from experiments._lib import debian

    assert debian.require("pkg", tmp_path) == tmp_path
    with pytest.raises(UsageError, match="sudo apt-get install -y dataset-fashion-mnist"):
        debian.require("dataset-fashion-mnist", tmp_path / "missing")


def test_atomic_dir_leaves_nothing_on_interrupt(tmp_path):
    final = tmp_path / "res"
    final.mkdir()
    (final / "old.txt").write_text("previous run")
    with pytest.raises(KeyboardInterrupt):
        with io.atomic_dir(final) as tmp:
            (tmp / "results.json").write_text("{half")
            raise KeyboardInterrupt
    # The previous results survive untouched and no temp folder is left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]
    assert (final / "old.txt").read_text() == "previous run"


def test_atomic_dir_replaces_on_success(tmp_path):
    final = tmp_path / "res"
    final.mkdir()
    (final / "old.txt").write_text("x")
    with io.atomic_dir(final) as tmp:
        (tmp / "new.txt").write_text("y")
    assert sorted(p.name for p in final.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]


def test_interrupted_run_writes_nothing(tmp_path, monkeypatch, capsys):
    def boom(cfg):
        raise KeyboardInterrupt

    monkeypatch.setattr(sbr, "run", boom)
    code = sbr.main(["--out", str(tmp_path / "out")])
    assert code == 130 and list(tmp_path.iterdir()) == []
    assert "interrupted" in capsys.readouterr().err


def test_json_is_canonical():
    obj = {"b": np.float32(1.5), "a": [np.nan, math.inf, np.int64(3)], "c": (True,)}
    obj["d"] = {"z": [[1, 2], [3.5]], "y": [{"k": np.arange(2)}], "e": [], "f": {}}
    text = io.dumps(obj)
    assert text == (
        '{\n "a": [null, null, 3],\n "b": 1.5,\n "c": [true],\n "d": {\n'
        '  "e": [],\n  "f": {},\n  "y": [\n   {\n    "k": [0, 1]\n   }\n  ],\n'
        '  "z": [[1, 2], [3.5]]\n }\n}\n'
    )
    assert json.loads(text) == io.to_jsonable(obj) and io.dumps(json.loads(text)) == text


def test_fresh_claims_equal_claims_judged_from_the_file(tmp_path):
    """check_claims sees dicts in the order results.json is read back in: rows built by
    iterating a metric dict come out the same fresh as re-judged (a fresh bandit run wrote them
    in insertion order, and its committed claims then read as stale)."""

    def check_claims(results):
        return [{"id": k, "measured": v} for k, v in results["metrics"]["by_name"].items()]

    module = types.ModuleType("experiments.fake_order")
    module.__file__ = "experiments/fake_order.py"
    module.check_claims = check_claims
    cfg = _Cfg()
    fresh = cli.assemble(module, cfg, "smoke", {"metrics": {"by_name": {"z": 1.0, "a": 2.0}}})
    io.write_json(tmp_path / "results.json", fresh)
    back = io.read_json(tmp_path / "results.json")
    assert [r["id"] for r in fresh["claims"]] == ["a", "z"]
    assert io.to_jsonable(check_claims(back)) == fresh["claims"]


def test_registry_lists_experiments():
    assert "streaming_bandit_regret" in registry.names()
    assert "all" not in registry.names()


def test_format_claims_prints_every_row():
    rows = [
        {"id": "a", "kind": "claim", "status": "reproduced", "reference": 0.5, "measured": 0.51}
    ]
    assert "a" in cli.format_claims(rows) and "0.51" in cli.format_claims(rows)


def test_all_keeps_going_past_a_failing_experiment(monkeypatch, capsys):
    """experiments.all runs every experiment even when one raises, and reports the failures."""
    import types

    from experiments import all as run_all
    from experiments._lib import summary

    ran = []

    def fake(name, behaviour):
        def main(argv):
            ran.append(name)
            if behaviour == "raise":
                raise RuntimeError("boom")
            return behaviour

        return types.SimpleNamespace(main=main, PRESETS={"smoke": None})

    mods = {"a": fake("a", "raise"), "b": fake("b", 0), "c": fake("c", 2)}
    monkeypatch.setattr(registry, "names", lambda: list(mods))
    monkeypatch.setattr(registry, "load", lambda n: mods[n])
    monkeypatch.setattr(summary, "write_summary", lambda preset: "summary")
    assert run_all.main(["--preset", "smoke"]) == 1
    assert ran == ["a", "b", "c"]
    err = capsys.readouterr().err
    assert "RuntimeError: boom" in err and "failed: a, c" in err
    # a preset that some experiment lacks: refused before anything runs or SUMMARY is written
    ran.clear()
    monkeypatch.setattr(summary, "write_summary", lambda preset: pytest.fail("summary written"))
    assert run_all.main(["--preset", "nope"]) == 2
    assert ran == [] and "preset 'nope' is not defined by a, b, c" in capsys.readouterr().err


@pytest.mark.parametrize("name", registry.names())
def test_help_lists_every_field_and_preset_without_running(name, capsys, tmp_path):
    """--help (generated from the Config dataclass): each field with its type and default, the
    presets' values where they differ, each preset's committed wall time; exit 0, nothing run."""
    module = registry.load(name)
    assert module.main(["--help", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    for f in dataclasses.fields(module.Config):
        assert f"  {f.name}: " in out, f.name
    for preset in module.PRESETS:
        assert f"  {preset:<6} " in out
    assert "usage: python -m experiments." + name in out
    assert not (tmp_path / "out").exists()


def test_listing_reads_sources_without_importing_jax():
    """`python -m experiments` lists from the sources (fast): neither jax nor an experiment is
    imported, and each line is the module docstring's first line."""
    import subprocess
    import sys

    code = (
        "import sys; from experiments.__main__ import main; main([]); "
        "print(sorted(m for m in sys.modules if m == 'jax' or m.startswith('experiments.') "
        "and not m.startswith('experiments._lib') and m != 'experiments.__main__'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=registry.ROOT
    ).stdout.splitlines()
    assert out[-1] == "[]"
    for name in registry.names():
        line = next(x for x in out if x.startswith(name + " "))
        assert registry.summary_line(registry.load(name)) in line


@pytest.mark.parametrize("where", ["file", "under_file", "proc"])
def test_out_that_cannot_be_a_folder_is_refused_before_work(where, tmp_path, capsys):
    """--out at an existing file (it would be moved aside), under a file, or where no folder can
    be made: one line, exit 2, the user's file untouched, nothing else written."""
    user_file = tmp_path / "notes.txt"
    user_file.write_text("mine")
    out = {"file": user_file, "under_file": user_file / "out", "proc": "/proc/memlearn-out"}[where]
    assert sbr.main(["--preset", "smoke", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err, err
    assert user_file.read_text() == "mine" and list(tmp_path.iterdir()) == [user_file]


def test_output_folder_is_shareable(tmp_path):
    """mkdtemp makes 0700 folders; the results folder gets the umask's mode (0755 at 022)."""
    old = os.umask(0o022)
    try:
        with io.atomic_dir(tmp_path / "r") as d:
            (d / "x").write_text("1")
    finally:
        os.umask(old)
    assert (tmp_path / "r").stat().st_mode & 0o777 == 0o755


# Per experiment, sizes its run allocates with (runtime.memory), within every field's own range
# and far over the memory budget: refused up front with the number it would need.
# tools/bad_input_campaign.py tries every int field of every experiment at 10^12 the same way (in
# subprocesses, minutes; not a test).
TOO_LARGE = {
    "bench_cnn_gram": ["sizes=32,1000000000000"],
    "bench_linear_attention": ["batch=1000000000000"],
    "bench_pc_em": ["latents=4,4096", "autodiff_max_m=4096", "batch_size=1000"],
    "bench_gpt_train": ["sizes=8192,64", "batch=4096"],
    "bench_mec_coupling": ["sizes=4096,4096", "batches=16,1000000"],
    "bench_token_nll": ["sizes=1000000,1000000,8"],
    "cnn_learning_curves": ["dim_sizes=32,64,1000000000000"],
    "cnn_ntk_spectrum": ["check_n=1000000000000"],
    "fewshot_retention": ["sizes=4096,64", "eval_chunk=4096", "vocab_size=65536"],
    "jrt_training": ["vocab=1000000000000"],
    "mecb_coupling": ["mecb_size=256", "mecb_instances=1000000"],
    "pc_compression": ["n_latent=1000000000000"],
    "protocl_split_fmnist": ["seeds=64", "hidden=4096", "dim=4096"],
    "rich_lazy_lowrank": ["kernel_trials=100000"],
    "seqbayes_hmc": ["chains=1000000"],
    "set_disjointness": ["n_rf=1000000000000"],
    "streaming_bandit_regret": ["K=100000000"],
}


def test_every_experiment_states_its_memory_and_every_preset_fits():
    """The contract: memory_estimate(cfg) -> bytes in each experiment; every preset fits the
    budget of a 24 GB machine like the one the committed runs were made on (runtime.memory's
    60%: 14.4 GB), so a fresh clone on such a machine is never refused its own presets."""
    from runtime import memory

    assert set(TOO_LARGE) == set(registry.names())
    for name in registry.names():
        module = registry.load(name)
        for preset, cfg in module.PRESETS.items():
            need = module.memory_estimate(cfg)
            assert 0 < need <= memory.FRACTION * 24e9, (name, preset, need)


@pytest.mark.parametrize("name", registry.names())
def test_a_size_that_cannot_fit_is_refused_before_work(name, tmp_path, capsys):
    module = registry.load(name)
    sets = [a for s in TOO_LARGE[name] for a in ("--set", s)]
    out = tmp_path / "out"
    assert module.main(["--preset", "smoke", *sets, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ("too large" in err[0] or "lower n" in err[0]), err
    assert "GiB" in err[0]
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_figures_redraws_a_folder_from_results_json_alone(tmp_path, capsys):
    """`--no-figures` folders get their figures from `python -m experiments._lib.figures OUT`:
    drawn by the experiment results.json names, from the file alone (a committed run's copy)."""
    from experiments._lib import figures

    src = registry.ROOT / "results" / "pc_compression" / "full"
    (tmp_path / "results.json").write_bytes((src / "results.json").read_bytes())
    assert figures.main([str(tmp_path)]) == 0
    drawn = sorted(p.name for p in tmp_path.glob("fig_*.png"))  # (PDFs are not committed)
    assert drawn == sorted(p.name for p in src.glob("fig_*.png"))
    assert all((tmp_path / p.replace(".png", ".pdf")).exists() for p in drawn)
    assert figures.main([str(tmp_path / "nothing")]) == 2
    assert "no results.json" in capsys.readouterr().err


def _int_fields(module):
    """(field, annotation) of every int and tuple-of-int Config field except the seed."""
    hints = typing.get_type_hints(module.Config)
    for f in dataclasses.fields(module.Config):
        h = hints[f.name]
        if f.name != "seed" and (
            h is int or (typing.get_origin(h) is tuple and typing.get_args(h)[:1] == (int,))
        ):
            yield f.name


@pytest.mark.parametrize("name", registry.names())
def test_every_negative_count_or_size_is_refused_in_one_line(name):
    """Every int field (counts, sizes, steps, lengths; for a tuple, one element) set to -1, and
    to 0, is answered by the Config's own check as a UsageError (the CLI's one line, exit 2),
    never another exception; -1 is always refused (no int field means anything negative). 0 is
    refused or stands for a documented default (e.g. pc_compression's n_train=0: all images)."""
    module = registry.load(name)
    for field in _int_fields(module):
        for value in ("-1", "0"):
            try:
                cli.make_config(module, "smoke", None, [f"{field}={value}"])
            except UsageError:
                continue
            assert value == "0", f"{name}: {field}=-1 was accepted"


def test_exit_script_leaves_with_130_after_an_interrupt_without_teardown():
    """`python -m experiments.<name>` ends in cli.exit_script: 130 leaves through os._exit (a
    Ctrl-C inside an XLA computation made the interpreter's teardown segfault, exit 139; the
    real-signal runs are tools/bad_input_campaign.py's interrupt class), other codes as usual;
    what was printed before is flushed either way."""
    import subprocess
    import sys

    for code in (130, 0, 2):
        src = f"from experiments._lib import cli; print('said'); cli.exit_script({code})"
        env = {**os.environ, "PYTHONPATH": str(registry.ROOT)}
        cmd = [sys.executable, "-c", src]
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=registry.ROOT, env=env)
        assert p.returncode == code and p.stdout == "said\n", (code, p.returncode, p.stderr)


def test_ctrl_c_during_the_imports_exits_130_in_one_line(tmp_path):
    """A Ctrl-C 0.5 s after `python -m experiments.<name>` starts lands in the imports (jax
    alone takes longer): exit 130, one line, nothing written (was a KeyboardInterrupt traceback
    and exit -2). Should the imports finish first, the run's own handler answers the same way."""
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "PYTHONPATH": str(registry.ROOT)}
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "experiments.mecb_coupling", "--preset", "smoke", "--out", out]
    p = subprocess.Popen(cmd, cwd=registry.ROOT, env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert len(err.strip().splitlines()) == 1 and "interrupted" in err, err
    assert not out.exists()


def test_summary_totals_add_up_and_every_row_is_listed():
    """results/SUMMARY.md's head: one count row per experiment and a total that is the sum of
    them (from the committed full runs); below it every claim row once; the quick-preset note."""
    from experiments._lib import claims as C
    from experiments._lib import summary

    text = summary.summary("full")
    head, every = text.split("## Every row")
    per_experiment, all_rows = [], []
    for name in registry.names():
        res = registry.results_dir(name, "full") / "results.json"
        if res.exists():
            claims = io.read_json(res)["claims"]
            all_rows += claims
            per_experiment.append(C.count_cells(claims))
            assert f"| {name} | " + " | ".join(C.count_cells(claims)) + " |" in head
    assert per_experiment, "no committed full runs to summarise"
    total = [str(sum(int(c[i]) for c in per_experiment)) for i in range(len(C.COUNT_COLUMNS))]
    assert "| **total** | | " + " | ".join(f"**{t}**" for t in total) + " |" in head
    assert total == C.count_cells(all_rows)
    listed = [ln for ln in every.splitlines() if ln.startswith("| ") and "`" in ln]
    assert len(listed) == len(all_rows)
    assert "too small to decide" in summary.summary("quick").split("## Every row")[0]


def test_the_manifest_counts_resumed_units_apart_from_the_run_s_own_time(tmp_path, monkeypatch):
    """A run that reads a checkpoint unit back instead of computing it: manifest.json's
    wall_seconds is this process's, `resumed` holds what the unit cost where it was computed,
    and the runtime shown in tables and --help names both."""
    from experiments._lib import checkpoint, manifest

    monkeypatch.setattr(checkpoint, "PARTIAL", tmp_path / "partial")
    checkpoint.Store("fake_resume", _Cfg()).save("seed0", {"x": 1}, seconds=3600.0)

    module = types.ModuleType("experiments.fake_resume")
    module.__file__ = "experiments/fake_resume.py"
    module.run = lambda cfg: {"metrics": checkpoint.Store("fake_resume", cfg).load("seed0")}
    module.check_claims = lambda results: []
    module.plot = lambda results, out: None
    cli.run_to_dir(module, _Cfg(), "smoke", tmp_path / "out", [])
    m = io.read_json(tmp_path / "out" / "manifest.json")
    assert m["resumed"]["units"] == 1 and m["resumed"]["compute_seconds"] == 3600.0
    assert m["wall_seconds"] < 60
    assert manifest.runtime_text(m).endswith(" s + 3600 s in 1 resumed units")
    # a run that computed everything itself: no resumed part; older manifests lack the field
    cli.run_to_dir(module, _Cfg(), "smoke", tmp_path / "out2", [])  # counts from 0 again
    assert io.read_json(tmp_path / "out2" / "manifest.json")["resumed"]["units"] == 1
    module.run = lambda cfg: {"metrics": {}}
    cli.run_to_dir(module, _Cfg(), "smoke", tmp_path / "out3", [])
    m3 = io.read_json(tmp_path / "out3" / "manifest.json")
    assert m3["resumed"]["units"] == 0 and "resumed" not in manifest.runtime_text(m3)
    del m3["resumed"]
    assert manifest.runtime_text(m3) == f"{m3['wall_seconds']:.0f} s"


def test_show_committed_prints_the_claims_or_the_command(tmp_path, monkeypatch, capsys):
    """The notebooks' view of a committed run (cli.show_committed): its claims, filtered, and
    its folder; with none committed, the command that makes it and None."""
    from experiments._lib import claims as C

    monkeypatch.setattr(registry, "results_dir", lambda name, preset: tmp_path / name / preset)
    assert cli.show_committed("demo", "full") is None
    out = capsys.readouterr().out.strip()
    assert out == "no committed run: python -m experiments.demo --preset full"
    folder = tmp_path / "demo" / "full"
    folder.mkdir(parents=True)
    rows = [
        C.claim(i, "t", "w", 1.0, 1.0, "b", True, "e", kind=C.CHECK, source=C.NONE)
        for i in ("keep_me", "drop_me")
    ]
    io.write_json(folder / "results.json", {"claims": rows})
    assert cli.show_committed("demo", "full", keep=lambda c: c["id"] == "keep_me") == folder
    out = capsys.readouterr().out
    assert "keep_me" in out and "drop_me" not in out
