"""fewshot_retention: bad input refused before any work; the probe schedule; the study set's
construction (the smoke preset runs end to end in test_smoke)."""

from __future__ import annotations

import numpy as np
import pytest

from experiments import fewshot_retention as fs
from experiments._lib import claims as C
from experiments._lib.config import UsageError
from tests._asserts import assert_refused

PAPER = "orhan2023_fewshot"


@pytest.mark.parametrize(
    "settings, message",
    [
        (["n_study=0"], "n_study must be in 2..1e5 (an empty or one-sentence study set"),
        (["n_study=1"], "n_study must be in 2..1e5"),
        (["n_study=5000"], "2 splits x 5000 studied sentences + as many foils exceed the 3110"),
        (["max_tokens=60", "context=48"], "a sentence of max_tokens=60 does not fit the context"),
        (["conditions=seen_vs_novel,foo"], "unknown condition 'foo'"),
        (["conditions=seen_vs_paraphrase"], "is not run here (expt2: needs a paraphraser"),
        (["lrs=nan"], "lrs must be finite"),
        (["lrs=-0.001"], "lrs must be learning rates in (0, 1)"),
        (["retention_lr=inf"], "retention_lr must be finite"),
        (["retention_lr=2"], "retention_lr must be in (0, 1)"),
        (["batch_sizes=0"], "batch_sizes must be in 1..n_study"),
        (["exposures=0"], "exposures must be in 1..10"),
        (["sizes=31,1"], "d_model 31 is not a multiple of n_heads 2"),
        (["retention_cell=0.5,4"], "retention_cell (lr, batch size) must be a cell"),
        (["heldout_frac=1.5"], "heldout_frac must be in (0, 1)"),
        (["eval_chunk=100000"], "eval_chunk must be in 1..4096"),
        (["sizes=4096,64", "eval_chunk=4096", "vocab_size=65536"], "too large: fewshot_retention"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(capsys, tmp_path, settings, message):
    argv = ["--preset", "smoke", *[a for s in settings for a in ("--set", s)]]
    assert_refused(fs.main, "fewshot_retention", argv, message, tmp_path, capsys)


def test_too_small_a_pool_is_refused_with_the_counts():
    # 2 x 700 x 2 = 2800 fits the 3110 held-out verses, not the ~1000 left after the n-gram and
    # length filters: refused once the tokenizer exists, as the CLI's one-line UsageError.
    cfg = fs.Config(n_study=700, splits=2, sizes=((16, 1),), n_heads=2, lrs=(1e-3,),
                    batch_sizes=(4,), retention_cell=(1e-3, 4))  # fmt: skip
    with pytest.raises(UsageError, match=r"the held-out pool has \d+ sentences of 12..40 tokens"):
        fs.build_data(cfg)


def test_retention_schedule_is_the_papers():
    assert fs.retention_schedule(10) == list(range(11))
    s = fs.retention_schedule(1000)
    assert s[:11] == list(range(11)) and s[11:20] == list(range(20, 101, 10))
    assert s[20:] == list(range(200, 1001, 100))
    assert fs.retention_schedule(3) == [0, 1, 2, 3]


def test_study_sets_are_disjoint_and_materials_matched():
    cfg = fs.PRESETS["smoke"]
    data = fs.build_data(cfg)
    a = data["arrays"]
    seen = {tuple(r) for r in a["natural"].reshape(-1, cfg.context)}
    novel = {tuple(r) for r in a["novel"].reshape(-1, cfg.context)}
    assert len(seen) == cfg.splits * cfg.n_study and not seen & novel
    # every sequence starts with BOS; natural sentences fit untruncated
    for m in a.values():
        assert (m[..., 0] == 1).all()
    n_tok = (a["natural"][..., 1:] != 0).sum(-1)
    assert n_tok.min() >= cfg.min_tokens and n_tok.max() <= cfg.max_tokens
    assert np.array_equal(a["natural"].shape, a["gibberish"].shape)


def test_steep_drop_needs_a_tenth_of_the_gain_lost():
    """recall_drops_in_first_10_updates: a drop is steep when its 99% interval lies above
    STEEP x study's gain; an interval below that is a drop too small to be steep."""
    gen = np.random.default_rng(0)
    r0 = np.clip(0.95 + 0.02 * gen.standard_normal(400), 0, 1)  # learnt: gain 0.95 - 0.55 = 0.4
    pre = np.full(400, 0.55)
    flat = r0 + 0.01 * gen.standard_normal(400)  # no drop: interval ~[-0.002, 0.002] < 0.04
    *_, steep, status = fs.steep_drop(r0, flat, pre)
    assert steep == pytest.approx(fs.STEEP * (r0.mean() - 0.55)) and status == C.NOT_REPRODUCED
    fall = r0 - 0.2 + 0.01 * gen.standard_normal(400)  # half the gain gone: interval ~0.2 > 0.04
    assert fs.steep_drop(r0, fall, pre)[-1] == C.REPRODUCED
    small = r0 - 0.04 + 0.05 * gen.standard_normal(400)  # interval straddles the threshold
    assert fs.steep_drop(r0, small, pre)[-1] == C.INCONCLUSIVE
    assert fs.steep_drop(r0, fall, pre, regime="no recall")[-1] == C.INCONCLUSIVE
