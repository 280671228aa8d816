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


def test_factored_kernel_equals_the_jacobian_gram_and_the_per_output_loop():
    p = _params()
    x, _ = NT.perceptual(jax.random.key(1), 3)
    j = rnn.rec_jacobian(p, x)
    assert j.shape == (NT.STEPS * 3 * NT.N_OUT, N * N)
    dense = np.asarray(j @ j.T)
    scale = np.abs(dense).max()
    # float32 sums of ~T N = 96 products each: relative error ~1e-6; 1e-5 of the largest entry
    assert np.abs(np.asarray(rnn.rec_ntk(p, x)) - dense).max() <= 1e-5 * scale
    assert np.abs(rnn.rec_ntk_loop(p, x) - dense).max() <= 1e-5 * scale


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


@pytest.mark.parametrize("task", sorted(NT.TASKS))
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
