"""rich_lazy_lowrank: bad input is refused before any work (the smoke preset runs in test_smoke)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from experiments import rich_lazy_lowrank as rl
from experiments._lib import claims as C
from experiments._lib import io
from models import neurotasks as NT
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
        (["clip=-1"], "clip must be finite and >= 0"),
        (["clip=nan"], "clip must be finite"),
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


def test_rows_preset_without_the_debian_package_stops_with_the_command(
    monkeypatch, capsys, tmp_path
):
    monkeypatch.setattr(rl, "FASHION_DIR", str(tmp_path / "absent"))
    rl._fashion_train.cache_clear()
    try:
        argv = ["--preset", "rows"]
        assert_refused(
            rl.main, "rich_lazy_lowrank", argv, "apt-get install -y dataset", tmp_path, capsys
        )
    finally:
        rl._fashion_train.cache_clear()


def test_rows_task_runs_and_its_claims_replace_the_not_attempted_row(tmp_path):
    # the smoke preset on the image task (the fast tier's only pass through the fmnist_rows path)
    cfg = dataclasses.replace(rl.PRESETS["smoke"], tasks=(NT.ROWS,), ranks=(1, 16))
    res = rl.run(cfg)
    runs = res["metrics"]["rnn"][NT.ROWS]["runs"]
    assert {r["init"] for r in runs} == {"rank1", "rank16"} and len(runs) == 2 * cfg.seeds
    assert all(0.0 <= r["accuracy"] <= 1.0 and r["kernel_alignment"] <= 1.0 + 1e-6 for r in runs)
    assert res["timing"]["speed"]["outputs"] == NT.ROW_SIDE * cfg.speed_trials * NT.ROW_CLASSES
    ids = {row["id"] for row in rl.check_claims(res)}
    assert f"rnn_{NT.ROWS}_kernel_alignment" in ids and "rnn_smnist" not in ids
    # a diverged run (NaN metrics, written as null): judged, not a crash; its seed drops out
    # of the slopes (2 seeds -> 1: no interval), the learned check fails, the figure still draws
    res = json.loads(io.dumps(res))
    runs = res["metrics"]["rnn"][NT.ROWS]["runs"]
    runs[0].update(kernel_alignment=None, final_loss=None)
    rows = {row["id"]: row for row in rl.check_claims(res)}
    assert rows[f"rnn_{NT.ROWS}_learned"]["status"] == C.FAILED
    assert "diverged" in rows[f"rnn_{NT.ROWS}_learned"]["evidence"]
    assert rows[f"rnn_{NT.ROWS}_kernel_alignment"]["status"] == C.INCONCLUSIVE
    rl.plot(res, tmp_path)
    assert (tmp_path / "fig_rnn.png").exists()


class _Captured(Exception):
    pass


@pytest.mark.parametrize("clip", [0.0, 2.0])
def test_clip_bounds_each_networks_own_gradient(monkeypatch, clip):
    """The optimizer rnn_runs hands to `train` runs inside the vmapped step, so a clip must act on
    each network's own gradient: a huge gradient in one network must not shrink another's step.
    Checked on the optimizer itself (captured at the call), vmapped over two networks as train
    vmaps it: network 0 gets a gradient of norm 1e6, network 1 one of norm 1."""
    import jax
    import jax.numpy as jnp

    seen = {}

    def fake_train(loss_fn, opt, p0, batch_fn, **kw):
        seen["opt"] = opt
        raise _Captured

    monkeypatch.setattr(rl, "train", fake_train)
    cfg = dataclasses.replace(rl.PRESETS["smoke"], clip=clip)
    with pytest.raises(_Captured):
        rl.rnn_runs(cfg)
    opt = seen["opt"]
    params = {"w": jnp.zeros((2, 4))}
    grads = {"w": jnp.array([[1e6, 0, 0, 0], [1.0, 0, 0, 0]])}
    state = jax.vmap(opt.init)(params)
    upd, _ = jax.vmap(opt.update)(grads, state, params)
    step = jnp.abs(upd["w"][:, 0])
    # first SGD step with momentum: update = -lr * g (the trace starts at 0), g clipped to `clip`
    want0 = cfg.lr * (clip if clip else 1e6)
    assert float(step[0]) == pytest.approx(want0, rel=1e-6)
    assert float(step[1]) == pytest.approx(cfg.lr * 1.0, rel=1e-6)  # untouched by network 0
