"""seqbayes_hmc: bad input is refused before any work (the smoke preset runs in test_smoke)."""

from __future__ import annotations

import pytest

from experiments import seqbayes_hmc as sb
from tests._asserts import assert_refused

PAPER = "kessler2023_seqbayes"


@pytest.mark.parametrize(
    "settings, message",
    [
        (["prior_precision=0"], "prior_precision must be finite and > 0 (a positive-definite"),
        (["prior_precision=-10"], "prior_precision must be finite and > 0"),
        (["exact_prior_var=nan"], "exact_prior_var must be finite"),
        (["exact_noise=-1"], "exact_noise must be finite and > 0"),
        (["k_max=100000"], "k_max must be in 1..60 (the number of draws"),
        (["n_per_class=0"], "n_per_class must be in 2..1e6"),
        (["tasks=6"], "tasks must be in 2..5"),
        (["tasks=1"], "tasks must be in 2..5"),
        (["methods=gaussian"], "must include 'none'"),
        (["methods=none,normal"], "methods must be some of"),
        (["flow_lr=nan"], "flow_lr must be finite"),
        (["flow_lr=0"], "flow_lr must be in (0, 1]"),
        (["flow_layers=0"], "flow_layers in 1..32"),
        (["tiny_n=31"], "tiny_n must be in 1..n_per_class"),
        (["imb_bnn_n1=0,30"], "imb_bnn_n1 must be in 1..n_per_class"),
        (["imb_ratios=1,inf"], "must be finite"),
        (["imb_ratios=1,0"], "imb_ratios must be finite and > 0"),
        (["seeds=1"], "seeds must be in 2..64"),
        (["max_tree_depth=11"], "max_tree_depth must be in 1..10"),
        (["chains=1000000"], "too large: seqbayes_hmc needs"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(capsys, tmp_path, settings, message):
    argv = ["--preset", "smoke", *[a for s in settings for a in ("--set", s)]]
    assert_refused(sb.main, "seqbayes_hmc", argv, message, tmp_path, capsys)


def test_toy_tasks_have_the_authors_blobs_and_fixed_shapes():
    cfg = sb.PRESETS["smoke"]
    data = sb.toy_tasks(cfg, 0)
    n = cfg.n_per_class
    for t, (x, y) in enumerate(data["train"]):
        assert x.shape == (2 * n, 2) and y.tolist() == [0] * n + [1] * n
        # each class's sample mean sits on its blob centre within 4 SE (SE = std / sqrt(n))
        for c, blob in enumerate((t, t + 5)):
            pts = x[c * n : (c + 1) * n]
            se = sb.STDS[blob] / n**0.5
            assert (abs(pts.mean(0) - sb.CENTERS[blob]) <= 4 * se).all()
    assert float(data["tiny_w"].sum()) == 2 * cfg.tiny_n


def test_protocl_coreset_is_shared_evenly_and_replayed_about_one_to_one():
    """The authors' memory: after task t every task seen keeps memory // (t + 1) of its own
    training images (a prefix of one random draw), replayed len(task) // memory times."""
    import numpy as np

    from experiments import protocl_split_fmnist as E

    cfg = E.PRESETS["smoke"]  # memory 40
    gen = np.random.default_rng(0)
    memory: dict = {}
    for t in range(E.N_TASKS):
        idx_task = np.arange(100 * t, 100 * t + 100)
        run = E._replay(idx_task, memory, cfg, coreset=True)
        n_old = sum(len(v) for v in memory.values())
        assert len(run) == 100 + n_old * max(100 // cfg.memory, 1)
        assert np.array_equal(E._replay(idx_task, memory, cfg, coreset=False), idx_task)
        before = {k: v.copy() for k, v in memory.items()}
        E._remember(memory, idx_task, t, cfg, gen)
        share = cfg.memory // (t + 1)
        assert all(len(v) == share for v in memory.values())
        assert all(np.array_equal(memory[k], before[k][:share]) for k in before)
        assert set(memory[t]) <= set(idx_task)
        assert sum(len(v) for v in memory.values()) <= cfg.memory


@pytest.mark.slow
def test_an_interrupted_run_resumes_at_its_first_unfinished_seed(tmp_path, monkeypatch):
    """Stopped after seed 0 is saved, the rerun reads seed 0 back, computes seed 1 only, and
    returns what an uninterrupted run returns (the sampler timings included, as recorded); so
    does a run whose seed 1 another process computed (compute_seeds)."""
    from experiments._lib import checkpoint, io

    monkeypatch.setattr(checkpoint, "PARTIAL", tmp_path / "partial")
    cfg = sb.PRESETS["smoke"]
    whole = sb.run(cfg)
    assert not (tmp_path / "partial" / "seqbayes_hmc").exists()  # removed on completion

    save = checkpoint.Store.save

    def stop_after_seed0(self, unit, value, **kw):
        out = save(self, unit, value, **kw)
        if unit == "seed0":
            raise KeyboardInterrupt
        return out

    monkeypatch.setattr(checkpoint.Store, "save", stop_after_seed0)
    with pytest.raises(KeyboardInterrupt):
        sb.run(cfg)
    monkeypatch.setattr(checkpoint.Store, "save", save)
    assert checkpoint.Store("seqbayes_hmc", cfg).units() == ["exact", "seed0"]

    built, toy_tasks = [], sb.toy_tasks
    monkeypatch.setattr(sb, "toy_tasks", lambda c, s: built.append(s) or toy_tasks(c, s))
    resumed = sb.run(cfg)
    assert built == [1, 0]  # seed 1's data, then seed 0's for the faithful comparison only
    assert io.to_jsonable(resumed["metrics"]) == io.to_jsonable(whole["metrics"])
    n_calls = {k: len(v) for k, v in whole["timing"]["sampler_s"].items()}
    assert {k: len(v) for k, v in resumed["timing"]["sampler_s"].items()} == n_calls

    # a seed computed by another process (compute_seeds) is read back, not recomputed
    assert sb.compute_seeds(cfg, [1]) == ["seed1"]
    built.clear()
    assembled = sb.run(cfg)
    assert built == [0, 0]  # seed 0's sequences, then its data for the faithful comparison
    assert io.to_jsonable(assembled["metrics"]) == io.to_jsonable(whole["metrics"])
    with pytest.raises(ValueError, match="seed 2 is not in 0..1"):
        sb.compute_seeds(cfg, [2])
