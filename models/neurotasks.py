"""The tasks of the rich/lazy RNN experiments: three cognitive tasks re-implemented from their
definitions in neurogym (the versions the authors ran, `neurogym/envs/*.py` at commit c4a730f6,
2022) with the authors' timings (github Helena-Yuhan-Liu/BioRNN_RichLazy, main.py): dt = 100 ms,
8 steps per trial, one trial per sequence, input noise sigma / sqrt(dt) = 0.1 during stimuli.

Each task is `task(key, batch) -> (x, y)` with x: (T, batch, n_in) float32 and y: (T, batch)
int32 targets (0 = fixate, 1..2 = the choices), the supervised form of neurogym's Dataset (the
target is "fixate" outside the decision step). Pure jax: vmapped over seeds, jitted in the step.

- perceptual (2AF, PerceptualDecisionMaking-v0): stimulus 700 ms (7 steps), decision 100 ms.
  Inputs (fixation, ring 1, ring 2): fixation 1 until the decision; ring i = cos(theta_i -
  theta_gt) coh/200 + 0.5 + noise, theta = (0, pi), coh in {0, 6.4, 12.8, 25.6, 51.2}. Target at
  the decision: 1 + gt.
- dms (DelayMatchSample-v0): sample 100, delay 500, test 100, decision 100 ms. Ring stimulus
  cos(theta - theta_s) / 2 + 1/2 (+ noise) at the sample and test steps; the test equals the
  sample (target 1, match) or is rotated by pi (target 2). Fixation 1 until the decision.
- context (ContextDecisionMaking-v0): stimulus 200, delay 500, decision 100 ms. Seven inputs:
  fixation, two modalities x two choices ((1 +- signed coh/100)/2, coh in {5, 15, 50}), two
  context cues (on throughout). Noise on every input during the stimulus; every input but the
  context is zeroed at the decision. The target follows the cued modality.
- fmnist_rows (the authors' sequential MNIST with Fashion-MNIST standing in): see `rows`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

STEPS = 8  # dt = 100 ms, 800 ms per trial in all three tasks (the authors' timings)
NOISE = 0.1  # neurogym's sigma = 1.0 / sqrt(dt)
N_OUT = 3  # fixate, choice 1, choice 2
COHS_2AF = (0.0, 6.4, 12.8, 25.6, 51.2)
COHS_CXT = (5.0, 15.0, 50.0)


def perceptual(key, batch: int):
    kg, kc, kn = jax.random.split(key, 3)
    gt = jax.random.randint(kg, (batch,), 0, 2)
    coh = jnp.asarray(COHS_2AF)[jax.random.randint(kc, (batch,), 0, len(COHS_2AF))]
    theta = jnp.array([0.0, jnp.pi])
    stim = jnp.cos(theta[None, :] - theta[gt][:, None]) * (coh[:, None] / 200) + 0.5  # (B, 2)
    stim = stim[None] + NOISE * jax.random.normal(kn, (STEPS - 1, batch, 2))
    x = jnp.zeros((STEPS, batch, 3))
    x = x.at[: STEPS - 1, :, 0].set(1.0).at[: STEPS - 1, :, 1:].set(stim)
    y = jnp.zeros((STEPS, batch), jnp.int32).at[-1].set(gt + 1)
    return x, y


def dms(key, batch: int):
    kg, ks, kn = jax.random.split(key, 3)
    match = jax.random.randint(kg, (batch,), 0, 2)  # 1: match
    theta = jnp.array([0.0, jnp.pi])
    sample = theta[jax.random.randint(ks, (batch,), 0, 2)]
    test = jnp.where(match == 1, sample, jnp.mod(sample + jnp.pi, 2 * jnp.pi))

    def ring(t):
        return jnp.cos(theta[None, :] - t[:, None]) * 0.5 + 0.5

    noise = NOISE * jax.random.normal(kn, (2, batch, 2))
    x = jnp.zeros((STEPS, batch, 3))
    x = x.at[: STEPS - 1, :, 0].set(1.0)
    x = x.at[0, :, 1:].set(ring(sample) + noise[0]).at[STEPS - 2, :, 1:].set(ring(test) + noise[1])
    y = jnp.zeros((STEPS, batch), jnp.int32).at[-1].set(jnp.where(match == 1, 1, 2))
    return x, y


def context(key, batch: int):
    kg, ko, kx, k0, k1, kn = jax.random.split(key, 6)
    gt = jax.random.randint(kg, (batch,), 1, 3)
    other = jax.random.randint(ko, (batch,), 1, 3)
    ctx = jax.random.randint(kx, (batch,), 0, 2)
    cohs = jnp.asarray(COHS_CXT)
    coh0 = cohs[jax.random.randint(k0, (batch,), 0, 3)]
    coh1 = cohs[jax.random.randint(k1, (batch,), 0, 3)]
    choice0 = jnp.where(ctx == 0, gt, other)
    choice1 = jnp.where(ctx == 0, other, gt)
    s0 = jnp.where(choice0 == 1, coh0, -coh0) / 100
    s1 = jnp.where(choice1 == 1, coh1, -coh1) / 100
    stim = jnp.stack([(1 + s0) / 2, (1 - s0) / 2, (1 + s1) / 2, (1 - s1) / 2], -1)  # (B, 4)
    n_stim = 2  # 200 ms
    x = jnp.zeros((STEPS, batch, 7))
    x = x.at[: STEPS - 1, :, 0].set(1.0)
    x = x.at[:n_stim, :, 1:5].set(jnp.broadcast_to(stim, (n_stim, batch, 4)))
    x = x.at[:n_stim].add(NOISE * jax.random.normal(kn, (n_stim, batch, 7)))
    cue = jax.nn.one_hot(ctx, 2)  # on throughout, the decision step included
    x = x.at[:, :, 5:].set(jnp.broadcast_to(cue, (STEPS, batch, 2)))
    y = jnp.zeros((STEPS, batch), jnp.int32).at[-1].set(gt)
    return x, y


# Sequential MNIST as the authors run it (main.py, task_mode sMNIST): one 28-pixel image row per
# step, 28 steps, pixels in [0, 1] (torchvision's ToTensor), 10 classes, the cross-entropy at the
# last step only, batch 200. MNIST ships in no registry package here, so Fashion-MNIST (Debian's
# dataset-fashion-mnist, the same 28x28 uint8 format) stands in. It is the harder set (classifiers
# score lower on it than on MNIST); the experiment reports the accuracy its networks reach.
ROWS = "fmnist_rows"
ROW_SIDE = 28
ROW_CLASSES = 10


def rows(key, batch: int, images, labels):
    """(x (28, batch, 28) float32, y (28, batch) int32): images drawn uniformly with replacement
    from `images` (n, 28, 28) uint8 / `labels` (n,), passed as arguments (closed over, a 47 MB
    image array would be embedded in every compiled program). y holds the class at the last step;
    its earlier steps are 0 and unused (the loss reads the last step only: LAST_ONLY)."""
    idx = jax.random.randint(key, (batch,), 0, images.shape[0])
    x = jnp.transpose(images[idx], (1, 0, 2)).astype(jnp.float32) / 255.0
    y = jnp.zeros((ROW_SIDE, batch), jnp.int32).at[-1].set(labels[idx].astype(jnp.int32))
    return x, y


TASKS = {"perceptual": perceptual, "dms": dms, "context": context, ROWS: rows}
N_IN = {"perceptual": 3, "dms": 3, "context": 7, ROWS: ROW_SIDE}
N_OUTS = {"perceptual": N_OUT, "dms": N_OUT, "context": N_OUT, ROWS: ROW_CLASSES}
N_STEPS = {"perceptual": STEPS, "dms": STEPS, "context": STEPS, ROWS: ROW_SIDE}
# the loss (and the tangent kernel's outputs) at the last step only, as the authors' sMNIST
LAST_ONLY = {"perceptual": False, "dms": False, "context": False, ROWS: True}
# decision accuracy by guessing: one of two choices; one of ten classes
CHANCE = {"perceptual": 0.5, "dms": 0.5, "context": 0.5, ROWS: 1 / ROW_CLASSES}
NEEDS_DATA = {ROWS}  # generators that take (images, labels) after (key, batch)


def get(name: str):
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; expected one of {sorted(TASKS)}")
    return TASKS[name]
