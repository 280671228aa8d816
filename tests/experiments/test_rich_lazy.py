"""rich_lazy_lowrank: bad input is refused before any work (the smoke preset runs in test_smoke)."""

from __future__ import annotations

import pytest

from experiments import rich_lazy_lowrank as rl
from tests._asserts import assert_refused

PAPER = "liu2024_rich_lazy"  # the paper this module's time is charged to (conftest)


@pytest.mark.parametrize(
    "settings, message",
    [
        (["hidden=300", "ranks=0,30"], "ranks must be in [1, 300]"),
        (["hidden=300", "ranks=1,301"], "ranks must be in [1, 300]"),
        (["hidden=64", "ranks=1,100"], "ranks must be in [1, 64]"),
        (["ranks=30,1"], "increasing"),
        (["gain=0"], "gain must be finite and > 0"),
        (["gain=-1.25"], "gain must be finite and > 0"),
        (["gain=inf"], "gain must be finite"),
        (["lr=nan"], "lr must be finite"),
        (["tasks=perceptual,nope"], "unknown task"),
        (["ei_task=nope"], "unknown ei_task 'nope'"),
        (["lin_ranks=1,40"], "lin_ranks must be in [1, 20]"),
        (["seeds=1"], "seeds must be in 2..64"),
        (["steps=-5"], "steps must be in 1..1e6"),
        (["exc_scales=0.1,nan"], "exc_scales must be finite"),
        (["kernel_trials=100000"], "too large: rich_lazy_lowrank needs"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(capsys, tmp_path, settings, message):
    argv = [*[a for s in settings for a in ("--set", s)]]
    assert_refused(rl.main, "rich_lazy_lowrank", argv, message, tmp_path, capsys)


def test_memory_estimate_grows_with_the_kernel_batch():
    small = rl.memory_estimate(rl.PRESETS["full"])
    big = rl.memory_estimate(rl.Config(kernel_trials=64))
    # the factored kernel's (T B K T)^2 Gram dominates: doubling B quadruples that term
    assert big > 3 * small
