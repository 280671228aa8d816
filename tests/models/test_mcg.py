"""models.mcg: the grid world's transitions, soft Q-iteration, and one Markov Coding Game."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models import mcg
from tests._asserts import assert_close
from theory.mecb import uniform_accuracy_bound

PAPER = "ebrahimi2024_mecb"


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def test_grid_transitions_are_distributions_and_respect_walls():
    g = mcg.make_grid()
    live = ~g.terminal
    assert_close(g.T[live].sum(-1), np.ones((live.sum(), 4)))
    assert np.all(g.T[g.terminal] == 0)
    assert g.reward.sum() == 0 and sorted(g.reward[g.terminal]) == [-1.0, 1.0]
    # from (0, 0), "up" hits the edge (stay) with 0.8 and slips left (edge: stay) or right
    s = 0
    assert_close(g.T[s, 0, 0], 0.9)
    assert_close(g.T[s, 0, 1], 0.1)
    # nothing enters an obstacle (the diagonal (i, i), i >= 1) from a free cell
    wall = [i * 8 + i for i in range(1, 8)]
    free = [s for s in range(64) if s not in wall]
    assert np.all(g.T[free][:, :, wall] == 0)
    with pytest.raises(ValueError, match="noise"):
        mcg.make_grid(noise=0.6)


def test_soft_q_is_bellman_consistent_and_cold_policy_is_greedy():
    g = mcg.make_grid()
    beta, gamma = math.exp(-6), 0.95
    pol, q = mcg.soft_q_policy(g.T, g.reward, g.terminal, beta, gamma, iterations=400)
    pol, q = np.asarray(pol), np.asarray(q)
    v = beta * np.log(np.sum(np.exp((q - q.max(1, keepdims=True)) / beta), 1)) + q.max(1)
    back = g.reward[:, None] + gamma * np.einsum("sat,t->sa", g.T, v)
    back[g.terminal] = g.reward[g.terminal, None]
    assert_close(q, back, atol=1e-9)  # a fixed point after 400 iterations (0.95^400 ~ 1e-9)
    assert_close(pol.sum(1), np.ones(64))
    # next to the goal (1, 7)? no, (1, 7) is the trap: from (0, 6) the cold policy goes right
    assert np.argmax(pol[0 * 8 + 6]) == 1 and pol[6, 1] > 0.99


def test_game_without_bottleneck_conveys_the_message_and_uniform_is_capped():
    g = mcg.make_grid()
    pol, _ = mcg.soft_q_policy(g.T, g.reward, g.terminal, math.exp(-4))
    n, episodes = 8, 64
    prior = jnp.ones(n) / n
    msg = jax.random.randint(jax.random.key(0), (episodes,), 0, n)
    keys = jax.random.split(jax.random.key(1), episodes)
    axes = (None, None, None, None, None, 0, None, None, 0)
    acc = {}
    for enc in ("none", "greedy", "uniform"):
        fn = jax.jit(jax.vmap(functools.partial(mcg.episode, encoder=enc), in_axes=axes))
        rate = 0.5 * math.log2(n) if enc != "none" else math.log2(n)
        ret, belief, steps, mi = fn(g.T, g.reward, g.terminal, pol, prior, msg, 5 * 8 + 4,
                                    rate, keys)  # fmt: skip
        belief = np.asarray(belief)
        assert_close(belief.sum(1), np.ones(episodes))
        assert np.all(np.asarray(steps) >= 1) and np.all(np.asarray(mi) >= -1e-12)
        acc[enc] = float(np.mean(np.argmax(belief, 1) == np.asarray(msg)))
        if (
            enc == "uniform"
        ):  # the mechanism of the ceiling: inside a block the posterior stays flat
            blocks = belief.reshape(episodes, 2, 4)
            assert np.abs(blocks - blocks.mean(-1, keepdims=True)).max() < 1e-12
    # e^-4 is hot enough to send 3 bits in the ~50 steps an episode takes
    assert acc["none"] > 0.9 and acc["greedy"] > 0.9
    # uniform quantisation at R = 1.5 bits: 2 blocks of 4 messages, MAP names one per block
    assert uniform_accuracy_bound(n, 1.5) == 2 / 8
    # (the ceiling bounds the expected accuracy: allow 3 binomial SE for 64 episodes)
    assert acc["uniform"] <= 2 / 8 + 3 * math.sqrt(0.25 * 0.75 / episodes)
    with pytest.raises(ValueError, match="encoder"):
        mcg.joint_message_action(prior, pol[0], 1.0, "nope")
