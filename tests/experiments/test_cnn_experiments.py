"""cnn_ntk_spectrum / cnn_learning_curves / bench_cnn_gram: bad input, the benchmark's memory
probe and tolerance (the smoke presets run in test_smoke)."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from experiments import bench_cnn_gram as bench
from experiments import cnn_learning_curves as lc
from experiments import cnn_ntk_spectrum as sp
from experiments._lib.config import override

PAPER = "cagnetta2023_wide_cnn"  # the paper this module's time is charged to (conftest)


@pytest.mark.parametrize(
    "module, setting, message",
    [
        (lc, "teacher_filters=3;2,2;2,2,2;2,2,2,2;2,2;2,2,2,2", "product must divide d = 16"),
        (lc, "student_filters=3,3", "s_1 must equal the student's 3"),
        (lc, "sizes=100,200,2e6", "too large"),
        (lc, "teacher_kinds=ntk,rbf,ntk,ntk,ntk,ntk", "'ntk' or 'nngp'"),
        (sp, "rank_n=2e6", "too large"),
        (sp, "torus=3,3", "torus spectra need first-level patches of size 2"),
        (sp, "width_arch=1,2", "s_1 >= 2"),
        (bench, "sizes=300,512", "not multiples of nt_batch_size 256"),
        (bench, "memory_sizes=4096", "memory_sizes must be among sizes"),
        (bench, "d=15", "does not divide the input length d = 15"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    capsys, tmp_path, module, setting, message
):
    out = tmp_path / "out"
    assert module.main(["--set", setting, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_nested_tuples_parse_from_the_command_line():
    cfg = override(lc.PRESETS["quick"], ["teacher_filters=2;2,2;2,2,2;2,2,2,2;2,2;2,2,2,2"])
    assert cfg.teacher_filters == ((2,), (2, 2), (2, 2, 2), (2, 2, 2, 2), (2, 2), (2, 2, 2, 2))


def test_bench_memory_probe_counts_the_timed_calls_outputs():
    """peak_child (run here in-process; the benchmark starts one fresh process per candidate and
    size) measures the second call above the resident memory before it: at n = 512 the two
    float64 outputs alone are 4 MiB, allocated fresh (large blocks are mmap'd and returned on
    free), so the peak must cover them; the first call's outputs are freed before."""
    cfg = dataclasses.replace(bench.PRESETS["smoke"], sizes=(256, 512), memory_sizes=(512,))
    out = bench.peak_child(json.dumps(dataclasses.asdict(cfg)), "ours", 512)
    assert out["peak_bytes"] >= 2 * 512 * 512 * 8 and out["rss_before_bytes"] > 0


def test_bench_cusp_tolerance_is_the_derived_bound():
    # (L + 1)^2 sqrt(2 eps) / pi: 25 x 2.1e-8 / pi ~ 1.7e-7 for L = 4; far below a wrong
    # architecture's ~1e-2, above both implementations' measured diagonal offsets (~7e-8)
    tol = bench._cusp_tolerance(4)
    assert tol == pytest.approx(25 * math.sqrt(2 * 2.220446049250313e-16) / math.pi)
    assert 1e-7 < tol < 1e-6
