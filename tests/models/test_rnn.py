"""models.rnn and models.neurotasks: the factored tangent kernel against the materialised
Jacobian and the authors' per-output loop, the initial connectivities, the three tasks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models import neurotasks as NT
from models import rnn
from tests._asserts import assert_close
from theory import rich_lazy as R

PAPER = "liu2024_rich_lazy"
N = 12


def _params(rank=3, task="perceptual", seed=0):
    kg, kp = jax.random.split(jax.random.key(seed))
    w = rnn.lowrank(rnn.gaussian(kg, N, 1.25), rank)
    return rnn.init_params(kp, w, NT.N_IN[task], NT.N_OUT)


@pytest.mark.parametrize("form", rnn.NTK_FORMS)
def test_kernel_forms_equal_the_jacobian_gram_and_the_per_output_loop(form):
    p = _params()
    x, _ = NT.perceptual(jax.random.key(1), 3)
    j = rnn.rec_jacobian(p, x)
    assert j.shape == (NT.STEPS * 3 * NT.N_OUT, N * N)
    dense = np.asarray(j @ j.T)
    scale = np.abs(dense).max()
    # float32 sums of ~T N = 96 (factored) or N^2 = 144 (Jacobian) products each: relative error
    # ~1e-6; 1e-5 of the largest entry
    assert np.abs(np.asarray(rnn.rec_ntk(p, x, form=form)) - dense).max() <= 1e-5 * scale
    if form == "auto":
        assert np.abs(rnn.rec_ntk_loop(p, x) - dense).max() <= 1e-5 * scale


def test_kernel_form_dispatch():
    # factored work T^2 N per pair of outputs against the Jacobian Gram's N^2
    assert rnn.ntk_form(8, 300) == "factored" and rnn.ntk_form(28, 300) == "jacobian"
    assert rnn.ntk_form(17, 289) == "factored" and rnn.ntk_form(18, 289) == "jacobian"
    p = _params()
    x, _ = NT.perceptual(jax.random.key(1), 2)
    with pytest.raises(ValueError, match="form must be one of"):
        rnn.rec_ntk(p, x, form="dense")


def test_forward_probe_and_zero_state():
    p = _params()
    x, _ = NT.dms(jax.random.key(2), 4)
    out, hs = rnn.forward(p, x)
    assert out.shape == (NT.STEPS, 4, NT.N_OUT) and hs.shape == (NT.STEPS, 4, N)
    out0, _ = rnn.forward(p, x, probe=jnp.zeros((NT.STEPS, 4, N)))
    assert_close(out, out0, dtype=jnp.float32)
    assert bool(jnp.all(hs >= 0))


def test_initial_connectivities():
    g = rnn.gaussian(jax.random.key(3), 200, 1.25)
    assert abs(rnn.spectral_radius(g) - 1.25) < 0.15  # circular law, N = 200
    for r in (1, 10):
        w = rnn.lowrank(g, r)
        assert np.linalg.matrix_rank(np.asarray(w), tol=1e-4) == r
        assert_close(jnp.linalg.norm(w), jnp.linalg.norm(g), dtype=jnp.float32)
    ei = rnn.ei_connectivity(jax.random.key(4), 200)
    signs = np.sign(np.asarray(ei))
    for col in signs.T:  # Dale's law: one sign per presynaptic cell
        assert set(col[col != 0]) <= {1.0} or set(col[col != 0]) <= {-1.0}
    assert float(R.participation_ratio(ei)) < 0.5 * float(R.participation_ratio(g))
    for bad in ((200, 0, 1.0), (200, 201, 1.0), (200, 5, 0.0), (200, 5, float("nan"))):
        with pytest.raises(ValueError):
            rnn.check_init(*bad)


@pytest.mark.parametrize("task", sorted(set(NT.TASKS) - NT.NEEDS_DATA))
def test_tasks_shapes_targets_and_fixation(task):
    x, y = NT.get(task)(jax.random.key(5), 64)
    assert x.shape == (NT.STEPS, 64, NT.N_IN[task]) and y.shape == (NT.STEPS, 64)
    assert bool(jnp.all(y[:-1] == 0)) and set(np.unique(np.asarray(y[-1]))) <= {1, 2}
    # fixation input on until the decision (context: noise on every input during the 2 stimulus
    # steps, as neurogym adds it)
    first = 2 if task == "context" else 0
    assert bool(jnp.all(x[first:-1, :, 0] == 1.0)) and bool(jnp.all(x[-1, :, 0] == 0.0))
    with pytest.raises(ValueError, match="unknown task"):
        NT.get("nope")


def test_dms_match_and_context_cue_decide_the_target():
    x, y = NT.dms(jax.random.key(6), 256)
    # noise-free part: ring inputs are 0/1 +- 0.1 noise: the larger channel names the angle
    same = jnp.argmax(x[0, :, 1:], -1) == jnp.argmax(x[-2, :, 1:], -1)
    assert bool(jnp.all(jnp.where(same, y[-1] == 1, y[-1] == 2)))
    x, y = NT.context(jax.random.key(7), 256)
    ctx = jnp.argmax(x[-1, :, 5:], -1)
    # the cued modality's mean evidence (over the 2 stimulus steps) points at the target
    ev0 = (x[:2, :, 1] - x[:2, :, 2]).mean(0)
    ev1 = (x[:2, :, 3] - x[:2, :, 4]).mean(0)
    ev = jnp.where(ctx == 0, ev0, ev1)
    strong = jnp.abs(ev) > 0.3  # coherence 50 (noise SE ~0.1 on the difference)
    assert bool(jnp.all(jnp.where(strong, (ev > 0) == (y[-1] == 1), True)))
    assert int(strong.sum()) > 40


def test_rows_task_draws_rows_in_order_with_the_label_last():
    # synthetic images: pixel (r, c) of image i = (i + r + c) mod 256, label i mod 10
    n = 30
    i, r, c = np.ogrid[:n, : NT.ROW_SIDE, : NT.ROW_SIDE]
    images = jnp.asarray(((i + r + c) % 256).astype(np.uint8))
    labels = jnp.asarray(np.arange(n) % 10, jnp.uint8)
    x, y = NT.rows(jax.random.key(8), 16, images, labels)
    assert x.shape == (NT.ROW_SIDE, 16, NT.ROW_SIDE) and y.shape == (NT.ROW_SIDE, 16)
    assert x.dtype == jnp.float32 and float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    # step t of trial b is row t of the drawn image; the label sits at the last step only
    idx = (np.asarray(x[0, :, 0]) * 255).round().astype(int)  # pixel (0, 0) = i mod 256
    want = (idx[None, :, None] + np.arange(28)[:, None, None] + np.arange(28)) % 256
    # XLA:CPU divides by the constant 255 as a multiplication by its float32 reciprocal: two
    # roundings (the reciprocal, the product) of <= 2^-24 relative each, so <= 2^-23 of the exact
    np.testing.assert_allclose(np.asarray(x), want / 255, rtol=2.0**-23, atol=0)
    assert bool(jnp.all(y[:-1] == 0)) and np.array_equal(np.asarray(y[-1]), idx % 10)


def test_last_only_kernel_is_the_last_step_rows_of_the_jacobian_gram():
    kg, kp = jax.random.split(jax.random.key(9))
    p = rnn.init_params(kp, rnn.lowrank(rnn.gaussian(kg, N, 1.25), 3), 5, 4)
    x = jax.random.uniform(jax.random.key(10), (6, 3, 5))  # T = 6, B = 3, K = 4
    j = np.asarray(rnn.rec_jacobian(p, x)).reshape(6, 3 * 4, N * N)[-1]  # rows t = T - 1
    dense = j @ j.T
    # float32 sums of ~T N = 72 products each: relative error ~1e-6; 1e-5 of the largest entry
    for form in ("factored", "jacobian"):
        got = np.asarray(rnn.rec_ntk(p, x, last_only=True, form=form))
        assert got.shape == (12, 12)
        assert np.abs(got - dense).max() <= 1e-5 * np.abs(dense).max()


def test_last_only_loss_reads_the_last_step():
    p = _params()
    x, y = NT.perceptual(jax.random.key(11), 8)
    out, _ = rnn.forward(p, x)
    logp = jax.nn.log_softmax(out[-1], -1)
    want = -jnp.mean(logp[jnp.arange(8), y[-1]])
    assert_close(rnn.cross_entropy(p, x, y, last_only=True), want, dtype=jnp.float32)
