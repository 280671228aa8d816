"""MEC-B: the entropy-bounded encoder (EBIM), the minimum-entropy coupling decoder (MEC), composed.

Reproduces the information-theory side of Ebrahimi, Chen, Khisti, "Minimum Entropy Coupling with
Bottleneck", NeurIPS 2024, arXiv:2410.21666 (Sec. 3 EBIM and its greedy Algorithm 1, the
structure of the optimum near deterministic maps and Fig. 2, MEC, Lemma 1, the Fig. 10 trend).
The rate-limited Markov Coding Game (Sec. 5, Figs. 4-5) runs in the authors' grid world.

Commands:
    python -m experiments.mecb_coupling                  # quick, ~40 s
    python -m experiments.mecb_coupling --preset full    # the cited run, ~15 min, 2.5 GB

Headline (full): the loop-free greedy equals Algorithm 1 on every instance; the greedy's loss to
the best deterministic encoder stays below h(p_2); the one-symbol-move envelope matches a
brute-force + pattern search of stochastic encoders for p_X = (0.7, 0.2, 0.1); greedy MEC within
log2(e)/e of the exact optimum on every tiny instance; in the Markov Coding Game at beta = e^-6
EBIM beats uniform quantisation's receiver accuracy by +0.23..+0.46 at every rate.

Rates. R is in bits. The paper's "compression ratio" is H(X)/R; the authors' MCG code's
`compression_rate` is R/H(M), its inverse. Both are named where they are used.

What runs:
- EBIM on random p_X (Dirichlet(alpha), n symbols) at R ~ U(0, H(X)): the greedy (loop and
  loop-free, vmapped), uniform quantisation, and the best deterministic encoder (all Bell(n)
  partitions). Upper bound on the stochastic optimum: min(R, H(X)).
- Fig. 2 (p_X = (0.7, 0.2, 0.1)): every stochastic encoder on a simplex lattice (3 cells), each
  rate's best point polished by pattern search, against the upper envelope of the exact
  one-symbol-move curves between deterministic encoders.
- MEC: greedy (exact marginals) vs the authors' thresholded loop vs the exact optimum (vertex
  enumeration, n * m <= 16) vs SLA (linear programs) vs the independent coupling.
- MEC-B: Lemma 1's bound on random instances; H(Y|X) against the compression ratio H(X)/R,
  on random marginals and on Fig. 10's uniform ones (one coupling per ratio, drawn).
- Table 1: the paper's values (read from a transcription; TABLE1_PAPER) beside ours.
- Markov Coding Game (models/mcg.py): reward and receiver accuracy over temperatures x rates x
  encoders (greedy EBIM, uniform quantisation, none), paired episodes.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from experiments._lib import claims as C
from experiments._lib import cli, plotting
from models import mcg as G
from runtime import memory, progress, rng
from runtime.sharding import place_batch, shard_map_batch
from theory import information as info
from theory import mecb as M
from theory import stats

PAPER = "ebrahimi2024_mecb"
CITED_PRESET = "full"
# rendered in the paper file too, not counted (papers_repro.render)
EXTRA_CITED = ("fig4",)
DEBIAN_PACKAGES: tuple[str, ...] = ()
ARXIV = "arXiv:2410.21666"
# random streams (runtime.rng): each part draws its instances from its own
STREAM_EBIM, STREAM_MEC, STREAM_TABLE1, STREAM_MECB, STREAM_MCG = 1, 2, 3, 4, 5


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    # EBIM: random instances, n symbols each, p_X ~ Dirichlet(alpha), R ~ U(0, H(X))
    ebim_sizes: tuple[int, ...] = (4, 6, 8)
    ebim_instances: int = 300
    alpha: float = 1.0
    # Fig. 2: the paper's p_X, the lattice step 1/fig2_steps over 3 cells, rates polished
    fig2_p: tuple[float, ...] = (0.7, 0.2, 0.1)
    fig2_steps: int = 12
    fig2_rates: int = 24
    # pattern-search neighbourhood: every per-row move of -reach..reach steps ((2 reach + 1)^6
    # candidates per round for 3 x 3 encoders)
    polish_reach: int = 2
    # MEC: exact optimum on tiny alphabets; Table-1-style comparison at table1_size
    mec_sizes: tuple[tuple[int, ...], ...] = ((2, 3), (3, 3), (3, 4))
    mec_instances: int = 60
    table1_size: int = 10
    table1_pairs: int = 100
    # MEC-B: Lemma 1 and the Fig. 10 trend (n = m = mecb_size)
    mecb_size: int = 8
    mecb_instances: int = 200
    ratios: tuple[float, ...] = (1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 6.0)
    # Markov Coding Game (the authors' grid world): temperatures as log(beta), the authors'
    # compression_rate R/H(M) (1 = no bottleneck), episodes per setting (a multiple of 4, so they
    # split evenly over 1, 2 or 4 devices), uniform message prior over mcg_messages
    mcg_log_betas: tuple[float, ...] = (-8.0, -6.0, -5.0, -4.0)
    mcg_rates: tuple[float, ...] = (1.0, 0.5, 0.25)
    mcg_episodes: int = 200
    mcg_messages: int = 50
    mcg_start: tuple[int, ...] = (5, 4)
    mcg_gamma: float = 0.95
    mcg_max_steps: int = 1000
    seed: int = 0

    def __post_init__(self):
        if not self.ebim_sizes or min(self.ebim_sizes) < 2 or max(self.ebim_sizes) > 9:
            raise ValueError(f"ebim_sizes must be in 2..9 (brute force), got {self.ebim_sizes}")
        if self.alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")
        info.check_distribution(self.fig2_p, "fig2_p")
        if len(self.fig2_p) != 3:
            raise ValueError("fig2_p must have 3 entries (the lattice search is over 3 x 3)")
        if not 2 <= self.fig2_steps <= 24:
            raise ValueError(
                f"fig2_steps must be in 2..24 (24: 34M encoders), got {self.fig2_steps}"
            )
        for s in self.mec_sizes:
            if len(s) != 2 or min(s) < 2 or s[0] * s[1] > M.MAX_VERTEX_CELLS:
                raise ValueError(f"mec_sizes are (n, m), n, m >= 2, n * m <= 16; got {s}")
        if not 2 <= self.table1_size <= 64 or not 2 <= self.mecb_size <= 256:
            raise ValueError("table1_size must be in 2..64 and mecb_size in 2..256")
        if min(self.ratios) < 1.0 or len(self.ratios) < 3:
            raise ValueError(f"ratios H(X)/R must be >= 1, at least 3 of them; got {self.ratios}")
        counts = (self.ebim_instances, self.mec_instances, self.table1_pairs, self.mecb_instances)
        if not self.mcg_log_betas or not all(-20.0 <= b <= 2.0 for b in self.mcg_log_betas):
            raise ValueError(f"mcg_log_betas must be in [-20, 2], got {self.mcg_log_betas}")
        if not self.mcg_rates or not all(0.0 < r <= 1.0 for r in self.mcg_rates):
            raise ValueError(f"mcg_rates (R/H(M)) must be in (0, 1], got {self.mcg_rates}")
        if 1.0 not in self.mcg_rates:
            raise ValueError("mcg_rates must include 1.0 (the game without a bottleneck)")
        if self.mcg_episodes < 8 or self.mcg_episodes % 4 or self.mcg_episodes > 10**6:
            raise ValueError(
                f"mcg_episodes must be a multiple of 4 in 8..1e6, got {self.mcg_episodes}"
            )
        if not 2 <= self.mcg_messages <= 1024:
            raise ValueError(f"mcg_messages must be in 2..1024, got {self.mcg_messages}")
        if len(self.mcg_start) != 2 or not all(0 <= v < 8 for v in self.mcg_start):
            raise ValueError(
                f"mcg_start must be a cell (row, col) of the 8 x 8 grid, got {self.mcg_start}"
            )
        if self.mcg_start[0] == self.mcg_start[1] or tuple(self.mcg_start) in ((0, 7), (1, 7)):
            raise ValueError(f"mcg_start {self.mcg_start} is an obstacle or a terminal cell")
        if not 0.0 < self.mcg_gamma <= 1.0 or not 1 <= self.mcg_max_steps <= 10**5:
            raise ValueError("mcg_gamma must be in (0, 1] and mcg_max_steps in 1..1e5")
        if not 1 <= self.polish_reach <= 3:
            raise ValueError(f"polish_reach must be in 1..3, got {self.polish_reach}")
        if min(counts) < 10 or self.fig2_rates < 4:
            raise ValueError("instance counts must be >= 10 and fig2_rates >= 4")
        if max(counts) > 10**6 or self.fig2_rates > 10**4:
            raise ValueError("instance counts must be <= 1e6 and fig2_rates <= 1e4")
        why = memory.refusal(memory_estimate(self), "MEC-B")
        if why:
            raise ValueError(why)


def memory_estimate(cfg: Config) -> int:
    """Peak bytes: MEC-B holds ~12 float64 (n, n) tables per instance at once (joints,
    couplings, carries), for every instance of its batch."""
    return 12 * 8 * cfg.mecb_instances * cfg.mecb_size**2


PRESETS = {
    "smoke": Config(
        ebim_sizes=(4,),
        ebim_instances=20,
        fig2_steps=5,
        fig2_rates=6,
        polish_reach=1,
        mec_sizes=((2, 3),),
        mec_instances=10,
        table1_size=6,
        table1_pairs=10,
        mecb_size=5,
        mecb_instances=20,
        ratios=(1.0, 2.0, 4.0),
        mcg_log_betas=(-6.0, -4.0),
        mcg_rates=(1.0, 0.5),
        mcg_episodes=16,
        mcg_messages=8,
    ),  # fmt: skip
    "quick": Config(),
    "full": Config(
        ebim_sizes=(3, 4, 5, 6, 7, 8, 9),
        ebim_instances=2000,
        fig2_steps=24,
        fig2_rates=60,
        mec_sizes=((2, 3), (3, 3), (3, 4), (4, 4)),
        mec_instances=100,
        mecb_instances=1000,
        # hotter than e^-3 the policy wanders to the step cap (1000) with ~0 reward
        mcg_log_betas=(-8.0, -7.0, -6.0, -5.5, -5.0, -4.5, -4.0, -3.0),
        mcg_rates=(1.0, 0.9, 0.75, 0.5, 0.25),
        mcg_episodes=2000,
    ),
}
# The game at Fig. 4's own setting (its caption: 512 messages with a uniform prior, 200 episodes
# per point), where the full preset keeps the authors' README example's 50 messages (with 2000
# episodes). The full preset's temperatures, e^-8 to e^-3. A vmapped game runs until its longest
# episode ends (e^-3: ~980 steps on average, against 22 at e^-6); at 512 messages a setting at
# e^-3 costs ~105 s here since the coupling leaves its loop once the belief's few cells are
# coupled (theory.mecb.greedy_coupling_sparse; ~2.5x), so the hot end no longer needs ~1.5 h.
# Everything else is the full preset's (its other rows repeat the full run's). Shown beside the
# full run in papers_repro/ebrahimi2024_mecb.md (EXTRA_CITED; not counted).
PRESETS["fig4"] = dataclasses.replace(PRESETS["full"], mcg_messages=512, mcg_episodes=200)


# Batched solvers: instances are vmapped and their batch axis sharded over jax.devices()
# (runtime.sharding.shard_map_batch compiles each callable once per shape; rates are traced).
_MECB = {enc: functools.partial(M.mecb, encoder=enc) for enc in ("greedy", "uniform")}
_uniform_batch = jax.jit(
    jax.vmap(M.uniform_quantisation_labels, in_axes=(None, 0)), static_argnums=0
)
_coupling = jax.jit(M.greedy_coupling)


def _np(key):
    """A NumPy generator seeded from a JAX key (the instances are drawn on the host)."""
    return np.random.default_rng(np.asarray(jax.random.key_data(key)).tolist())


def _key(cfg, *stream):
    return rng.key(cfg.seed, *stream)


# --- EBIM -----------------------------------------------------------------------------------------


def ebim_instances(cfg):
    out = []
    uniform = _uniform_batch
    for n in progress.bar(cfg.ebim_sizes, desc="EBIM sizes"):
        g = _np(_key(cfg, STREAM_EBIM, n))
        p = g.dirichlet(np.full(n, cfg.alpha), size=cfg.ebim_instances)
        hx = info.entropy_np(p)
        rate = g.uniform(0.0, 1.0, cfg.ebim_instances) * hx
        h_g, lab = shard_map_batch(M.ebim_greedy, jnp.asarray(p), jnp.asarray(rate))
        h_g, lab = np.asarray(h_g), np.asarray(lab)
        lab_u = np.asarray(uniform(n, jnp.asarray(rate)))
        parts = M.set_partitions(n)
        agree, h_opt, h_u = [], [], []
        for k in range(cfg.ebim_instances):
            loop = M.ebim_greedy_loop(p[k], rate[k])
            agree.append(_same_partition(loop, lab[k], p[k]))
            hp, _ = M.partition_entropies(p[k], parts)
            h_opt.append(float(np.max(np.where(hp <= rate[k], hp, -np.inf))))
            h_u.append(float(info.entropy_np(np.bincount(lab_u[k], weights=p[k], minlength=n))))
        p2 = np.sort(p, 1)[:, -2]
        out.append({
            "n": n,
            "rate": rate.tolist(),
            "h_x": hx.tolist(),
            "greedy": h_g.tolist(),
            "det_opt": h_opt,
            "uniform": h_u,
            "h_p2": [M.binary_entropy(x) for x in p2],
            "loop_agrees": int(np.sum(agree)),
        })  # fmt: skip
    return out


def _same_partition(a, b, p):
    """Same blocks on p's support (labels may be numbered differently)."""
    sup = np.flatnonzero(p > 0)
    pairs = set(zip(np.asarray(a)[sup].tolist(), np.asarray(b)[sup].tolist(), strict=True))
    return len(pairs) == len({x for x, _ in pairs}) == len({y for _, y in pairs})


def fig2(cfg):
    """Fig. 2: the exact envelope of the one-symbol moves against a brute-force search."""
    p = np.asarray(cfg.fig2_p, np.float64)
    p = p / p.sum()
    hx = float(info.entropy_np(p))
    grid = np.linspace(0.0, hx, cfg.fig2_rates + 1)[1:]
    moves = M.move_curves(p)
    envelope, arg = M.move_envelope(p, moves, grid)
    h_lat, i_lat = M.lattice_encoders(p, 3, cfg.fig2_steps)
    rows = M.compositions(cfg.fig2_steps, 3) / cfg.fig2_steps
    c = rows.shape[0]
    order = np.argsort(h_lat, kind="stable")
    run_best = np.maximum.accumulate(i_lat[order])
    # index of the running argmax along H (first attainment of each running best)
    first = np.flatnonzero(np.r_[True, run_best[1:] > run_best[:-1]])
    lattice_best, from_lattice, from_envelope = [], [], []
    step = 1.0 / cfg.fig2_steps
    for r, (mi, u) in progress.bar(list(zip(grid, arg, strict=True)), desc="Fig. 2 search"):
        k = np.searchsorted(h_lat[order], r, side="right") - 1
        at = order[first[np.searchsorted(first, k, side="right") - 1]]
        w0 = rows[np.array(np.unravel_index(at, (c,) * 3))]
        lattice_best.append(float(i_lat[at]))
        # global: the best lattice encoder at this rate, polished
        from_lattice.append(M.polish_encoder(p, w0, float(r), step, reach=cfg.polish_reach)[0])
        # local: can the envelope's own encoder be improved in any direction?
        we = M.move_encoder(p, moves[mi], u, 3)
        from_envelope.append(M.polish_encoder(p, we, float(r), step / 8, reach=cfg.polish_reach)[0])
    # the curves for the figure, densely sampled
    u = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, 2001))
    pts = [M.move_point(p, mv, u) for mv in moves]
    h_mv = np.concatenate([a for a, _ in pts])
    i_mv = np.concatenate([b for _, b in pts])
    dets, parts = M.partition_entropies(p)
    fine = np.linspace(0.0, hx, 300)
    greedy = shard_map_batch(M.ebim_greedy, jnp.broadcast_to(jnp.asarray(p), (fine.size, 3)), fine)[
        0
    ]
    lab = np.asarray(_uniform_batch(3, fine))
    uni = info.entropy_np(p @ (lab[:, :, None] == np.arange(3)).astype(np.float64))
    return {
        "p": p.tolist(),
        "h_x": hx,
        "grid": grid.tolist(),
        "envelope": envelope.tolist(),
        "envelope_move": [{**moves[mi], "u": u_} for mi, u_ in arg],
        "lattice_best": lattice_best,
        "polished_lattice": from_lattice,
        "polished_envelope": from_envelope,
        "n_lattice": int(h_lat.size),
        "det_h": dets.tolist(),
        "det_parts": parts.tolist(),
        "fine": fine.tolist(),
        "fine_envelope": M.upper_envelope(h_mv, i_mv, fine).tolist(),
        "fine_lattice": M.upper_envelope(h_lat, i_lat, fine).tolist(),
        "fine_greedy": np.asarray(greedy).tolist(),
        "fine_uniform": np.asarray(uni).tolist(),
    }


# --- MEC ------------------------------------------------------------------------------------------


def mec_exact(cfg):
    out = []
    greedy = _coupling
    for n, m in progress.bar(cfg.mec_sizes, desc="exact MEC"):
        g = _np(_key(cfg, STREAM_MEC, n, m))
        h_g, h_e, h_t, err, err_t = [], [], [], [], []
        for _ in range(cfg.mec_instances):
            p, q = g.dirichlet(np.ones(n)), g.dirichlet(np.ones(m))
            gc = np.asarray(greedy(jnp.asarray(p), jnp.asarray(q)))
            tc = M.greedy_coupling_threshold(p, q)
            h_g.append(float(info.entropy_np(gc.ravel())))
            h_e.append(M.exact_mec(p, q)[0])
            h_t.append(float(info.entropy_np(tc.ravel())))
            err.append(_marginal_error(gc, p, q))
            err_t.append(_marginal_error(tc, p, q))
        out.append({
            "n": n, "m": m, "greedy": h_g, "exact": h_e, "threshold": h_t,
            "marginal_error": max(err), "threshold_marginal_error": max(err_t),
        })  # fmt: skip
    return out


def _marginal_error(t, p, q):
    return float(max(np.abs(t.sum(1) - p).max(), np.abs(t.sum(0) - q).max()))


def table1(cfg):
    """Independent vs SLA vs greedy over random marginal pairs: p, q ~ Dirichlet(1), n = m."""
    g = _np(_key(cfg, STREAM_TABLE1))
    n = cfg.table1_size
    p = g.dirichlet(np.ones(n), size=cfg.table1_pairs)
    q = g.dirichlet(np.ones(n), size=cfg.table1_pairs)
    greedy = np.asarray(shard_map_batch(M.greedy_coupling, jnp.asarray(p), jnp.asarray(q)))
    rows = {"independent": [], "sla": [], "greedy": [], "lower_bound": []}
    for k in progress.bar(range(cfg.table1_pairs), desc="Table 1 (SLA)"):
        rows["independent"].append(float(info.entropy_np(np.outer(p[k], q[k]).ravel())))
        rows["sla"].append(float(info.entropy_np(M.sla_coupling(p[k], q[k]).ravel())))
        rows["greedy"].append(float(info.entropy_np(greedy[k].ravel())))
        # every coupling has H >= max(H(p), H(q))
        rows["lower_bound"].append(float(max(info.entropy_np(p[k]), info.entropy_np(q[k]))))
    return {"n": n, "pairs": cfg.table1_pairs, **rows}


# --- MEC-B ----------------------------------------------------------------------------------------


def mecb_runs(cfg):
    g = _np(_key(cfg, STREAM_MECB))
    n = cfg.mecb_size
    p = g.dirichlet(np.ones(n), size=cfg.mecb_instances)
    q = g.dirichlet(np.ones(n), size=cfg.mecb_instances)
    hx = info.entropy_np(p)
    out = {"ratios": list(cfg.ratios), "n": n}
    for enc in ("greedy", "uniform"):
        per = {"h_y_given_x": [], "i_xy": [], "i_xt": [], "i_ty": [], "h_t": [], "slack": []}
        for ratio in cfg.ratios:
            rate = hx / ratio
            out_b = shard_map_batch(_MECB[enc], jnp.asarray(p), jnp.asarray(q), jnp.asarray(rate))
            r = {k: np.asarray(v) for k, v in out_b.items()}
            # Lemma 1: I(X;Y) >= I(X;T) + I(T;Y) - R
            slack = r["i_xy"] - (r["i_xt"] + r["i_ty"] - rate)
            for k in per:
                v = slack if k == "slack" else r[k]
                per[k].append(np.asarray(v).tolist())
        out[enc] = per
    return out


def mecb_uniform(cfg):
    """Fig. 10's setting (its caption: uniform input and output distributions): p_X = p_Y
    uniform on mecb_size symbols, greedy EBIM at R = H(X)/ratio then greedy MEC, one coupling
    p(x, y) per ratio (deterministic: no instances to draw)."""
    n = cfg.mecb_size
    u = jnp.full(n, 1.0 / n, jnp.float64)
    out = {"n": n, "ratios": list(cfg.ratios), "p_xy": [], "h_y_given_x": [], "h_t": []}
    for ratio in cfg.ratios:
        r = _MECB["greedy"](u, u, jnp.asarray(math.log2(n) / ratio))
        out["p_xy"].append(np.round(np.asarray(r["p_xy"]), 12).tolist())
        out["h_y_given_x"].append(float(r["h_y_given_x"]))
        out["h_t"].append(float(r["h_t"]))
    return out


# --- Markov Coding Game --------------------------------------------------------------------------

_policy = jax.jit(G.soft_q_policy, static_argnames=("gamma", "iterations"))
_EPISODES: dict = {}


def _episodes(enc: str, gamma: float, max_steps: int):
    """The compiled, vmapped game for one encoder (built once per process and setting)."""
    k = (enc, gamma, max_steps)
    if k not in _EPISODES:
        fn = functools.partial(G.episode, encoder=enc, gamma=gamma, max_steps=max_steps)
        axes = (None, None, None, None, None, 0, None, None, 0)
        _EPISODES[k] = jax.jit(jax.vmap(fn, in_axes=axes))
    return _EPISODES[k]


def mcg_runs(cfg):
    """Reward and receiver accuracy for every temperature x rate x encoder. The messages and
    keys of a setting are the same for every encoder (paired), and sharded over devices."""
    grid = G.make_grid()
    n = cfg.mcg_messages
    prior = jnp.ones(n, jnp.float64) / n
    h_m = float(np.log2(n))
    start = cfg.mcg_start[0] * grid.shape[1] + cfg.mcg_start[1]
    msg = jax.random.randint(_key(cfg, STREAM_MCG, 0), (cfg.mcg_episodes,), 0, n)
    keys = jax.random.split(_key(cfg, STREAM_MCG, 1), cfg.mcg_episodes)
    msg_p, keys_p = place_batch(msg), place_batch(keys)
    out = []
    settings = [
        (lb, r, enc)
        for lb in cfg.mcg_log_betas
        for r in cfg.mcg_rates
        for enc in (("none",) if r == 1.0 else ("greedy", "uniform"))
    ]
    for lb, r, enc in progress.bar(settings, desc="Markov Coding Game"):
        policy, _ = _policy(grid.T, grid.reward, grid.terminal, math.exp(lb), gamma=cfg.mcg_gamma,
                            iterations=100)  # fmt: skip
        ret, belief, steps, mi = _episodes(enc, cfg.mcg_gamma, cfg.mcg_max_steps)(
            grid.T, grid.reward, grid.terminal, policy, prior, msg_p, start, r * h_m, keys_p
        )
        belief = np.asarray(belief)
        m = np.asarray(msg)
        out.append({
            "log_beta": lb, "rate_fraction": r, "rate_bits": r * h_m, "encoder": enc,
            "reward": np.asarray(ret).tolist(),
            "correct": (np.argmax(belief, 1) == m).astype(int).tolist(),
            # per-episode values only where a claim pairs them (reward, correct); the rest as
            # means over episodes (per episode they were 60% of a 12 MB results.json, unread)
            "posterior_true_mean": float(belief[np.arange(m.size), m].mean()),
            "steps_mean": float(np.mean(steps)),
            "mi_per_step_mean": float(np.mean(mi)),
        })  # fmt: skip
    return {"messages": n, "h_m": h_m, "start": list(cfg.mcg_start), "runs": out}


def run(cfg: Config) -> dict:
    t0 = time.perf_counter()
    with jax.enable_x64(True):
        metrics = {
            "ebim": ebim_instances(cfg),
            "fig2": fig2(cfg),
            "mec_exact": mec_exact(cfg),
            "table1": table1(cfg),
            "mecb": mecb_runs(cfg),
            "mecb_uniform": mecb_uniform(cfg),
            "mcg": mcg_runs(cfg),
        }
    return {
        "metrics": metrics,
        "series": {"ratios": list(cfg.ratios), "ebim_sizes": list(cfg.ebim_sizes)},
        "timing": {"run_s": time.perf_counter() - t0},
    }


# --- claims ---------------------------------------------------------------------------------------

# Round-off allowances, derived: an entropy of n <= 256 float64 terms carries a relative error of
# ~n * 2^-53 on values <= 8 bits, i.e. < 3e-13 bits; 1e-12 bounds it.
ROUND_BITS = 1e-12


def check_claims(results: dict) -> list[dict]:
    m = results["metrics"]
    rows = []
    eb = m["ebim"]
    total = sum(len(e["rate"]) for e in eb)
    agree = sum(e["loop_agrees"] for e in eb)
    rows.append(C.claim(
        "ebim_loop_free_equals_algorithm1",
        "the loop-free, vmapped greedy returns Algorithm 1's partition",
        "theory.mecb.ebim_greedy_loop", f"{total}/{total}", f"{agree}/{total}",
        "every instance", agree == total,
        f"random p_X ~ Dirichlet(alpha) at n = {[e['n'] for e in eb]}, R ~ U(0, H(X))",
        kind=C.CHECK, source=C.DERIVED,
    ))  # fmt: skip
    over = max(max(np.subtract(e["greedy"], e["rate"])) for e in eb)
    rows.append(C.claim(
        "ebim_greedy_respects_rate",
        "greedy EBIM keeps H(T) <= R",
        f"{ARXIV} Sec. 3, Algorithm 1 (by construction)", "max H(T) - R <= 0", over,
        f"<= {ROUND_BITS:g} bits (round-off)", over <= ROUND_BITS,
        kind=C.CHECK, source=C.PAPER,
    ))  # fmt: skip
    # The guarantee: I_opt - I_greedy <= h(p_2). I_opt lies between the best deterministic
    # encoder (a feasible point) and min(R, H(X)) (I(X;T) <= H(T) <= R): an instance certifies
    # the bound when min(R, H(X)) - I_greedy <= h(p2), refutes it when det_opt - I_greedy > h(p2),
    # and leaves it open between.
    cert = refute = open_ = 0
    worst_det = worst_ub = -np.inf
    for e in eb:
        ub = np.minimum(e["rate"], e["h_x"])
        g, d, b = (np.asarray(e[k]) for k in ("greedy", "det_opt", "h_p2"))
        worst_ub = max(worst_ub, float(np.max(ub - g - b)))
        cert += int(np.sum(ub - g <= b + ROUND_BITS))
        refute += int(np.sum(d - g > b + ROUND_BITS))
        open_ += int(np.sum((ub - g > b + ROUND_BITS) & (d - g <= b + ROUND_BITS)))
        worst_det = max(worst_det, float(np.max(d - g - b)))
    status = C.NOT_REPRODUCED if refute else (C.REPRODUCED if open_ == 0 else C.INCONCLUSIVE)
    rows.append(C.claim(
        "ebim_greedy_within_h_p2",
        "the greedy's I(X;T) is within h(p_2) of the EBIM optimum (p_2: second-largest mass)",
        f"{ARXIV} Sec. 3 (greedy guarantee)", "I_opt - I_greedy <= h(p_2)",
        f"certified {cert}/{total}, refuted {refute}, open {open_}",
        "certified: min(R, H(X)) - I_greedy <= h(p_2); refuted: best deterministic - I_greedy > "
        "h(p_2)", None,
        f"closest approach to the bound: min(R, H(X)) - greedy - h(p_2) = {worst_ub:.3g} bits, "
        f"best deterministic - greedy - h(p_2) = {worst_det:.3g} bits (both maxima over "
        "instances; the bound is nearly tight)",
        kind=C.CLAIM, source=C.PAPER, status=status,
        decide="the stochastic EBIM optimum on the open instances (a lattice search over "
        "encoders, as for Fig. 2, at their n)" if status == C.INCONCLUSIVE else "",
    ))  # fmt: skip
    gaps = np.concatenate([np.subtract(e["det_opt"], e["greedy"]) for e in eb])
    rows.append(C.claim(
        "ebim_greedy_loss_to_best_deterministic",
        "how far the greedy falls below the best deterministic encoder (bits)",
        "theory.mecb.deterministic_optimum", None,
        f"mean {gaps.mean():.4f}, max {gaps.max():.4f}; > 0.05 bits on "
        f"{np.mean(gaps > 0.05):.1%} of instances, > 0.2 on {np.mean(gaps > 0.2):.1%}",
        "—", None, kind=C.MEASUREMENT, source=C.NONE,
    ))  # fmt: skip
    u_gap = np.concatenate([np.subtract(e["greedy"], e["uniform"]) for e in eb])
    mu, se = stats.mean_se(u_gap)
    rows.append(C.claim(
        "ebim_greedy_minus_uniform_quantisation",
        "I(X;T) of the greedy encoder minus uniform quantisation's at the same R (bits; the "
        "baseline of the paper's Sec. 5, here on the EBIM objective itself)",
        f"{ARXIV} Sec. 5 baseline", None,
        f"{mu:.4f} +- {se:.4f} (mean +- SE, {u_gap.size} instances); greedy >= uniform on "
        f"{np.mean(u_gap >= -ROUND_BITS):.1%}",
        "—", None, kind=C.MEASUREMENT, source=C.NONE,
    ))  # fmt: skip
    f2 = m["fig2"]
    env, pl, pe = (np.asarray(f2[k]) for k in ("envelope", "polished_lattice", "polished_envelope"))
    above = float(max(np.max(pl - env), np.max(pe - env)))
    reached = int(np.sum(np.abs(pl - env) <= 1e-6))
    # The envelope's points are encoders (feasible, so the envelope is <= the optimum); the claim
    # fails if any searched encoder beats it. Allowance: round-off of the entropies (ROUND_BITS).
    rows.append(C.claim(
        "fig2_move_envelope_is_optimum",
        "near deterministic encoders the EBIM optimum moves one symbol's mass (our reading of "
        "Theorem 3): for p_X = (0.7, 0.2, 0.1) the envelope of those moves is the brute-force "
        "optimum curve",
        f"{ARXIV} Fig. 2 and Theorem 3 (curve values not read here)",
        "no encoder above the envelope", above,
        f"max over {len(env)} rates of (best searched I - envelope) <= {ROUND_BITS:g} bits",
        above <= ROUND_BITS,
        f"global search ({f2['n_lattice']:,} lattice encoders, the best per rate polished by "
        f"pattern search) reaches the envelope within 1e-6 at {reached}/{len(env)} rates and "
        "never exceeds it; pattern search from the envelope's own encoder finds no better "
        "neighbour",
        kind=C.CLAIM, source=C.PAPER,
    ))  # fmt: skip
    ex = m["mec_exact"]
    err = max(e["marginal_error"] for e in ex)
    rows.append(C.claim(
        "greedy_mec_marginals_exact",
        "the greedy coupling (n + m - 1 steps, exhausted side zeroed) has exact marginals",
        "theory.mecb.greedy_coupling", 0.0, err,
        "<= 1e-15 (each entry is one subtraction chain of float64 values <= 1)", err <= 1e-15,
        f"the authors' loop (threshold 1e-8) leaves up to "
        f"{max(e['threshold_marginal_error'] for e in ex):.2g}",
        kind=C.CHECK, source=C.DERIVED,
    ))  # fmt: skip
    gap = np.concatenate([np.subtract(e["greedy"], e["exact"]) for e in ex])
    rows.append(C.claim(
        "greedy_mec_within_log2e_over_e",
        "greedy coupling within log2(e)/e = 0.531 bits of the minimum-entropy coupling",
        "Compton et al. 2023 bound, cited by the paper (Sec. 4)", M.LOG2E_OVER_E, float(gap.max()),
        "max gap <= log2(e)/e and >= -1e-12 (exact is the optimum)",
        bool(gap.max() <= M.LOG2E_OVER_E and gap.min() >= -ROUND_BITS),
        f"{gap.size} instances at (n, m) = {[(e['n'], e['m']) for e in ex]}; mean gap "
        f"{gap.mean():.4f}; greedy optimal on {np.mean(gap <= 1e-9):.0%}",
        kind=C.CHECK, source=C.PAPER,
    ))  # fmt: skip
    rows += _table1_rows(m["table1"])
    mb = m["mecb"]
    slack = min(float(np.min(mb[e]["slack"])) for e in ("greedy", "uniform"))
    rows.append(C.claim(
        "lemma1_bound",
        "Lemma 1: I(X;Y) >= I(X;T) + I(T;Y) - R on every MEC-B solution",
        f"{ARXIV} Lemma 1", ">= 0", slack, f">= -{ROUND_BITS:g}", slack >= -ROUND_BITS,
        "holds for any Markov chain X - T - Y with H(T) <= R (I(T;XY) <= H(T)); checks the code",
        kind=C.CHECK, source=C.PAPER,
    ))  # fmt: skip
    # Fig. 10: H(Y|X) grows with the compression ratio H(X)/R. Slope of the instance-mean against
    # the ratio, with a bootstrap SE over instances (paired across ratios).
    hyx = np.asarray(mb["greedy"]["h_y_given_x"])  # (ratios, instances)
    ratios = np.asarray(mb["ratios"])
    slope, se = _slope_boot(ratios, hyx)
    rows.append(C.claim(
        "fig10_stochasticity_grows_with_ratio",
        "couplings become more stochastic (H(Y|X) grows) as the compression ratio H(X)/R grows",
        f"{ARXIV} Fig. 10 (trend; values not read here)", "slope > 0", slope,
        "slope - 3 SE > 0 (bits per unit ratio)", slope - 3 * se > 0,
        f"SE {se:.2g}; mean H(Y|X) from {hyx[0].mean():.3f} (ratio {ratios[0]:g}) to "
        f"{hyx[-1].mean():.3f} (ratio {ratios[-1]:g}); n = m = {mb['n']}, greedy EBIM + greedy MEC",
        kind=C.CLAIM, source=C.PAPER,
    ))  # fmt: skip
    rows.append(_fig10_uniform_row(m["mecb_uniform"]))
    rows += _mcg_rows(m["mcg"])
    return rows


# Table 1 of arXiv:2410.21666 (mean joint entropy in bits +- the table's spread, over 100 random
# marginal pairs), as transcribed on the page content/paper-reviews/2410.21666/index.md of the
# public repository deep-diver/ai-paper-reviewer (an AI-written summary that reproduces the table
# and its caption, "average achieved joint entropy of 100 simulations of marginal distributions");
# not checked against the PDF, which cannot be read from here. The transcription states neither
# the generator of the pairs nor whether +- is a standard deviation or an error.
TABLE1_PAPER = {
    "independent": (5.443, 0.101),
    "sla": (3.225, 0.141),
    "max_seeking": (2.946, 0.064),
    "zero_seeking": (2.937, 0.058),
}
TABLE1_WHERE = f"{ARXIV} Table 1 (via the transcription named at TABLE1_PAPER)"


def _table1_rows(t1: dict) -> list[dict]:
    rows = []
    paper = TABLE1_PAPER
    means = {k: stats.mean_se(t1[k]) for k in ("independent", "sla", "greedy")}
    setting = f"{t1['pairs']} random pairs (ours: n = m = {t1['n']}, Dirichlet(1))"
    # greedy < SLA: the paired difference's 99% Student-t interval over the pairs; above 0
    # excludes "SLA is as good or better", below 0 contradicts the table
    gain = np.subtract(t1["sla"], t1["greedy"])
    d, lo, hi = stats.mean_interval(gain)
    status = C.sign_status(lo, hi)
    rows.append(C.claim(
        "table1_greedy_beats_sla",
        "the greedy coupling reaches a lower joint entropy than successive linearisation (SLA)",
        TABLE1_WHERE,
        f"SLA {paper['sla'][0]} vs max-seeking greedy {paper['max_seeking'][0]} "
        f"(SLA - greedy {paper['sla'][0] - paper['max_seeking'][0]:.3f} bits)",
        f"SLA - greedy {d:.3f} bits, 99% interval [{lo:.3f}, {hi:.3f}]",
        "99% interval of the paired difference > 0", None,
        f"{setting}; greedy lower on {np.mean(gain > 0):.0%} of pairs",
        kind=C.CLAIM, source=C.PAPER, status=status,
        decide="more pairs (the interval narrows as 1/sqrt(pairs))"
        if status == C.INCONCLUSIVE else "",
    ))  # fmt: skip
    rows.append(C.claim(
        "table1_values",
        "mean joint entropy: independent / SLA / max-seeking greedy",
        TABLE1_WHERE,
        " / ".join(f"{paper[k][0]} +- {paper[k][1]}" for k in ("independent", "sla",
                                                             "max_seeking")),
        " / ".join(f"{means[k][0]:.3f} +- {means[k][1]:.3f}" for k in means), "—", None,
        f"{setting}, +- 1 SE; the paper's generator is not stated in the transcription, so the "
        "values are not comparable (the ordering is: table1_greedy_beats_sla)",
        kind=C.CLAIM, source=C.PAPER, status=C.INCONCLUSIVE,
        decide="read the paper's generator of the 100 pairs (Sec. 4 / its appendix) and rerun "
        "table1() with it; then each mean within 3 combined SE of the table's",
    ))  # fmt: skip
    rows.append(
        C.not_attempted(
            "table1_zero_seeking",
            "the zero-seeking greedy coupling is as good as the max-seeking one",
            TABLE1_WHERE,
            f"zero-seeking {paper['zero_seeking'][0]} vs max-seeking {paper['max_seeking'][0]}",
            "the zero-seeking variant is not built: its definition (the paper's appendix) "
            "could not be read here; the transcription gives only its value",
            "implement it from the paper's definition beside theory.mecb.greedy_coupling and "
            "add it to table1()",
        )
    )
    return rows


def _fig10_uniform_row(u: dict) -> dict:
    """Fig. 10's own setting: uniform marginals, one coupling per ratio. H(Y|X) = H(Y|T) >=
    H(Y) - R = log2(n) (1 - 1/ratio) for any such chain (I(T;Y) <= H(T) <= R), so the bound
    grows with the ratio; the claim is that the coupling follows it (nondecreasing H(Y|X),
    deterministic at ratio 1, stochastic at the largest ratio)."""
    h = np.asarray(u["h_y_given_x"])
    ratios = np.asarray(u["ratios"], np.float64)
    bound = math.log2(u["n"]) * (1.0 - 1.0 / ratios)
    monotone = bool(np.all(np.diff(h) >= -ROUND_BITS))
    ok = monotone and h[0] <= ROUND_BITS and h[-1] > h[0] + ROUND_BITS
    return C.claim(
        "fig10_uniform_couplings",
        "at uniform marginals (Fig. 10's setting) the coupling grows more stochastic with the "
        "compression ratio H(X)/R, deterministic without compression",
        f"{ARXIV} Fig. 10 (uniform input and output per its caption; values not read here)",
        "H(Y|X) = 0 at ratio 1, rising with the ratio",
        " / ".join(f"{v:.4f}" for v in h),
        f"nondecreasing (to {ROUND_BITS:g}), 0 at ratio 1, > 0 at the largest",
        ok,
        f"n = m = {u['n']}, ratios {[float(r) for r in ratios]}, greedy EBIM + greedy MEC; "
        f"lower bound log2(n)(1 - 1/ratio): {[round(float(b), 3) for b in bound]}",
        kind=C.CLAIM,
        source=C.PAPER,
    )


def _mcg_rows(g: dict) -> list[dict]:
    rows = []
    runs = g["runs"]
    free = sorted((r for r in runs if r["encoder"] == "none"), key=lambda r: r["log_beta"])
    lo, hi = free[0], free[-1]
    d_rew = stats.mean_se(np.subtract(lo["reward"], hi["reward"]))  # paired: same messages and keys
    d_acc = stats.mean_se(np.subtract(hi["correct"], lo["correct"]))
    up = [d[0] - 3 * d[1] > 0 for d in (d_rew, d_acc)]
    down = [d[0] + 3 * d[1] < 0 for d in (d_rew, d_acc)]
    status = C.REPRODUCED if all(up) else (C.NOT_REPRODUCED if any(down) else C.INCONCLUSIVE)
    rows.append(C.claim(
        "mcg_reward_vs_accuracy",
        "Markov Coding Game: a hotter policy (larger beta) buys receiver accuracy with MDP reward",
        f"{ARXIV} Sec. 5, Figs. 4-5 (trade-off; curve values not read here)",
        "reward falls and accuracy rises from the coldest to the hottest beta",
        f"reward {d_rew[0]:+.3f} +- {d_rew[1]:.3f} lower, accuracy {d_acc[0]:+.3f} +- "
        f"{d_acc[1]:.3f} higher",
        "both paired differences - 3 SE > 0", None,
        f"no bottleneck (R = H(M)); beta = e^{lo['log_beta']:g} vs e^{hi['log_beta']:g}; "
        f"{len(lo['reward'])} episodes each, same messages and keys",
        kind=C.CLAIM, source=C.PAPER, status=status,
        decide="more episodes (SE ~ 1/sqrt(episodes)) or a wider temperature range"
        if status == C.INCONCLUSIVE else "",
    ))  # fmt: skip
    # EBIM vs uniform quantisation at equal rate, at the authors' temperature (beta = e^-6, or
    # the closest in the sweep), paired over the same episodes
    lb = min({r["log_beta"] for r in runs}, key=lambda b: abs(b + 6.0))
    at = {(r["rate_fraction"], r["encoder"]): r for r in runs if r["log_beta"] == lb}
    fracs = sorted({f for f, e in at if e == "greedy"})
    diffs = [stats.mean_se(np.subtract(at[f, "greedy"]["correct"], at[f, "uniform"]["correct"]))
             for f in fracs]  # fmt: skip
    better = [d[0] - 3 * d[1] > 0 for d in diffs]
    worse = [d[0] + 3 * d[1] < 0 for d in diffs]
    status = C.REPRODUCED if all(better) else (C.NOT_REPRODUCED if any(worse) else C.INCONCLUSIVE)
    rows.append(C.claim(
        "mcg_ebim_beats_uniform",
        "Markov Coding Game: EBIM (greedy) encoding gives higher receiver accuracy than uniform "
        "quantisation at equal rate",
        f"{ARXIV} Sec. 5, Figs. 4-5 (curve values not read here)", "accuracy difference > 0",
        ", ".join(f"R/H(M) = {f:g}: {d[0]:+.3f} +- {d[1]:.3f}" for f, d in zip(fracs, diffs,
                                                                              strict=True)),
        "paired difference - 3 SE > 0 at every rate", None,
        f"beta = e^{lb:g}; {len(at[fracs[0], 'greedy']['correct'])} episodes per setting",
        kind=C.CLAIM, source=C.PAPER, status=status,
        decide="more episodes at the rates whose interval straddles 0"
        if status == C.INCONCLUSIVE else "",
    ))  # fmt: skip
    # Uniform quantisation's ceiling (theory.mecb.uniform_accuracy_bound); binomial SE
    excess = []
    for r in runs:
        if r["encoder"] != "uniform":
            continue
        acc, k = float(np.mean(r["correct"])), len(r["correct"])
        bound = M.uniform_accuracy_bound(g["messages"], r["rate_bits"])
        se = math.sqrt(max(bound * (1 - bound), 1.0 / k) / k)
        excess.append((acc - bound) / se)
    worst = max(excess)
    rows.append(C.claim(
        "mcg_uniform_accuracy_ceiling",
        "uniform quantisation's accuracy stays under (number of fixed blocks) / |M|",
        "theory.mecb.uniform_accuracy_bound", "accuracy <= bound",
        f"max (accuracy - bound) / SE = {worst:.2f}", "<= 3 binomial SE", worst <= 3.0,
        f"{len(excess)} settings; the blocks never change, so messages sharing one are never "
        "told apart",
        kind=C.CHECK, source=C.DERIVED,
    ))  # fmt: skip
    full = at.get((1.0, "none"))
    if full is not None:
        parts = [f"R = H(M): {np.mean(full['correct']):.3f}"] + [
            f"R/H(M) = {f:g}: greedy {np.mean(at[f, 'greedy']['correct']):.3f}, uniform "
            f"{np.mean(at[f, 'uniform']['correct']):.3f}" for f in fracs
        ]  # fmt: skip
        rows.append(C.claim(
            "mcg_accuracy_by_rate",
            f"receiver MAP accuracy by rate at beta = e^{lb:g} ({g['messages']} messages)",
            "our run", None, "; ".join(parts), "—", None,
            kind=C.MEASUREMENT, source=C.NONE,
        ))  # fmt: skip
    return rows


def _slope_boot(x, y, n_boot: int = 400, seed: int = 0):
    """OLS slope of the instance-mean of y (len(x), instances) on x, bootstrap SE over instances."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    xc = x - x.mean()

    def fit(yy):
        return float(xc @ (yy.mean(1) - yy.mean()) / (xc @ xc))

    g = np.random.default_rng(seed)
    boots = [fit(y[:, g.integers(0, y.shape[1], y.shape[1])]) for _ in range(n_boot)]
    return fit(y), float(np.std(boots, ddof=1))


# --- figures --------------------------------------------------------------------------------------


def plot(results: dict, out_dir) -> None:
    import matplotlib.pyplot as plt

    m = results["metrics"]
    with plotting.style():
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
        ax = axes[0]
        f2 = m["fig2"]
        ax.plot(f2["fine"], f2["fine_envelope"], color=plotting.color(0), lw=2,
                label="envelope of one-symbol moves")  # fmt: skip
        brute = f"brute force ({f2['n_lattice']:,} lattice points + pattern search)"
        ax.plot(f2["grid"], f2["polished_lattice"], "o", color=plotting.color(1), ms=4,
                mfc="none", label=brute)  # fmt: skip
        ax.plot(f2["fine"], f2["fine_greedy"], "--", color=plotting.color(2),
                label="greedy (Algorithm 1)")  # fmt: skip
        ax.plot(f2["fine"], f2["fine_uniform"], ":", color=plotting.color(3),
                label="uniform quantisation")  # fmt: skip
        ax.plot(f2["det_h"], f2["det_h"], "k^", ms=6, label="deterministic encoders")
        ax.plot([0, f2["h_x"]], [0, f2["h_x"]], color="0.7", lw=0.8, label="I = R")
        ax.set_xlabel("R (bits)")
        ax.set_ylabel("I(X;T) (bits)")
        ax.set_title(f"EBIM, p_X = {tuple(round(v, 2) for v in f2['p'])} (Fig. 2)")
        ax.legend(fontsize=7)
        ax = axes[1]
        for k, e in enumerate(m["ebim"]):
            ub = np.minimum(e["rate"], e["h_x"])
            ax.plot(e["h_p2"], np.subtract(e["det_opt"], e["greedy"]), plotting.marker(k),
                    color=plotting.color(k), ms=2.5, alpha=0.5, zorder=2,
                    label=f"n = {e['n']}")  # fmt: skip
            lab = "min(R, H(X)) - greedy (bounds the loss)" if k == 0 else None
            ax.plot(e["h_p2"], ub - np.asarray(e["greedy"]), ".", color="0.8", ms=1.5, zorder=1,
                    label=lab)  # fmt: skip
        ax.plot([0, 1], [0, 1], "k--", lw=1, label="bound h(p_2)")
        ax.set_xlabel("h(p_2) (bits)")
        ax.set_ylabel("best deterministic - greedy (bits)")
        ax.set_title("greedy EBIM's loss against its guarantee")
        ax.legend(fontsize=7)
        ax = axes[2]
        mb = m["mecb"]
        for k, enc in enumerate(("greedy", "uniform")):
            y = np.asarray(mb[enc]["h_y_given_x"])
            se = y.std(1, ddof=1) / math.sqrt(y.shape[1])
            ax.errorbar(mb["ratios"], y.mean(1), yerr=3 * se, marker=plotting.marker(k),
                        color=plotting.color(k), capsize=3,
                        label=f"{enc} encoder + greedy MEC (mean +- 3 SE)")  # fmt: skip
        ax.set_xlabel("compression ratio H(X)/R")
        ax.set_ylabel("H(Y|X) (bits)")
        ax.set_title(f"MEC-B stochasticity (Fig. 10 trend), n = m = {mb['n']}")
        ax.legend(fontsize=7)
        fig.tight_layout()
        plotting.savefig(fig, out_dir, "ebim_mecb")

        fig, axes = plt.subplots(1, 2, figsize=(10, 4.0))
        ax = axes[0]
        for k, e in enumerate(m["mec_exact"]):
            gap = np.subtract(e["greedy"], e["exact"])
            ax.hist(gap, bins=30, range=(0, 0.6), histtype="step", color=plotting.color(k),
                    label=f"{e['n']} x {e['m']}")  # fmt: skip
        ax.axvline(M.LOG2E_OVER_E, color="k", ls="--", label="log2(e)/e bound")
        ax.set_xlabel("H(greedy) - H(exact MEC) (bits)")
        ax.set_ylabel("instances")
        ax.set_title("greedy coupling vs the exact optimum")
        ax.legend(fontsize=7)
        ax = axes[1]
        t1 = m["table1"]
        names = ("lower_bound", "greedy", "sla", "independent")
        vals = [stats.mean_se(t1[k]) for k in names]
        ax.bar(range(4), [v[0] for v in vals], yerr=[3 * v[1] for v in vals], capsize=3,
               color=[plotting.color(i) for i in range(4)])  # fmt: skip
        ax.set_xticks(range(4))
        ax.set_xticklabels(["lower bound\nmax(H(p), H(q))", "greedy", "SLA", "independent"])
        ax.set_ylabel("H(X, Y) (bits), mean +- 3 SE")
        ax.set_title(f"{t1['pairs']} random pairs, n = m = {t1['n']} (Table 1 setting)")
        fig.tight_layout()
        plotting.savefig(fig, out_dir, "mec")
        _plot_mcg(m["mcg"], out_dir)
        _plot_fig10(m["mecb_uniform"], out_dir)


def _plot_fig10(u: dict, out_dir) -> None:
    """Fig. 10: the coupling p(x, y) at each compression ratio, uniform marginals."""
    import matplotlib.pyplot as plt

    k = len(u["ratios"])
    fig, axes = plt.subplots(1, k, figsize=(2.1 * k + 0.8, 2.6), squeeze=False)
    top = max(float(np.max(t)) for t in u["p_xy"])
    for ax, ratio, t, h in zip(axes[0], u["ratios"], u["p_xy"], u["h_y_given_x"], strict=True):
        im = ax.imshow(np.asarray(t), cmap="Blues", vmin=0.0, vmax=top)
        ax.set_title(f"H(X)/R = {ratio:g}\nH(Y|X) = {h:.2f} bits", fontsize=8)
        ax.set_xlabel("y")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][0].set_ylabel("x")
    fig.colorbar(im, ax=list(axes[0]), shrink=0.8, label="p(x, y)")
    fig.suptitle(f"MEC-B couplings, uniform marginals, n = m = {u['n']} (Fig. 10 setting)",
                 fontsize=9)  # fmt: skip
    plotting.savefig(fig, out_dir, "fig10_couplings")


def _plot_mcg(g: dict, out_dir) -> None:
    import matplotlib.pyplot as plt

    runs = g["runs"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
    ax = axes[0]
    curves = sorted({(r["rate_fraction"], r["encoder"]) for r in runs}, reverse=True)
    fracs = sorted({f for f, _ in curves}, reverse=True)
    for frac, enc in curves:
        k = fracs.index(frac)  # colour and marker by rate, line style by encoder
        rs = sorted((r for r in runs if (r["rate_fraction"], r["encoder"]) == (frac, enc)),
                    key=lambda r: r["log_beta"])  # fmt: skip
        acc = [np.mean(r["correct"]) for r in rs]
        rew = [np.mean(r["reward"]) for r in rs]
        name = "no bottleneck" if enc == "none" else f"{enc}, R/H(M) = {frac:g}"
        ax.plot(acc, rew, ("-" if enc != "uniform" else ":") + plotting.marker(k),
                color="k" if enc == "none" else plotting.color(k), label=name,
                mfc="none" if enc == "uniform" else None)  # fmt: skip
    ax.set_xlabel("receiver accuracy (MAP message = true message)")
    ax.set_ylabel("discounted MDP reward (mean)")
    ax.set_title("reward vs accuracy; points: temperatures (hotter to the right)")
    ax.legend(fontsize=6.5)
    ax = axes[1]
    lb = min({r["log_beta"] for r in runs}, key=lambda b: abs(b + 6.0))
    at = [r for r in runs if r["log_beta"] == lb]
    for k, enc in enumerate(("greedy", "uniform")):
        rs = sorted((r for r in at if r["encoder"] in (enc, "none")),
                    key=lambda r: r["rate_fraction"])  # fmt: skip
        x = [r["rate_fraction"] for r in rs]
        y = [np.mean(r["correct"]) for r in rs]
        e = [3 * np.std(r["correct"], ddof=1) / math.sqrt(len(r["correct"])) for r in rs]
        ax.errorbar(x, y, yerr=e, marker=plotting.marker(k), color=plotting.color(k), capsize=3,
                    label=f"{enc} encoder (mean +- 3 SE)")  # fmt: skip
    fine = np.linspace(min(r["rate_fraction"] for r in runs), 1.0, 200)
    ax.plot(fine, [M.uniform_accuracy_bound(g["messages"], f * g["h_m"]) for f in fine], "k--",
            lw=1, label="uniform quantisation ceiling (blocks / |M|)")  # fmt: skip
    ax.set_xlabel("R / H(M) (the authors' compression_rate)")
    ax.set_ylabel("receiver accuracy")
    ax.set_title(f"accuracy vs rate, beta = e^{lb:g}, |M| = {g['messages']}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    plotting.savefig(fig, out_dir, "mcg")


def main(argv: list[str] | None = None) -> int:
    return cli.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    cli.exit_script(main())
