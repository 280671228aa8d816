"""cnn_ntk_spectrum / cnn_learning_curves: bad input (the quick presets run in test_smoke)."""

from __future__ import annotations

import pytest

from experiments import cnn_learning_curves as lc
from experiments import cnn_ntk_spectrum as sp
from experiments._lib.config import override

PAPER = "cagnetta2023_wide_cnn"  # the paper this module's time is charged to (conftest)


@pytest.mark.parametrize(
    "module, setting, message",
    [
        (lc, "teacher_filters=3;2,2;2,2,2;2,2,2,2;2,2;2,2,2,2", "product must divide d = 16"),
        (lc, "student_filters=3,3", "s_1 must equal the student's 3"),
        (lc, "sizes=100,200,2e6", "lower n"),
        (lc, "teacher_kinds=ntk,rbf,ntk,ntk,ntk,ntk", "'ntk' or 'nngp'"),
        (sp, "rank_n=2e6", "lower n"),
        (sp, "torus=3,3", "torus spectra need first-level patches of size 2"),
        (sp, "width_arch=1,2", "s_1 >= 2"),
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
