"""Single-pass streaming bandit algorithms as `lax.scan`s over the arm stream (finite-sample side).

The estimators of the regret whose rates theory/streaming_bandits.py gives, for Wang (2023),
arXiv:2306.02208v1, and the authors' code (github jhwjhw0123/streaming-regret-minimization-MABs).

Simulation model. Individual pulls are never simulated: an arm is touched only through the mean of
n pulls, sampled exactly as Binomial(n, mu)/n in float64 (jax.random.binomial is exact and O(1) for
any n, checked up to n = 1e15), and regret is pseudo-regret from pull counts, so the cost is
independent of T. Each algorithm is one `lax.scan` over the K arms whose carry has a fixed shape;
the number of occupied arm slots in it is the algorithm's memory, recorded as `max_memory`.

Common random numbers: the mean of arm i at sampling site s (a level, a challenge round) is drawn
with key fold_in(fold_in(key, i), s), the same key in every algorithm, so differences between
algorithms on one instance are paired.

Two modes (`authors=True/False`). The default is the corrected accounting; `authors=True` reproduces
the released code's behaviour where it departs from the paper or from correct accounting:
  1. noise: for n > 1e5 pulls the authors draw mu + N(0, (2/sqrt n)^2), a standard deviation >= 4x
     the true sqrt(mu(1-mu)/n); below, floor(n) pulls; batch sizes are not rounded to integers;
  2. regret charged to the wrong arm: in the multi-level routines the pulls of a challenger are
     charged at the level's stored king's mean;
  3. final selection: `best_among_remaining` never updates its running best, so it returns the
     highest occupied level with a positive estimate, not the best estimate;
  4. stale thresholds: a level-0 king's estimate is not reset when the level is cleared, and
     uniform exploration never stores its first arm's estimate (treated as 0);
  5. uncounted pulls: the first arrival at an upper level, the promotion duel (the arrival that
     finds an upper level full against a fresh sample of its king) and game-of-arms' first
     fractional sample are pulled and charged but not counted against the budget T;
  6. oracle information: game-of-arms raises its king threshold to at least old + Delta/2, half the
     true gap between the best and second-best arm, which no algorithm can know (corrected: the
     threshold is max(new king's estimate, old threshold), monotone without the oracle).
The corrected mode rounds batches up to integers, samples exactly, charges the arm pulled, selects
the best fresh estimate, resets thresholds, counts every pull and uses no oracle information.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from kernels.binomial import binomial, binomial_reference

# Sampling-site ids for fold_in (common random numbers across algorithms).
SITE_LEVEL = 0  # + level index: cascade levels
SITE_FINAL = 100  # end-of-stream comparison
SITE_GOA_ROUND = 200  # + round index: game-of-arms challenge rounds
SITE_GOA_KING = 300
SITE_GOA_FRAC = 400
SITE_GOA_COIN = 500
SITE_DUEL = 600  # + level index: authors' promotion duel (fresh king sample)

# Authors' sampling switch (streamingMAB.py, Bernoulli_Arm.batch_pull).
AUTHORS_EXACT_MAX_PULLS = 1e5
NO_CAP = 0

ALGORITHMS = ("uniform", "naive", "goa", "log", "loglog", "logstar")


@dataclasses.dataclass(frozen=True)
class Cascade:
    """A multi-level selective-promotion routine (static structure; batches depend on eps).

    Level l keeps one king. An arriving arm is pulled batch_l times; it becomes king if the level is
    empty or its estimate beats the king's. After caps[l] arrivals the king is promoted to level
    l+1 and level l is cleared. caps[-1] == NO_CAP. Memory = number of levels.
    """

    name: str
    caps: tuple[int, ...]

    @property
    def levels(self) -> int:
        return len(self.caps)


def num_levels(name: str, K: int) -> int:
    """Level counts of the authors' routines: ln K, ln ln K + 1, log* K + 1 (authors' log*)."""
    if name in ("uniform", "naive"):
        return 1
    if name == "log":
        return max(int(math.log(K)), 1)
    if name == "loglog":
        return int(math.log(math.log(K))) + 1
    if name == "logstar":
        levels, x = 1, float(K)
        while x >= 1:
            levels += 1
            x = math.log(x)
        return levels
    raise ValueError(f"unknown cascade {name!r}")


def _logstar_r(levels: int) -> list[float]:
    """r_0 = 2, r_{l+1} = 2^{r_l} (inf once it overflows a float)."""
    r = [2.0]
    for _ in range(levels - 1):
        r.append(2.0 ** r[-1] if r[-1] < 1024 else math.inf)
    return r


def cascade(name: str, K: int) -> Cascade:
    """Arrival caps per level, read off the authors' pull caps (algorithms.py).

    A level with pull cap c * batch processes arrivals while its pull count is <= c * batch: level
    0 takes c + 1 arrivals; an upper level's first arrival is not counted, then c + 1 challengers,
    and the next arrival is compared in the promotion duel: c + 2 + 1 in all. log: c = 6, loglog:
    c = 10 (top level uncapped), logstar: c_0 = 4, c_l = 2^{r_l - r_{l-1}}.
    """
    L = num_levels(name, K)
    if name in ("uniform", "naive"):
        return Cascade(name, (NO_CAP,))
    if name in ("log", "loglog"):
        c = 6 if name == "log" else 10
        caps = [c + 1] + [c + 3] * (L - 1)
    elif name == "logstar":
        r = _logstar_r(L)
        caps = [5]
        for l in range(1, L):
            ratio = r[l] - r[l - 1]
            caps.append(int(2**ratio) + 3 if ratio < 40 else NO_CAP)
    else:
        raise ValueError(f"unknown cascade {name!r}")
    caps[-1] = NO_CAP
    return Cascade(name, tuple(caps))


def batch_sizes(name: str, K: int, T, *, authors: bool):
    """Pulls per arrival at each level, as a float64 array (traced in T). Authors' constants."""
    eps = (K / T) ** (1.0 / 3.0)
    inv = 1.0 / eps**2
    L = num_levels(name, K)
    if name == "uniform":
        b = [(T / K) ** (2.0 / 3.0) * jnp.log(T) ** (1.0 / 3.0)]
    elif name == "naive":
        b = [math.log(K) * inv]
    elif name == "log":
        b = [jnp.ceil(1.2**l * inv) for l in range(L)]
    elif name == "loglog":
        b = [jnp.ceil(1.2**l * inv) for l in range(L - 1)] + [math.log(K) * inv]
    elif name == "logstar":
        r = _logstar_r(L)
        b = [inv] + [jnp.minimum(jnp.ceil(r[l] * inv), 1e20) for l in range(1, L)]
    else:
        raise ValueError(f"unknown cascade {name!r}")
    b = jnp.stack([jnp.asarray(x, jnp.float64) for x in b])
    return b if authors else jnp.ceil(b)


def sample_mean(key, mu, n, *, authors: bool):
    """Empirical mean of n Bernoulli(mu) pulls: exact Binomial(n, mu)/n, or the authors' model."""
    n = jnp.asarray(n, jnp.float64)
    if not authors:
        return jax.random.binomial(key, n, mu) / n
    k_exact, k_normal = jax.random.split(key)
    n_floor = jnp.clip(jnp.floor(n), 1.0, AUTHORS_EXACT_MAX_PULLS)
    exact = jax.random.binomial(k_exact, n_floor, mu) / n_floor
    inflated = mu + jax.random.normal(k_normal, dtype=jnp.float64) * 2.0 / jnp.sqrt(n)
    return jnp.where(n <= AUTHORS_EXACT_MAX_PULLS, exact, inflated)


# Arms per block of pre-drawn samples: the sampler's working set is ~600 bytes per draw (measured:
# 10.7 GB peak for the full preset's 360 x 50000 draws at once), so blocks of 2048 arms keep it
# near 0.45 GB at 360 runs under vmap, and the draws stay wide enough to vectorise.
SAMPLE_BLOCK = 2048


# The compacted sampler (kernels.binomial) against jax.random.binomial, both exact and equal bit
# for bit: measured here (2026-12-06, float64, one program vmapped over 144 instances of A arms,
# A = 100 / 400 / 2048), the compacted one takes 2.0-2.4 s longer to compile per call site and
# saves 0.35-0.67 us per draw when it runs. A program that draws fewer than ~2.4 s / 0.5 us ~ 5
# million values per site over its life compiles and runs sooner with jax's own sampler; the
# caller, which knows the batch, decides (`compact=`): experiments.streaming_bandit_regret uses
# COMPACT_MIN_DRAWS draws per call.
COMPACT_MIN_DRAWS = 5_000_000


def sample_means(key, arms, site, mu, n, *, authors: bool, compact: bool = True):
    """`sample_mean` of each arm in `arms` (int32, (A,)) at sampling site `site`, n pulls each
    (`site` and `n` scalars, or one per arm: several sites in one call), equal bit for bit to
    drawing them one by one with `_site_key(key, arm, site)`: the binomial draws go through
    kernels.binomial, which runs jax's own sampler with the rejected proposals compacted (3x
    faster here at 10^6 draws; its docstring), or, with compact=False, through
    jax.random.binomial itself (the same numbers, quicker to compile: COMPACT_MIN_DRAWS), in blocks
    of SAMPLE_BLOCK arms (a lax.map: memory bounded whatever A). Each call is one copy of the
    sampler in the program (~1-2 s of compile each), so a routine draws all its pre-drawn sites
    in one call."""
    (A,) = arms.shape
    sites = jnp.broadcast_to(jnp.asarray(site, jnp.int32), (A,))
    ns = jnp.broadcast_to(jnp.asarray(n, jnp.float64), (A,))

    def block(xs):
        a, s, n_ = xs
        keys = jax.vmap(lambda i, si: _site_key(key, i, si))(a, s)
        return _sample_means(keys, mu[a], n_, authors=authors, compact=compact)

    if A <= SAMPLE_BLOCK:
        return block((arms, sites, ns))
    blocks = -(-A // SAMPLE_BLOCK)

    def pad(x):
        return jnp.concatenate([x, jnp.repeat(x[-1:], blocks * SAMPLE_BLOCK - A)]).reshape(
            blocks, SAMPLE_BLOCK
        )

    return lax.map(block, (pad(arms), pad(sites), pad(ns))).reshape(-1)[:A]


def _sample_means(keys, mu, n, *, authors: bool, compact: bool):
    draw = binomial if compact else binomial_reference
    n = jnp.asarray(n, jnp.float64)
    ns = jnp.broadcast_to(n, mu.shape)
    if not authors:
        return draw(keys, ns, mu) / n
    pair = jax.vmap(jax.random.split)(keys)
    k_exact, k_normal = pair[:, 0], pair[:, 1]
    n_floor = jnp.clip(jnp.floor(n), 1.0, AUTHORS_EXACT_MAX_PULLS)
    exact = draw(k_exact, jnp.full(mu.shape, n_floor), mu) / n_floor
    normal = jax.vmap(lambda k: jax.random.normal(k, dtype=jnp.float64))(k_normal)
    inflated = mu + normal * 2.0 / jnp.sqrt(n)
    return jnp.where(n <= AUTHORS_EXACT_MAX_PULLS, exact, inflated)


def _site_key(key, arm, site):
    return jax.random.fold_in(jax.random.fold_in(key, arm), site)


class Outcome(NamedTuple):
    """Per-run result; regret is pseudo-regret in reward units."""

    regret: jax.Array
    explore_pulls: jax.Array  # pulls counted against the budget before the commit phase
    overrun: jax.Array  # True if counted pulls exceeded T
    chosen_gap: jax.Array  # mu* - mu of the committed arm
    max_memory: jax.Array  # most arms stored at once (occupied slots)
    arms_read: jax.Array
    failed: jax.Array  # game of arms: a challenger outlasted every round (authors raise here)


def _commit(mu, best, explore, T, chosen, regret):
    remaining = T - explore
    commit_pulls = jnp.maximum(remaining, 0.0)
    return regret + commit_pulls * (best - mu[chosen]), remaining < 0


def run_cascade(mu, key, T, *, name: str, authors: bool, compact: bool = True) -> Outcome:
    """Streaming uniform exploration, naive eps-best, and the log/loglog/log* promotion routines."""
    K = mu.shape[0]
    spec = cascade(name, K)
    L = spec.levels
    b = batch_sizes(name, K, T, authors=authors)
    best = jnp.max(mu)
    neg_inf = jnp.array(-jnp.inf, jnp.float64)

    class Carry(NamedTuple):
        king: jax.Array  # (L,) int32 arm index or -1
        est: jax.Array  # (L,) float64 king estimate (threshold)
        count: jax.Array  # (L,) int32 arrivals since the level was cleared
        regret: jax.Array
        pulls: jax.Array
        done: jax.Array
        max_memory: jax.Array
        arms_read: jax.Array

    init = Carry(
        king=jnp.full((L,), -1, jnp.int32),
        est=jnp.full((L,), -jnp.inf, jnp.float64),
        count=jnp.zeros((L,), jnp.int32),
        regret=jnp.zeros((), jnp.float64),
        pulls=jnp.zeros((), jnp.float64),
        done=jnp.zeros((), bool),
        max_memory=jnp.zeros((), jnp.int32),
        arms_read=jnp.zeros((), jnp.int32),
    )

    caps = jnp.asarray(spec.caps, jnp.int32)
    authors_cascade = authors and name not in ("uniform", "naive")
    # the authors' promotion duel needs a capped upper level (none in uniform / naive)
    duels = authors and any(c != NO_CAP for c in spec.caps[1:])

    def level(s, x=None):
        """Level l for an arm arriving there (valid): sample it (unless its sample `x` is given:
        level 0's, drawn for every arm before the scan), charge its pulls, crown it if it wins,
        and promote the level's king to l + 1 when the level's arrival cap is reached (that king
        is the arm arriving at level l + 1)."""
        l, arm, valid, king, est, count, regret, pulls = s
        n = b[l]
        first = x is not None  # level 0 (static): no promotion duel there
        king_l = jnp.maximum(king[l], 0)
        if duels and not first:
            # the arrival's sample and the king's duel sample (used only in a duel) in one call:
            # one copy of the sampler in the loop body, not two (the same numbers, tested)
            x, x_king = sample_means(
                key,
                jnp.stack([arm, king_l]),
                jnp.stack([SITE_LEVEL + l, SITE_DUEL + l]),
                mu,
                n,
                authors=authors,
                compact=False,
            )
        elif not first:
            x = sample_mean(_site_key(key, arm, SITE_LEVEL + l), mu[arm], n, authors=authors)
        empty = king[l] < 0
        if authors and name == "uniform":
            # stored_reward starts at 0 and is never set for the first arm.
            x = jnp.where(empty, 0.0, x)
        capped = caps[l] != NO_CAP
        # Authors' promotion duel (upper capped levels): the arrival that finds the level full is
        # compared with a fresh sample of the king, both pulls charged at their own means and
        # neither counted against T.
        duel = jnp.zeros((), bool)
        if duels and not first:
            duel = (l > 0) & capped & valid & ~empty & (count[l] + 1 >= caps[l])
        charged = mu[arm]
        if authors_cascade:
            charged = jnp.where(empty | duel, mu[arm], mu[king_l])
        regret = regret + jnp.where(valid, n * (best - charged), 0.0)
        counted = valid
        if authors:
            counted = jnp.where(l > 0, valid & ~empty & ~duel, valid)
        pulls = pulls + jnp.where(counted, n, 0.0)
        wins = empty | (x > est[l])
        new_est = x
        if authors_cascade:
            # a level-0 king's threshold is never lowered by a crowning
            new_est = jnp.where((l == 0) & empty, jnp.maximum(x, est[l]), x)
        if duels and not first:
            regret = regret + jnp.where(duel, n * (best - mu[king_l]), 0.0)
            wins = jnp.where(duel, x > x_king, wins)
        take = valid & wins
        king = king.at[l].set(jnp.where(take, arm, king[l]))
        est = est.at[l].set(jnp.where(take, new_est, est[l]))
        count = count.at[l].add(valid.astype(jnp.int32))
        promote = valid & capped & (count[l] >= caps[l])
        arm = jnp.where(promote, king[l], arm)
        king = king.at[l].set(jnp.where(promote, -1, king[l]))
        count = count.at[l].set(jnp.where(promote, 0, count[l]))
        # (authors: a level-0 king's estimate is not reset when the level is cleared)
        reset = promote & (l > 0) if authors else promote
        est = est.at[l].set(jnp.where(reset, neg_inf, est[l]))
        return l + 1, arm, promote, king, est, count, regret, pulls

    # Level 0's sample of every arm, drawn before the scan as one vectorised call: every arm
    # that is read arrives at level 0, and its sample there depends only on (key, arm), so this
    # is the same number the scan drew step by step (bit for bit, tested), without a sampler
    # (a rejection loop) inside each of the K steps. Arms past the budget are drawn and unused.
    arms = jnp.arange(K, dtype=jnp.int32)
    x0 = sample_means(key, arms, SITE_LEVEL, mu, b[0], authors=authors, compact=compact)

    def step(c: Carry, xs):
        i, x_0 = xs
        # Authors stop reading once counted pulls reach T; corrected: also stop before a level-0
        # batch that would overrun the budget.
        if authors:
            stop = c.pulls >= T
        else:
            stop = c.pulls + b[0] > T
        done = c.done | stop
        valid, arm = ~done, i
        # Level 0 with its pre-drawn sample, then the upper levels as one traced loop (one copy
        # of the sampler in the program, not L - 1) that stops at the first level the arm is not
        # promoted past: the levels it skips would change nothing (every update there is masked
        # by `valid`). Promotions happen at the same steps in every run of a batch (arrival
        # counts), so under vmap the loop body runs only at those steps.
        lv = (jnp.zeros((), jnp.int32), arm, valid, c.king, c.est, c.count, c.regret, c.pulls)
        lv = level(lv, x_0)
        if L > 1:
            lv = lax.while_loop(lambda s: (s[0] < L) & s[2], level, lv)
        _, _, _, king, est, count, regret, pulls = lv
        memory = jnp.sum(king >= 0).astype(jnp.int32)
        new = Carry(
            king=king,
            est=est,
            count=count,
            regret=regret,
            pulls=pulls,
            done=done,
            max_memory=jnp.maximum(c.max_memory, memory),
            arms_read=c.arms_read + (~done).astype(jnp.int32),
        )
        return new, None

    c, _ = lax.scan(step, init, (arms, x0))

    # End of stream: pick among the occupied levels' kings, then commit.
    occupied = c.king >= 0
    top = L - 1 - jnp.argmax(occupied[::-1])  # highest occupied level
    regret, pulls = c.regret, c.pulls
    if L == 1:
        chosen = c.king[0]
    else:
        n_f = b[0]
        kings = jnp.maximum(c.king, 0)  # empty slots read arm 0 and are masked by `occupied`
        keys = jax.vmap(lambda a, l: _site_key(key, a, SITE_FINAL + l))(kings, jnp.arange(L))
        x = jax.vmap(lambda k, a: sample_mean(k, mu[a], n_f, authors=authors))(keys, kings)
        n_occ = jnp.sum(occupied)
        # Regret of pulling every occupied king n_f more times (the final comparison).
        compare_regret = n_occ * n_f * best - jnp.sum(jnp.where(occupied, n_f * mu[kings], 0.0))
        if authors:
            # Compare only if the budget left covers max_level * b_0 pulls (uncounted in `pulls`).
            affordable = (T - pulls) >= top * n_f
            regret = regret + jnp.where(affordable, compare_regret, 0.0)
            pulls = pulls + jnp.where(affordable, top * n_f, 0.0)
            # best_emp_reward is never updated: the last occupied level with estimate > 0 wins.
            positive = occupied & (x > 0)
            last_pos = L - 1 - jnp.argmax(positive[::-1])
            level = jnp.where(affordable & jnp.any(positive), last_pos, top)
        else:
            affordable = (T - pulls) >= n_occ * n_f
            do = affordable & (n_occ > 1)
            regret = regret + jnp.where(do, compare_regret, 0.0)
            pulls = pulls + jnp.where(do, n_occ * n_f, 0.0)
            level = jnp.where(do, jnp.argmax(jnp.where(occupied, x, -jnp.inf)), top)
        chosen = c.king[level]
    regret, overrun = _commit(mu, best, pulls, T, chosen, regret)
    return Outcome(
        regret, pulls, overrun, best - mu[chosen], c.max_memory, c.arms_read, jnp.zeros((), bool)
    )


def goa_rounds(K: int) -> int:
    """Challenge rounds per arrival in the authors' game-of-arms: int(10 ln ln K)."""
    return max(int(10 * math.log(math.log(K))), 1)


def run_goa(mu, key, T, *, authors: bool, compact: bool = True) -> Outcome:
    """Budgeted king-challenge routine ("game of arms") with a sampled fractional backup arm.

    Semantics of the authors' `Game_of_Arms_regret_min`: a king with a pull budget that grows by
    1/eps^2 per arrival; each challenger is pulled in doubling rounds 2^l/eps^2 until its estimate
    falls eps/5 below the king's threshold (it loses) or the king's budget cannot pay the next round
    (it becomes king, pulled 1.2/eps^2 times). With probability 1.5/ln K an arrival is also pulled
    ln K/eps^2 times as a backup candidate, used if the challenge pulls exceed 10 K/eps^2.
    Memory: the king and the backup arm (2).
    """
    K = mu.shape[0]
    eps = (K / T) ** (1.0 / 3.0)
    inv = 1.0 / eps**2
    rounds = goa_rounds(K)
    b0, inc = 1.2 * inv, inv
    n_frac = math.log(K) * inv
    cap_full = 10.0 * K * inv
    p_frac = 1.5 / math.log(K)
    if not authors:
        b0, inc, n_frac = jnp.ceil(b0), jnp.ceil(inc), jnp.ceil(n_frac)
    best = jnp.max(mu)
    sorted_mu = jnp.sort(mu)
    gap = sorted_mu[-1] - sorted_mu[-2]  # oracle information (authors' mode only)

    def pulls_of(l):
        n = (2.0 ** l.astype(jnp.float64)) * inv
        return n if authors else jnp.ceil(n)

    class Carry(NamedTuple):
        king: jax.Array
        king_budget: jax.Array
        king_est: jax.Array
        frac: jax.Array
        frac_est: jax.Array
        full: jax.Array
        frac_pulls: jax.Array
        regret: jax.Array
        done: jax.Array
        failed: jax.Array
        arms_read: jax.Array

    # Every arm's backup-arm sample (n_frac pulls) and every later arrival's crowning sample (b0
    # pulls), drawn before the scan in one vectorised call (each depends only on (key, arm,
    # site); bit for bit the one-by-one draws, tested): one copy of the sampler for both sites.
    arms = jnp.arange(1, K, dtype=jnp.int32)
    pre = sample_means(
        key,
        jnp.concatenate([jnp.arange(K, dtype=jnp.int32), arms]),
        jnp.concatenate(
            [jnp.full((K,), SITE_GOA_FRAC, jnp.int32), jnp.full((K - 1,), SITE_GOA_KING, jnp.int32)]
        ),
        mu,
        jnp.concatenate([jnp.full((K,), n_frac, jnp.float64), jnp.full((K - 1,), b0, jnp.float64)]),
        authors=authors,
        compact=compact,
    )
    x0, frac_x, crown_x = pre[0], pre[1:K], pre[K:]

    # First arm: king with budget b0, and the backup arm pulled n_frac times.
    init = Carry(
        king=jnp.zeros((), jnp.int32),
        king_budget=jnp.asarray(b0, jnp.float64),
        king_est=jnp.asarray(eps / 2.0, jnp.float64),
        frac=jnp.zeros((), jnp.int32),
        frac_est=x0,
        full=jnp.zeros((), jnp.float64),
        frac_pulls=jnp.asarray(0.0 if authors else n_frac, jnp.float64),
        regret=n_frac * (best - mu[0]),
        done=jnp.zeros((), bool),
        failed=jnp.zeros((), bool),
        arms_read=jnp.ones((), jnp.int32),
    )

    def step(c: Carry, xs):
        i, x_new, xf = xs
        active = ~c.done
        in_cap = active & (c.full <= cap_full)
        budget = c.king_budget + jnp.where(in_cap, inc, 0.0)
        king, king_est, full, regret = c.king, c.king_est, c.full, c.regret
        alive = in_cap
        # The crowning sample (1.2/eps^2 pulls) has its own site, drawn once per arrival (x_new).
        if authors:
            new_est = jnp.minimum(jnp.maximum(x_new, king_est + gap / 2.0), 1.0)
        else:
            # Same monotone threshold without the oracle gap: never lower the bar on a crowning.
            new_est = jnp.maximum(x_new, king_est)

        def challenge(r):
            l, alive, budget, king, king_est, full, regret = r
            n = pulls_of(l)
            crown = alive & (budget < n)
            king = jnp.where(crown, i, king)
            king_est = jnp.where(crown, new_est, king_est)
            budget = jnp.where(crown, b0, budget)
            regret = regret + jnp.where(crown, b0 * (best - mu[i]), 0.0)
            full = full + jnp.where(crown, b0, 0.0)
            alive = alive & ~crown
            x = sample_mean(_site_key(key, i, SITE_GOA_ROUND + l), mu[i], n, authors=authors)
            regret = regret + jnp.where(alive, n * (best - mu[i]), 0.0)
            full = full + jnp.where(alive, n, 0.0)
            budget = budget - jnp.where(alive, n, 0.0)
            loses = alive & (king_est - eps / 5.0 >= x)
            return l + 1, alive & ~loses, budget, king, king_est, full, regret

        # The rounds stop once the challenger is out (it lost or was crowned): a round after
        # that changes nothing (every update is masked by `alive`), so this is the fixed
        # `rounds`-long loop it replaces, bit for bit (tested), without drawing ~int(10 ln ln K)
        # samples per arrival when most challengers lose in the first round or two.
        r = (jnp.zeros((), jnp.int32), alive, budget, king, king_est, full, regret)
        r = lax.while_loop(lambda r: (r[0] < rounds) & r[1], challenge, r)
        _, alive, budget, king, king_est, full, regret = r
        failed = c.failed | alive  # authors raise 'Algorithm fail for excessive sample complexity'
        coin = jax.random.uniform(_site_key(key, i, SITE_GOA_COIN), dtype=jnp.float64)
        sampled = active & (coin < p_frac)
        regret = regret + jnp.where(sampled, n_frac * (best - mu[i]), 0.0)
        frac_pulls = c.frac_pulls + jnp.where(sampled, n_frac, 0.0)
        better = sampled & (xf > c.frac_est)
        new = Carry(
            king=king,
            king_budget=jnp.where(active, budget, c.king_budget),
            king_est=king_est,
            frac=jnp.where(better, i, c.frac),
            frac_est=jnp.where(better, xf, c.frac_est),
            full=full,
            frac_pulls=frac_pulls,
            regret=regret,
            done=c.done | (full + frac_pulls >= T),
            failed=failed,
            arms_read=c.arms_read + active.astype(jnp.int32),
        )
        return new, None

    c, _ = lax.scan(step, init, (arms, crown_x, frac_x))
    chosen = jnp.where(c.full <= cap_full, c.king, c.frac)
    explore = c.full + c.frac_pulls
    regret, overrun = _commit(mu, best, explore, T, chosen, c.regret)
    # The carry holds exactly two arm slots (king, backup), both occupied from the first arm on.
    return Outcome(regret, explore, overrun, best - mu[chosen], jnp.int32(2), c.arms_read, c.failed)


def run_algorithm(mu, key, T, *, name: str, authors: bool, compact: bool = True) -> Outcome:
    """Dispatches to the routine `name` (one of ALGORITHMS); `compact`: which exact sampler the
    pre-drawn samples use (sample_means; the same numbers either way)."""
    if name == "goa":
        return run_goa(mu, key, T, authors=authors, compact=compact)
    return run_cascade(mu, key, T, name=name, authors=authors, compact=compact)


def memory_bound(name: str, K: int) -> int:
    """Arms the routine may store at once: 1, 2 (goa), or its number of levels."""
    if name == "goa":
        return 2
    return cascade(name, K).levels


# --- instances -------------------------------------------------------------------------------


def clear_cut_means(
    key,
    K: int,
    *,
    best: float = 0.82,
    loc: float = 0.5,
    scale: float = 0.1,
    low: float = 0.0,
    high: float = 0.8,
):
    """Authors' "clear-cut" family: K-1 means ~ TruncNormal(0.5, 0.1; [0, 0.8]) and one at 0.82,
    in a uniformly random position (test.py: truncated_normal + Bernoulli_Arm(p=0.82), shuffled)."""
    k_crowd, k_perm = jax.random.split(key)
    a, b = (low - loc) / scale, (high - loc) / scale
    crowd = loc + scale * jax.random.truncated_normal(k_crowd, a, b, (K - 1,), jnp.float64)
    mu = jnp.concatenate([crowd, jnp.array([best], jnp.float64)])
    return jax.random.permutation(k_perm, mu)


def mix_in_means(key, K: int):
    """Authors' "mix-in" family: all K means ~ Uniform[0, 1]."""
    return jax.random.uniform(key, (K,), jnp.float64)


def hard_means(key, K: int, eps0):
    """Lower-bound family (Thm. 1): all arms 1/2, one uniformly placed arm at 1/2 + eps0."""
    j = jax.random.randint(key, (), 0, K)
    return jnp.full((K,), 0.5, jnp.float64).at[j].add(eps0)


def validate_instance(K: int, T: float, mu=None) -> None:
    """Raises ValueError with a one-line message for inputs no algorithm here accepts."""
    if K < 2:
        raise ValueError(f"K must be >= 2 (got {K})")
    if T < K:
        raise ValueError(f"T must be >= K (got T={T:g} < K={K})")
    if mu is not None:
        lo, hi = float(jnp.min(mu)), float(jnp.max(mu))
        if lo < 0.0 or hi > 1.0:
            raise ValueError(f"arm means must lie in [0, 1] (got range [{lo:g}, {hi:g}])")
