"""Regret bounds for single-pass streaming multi-armed bandits (closed forms).

Implements the rates of Wang, "Tight Regret Bounds for Single-pass Streaming Multi-armed Bandits",
ICML 2023, arXiv:2306.02208v1:
  * lower bound Omega(K^{1/3} T^{2/3}) for any algorithm with o(K) arm memory (Thm. 1, §3), proved
    on the family "all arms 1/2, one hidden arm 1/2 + eps0", eps0 ~ (K/T)^{1/3};
  * eps-best-arm + commit with eps = (K/T)^{1/3} achieves O(K^{1/3} T^{2/3}) (§4), O(K^{1/3} T^{2/3}
    log K) for the single-arm naive routine;
  * streaming uniform exploration, O(K^{1/3} T^{2/3} log^{1/3} T) (§1, the previous best).

Conventions: rewards in [0, 1]; regret is pseudo-regret sum_t (mu* - mu_{I_t}); K arms, horizon T.
The constants in the upper bounds below are ours, derived in each docstring from Hoeffding's
inequality for the difference of two empirical means of [0,1] rewards,
P(mu_hat_i >= mu_hat_*) <= exp(-m Delta_i^2) with m pulls each; the paper states rates only.
The simulators that estimate these quantities live in theory/streaming_bandits_sim.py.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import ArrayLike


def eps_star(K: ArrayLike, T: ArrayLike) -> ArrayLike:
    """eps = (K/T)^{1/3}: the eps-best-arm accuracy that balances exploration and commit regret.

    Implements the choice of eps in §4 of Wang (2023), arXiv:2306.02208v1.
    """
    return (K / T) ** (1.0 / 3.0)


def regret_rate(K: ArrayLike, T: ArrayLike) -> ArrayLike:
    """K^{1/3} T^{2/3}: the tight single-pass rate (Thm. 1 lower bound, §4 upper bound)."""
    return K ** (1.0 / 3.0) * T ** (2.0 / 3.0)


def hard_instance_gap(K: ArrayLike, T: ArrayLike, *, c: float = 1.0) -> ArrayLike:
    """eps0 = c (K/T)^{1/3}: the hidden arm's gap in the lower-bound family (Thm. 1, §3)."""
    return c * eps_star(K, T)


def uniform_exploration_pulls(K: ArrayLike, T: ArrayLike) -> ArrayLike:
    """m = (T/K)^{2/3} log^{1/3} T pulls per arm for streaming uniform exploration (§1)."""
    return (T / K) ** (2.0 / 3.0) * jnp.log(T) ** (1.0 / 3.0)


def naive_eps_best_pulls(K: ArrayLike, T: ArrayLike) -> ArrayLike:
    """m = ln K / eps^2 pulls per arm: the naive single-arm eps-best routine (§4)."""
    return jnp.log(K) / eps_star(K, T) ** 2


def uniform_exploration_regret_bound(K: ArrayLike, T: ArrayLike) -> ArrayLike:
    """Upper bound on the expected regret of streaming uniform exploration with m pulls per arm.

    R <= K m + T delta + K with delta = sqrt(ln T / m): arms with gap <= delta cost at most delta
    per committed pull; each arm with gap > delta is kept over the best with probability
    <= exp(-m delta^2) = 1/T, costing <= 1 per pull over T pulls. With m from
    `uniform_exploration_pulls` this is 2 K^{1/3} T^{2/3} log^{1/3} T + K, the O(.) of §1.
    """
    m = uniform_exploration_pulls(K, T)
    return K * m + T * jnp.sqrt(jnp.log(T) / m) + K


def naive_eps_best_regret_bound(K: ArrayLike, T: ArrayLike) -> ArrayLike:
    """Upper bound on the expected regret of naive eps-best + commit: K^{1/3} T^{2/3} (ln K + 2).

    Exploration costs K m = K^{1/3} T^{2/3} ln K. Commit: arms with gap <= eps cost <= T eps; an arm
    with gap D > eps is kept with probability <= exp(-m D^2), and D exp(-m D^2) is decreasing for
    m D^2 >= 1/2, so the K such arms cost <= T K eps exp(-ln K) = T eps. Total
    K m + 2 T eps = K^{1/3} T^{2/3} (ln K + 2) (the O(K^{1/3} T^{2/3} log K) of §4).
    """
    return regret_rate(K, T) * (jnp.log(K) + 2.0)


def full_memory_minimax_rate(K: ArrayLike, T: ArrayLike) -> ArrayLike:
    """sqrt(K T): the minimax rate with unbounded memory, for contrast with K^{1/3} T^{2/3}."""
    return jnp.sqrt(K * T)


def loglog_slope_excess(T: ArrayLike) -> ArrayLike:
    """d log(log^{1/3} T) / d log T = 1 / (3 ln T): uniform exploration's extra log-log slope."""
    return 1.0 / (3.0 * jnp.log(T))
