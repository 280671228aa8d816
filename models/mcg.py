"""The rate-limited Markov Coding Game of Ebrahimi, Chen, Khisti (NeurIPS 2024, arXiv:2410.21666,
Sec. 5): a sender must convey a message M to a receiver only through its actions in a grid-world
MDP, while still collecting reward; the message is compressed (EBIM, H(T) <= R) before being
coupled (MEC) with the MDP policy at every step.

The grid world is the one of the authors' released code (`gridworld.py`, read for its
semantics): an H x W grid, four actions (up, right, down, left) that succeed with probability
1 - 2 noise and slip 90 degrees either way with probability noise each; a move off the grid or
into an obstacle stays put; a goal (+1) and a trap (-1) end the episode; the reward of a state is
collected on entering it, discounted by gamma^(t+1).

- `make_grid`: transition tensor T[s, a, s'], rewards, terminal mask (NumPy, built once).
- `soft_q_policy`: maximum-entropy soft Q-iteration, Q(s, a) = r(s) + gamma sum_s' T(s, a, s')
  beta logsumexp(Q(s', .) / beta) (Q = r at terminal states), policy softmax(Q / beta). The
  temperature beta is traced, so one compile serves a sweep.
- `episode`: one game as a `lax.while_loop`: at state s with receiver belief b over messages,
  EBIM compresses b at rate R (greedy or uniform quantisation, or none), MEC couples the cells
  with pi(. | s), the sender draws its action from p(a | M = m), the receiver updates b to
  p(m | a). vmapped over episodes with the policy, rate and keys as traced arguments.

Rates: R is in bits. The authors' code takes `compression_rate` = R / H(M) (the inverse of the
paper's compression ratio H(M)/R); `episode` takes R itself.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from theory import information as info
from theory import mecb as M

# up, right, down, left (row, column deltas)
DELTAS = ((-1, 0), (0, 1), (1, 0), (0, -1))
ENCODERS = ("greedy", "uniform", "none")


class Grid(NamedTuple):
    T: np.ndarray  # (S, A, S) transition probabilities; all-zero rows at terminal states
    reward: np.ndarray  # (S,)
    terminal: np.ndarray  # (S,) bool
    shape: tuple[int, int]


def make_grid(shape=(8, 8), goal=(0, -1), trap=(1, -1), obstacles=None, noise=0.1) -> Grid:
    """The authors' default world: 8 x 8, goal top-right, trap below it, a diagonal wall."""
    h, w = shape
    if h < 2 or w < 2 or not 0 <= noise < 0.5:
        raise ValueError(f"grid needs h, w >= 2 and 0 <= noise < 0.5; got {shape}, {noise}")
    obstacles = [(i, i) for i in range(1, min(h, w))] if obstacles is None else obstacles
    goal, trap = (goal[0] % h, goal[1] % w), (trap[0] % h, trap[1] % w)
    blocked = np.zeros((h, w), bool)
    for o in obstacles:
        blocked[o] = True
    if blocked[goal] or blocked[trap] or goal == trap:
        raise ValueError("goal and trap must be distinct free cells")
    reward = np.zeros((h, w))
    reward[goal], reward[trap] = 1.0, -1.0
    terminal = np.zeros((h, w), bool)
    terminal[goal] = terminal[trap] = True
    T = np.zeros((h, w, 4, h, w))
    for r in range(h):
        for c in range(w):
            if terminal[r, c]:
                continue
            for a in range(4):
                for off, prob in ((-1, noise), (0, 1.0 - 2 * noise), (1, noise)):
                    dr, dc = DELTAS[(a + off) % 4]
                    r1, c1 = min(max(r + dr, 0), h - 1), min(max(c + dc, 0), w - 1)
                    if blocked[r1, c1]:
                        r1, c1 = r, c
                    T[r, c, a, r1, c1] += prob
    s = h * w
    return Grid(T.reshape(s, 4, s), reward.reshape(s), terminal.reshape(s), (h, w))


def soft_q_policy(T, reward, terminal, beta, gamma: float = 0.95, iterations: int = 100):
    """Soft Q-iteration (jnp; beta traced): returns (policy (S, A), Q (S, A))."""
    T, reward = jnp.asarray(T), jnp.asarray(reward)
    terminal = jnp.asarray(terminal)

    def body(_, q):
        v = beta * jax.scipy.special.logsumexp(q / beta, axis=-1)
        new = reward[:, None] + gamma * jnp.einsum("sat,t->sa", T, v)
        return jnp.where(terminal[:, None], reward[:, None], new)

    q = jax.lax.fori_loop(0, iterations, body, jnp.zeros(T.shape[:2], T.dtype))
    return jax.nn.softmax(q / beta, axis=-1), q


def joint_message_action(belief, policy_s, rate, encoder: str):
    """p(m, a): EBIM on the belief at rate R, MEC between the cells and pi(. | s), composed."""
    n = belief.shape[-1]
    if encoder == "greedy":
        _, labels = M.ebim_greedy(belief, rate)
    elif encoder == "uniform":
        labels = M.uniform_quantisation_labels(n, rate)
    elif encoder == "none":
        labels = jnp.arange(n)
    else:
        raise ValueError(f"encoder must be one of {ENCODERS}, got {encoder!r}")
    p_mt = M.encoder_from_labels(belief, labels)
    p_ta = M.greedy_coupling_sparse(p_mt.sum(0), policy_s)  # the belief's few cells
    return M.compose(p_mt, p_ta)


def episode(T, reward, terminal, policy, prior, message, start, rate, key, *, encoder: str,
            gamma: float = 0.95, max_steps: int = 1000):  # fmt: skip
    """One game: (discounted reward, final belief (n,), steps taken, mean I(M;A) per step)."""
    T, reward, terminal = jnp.asarray(T), jnp.asarray(reward), jnp.asarray(terminal)

    def cond(c):
        return (c["t"] < max_steps) & ~terminal[c["s"]]

    def body(c):
        k_a, k_s, key = jax.random.split(c["key"], 3)
        joint = joint_message_action(c["b"], policy[c["s"]], rate, encoder)  # (n, A)
        col = joint[message]
        a = jax.random.categorical(k_a, jnp.log(jnp.where(col > 0, col, 1e-300)))
        a = jnp.where(col.sum() > 0, a, jnp.argmax(policy[c["s"]]))
        s1 = jax.random.categorical(k_s, jnp.log(jnp.where(T[c["s"], a] > 0, T[c["s"], a], 1e-300)))
        b = joint[:, a]
        b = b / jnp.sum(b)
        return {
            "s": s1.astype(jnp.int32),
            "b": b,
            "t": c["t"] + 1,
            "ret": c["ret"] + gamma ** (c["t"] + 1) * reward[s1],
            "mi": c["mi"] + info.mutual_information(joint),
            "key": key,
        }

    init = {
        "s": jnp.asarray(start, jnp.int32),
        "b": jnp.asarray(prior),
        "t": jnp.asarray(0, jnp.int32),
        "ret": jnp.asarray(0.0, prior.dtype),
        "mi": jnp.asarray(0.0, prior.dtype),
        "key": key,
    }
    out = jax.lax.while_loop(cond, body, init)
    return out["ret"], out["b"], out["t"], out["mi"] / jnp.maximum(out["t"], 1)
