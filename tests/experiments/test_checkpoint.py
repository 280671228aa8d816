"""experiments._lib.checkpoint: the per-unit store that lets long runs resume."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from experiments._lib import checkpoint


@dataclasses.dataclass(frozen=True)
class Cfg:
    n: int = 3
    seed: int = 0


def test_units_round_trip_as_results_json_would_write_them(tmp_path):
    store = checkpoint.Store("demo", Cfg(), root=tmp_path)
    assert store.load("seed0") is None and store.units() == []
    value = {"b": np.float64(0.1) * 3, "a": [np.int64(2), math.nan], "c": np.arange(3)}
    back = store.save("seed0", value, seconds=1.5)
    # what the caller goes on with is exactly what a resumed run reads back
    assert back == store.load("seed0") == {"a": [2, None], "b": 0.30000000000000004, "c": [0, 1, 2]}
    assert store.units() == ["seed0"]
    store.clear()
    assert store.load("seed0") is None and not (tmp_path / "demo").exists()


def test_the_store_is_keyed_by_config_and_experiment(tmp_path):
    a = checkpoint.Store("demo", Cfg(), root=tmp_path)
    assert a.dir == checkpoint.Store("demo", Cfg(), root=tmp_path).dir
    assert a.dir != checkpoint.Store("demo", Cfg(seed=1), root=tmp_path).dir
    assert a.dir != checkpoint.Store("other", Cfg(), root=tmp_path).dir


def test_the_fingerprint_covers_this_repository_s_imported_sources():
    sources = dict(checkpoint._repo_sources())
    assert "experiments/_lib/checkpoint.py" in sources
    assert not any(p.startswith(".") for p in sources)  # not the virtual environment


def test_a_corrupt_unit_reads_as_absent_and_bad_names_are_refused(tmp_path):
    store = checkpoint.Store("demo", Cfg(), root=tmp_path)
    store.save("seed0", [1], seconds=0.0)
    (store.dir / "seed0.json").write_text('{"cut sh')
    assert store.load("seed0") is None
    with pytest.raises(ValueError, match="checkpoint unit names"):
        store.save("../escape", 1, seconds=0.0)
    for bad in (-1.0, float("nan"), float("inf"), None):
        with pytest.raises(ValueError, match="compute seconds"):
            store.save("seed1", 1, seconds=bad)
    assert store.units() == ["seed0"]  # the corrupt unit only: the refusals wrote nothing


def test_units_read_back_are_counted_with_what_computing_them_cost(tmp_path, monkeypatch):
    """A run assembled from units it did not compute reports their cost apart from its own
    wall time (the CLI puts resumed() into manifest.json)."""
    store = checkpoint.Store("demo", Cfg(), root=tmp_path)
    checkpoint.reset_resumed()
    store.save("a", 1, seconds=2.0)
    assert store.compute("b", lambda: 2) == 2  # timed by the store: microseconds
    assert 0 <= json.loads((store.dir / "b.json").read_text())["seconds"] < 1
    store.save("b", 2, seconds=3.25)  # (overwrites the unit with a known cost)
    assert checkpoint.resumed() == {"units": 0, "compute_seconds": 0.0, "peak_rss_mb": None}
    assert store.load("missing") is None and store.load("a") == 1
    assert store.load("a") == 1  # read twice, counted once
    assert store.load("b") == 2
    r = checkpoint.resumed()
    assert r["units"] == 2 and r["compute_seconds"] == 5.2  # 5.25 rounded to 0.1 s
    assert r["peak_rss_mb"] > 0  # the saving process's peak so far (this one)
    checkpoint.reset_resumed()
    assert checkpoint.resumed()["units"] == 0
