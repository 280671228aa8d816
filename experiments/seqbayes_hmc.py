"""Sequential Bayesian inference with HMC still forgets: prior propagation on the 2-D toy tasks.

Reproduces Kessler, Cobb, Rudner, Zohren, Roberts, "On Sequential Bayesian Inference for
Continual Learning", Entropy 25(6):884, 2023, arXiv:2301.01828: Sec. 3 (HMC posteriors
propagated as the next task's prior through a fitted density fail to prevent forgetting),
Sec. 4 (misspecification forgets under exact inference), Sec. 5 (task imbalance forgets).

Commands:
    python -m experiments.seqbayes_hmc                  # quick, ~4 min on 2 cores
    python -m experiments.seqbayes_hmc --preset full    # the cited run, hours on 2 cores
A run stopped part way (Ctrl-C, a crash) resumes at its first unfinished seed when rerun with
the same config and code (experiments._lib.checkpoint; saved under results/.partial/).

Headline (full): exact inference forgets under misspecification (task 1's risk 0.013 -> 0.328
after task 2) and under imbalance (task 2 takes 0.99 of the shared estimate at N2/N1 = 100);
HMC posteriors propagated through a fitted diagonal-Gaussian or flow density end at old-task
accuracy 0.51 (no propagation 0.57, the joint posterior 0.98); through a Gaussian or a mixture
the run cannot tell (papers_repro/kessler2023_seqbayes.md).

What runs:
- Exact cases (theory.sequential_bayes, float64): conjugate linear regression task by task vs
  the joint posterior; the misspecified (linear) and well-specified (hinge) models on f = |x|
  with task 1 on x < 0 and task 2 on x > 0, task 1's expected risk after each task in closed
  form and by Monte Carlo over training noise; the shared-mean Gaussian's bias and variance for
  task 1 against N2/N1, closed form and Monte Carlo.
- The toy (the authors' ToyGaussiansContGenerator, option 0): ten 2-D Gaussian blobs, task t
  separates blob t (class 0) from blob t+5 (class 1), `n_per_class` training and as many test
  points per blob. A 2-10-10-2 ReLU MLP with biases, prior N(0, I/10) (models.bnn).
- Per task, NUTS with a dense mass matrix (models.hmc; chains vectorised; one compiled sampler
  for every task and every prior: data and prior are arguments), started from draws of the
  prior in force. Prior propagation: none (every task starts from N(0, I/10)), a full-covariance
  Gaussian, a diagonal Gaussian, a Gaussian mixture (EM, k-means++ seeding, K by held-out
  log-likelihood; models.density) fitted to the draws, a RealNVP flow (models.flow: the authors'
  4 couplings of 100 hidden units, its own compiled sampler); the joint posterior of tasks 1..t
  as the upper reference. Accuracy of the posterior predictive on every seen task's test set.
- Controls: the accuracy on the task just learned of networks drawn from the fitted density
  (did the density keep the task before the next one arrived?); task 2 a fresh draw of task 1's
  blobs (the identical-task sequence); task 2 with only `tiny_n` points per class.
- The paper's fixed HMC (step 1e-3, 20 leapfrog steps, identity mass; the authors' main.py) on
  task 1's posterior beside NUTS: function-space ESS per second of each.
Diagnostics per run: divergences, leapfrog steps, function-space split R-hat and ESS (the
class-1 probability at fixed probe inputs; weight-space R-hat is meaningless across the
permutation and sign symmetries of a BNN).

Departures from the authors' code (src/main.py at 02a20fd, read for its semantics): their
chains all start from one point (params_init is flattened once); ours start dispersed. Their
GMM is refitted on the first 0.75 n_samples of the shuffled draws (n_samples per chain, not the
pooled count); ours on all draws. They evaluate one chain; we pool all chains.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from experiments._lib import checkpoint, cli, plotting
from experiments._lib import claims as C
from models import bnn, density, hmc
from models import flow as flowmod
from runtime import memory, progress, rng
from theory import sequential_bayes as SB
from theory import stats

PAPER = "kessler2023_seqbayes"
CITED_PRESET = "full"
# rendered in the paper file too, not counted (papers_repro.render)
EXTRA_CITED = ("seeds8", "converge")
DEBIAN_PACKAGES: tuple[str, ...] = ()
ARXIV = "arXiv:2301.01828"
STREAM_DATA, STREAM_INIT, STREAM_MCMC, STREAM_FIT, STREAM_EXACT = 1, 2, 3, 4, 5
# appended, never reordered: a method's index keys its random streams
METHODS = ("none", "gaussian", "diagonal", "mixture", "flow")

# The authors' toy (src/data.py ToyGaussiansContGenerator, option 0): blob centres and per-axis
# standard deviations; task t = blob t (class 0) vs blob t + 5 (class 1).
CENTERS = np.array([[0, 0.2], [0.6, 0.9], [1.3, 0.4], [1.6, -0.1], [2.0, 0.3],
                    [0.45, 0], [0.7, 0.45], [1.0, 0.1], [1.7, -0.4], [2.3, 0.1]])  # fmt: skip
STDS = np.array([[0.08, 0.22], [0.24, 0.08], [0.04, 0.2], [0.16, 0.05], [0.05, 0.16],
                 [0.08, 0.16], [0.16, 0.08], [0.06, 0.16], [0.24, 0.05], [0.05, 0.22]])  # fmt: skip
MAX_TASKS = 5
BOX = ((-0.3, 2.6), (-0.9, 1.4))  # the plotting / probe box around every blob
GRID = (48, 32)  # decision-boundary grid (x, y)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    # exact cases
    exact_n: int = 40  # training points per task (misspecification)
    exact_noise: float = 0.25
    exact_prior_var: float = 4.0
    exact_mc: int = 2000  # Monte-Carlo draws of the training noise / data
    imb_ratios: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0)  # N2 / N1
    imb_n1: int = 20
    # the toy and the network
    tasks: int = 5
    n_per_class: int = 80
    hidden: int = 10
    prior_precision: float = 10.0
    # sampling
    methods: tuple[str, ...] = METHODS
    joint: bool = True
    chains: int = 4
    warmup: int = 300
    samples: int = 300
    max_tree_depth: int = 6
    k_max: int = 8
    # the flow prior (models.flow; the authors' RealNVP: 4 couplings, 100 hidden units)
    flow_layers: int = 4
    flow_hidden: int = 100
    flow_epochs: int = 200  # the authors' maximum; the best held-out epoch is kept
    flow_lr: float = 1e-3
    probes: int = 64
    shard_chains: bool = False  # chains across devices: faster there, draws then depend on the
    # device count (models.hmc.Sampler's docstring); on CPU devices one chain per device only
    # (models.hmc.check_shard: more deadlock in jaxlib's batched Cholesky; refused here)
    # controls and the faithful sampler
    controls: bool = True
    tiny_n: int = 5
    imb_bnn_n1: tuple[int, ...] = (2, 5, 20, 80)  # task 1's points per class, task 2 full (joint)
    hmc_fixed_samples: int = 500
    seeds: int = 3
    seed: int = 0

    def __post_init__(self):
        for name in ("exact_n", "exact_mc", "imb_n1", "n_per_class", "chains", "probes"):
            if not 2 <= getattr(self, name) <= 10**6:
                raise ValueError(f"{name} must be in 2..1e6, got {getattr(self, name)}")
        for name in ("exact_noise", "exact_prior_var", "prior_precision"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be finite and > 0 (a positive-definite prior)")
        if not self.imb_ratios or not all(math.isfinite(r) and r > 0 for r in self.imb_ratios):
            raise ValueError(f"imb_ratios must be finite and > 0, got {self.imb_ratios}")
        if not 2 <= self.tasks <= MAX_TASKS:
            raise ValueError(f"tasks must be in 2..{MAX_TASKS} (the toy has 5), got {self.tasks}")
        if not 1 <= self.hidden <= 256:
            raise ValueError(f"hidden must be in 1..256, got {self.hidden}")
        if not self.methods or any(m not in METHODS for m in self.methods):
            raise ValueError(f"methods must be some of {METHODS}, got {self.methods}")
        if "none" not in self.methods:
            raise ValueError("methods must include 'none' (the no-propagation reference)")
        if not (1 <= self.flow_layers <= 32 and 1 <= self.flow_hidden <= 4096
                and 1 <= self.flow_epochs <= 10**5):  # fmt: skip
            raise ValueError("flow_layers in 1..32, flow_hidden in 1..4096, flow_epochs in 1..1e5")
        if not (math.isfinite(self.flow_lr) and 0 < self.flow_lr <= 1):
            raise ValueError(f"flow_lr must be in (0, 1], got {self.flow_lr}")
        if not 1 <= self.max_tree_depth <= 10:
            raise ValueError(f"max_tree_depth must be in 1..10, got {self.max_tree_depth}")
        for name in ("warmup", "samples", "hmc_fixed_samples"):
            if not 4 <= getattr(self, name) <= 10**5:
                raise ValueError(f"{name} must be in 4..1e5, got {getattr(self, name)}")
        draws = self.chains * self.samples
        if not 1 <= self.k_max <= draws:
            raise ValueError(
                f"k_max must be in 1..{draws} (the number of draws, chains x samples), "
                f"got {self.k_max}"
            )
        if not 1 <= self.tiny_n <= self.n_per_class:
            raise ValueError(f"tiny_n must be in 1..n_per_class, got {self.tiny_n}")
        if not all(1 <= v <= self.n_per_class for v in self.imb_bnn_n1):
            raise ValueError(f"imb_bnn_n1 must be in 1..n_per_class, got {self.imb_bnn_n1}")
        if not 2 <= self.seeds <= 64:
            raise ValueError(f"seeds must be in 2..64 (intervals need >= 2), got {self.seeds}")
        if self.shard_chains:
            hmc.check_shard(self.chains, jax.device_count(), jax.default_backend())
        why = memory.refusal(memory_estimate(self), "seqbayes_hmc")
        if why:
            raise ValueError(why)


def memory_estimate(cfg: Config) -> int:
    """Peak bytes, the largest of: the sampler's per-chain states (every iteration's position
    and gradient, the dense mass matrix and its factors), the draws of one run and the mixture
    fit on them (float64,
    scikit-learn keeps n x K responsibilities and K d x d covariances, x4 for its temporaries),
    the prior (K d^2 float32), the predictive on the boundary grid (draws x grid x 2), and the
    exact section's vmapped Monte Carlo (exact_mc x 2 exact_n x 3 features, float64)."""
    d = bnn.MLP(2, cfg.hidden, 2).size
    n = cfg.chains * max(cfg.samples, cfg.hmc_fixed_samples)
    fit_b = 8 * 4 * (n * d + n * cfg.k_max + cfg.k_max * d * d)
    prior_b = 4 * 4 * cfg.k_max * d * d
    grid_b = 4 * n * GRID[0] * GRID[1] * 2 * 2
    # the sampler's scan keeps every iteration's state (warmup included) per chain
    chain_b = 4 * cfg.chains * ((cfg.warmup + cfg.samples) * d * 2 + 4 * d * d)
    exact_b = 8 * cfg.exact_mc * 2 * cfg.exact_n * 3 * 4
    imb_b = 8 * cfg.exact_mc * int(cfg.imb_n1 * (1 + max(cfg.imb_ratios)))
    return max(fit_b, prior_b, grid_b, chain_b, exact_b, imb_b) + (64 << 20)


PRESETS = {
    "smoke": Config(
        exact_mc=200, imb_ratios=(1.0, 100.0), tasks=2, n_per_class=30,
        methods=("none", "mixture", "flow"), flow_layers=2, flow_hidden=8, flow_epochs=3,
        chains=2, warmup=30, samples=30, max_tree_depth=3, k_max=2, probes=16, tiny_n=3,
        imb_bnn_n1=(3, 30), hmc_fixed_samples=30, seeds=2,
    ),
    "quick": Config(
        tasks=3, methods=("none", "gaussian", "mixture"), warmup=100, samples=100,
        max_tree_depth=5, k_max=4, imb_bnn_n1=(2, 20, 80), hmc_fixed_samples=200, seeds=2,
    ),
    # 4 chains (R-hat's usual minimum), 1000 warmup + 250 draws at tree depth 8, 4 seeds, 5
    # methods, the controls. The sampler settings are the `converge` run's (there 26 of 30 runs
    # reached function-space R-hat <= 1.1, against 3 of 120 at the earlier full preset's 250
    # warmup and depth 6, whose run, 993 s, is in git at ea009de). Hours on 2 cores: the seeds
    # can be computed in parallel processes (compute_seeds).
    "full": Config(warmup=1000, samples=250, max_tree_depth=8, seeds=4),
}  # fmt: skip
# The earlier full preset's settings (250 warmup, depth 6) over 8 seeds, for the seed-level rows
# 4 seeds left inconclusive (Student t: x 5.84 at 99% with 3 degrees of freedom, x 3.50 with 7);
# its seeds 0-3 are the earlier full run's (every seed has its own streams). Shown beside the
# full run in papers_repro/kessler2023_seqbayes.md (EXTRA_CITED; not counted); planned after the
# 2026-12-04 full rerun left a row inconclusive, and cited whatever it shows. Its sampler
# settings are pinned so that the committed run stays reproducible.
PRESETS["seeds8"] = Config(warmup=250, samples=250, max_tree_depth=6, seeds=8)
# The sampler measurement that set the full preset's settings (check sampler_converged failed at
# the earlier full preset's 250 warmup and depth 6: function-space R-hat > 1.1 in 117 of 120
# runs, the depth-6 cap binding in every one): the first two seeds for none and the full
# Gaussian with 4x the warmup and a 4x longer trajectory cap. Rendered beside the full run in
# papers_repro/kessler2023_seqbayes.md (EXTRA_CITED; not counted: its claims are the full run's
# with fewer methods and seeds); 1638 s here on 2026-12-05.
PRESETS["converge"] = dataclasses.replace(
    PRESETS["full"], methods=("none", "gaussian"), warmup=1000, max_tree_depth=8, seeds=2,
    controls=False,
)  # fmt: skip


def _key(cfg, *stream):
    return rng.key(cfg.seed, *stream)


# --- exact cases (float64) ------------------------------------------------------------------------

TASK1, TASK2 = (-2.0, 0.0), (0.0, 2.0)
MU1, MU2 = 1.0, -1.0  # the imbalance example's task means
LIMIT_TASKS = ((*TASK1, 1.0), (*TASK2, 1.0))  # equal weights: the large-data limit


def exact_runs(cfg: Config) -> dict:
    n, s2, v0 = cfg.exact_n, cfg.exact_noise, cfg.exact_prior_var
    k = _key(cfg, STREAM_EXACT)
    k1, k2, kn, kb, ki = jax.random.split(k, 5)
    x1 = jax.random.uniform(k1, (n,), jnp.float64, *TASK1)
    x2 = jax.random.uniform(k2, (n,), jnp.float64, *TASK2)
    out = {"n": n, "noise": s2, "prior_var": v0, "mc": cfg.exact_mc, "models": {}}
    # (each section is one jitted program: op-by-op float64 dispatch compiles every primitive)

    @jax.jit
    def seq_vs_joint(x1, x2, kb):
        # sequential = joint: four tasks of the hinge model, data with noise
        tasks = []
        for i, x in enumerate((x1, x2, x1[::-1] * 0.5, x2 * 0.5)):
            eps = jnp.sqrt(s2) * jax.random.normal(jax.random.fold_in(kb, i), x.shape, jnp.float64)
            tasks.append((SB.features("hinge", x), SB.target(x) + eps))
        m0, c0 = jnp.zeros(3), v0 * jnp.eye(3)
        seq = SB.blr_sequential(m0, c0, tasks, s2)[-1]
        joint = SB.blr_joint(m0, c0, tasks, s2)
        rel = [
            jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)) for a, b in zip(seq, joint, strict=True)
        ]
        return jnp.stack(rel)

    rel = np.asarray(seq_vs_joint(x1, x2, kb))
    out["seq_vs_joint"] = {"mean_rel": float(rel[0]), "cov_rel": float(rel[1])}

    def misspec(kind):
        @jax.jit
        def go(x1, x2, key):
            p = SB.features(kind, x1).shape[1]
            m0, c0 = jnp.zeros(p), v0 * jnp.eye(p)
            mom1 = SB.task_moments(kind, *TASK1)
            phi1, f1 = SB.features(kind, x1), SB.target(x1)
            phi12 = jnp.concatenate([phi1, SB.features(kind, x2)])
            f12 = jnp.concatenate([f1, SB.target(x2)])
            closed = jnp.stack([SB.expected_risk(m0, c0, ph, f, s2, mom1) - s2
                                for ph, f in ((phi1, f1), (phi12, f12))])  # fmt: skip
            # Monte Carlo: after task 1 = the two-task design with task 2's rows zeroed (a zero
            # feature row carries no information), both settings on the same noise draws
            phis = jnp.stack([jnp.concatenate([phi1, jnp.zeros_like(phi1)]), phi12])

            def one(kk, phi):
                y = f12 + jnp.sqrt(s2) * jax.random.normal(kk, f12.shape, jnp.float64)
                return SB.risk(SB.blr_update(m0, c0, phi, y, s2)[0], mom1, s2) - s2

            keys = jax.random.split(key, cfg.exact_mc)
            sims = jax.vmap(lambda ph: jax.vmap(lambda kk: one(kk, ph))(keys))(phis)
            return closed, sims

        return go

    for kind in SB.FEATURES:
        closed, sims = misspec(kind)(x1, x2, kn)
        sims = np.asarray(sims)
        # (jitted: op by op, float64 dispatch compiles every primitive on its own)
        limit = float(jax.jit(partial(SB.projection_excess_risk, kind, LIMIT_TASKS))())
        out["models"][kind] = {
            # task 1's expected excess risk after task 1, after task 2
            "closed_after": np.asarray(closed).tolist(),
            "mc_mean": sims.mean(1).tolist(),
            "mc_se": (sims.std(1, ddof=1) / math.sqrt(cfg.exact_mc)).tolist(),
            "limit_after_2": limit,
        }
    # imbalance: N1 fixed, N2 = ratio N1
    ratios = np.asarray(cfg.imb_ratios, np.float64)
    n2s = np.maximum(1, np.round(ratios * cfg.imb_n1)).astype(int)
    bias, var = jax.jit(lambda n2: SB.imbalance(cfg.imb_n1, n2, MU1, MU2, s2, v0))(n2s)
    # Monte Carlo: every ratio in one program, task 2's points drawn at the largest N2 and
    # masked down to each N2
    n_max = int(n2s.max())

    @jax.jit
    def imb_mc(key):
        def one(kk, n2):
            ka, kb_ = jax.random.split(kk)
            x = jnp.concatenate([
                MU1 + jnp.sqrt(s2) * jax.random.normal(ka, (cfg.imb_n1,), jnp.float64),
                MU2 + jnp.sqrt(s2) * jax.random.normal(kb_, (n_max,), jnp.float64),
            ])  # fmt: skip
            keep = jnp.arange(cfg.imb_n1 + n_max) < cfg.imb_n1 + n2
            return SB.gaussian_mean_posterior(x, s2, v0, keep.astype(x.dtype))[0]

        keys = jax.random.split(key, cfg.exact_mc)
        return jax.vmap(lambda n2: jax.vmap(lambda kk: one(kk, n2))(keys))(jnp.asarray(n2s))

    m_all = np.asarray(imb_mc(ki))  # (ratios, exact_mc)
    mc_bias = (m_all.mean(1) - MU1).tolist()
    mc_se = (m_all.std(1, ddof=1) / math.sqrt(cfg.exact_mc)).tolist()
    mc_var = m_all.var(1, ddof=1).tolist()
    out["imbalance"] = {
        "n1": cfg.imb_n1, "n2": n2s.tolist(), "ratio": (n2s / cfg.imb_n1).tolist(),
        "mu1": MU1, "mu2": MU2, "bias": np.asarray(bias).tolist(), "var": np.asarray(var).tolist(),
        "mc_bias": mc_bias, "mc_bias_se": mc_se, "mc_var": mc_var,
    }  # fmt: skip
    return out


# --- the toy and the samplers ---------------------------------------------------------------------


def blobs(key, blob_ids, n: int):
    """n points of each blob in blob_ids, labels 0, 1, ... in that order: (x (len*n, 2), y)."""
    z = jax.random.normal(key, (len(blob_ids), n, 2))
    x = (
        jnp.asarray(CENTERS[list(blob_ids)])[:, None]
        + jnp.asarray(STDS[list(blob_ids)])[:, None] * z
    )
    y = jnp.repeat(jnp.arange(len(blob_ids)), n)
    return x.reshape(-1, 2).astype(jnp.float32), y


def toy_tasks(cfg: Config, seed: int) -> dict:
    """Train and test sets of every task (identically shaped) and of the two controls."""
    k = rng.key(cfg.seed, STREAM_DATA, seed)
    n = cfg.n_per_class
    train, test = [], []
    for t in range(cfg.tasks):
        train.append(blobs(rng.fold(k, 0, t), (t, t + 5), n))
        test.append(blobs(rng.fold(k, 1, t), (t, t + 5), n))
    same = blobs(rng.fold(k, 2), (0, 5), n)  # task 1's blobs, a fresh draw
    tiny_w = (jnp.arange(n) < cfg.tiny_n).astype(jnp.float32)
    # every task's training data in one array (the joint sampler's shapes), task by task
    pooled = tuple(jnp.concatenate(parts) for parts in zip(*train, strict=True))
    return {"train": train, "test": test, "same": same, "tiny_w": jnp.tile(tiny_w, 2),
            "pooled": pooled}  # fmt: skip


def boundary_grid():
    """The GRID[0] x GRID[1] points of BOX where decision boundaries are drawn, (n, 2)."""
    (x0, x1), (y0, y1) = BOX
    gx, gy = np.meshgrid(np.linspace(x0, x1, GRID[0]), np.linspace(y0, y1, GRID[1]))
    grid = jnp.asarray(np.c_[gx.ravel(), gy.ravel()], jnp.float32)
    return grid


def _probes(cfg):
    (x0, x1), (y0, y1) = BOX
    u = jax.random.uniform(_key(cfg, STREAM_INIT, 999), (cfg.probes, 2))
    lo, span = jnp.asarray([x0, y0])[None], jnp.asarray([x1 - x0, y1 - y0])[None]
    return (lo + u * span).astype(jnp.float32)


def _fit(method: str, draws, cfg: Config, seed: int, task: int):
    """(prior for the next task, fit info) from the pooled draws (n, d)."""
    flat = np.asarray(draws.reshape(-1, draws.shape[-1]), np.float64)
    if method == "gaussian":
        return bnn.pad(density.gaussian(flat), cfg.k_max), {}
    if method == "diagonal":
        return bnn.pad(density.diagonal(flat), cfg.k_max), {}
    if method == "flow":
        fit = flowmod.fit(flat, layers=cfg.flow_layers, hidden=cfg.flow_hidden,
                          epochs=cfg.flow_epochs, lr=cfg.flow_lr,
                          seed=seed * 100 + task)  # fmt: skip
        info = {"best_epoch": fit.best_epoch, "heldout_ll": max(fit.heldout_ll),
                "heldout_ll_diagonal": fit.heldout_ll_diagonal}  # fmt: skip
        return fit.flow, info
    fit = density.mixture(flat, cfg.k_max, seed=seed * 100 + task)
    info = {"k": fit.k, "k_grid": list(fit.grid), "heldout_ll": list(fit.heldout_ll)}
    return bnn.pad(fit.prior, cfg.k_max), info


class _Samplers:
    def __init__(self, cfg: Config, mlp):
        self.seconds: dict[str, list[float]] = {"task": [], "joint": []}
        kw = dict(chains=cfg.chains, warmup=cfg.warmup, samples=cfg.samples,
                  max_tree_depth=cfg.max_tree_depth, shard=cfg.shard_chains)  # fmt: skip
        self.task = _Timed(hmc.Sampler(mlp, kind="nuts", **kw), self.seconds["task"])
        # its own shapes (all tasks' data)
        self.joint = _Timed(hmc.Sampler(mlp, kind="nuts", **kw), self.seconds["joint"])
        # a flow prior is another pytree with another log density: its own compiled sampler
        self.flow = _Timed(
            hmc.Sampler(mlp, kind="nuts", prior_log_density=flowmod.log_density, **kw),
            self.seconds["task"],
        )

    def for_prior(self, prior):
        return self.flow if isinstance(prior, flowmod.Flow) else self.task


def sample_prior(prior, key, n: int):
    """n draws (n, d) from a prior: a MixturePrior or a flow."""
    if isinstance(prior, flowmod.Flow):
        return flowmod.sample(prior, key, n)
    return bnn.sample(prior, key, n)


class _Timed:
    """A sampler whose runs' wall seconds go to a list (results["timing"], never metrics)."""

    def __init__(self, sampler, log: list):
        self.sampler, self.log = sampler, log

    def run(self, *args):
        out = self.sampler.run(*args)
        self.log.append(round(out.seconds, 3))
        return out


def _accuracies(mlp, draws, data, upto: int) -> list[float]:
    return [float(hmc.predictive_accuracy(mlp, draws, *data["test"][j])) for j in range(upto + 1)]


def _density_accuracy(mlp, prior, key, data, t: int, n: int = 64) -> float:
    """Accuracy on task t's test set of the predictive of n networks drawn from the fitted prior."""
    draws = sample_prior(prior, key, n)[None]
    return float(hmc.predictive_accuracy(mlp, draws, *data["test"][t]))


def _grid_probs(mlp, draws, grid) -> list[float]:
    p = jnp.mean(hmc.class1_probs(mlp, draws, grid), (0, 1))
    return np.round(np.asarray(p, np.float64), 4).tolist()


def sequence(cfg, mlp, samplers, method, data, seed, *, probes, grid=None, tasks=None,
             weights=None, keep_grid=False) -> dict:  # fmt: skip
    """One method over a task sequence: per task, NUTS from the prior in force, then the
    density fitted for the next task. tasks: list of (x, y) training sets (default the toy's)."""
    tasks = data["train"] if tasks is None else tasks
    prior = bnn.isotropic(mlp.size, cfg.prior_precision, cfg.k_max)
    out = {"acc": [], "diag": [], "fit": [], "density_acc": [], "grid": []}
    for t, (x, y) in enumerate(tasks):
        k_init = rng.key(cfg.seed, STREAM_INIT, seed, METHODS.index(method), t)
        init = sample_prior(prior, k_init, cfg.chains)
        w = jnp.ones(y.shape, jnp.float32) if weights is None or weights[t] is None else weights[t]
        key = rng.key(cfg.seed, STREAM_MCMC, seed, METHODS.index(method), t)
        run = samplers.for_prior(prior).run(key, x, y, w, prior, init)
        out["acc"].append(_accuracies(mlp, run.draws, data, min(t, cfg.tasks - 1)))
        out["diag"].append(hmc.diagnose(mlp, run, probes))
        if keep_grid:
            out["grid"].append(_grid_probs(mlp, run.draws, grid))
        if method != "none" and t < len(tasks) - 1:
            prior, info = _fit(method, run.draws, cfg, seed, t)
            out["fit"].append(info)
            kd = rng.key(cfg.seed, STREAM_FIT, seed, METHODS.index(method), t)
            out["density_acc"].append(_density_accuracy(mlp, prior, kd, data, t))
    return out


def joint_runs(cfg, mlp, samplers, data, seed, *, probes, grid, keep_grid) -> dict:
    """The joint posterior of tasks 1..t for every t: all tasks' data in one padded array,
    the tasks not yet seen weighted 0 (one compiled program for every t)."""
    x, y = data["pooled"]
    per = data["train"][0][1].shape[0]
    prior = bnn.isotropic(mlp.size, cfg.prior_precision, cfg.k_max)
    out = {"acc": [], "diag": [], "grid": []}
    for t in range(cfg.tasks):
        w = (jnp.arange(x.shape[0]) < (t + 1) * per).astype(jnp.float32)
        init = bnn.sample(prior, rng.key(cfg.seed, STREAM_INIT, seed, 100, t), cfg.chains)
        run = samplers.joint.run(rng.key(cfg.seed, STREAM_MCMC, seed, 100, t), x, y, w, prior, init)
        out["acc"].append(_accuracies(mlp, run.draws, data, t))
        out["diag"].append(hmc.diagnose(mlp, run, probes))
        if keep_grid:
            out["grid"].append(_grid_probs(mlp, run.draws, grid))
    return out


def imbalance_bnn(cfg, mlp, samplers, data, seed, *, probes) -> dict:
    """The joint posterior of task 1 (its first n1 points per class) and task 2 (all), for each
    n1 of imb_bnn_n1: task 1's and task 2's test accuracy (the joint sampler, masked data)."""
    x, y = data["pooled"]
    n = cfg.n_per_class
    idx = jnp.arange(x.shape[0])
    prior = bnn.isotropic(mlp.size, cfg.prior_precision, cfg.k_max)
    out = {"n1": list(cfg.imb_bnn_n1), "acc1": [], "acc2": [], "diag": []}
    for i, n1 in enumerate(cfg.imb_bnn_n1):
        w = jnp.where(idx < 2 * n, (idx % n) < n1, idx < 4 * n).astype(jnp.float32)
        init = bnn.sample(prior, rng.key(cfg.seed, STREAM_INIT, seed, 300, i), cfg.chains)
        run = samplers.joint.run(rng.key(cfg.seed, STREAM_MCMC, seed, 300, i), x, y, w, prior,
                                 init)  # fmt: skip
        out["acc1"].append(float(hmc.predictive_accuracy(mlp, run.draws, *data["test"][0])))
        out["acc2"].append(float(hmc.predictive_accuracy(mlp, run.draws, *data["test"][1])))
        out["diag"].append(hmc.diagnose(mlp, run, probes))
    return out


def faithful_comparison(cfg, mlp, samplers, data, probes) -> tuple[dict, dict]:
    """Task 1's posterior by the paper's fixed HMC and by our NUTS: (diagnostics and accuracy,
    including function-space ESS per 1000 leapfrog steps; wall seconds of sampling, both compiled
    before timing by a first call on the same shapes)."""
    x, y = data["train"][0]
    w = jnp.ones(y.shape, jnp.float32)
    prior = bnn.isotropic(mlp.size, cfg.prior_precision, cfg.k_max)
    init = bnn.sample(prior, rng.key(cfg.seed, STREAM_INIT, 0, 200), cfg.chains)
    fixed = hmc.Sampler(mlp, kind="hmc_fixed", chains=cfg.chains,
                        warmup=cfg.hmc_fixed_samples, samples=cfg.hmc_fixed_samples)  # fmt: skip
    out, seconds = {}, {}
    for name, sampler in (("nuts", samplers.task), ("hmc_fixed", fixed)):
        k = rng.key(cfg.seed, STREAM_MCMC, 0, 200, 1 + (name == "hmc_fixed"))
        sampler.run(k, x, y, w, prior, init)  # compiles (the task sampler is warm already)
        run = sampler.run(k, x, y, w, prior, init)
        out[name] = hmc.diagnose(mlp, run, probes) | {
            "acc": float(hmc.predictive_accuracy(mlp, run.draws, *data["test"][0])),
            "iterations": int(run.num_steps.shape[1]),
        }
        seconds[name] = run.seconds
    return out, seconds


def _per_seed(cfg: Config) -> int:
    """Progress steps per seed: one per method, one for the joint, three for the controls."""
    return len(cfg.methods) + cfg.joint + 3 * cfg.controls


def _seed_unit(cfg: Config, mlp, samplers, probes, grid, s: int, bar) -> dict:
    """Seed s's sequences (every method, the joint reference, the controls): one checkpoint unit,
    {"res": ..., "seconds": that seed's sampler wall seconds}. Seeds are independent (every seed
    has its own streams), so units computed by different processes assemble into the results one
    process gives (`compute_seeds`)."""
    before = {k: len(v) for k, v in samplers.seconds.items()}
    data = toy_tasks(cfg, s)
    res = {"methods": {}}
    for m in cfg.methods:
        res["methods"][m] = sequence(cfg, mlp, samplers, m, data, s, probes=probes,
                                     grid=grid, keep_grid=(s == 0))  # fmt: skip
        bar.update()
    if cfg.joint:
        res["joint"] = joint_runs(cfg, mlp, samplers, data, s, probes=probes, grid=grid,
                                  keep_grid=(s == 0))  # fmt: skip
        bar.update()
    if cfg.controls:
        ctrl = "mixture" if "mixture" in cfg.methods else cfg.methods[-1]
        same = sequence(cfg, mlp, samplers, ctrl, data, s, probes=probes,
                        tasks=[data["train"][0], data["same"]])  # fmt: skip
        tiny = sequence(cfg, mlp, samplers, ctrl, data, s, probes=probes,
                        tasks=data["train"][:2], weights=[None, data["tiny_w"]])  # fmt: skip
        res["controls"] = {"method": ctrl, "identical": same, "tiny": tiny}
        res["imbalance_bnn"] = imbalance_bnn(cfg, mlp, samplers, data, s, probes=probes)
        bar.update(3)
    seconds = {k: v[before[k] :] for k, v in samplers.seconds.items()}
    return {"res": res, "seconds": seconds}


def compute_seeds(cfg: Config, seeds) -> list[str]:
    """Computes the given seeds' units into the run's checkpoint store (skipping saved ones) and
    returns the store's units; `run` with the same config and code then loads them. For a long
    preset on a machine where one process leaves cores idle (the samplers are dispatch-bound on
    one core): give each process a disjoint subset, e.g.
        python -c "from experiments import seqbayes_hmc as m
        m.compute_seeds(m.PRESETS['full'], [0, 1])"
    in one shell and [3, 2] in another, then `python -m experiments.seqbayes_hmc --preset full`.
    Must run with the environment of that last command (XLA_FLAGS, devices): they are in the
    store's key, so a mismatch only computes into a store the run will not read."""
    seeds = [int(s) for s in seeds]
    for s in seeds:
        if not 0 <= s < cfg.seeds:
            raise ValueError(f"seed {s} is not in 0..{cfg.seeds - 1}")
    store, parts = checkpoint.Store("seqbayes_hmc", cfg), _Parts(cfg)
    bar = progress.bar(total=len(seeds) * _per_seed(cfg), desc="sequences")
    for s in seeds:  # checked just before each seed: another process may have saved it since
        if store.load(f"seed{s}") is None:
            _compute_seed(cfg, parts, store, s, bar)
        else:
            bar.update(_per_seed(cfg))
    bar.close()
    return store.units()


class _Parts:
    """What every seed's unit is computed with: the network, the samplers (with their call
    timings), the probe inputs and the boundary grid."""

    def __init__(self, cfg: Config):
        self.mlp = bnn.MLP(2, cfg.hidden, 2)
        self.samplers = _Samplers(cfg, self.mlp)
        self.probes, self.grid = _probes(cfg), boundary_grid()


def _compute_seed(cfg: Config, parts: _Parts, store, s: int, bar):
    """Seed s's unit, computed, saved with its compute seconds, and returned as saved."""
    return store.compute(
        f"seed{s}",
        lambda: _seed_unit(cfg, parts.mlp, parts.samplers, parts.probes, parts.grid, s, bar),
    )


def run(cfg: Config) -> dict:
    """Every seed is a checkpoint (experiments._lib.checkpoint): a run stopped part way resumes
    at its first unfinished seed and gives the same results.json (timings as recorded)."""
    t0 = time.perf_counter()
    store = checkpoint.Store("seqbayes_hmc", cfg)
    exact = store.load("exact")
    if exact is None:
        with jax.enable_x64(True):
            exact = store.compute("exact", lambda: exact_runs(cfg))
    parts = _Parts(cfg)
    mlp, samplers, probes = parts.mlp, parts.samplers, parts.probes
    seeds = []
    per_seed = _per_seed(cfg)
    bar = progress.bar(total=cfg.seeds * per_seed, desc="sequences")
    for s in range(cfg.seeds):
        done = store.load(f"seed{s}")
        if done is None:
            done = _compute_seed(cfg, parts, store, s, bar)
        else:
            for k, v in done["seconds"].items():
                samplers.seconds[k].extend(v)
            bar.update(per_seed)
        seeds.append(done["res"])
    bar.close()
    faithful, faithful_s = faithful_comparison(cfg, mlp, samplers, toy_tasks(cfg, 0), probes)
    ess_per_s = {k: faithful[k]["ess_fn_min"] / faithful_s[k] for k in faithful_s}
    store.clear()
    return {
        "metrics": {"exact": exact, "seeds": seeds, "params": mlp.size, "faithful": faithful},
        "series": {
            "methods": list(cfg.methods),
            "tasks": cfg.tasks,
            "box": BOX,
            "grid_shape": list(GRID),
        },  # fmt: skip
        "timing": {
            "run_s": time.perf_counter() - t0,
            "sampler_s": samplers.seconds,  # per sampler: every call's wall seconds, in order
            "faithful_s": faithful_s,
            "faithful_ess_per_s": ess_per_s,
            "faithful_ess_per_s_ratio": ess_per_s["nuts"] / max(ess_per_s["hmc_fixed"], 1e-12),
        },
    }


# --- claims ---------------------------------------------------------------------------------------

LEVEL = 0.99  # Student-t intervals over seeds
OWN_TASK_ACC = 0.95  # "near perfect" own-task fit (the paper's Fig. 3 reads ~1 on every task)
RHAT_MAX = 1.1  # the usual split-R-hat threshold (Gelman et al. 2013)
ABSTRACT = f"{ARXIV}, abstract"


def _final_old(acc_rows) -> float:
    """Mean accuracy on tasks 1..T-1 after the last task."""
    last = acc_rows[-1]
    return float(np.mean(last[:-1]))


def _exact_rows(ex) -> list[dict]:
    rows = []
    sj = ex["seq_vs_joint"]
    worst = max(sj["mean_rel"], sj["cov_rel"])
    rows.append(C.claim(
        "seq_equals_joint_conjugate",
        "conjugate linear regression: task-by-task posterior = joint posterior",
        "theory.sequential_bayes.blr_joint", "equal to round-off", worst,
        "max relative difference <= 1e-9 (4 Cholesky solves of 3x3 float64 systems, "
        "condition < 1e4: ~1e-12 expected)",
        worst <= 1e-9, f"mean {sj['mean_rel']:.2g}, covariance {sj['cov_rel']:.2g}",
        kind=C.CHECK, source=C.DERIVED,
    ))  # fmt: skip
    lin, hin = ex["models"]["linear"], ex["models"]["hinge"]
    for kind, res in (("linear", lin), ("hinge", hin)):
        for j, when in enumerate(("task 1", "task 2")):
            z = abs(res["mc_mean"][j] - res["closed_after"][j]) / res["mc_se"][j]
            rows.append(C.claim(
                f"misspec_closed_vs_mc_{kind}_after_{j + 1}",
                f"{kind} model: task 1's expected excess risk after {when}, closed form vs Monte "
                "Carlo over the training noise",
                "theory.sequential_bayes.expected_risk", res["closed_after"][j], res["mc_mean"][j],
                "|MC - closed| <= 4 SE (false alarm ~6e-5)", z <= 4.0,
                f"{z:.2f} SE (SE {res['mc_se'][j]:.2g}, {ex['mc']} draws)",
                kind=C.CHECK, source=C.DERIVED,
            ))  # fmt: skip
    # The misspecified model forgets: its excess risk on task 1 rises after task 2. The
    # alternative (no forgetting) is a rise of 0 up to the well-specified model's estimation
    # noise; the band is the closed-form rise of the linear model >= half its large-data limit.
    rise_lin = lin["closed_after"][1] - lin["closed_after"][0]
    rise_hin = hin["closed_after"][1] - hin["closed_after"][0]
    rows.append(C.claim(
        "misspecified_forgets",
        "exact sequential inference with a misspecified model forgets task 1 after task 2",
        f"{ARXIV} Sec. 4", "\"model misspecification ... can lead to sub-optimal continual "
        "learning performance despite exact inference\" (abstract)", rise_lin,
        f"rise of task 1's expected excess risk >= half the large-data limit "
        f"{lin['limit_after_2']:.3g} (theory.sequential_bayes.projection_excess_risk)",
        rise_lin >= 0.5 * lin["limit_after_2"],
        f"linear features on f = |x|, N = {ex['n']} per task: {lin['closed_after'][0]:.3g} -> "
        f"{lin['closed_after'][1]:.3g} (closed form, matched by Monte Carlo rows)",
        kind=C.CLAIM, source=C.PAPER,
    ))  # fmt: skip
    rows.append(C.claim(
        "well_specified_keeps",
        "the same exact inference with a well-specified model does not forget",
        f"{ARXIV} Sec. 4", "forgetting under exact inference is due to misspecification",
        rise_hin, f"rise <= 10% of the misspecified model's {rise_lin:.3g}",
        rise_hin <= 0.1 * rise_lin,
        f"hinge features: {hin['closed_after'][0]:.3g} -> {hin['closed_after'][1]:.3g} "
        f"(large-data limit {hin['limit_after_2']:.2g})",
        kind=C.CLAIM, source=C.PAPER,
    ))  # fmt: skip
    imb = ex["imbalance"]
    gap = imb["mu2"] - imb["mu1"]
    frac = np.asarray(imb["bias"]) / gap
    z = np.abs(np.asarray(imb["mc_bias"]) - np.asarray(imb["bias"])) / np.asarray(imb["mc_bias_se"])
    rows.append(C.claim(
        "imbalance_closed_vs_mc", "shared-mean Gaussian: bias of task 1's estimate, closed form "
        "vs Monte Carlo at every N2/N1", "theory.sequential_bayes.imbalance",
        [round(float(b), 6) for b in imb["bias"]], [round(b, 6) for b in imb["mc_bias"]],
        "every |MC - closed| <= 4 SE", bool(np.all(z <= 4.0)),
        f"max {float(z.max()):.2f} SE over {len(z)} ratios", kind=C.CHECK, source=C.DERIVED,
    ))  # fmt: skip
    big = int(np.argmax(imb["ratio"]))
    rows.append(C.claim(
        "imbalance_forgets",
        "with exact inference, a much larger task 2 takes over the estimate of task 1",
        f"{ARXIV} Sec. 5", "\"task data imbalances can cause forgetting\" (abstract)",
        float(frac[big]),
        "bias / (mu2 - mu1) >= 0.9 at the largest N2/N1 (the balanced value is 0.5, the "
        "alternative of no forgetting 0)", float(frac[big]) >= 0.9,
        "bias fraction by N2/N1: " + ", ".join(
            f"{r:g}: {f:.3f}" for r, f in zip(imb["ratio"], frac, strict=True)),
        kind=C.CLAIM, source=C.PAPER,
    ))  # fmt: skip
    return rows


def _seed_interval(values):
    return stats.mean_interval(np.asarray(values, np.float64), level=LEVEL)


def _toy_rows(results) -> list[dict]:
    m = results["metrics"]
    seeds, methods = m["seeds"], results["series"]["methods"]
    T = results["series"]["tasks"]
    rows = []
    # own-task fit: every method, every task, every seed
    own = [s["methods"][mm]["acc"][t][t] for s in seeds for mm in methods for t in range(T)]
    lo_own = min(own)
    rows.append(C.claim(
        "own_task_fit", "the posterior predictive fits the task just learned (every method)",
        f"{ARXIV} Sec. 3, Fig. 3", "near-perfect accuracy on the current task", lo_own,
        f"min over methods, tasks and seeds >= {OWN_TASK_ACC}", lo_own >= OWN_TASK_ACC,
        f"mean {np.mean(own):.3f} over {len(own)} (method, task, seed)",
        kind=C.CLAIM, source=C.PAPER,
    ))  # fmt: skip
    none = [_final_old(s["methods"]["none"]["acc"]) for s in seeds]
    n_m, n_lo, n_hi = _seed_interval(none)
    if "joint" in seeds[0]:
        joint = [_final_old(s["joint"]["acc"]) for s in seeds]
        j_m, j_lo, j_hi = _seed_interval(joint)
        rows.append(C.claim(
            "joint_keeps", "the joint posterior of all tasks keeps the old tasks",
            f"{ARXIV} Sec. 3", "the joint posterior is the upper reference", j_m,
            f"{int(LEVEL * 100)}% interval over seeds of the final old-task accuracy above "
            "0.9", j_lo >= 0.9, f"interval [{j_lo:.3f}, {j_hi:.3f}]",
            kind=C.CLAIM, source=C.PAPER,
            status=None if j_lo >= 0.9 or j_hi < 0.9 else C.INCONCLUSIVE,
            decide="" if j_lo >= 0.9 or j_hi < 0.9 else "more seeds",
        ))  # fmt: skip
        # Paired over seeds (every method of a seed sees the same data): d = method - none.
        # The claim is d ~ 0 (no better than no propagation); the alternative it must exclude
        # is d ~ gap = joint - none (propagation keeps the old tasks). Band: |d| <= gap / 2,
        # the boundary between the two; the 99% t-interval of the mean paired d must lie in it.
        gap = j_m - n_m
        for mm in methods:
            if mm == "none":
                continue
            vals = [_final_old(s["methods"][mm]["acc"]) for s in seeds]
            d = np.asarray(vals) - np.asarray(none)
            d_m, d_lo, d_hi = _seed_interval(d)
            band = (-gap / 2, gap / 2)
            verdict = stats.band_verdict(d_lo, d_hi, *band)
            status = C.verdict_status(verdict) if gap > 0.1 else C.INCONCLUSIVE
            rows.append(C.claim(
                f"propagation_forgets_{mm}",
                f"propagating the posterior through a fitted {mm} density does not prevent "
                "forgetting: final old-task accuracy near no propagation, not near the joint",
                f"{ARXIV} Sec. 3, Fig. 3", "\"this approach fails to prevent catastrophic "
                "forgetting\" (abstract)", float(np.mean(vals)),
                f"{int(LEVEL * 100)}% t-interval over seeds of ({mm} - none), paired, inside "
                f"+- gap/2 = +- {gap / 2:.3f} (gap = joint - none = {gap:.3f})",
                None, f"{mm} - none = {d_m:+.3f}, interval [{d_lo:+.3f}, {d_hi:+.3f}]; "
                f"final old-task accuracy: {mm} {np.mean(vals):.3f}, none {n_m:.3f}, joint "
                f"{j_m:.3f}", kind=C.CLAIM, source=C.PAPER, status=status,
                decide="" if status != C.INCONCLUSIVE else
                "more seeds (the paired interval straddles the band's edge) or a larger gap "
                "between none and joint",
            ))  # fmt: skip
    # sampler diagnostics over every run
    diags = [d for s in seeds for mm in methods for d in s["methods"][mm]["diag"]]
    if "joint" in seeds[0]:
        diags += [d for s in seeds for d in s["joint"]["diag"]]
    rhat = max(d["rhat_fn_max"] for d in diags)
    div = sum(d["divergences"] for d in diags)
    draws = len(diags) * results["config"]["chains"] * results["config"]["samples"]
    rows.append(C.claim(
        "sampler_converged", "NUTS converged in function space on every run",
        "models.hmc.diagnose", f"split R-hat <= {RHAT_MAX}, divergences < 1% of draws", rhat,
        f"max function-space split R-hat <= {RHAT_MAX} and divergent draws < 1%",
        rhat <= RHAT_MAX and div < 0.01 * draws,
        f"{sum(d['rhat_fn_max'] <= RHAT_MAX for d in diags)} of {len(diags)} runs with R-hat "
        f"<= {RHAT_MAX} (median {np.median([d['rhat_fn_max'] for d in diags]):.3f}); "
        f"{div} divergent of {draws} draws; min function-space ESS "
        f"{min(d['ess_fn_min'] for d in diags):.0f}; mean leapfrog steps "
        f"{np.mean([d['mean_leapfrog'] for d in diags]):.0f} (tree depth cap "
        f"{results['config']['max_tree_depth']}: {2 ** results['config']['max_tree_depth'] - 1})",
        kind=C.CHECK, source=C.NONE,
    ))  # fmt: skip
    # controls: measurements
    for mm in methods:
        if mm == "none":
            continue
        da = [a for s in seeds for a in s["methods"][mm]["density_acc"]]
        rows.append(C.claim(
            f"density_keeps_task_{mm}",
            f"networks drawn from the fitted {mm} density, on the task just learned",
            "models.density", "the HMC posterior's own-task accuracy", float(np.mean(da)),
            "—", None, f"min {min(da):.3f} over {len(da)} fits (mean over draws' predictive)",
            kind=C.MEASUREMENT, source=C.NONE,
        ))  # fmt: skip
    if "controls" in seeds[0]:
        ctrl = seeds[0]["controls"]["method"]
        same = [s["controls"]["identical"]["acc"][1][0] for s in seeds]
        tiny = [s["controls"]["tiny"]["acc"][1][0] for s in seeds]
        base = [s["methods"][ctrl]["acc"][1][0] for s in seeds]
        rows.append(C.claim(
            "control_identical_task", f"task 1 accuracy after an identical task 2 ({ctrl})",
            "—", "no forgetting expected (the tasks agree)", float(np.mean(same)), "—", None,
            f"per seed {np.round(same, 3).tolist()}; after the real task 2: "
            f"{np.round(base, 3).tolist()}", kind=C.MEASUREMENT, source=C.NONE,
        ))  # fmt: skip
        rows.append(C.claim(
            "control_tiny_task", f"task 1 accuracy after a tiny task 2 "
            f"({results['config']['tiny_n']} points per class, {ctrl})", "—",
            "exact inference: a tiny task barely moves the posterior", float(np.mean(tiny)),
            "—", None, f"per seed {np.round(tiny, 3).tolist()}", kind=C.MEASUREMENT,
            source=C.NONE,
        ))  # fmt: skip
    if "imbalance_bnn" in seeds[0]:
        ib = [s["imbalance_bnn"] for s in seeds]
        a1 = np.mean([r["acc1"] for r in ib], 0)
        rows.append(C.claim(
            "imbalance_bnn_joint", "joint posterior of task 1 (N1 points per class) and task 2 "
            f"({results['config']['n_per_class']} per class): task 1 accuracy by N1",
            f"{ARXIV} Sec. 5", "a small task is outweighed by a large one",
            [round(float(a), 4) for a in a1], "—", None,
            "N1: " + ", ".join(f"{n}: {a:.3f}" for n, a in zip(ib[0]["n1"], a1, strict=True))
            + f"; task 2 accuracy {np.mean([r['acc2'] for r in ib]):.3f}",
            kind=C.MEASUREMENT, source=C.NONE,
        ))  # fmt: skip
    return rows


def check_claims(results: dict) -> list[dict]:
    m = results["metrics"]
    rows = _exact_rows(m["exact"]) + _toy_rows(results)
    f = m["faithful"]
    # per gradient evaluation, not per second: machine-independent and the same on every run
    # (the per-second ratio, which also counts NUTS's tree bookkeeping, is in timing)
    rows.append(C.claim(
        "nuts_vs_fixed_hmc_ess_per_grad",
        "function-space ESS per 1000 leapfrog steps (gradient evaluations): our NUTS (dense "
        "mass) / the paper's fixed HMC (step 1e-3, 20 leapfrog steps), task 1 posterior",
        "—", "the authors' sampler setting (src/main.py)",
        f["nuts"]["ess_per_1k_leapfrog"] / max(f["hmc_fixed"]["ess_per_1k_leapfrog"], 1e-12),
        "—", None,
        f"NUTS {f['nuts']['ess_per_1k_leapfrog']:.3g} (R-hat {f['nuts']['rhat_fn_max']:.2f}), "
        f"fixed HMC {f['hmc_fixed']['ess_per_1k_leapfrog']:.3g} "
        f"(R-hat {f['hmc_fixed']['rhat_fn_max']:.2f}) per 1000 steps",
        kind=C.MEASUREMENT, source=C.NONE,
    ))  # fmt: skip
    rows.append(C.not_attempted(
        "protocl_split_fmnist", "ProtoCL is competitive with Bayesian CL methods on "
        "class-incremental Split Fashion-MNIST", f"{ARXIV} Sec. 7", "not read from here",
        "ProtoCL runs here (experiments.protocl_split_fmnist: final average accuracy 0.79 with "
        "its coreset, 0.20 without, in its own rows) but the paper's comparison is with other "
        "Bayesian CL methods' accuracies in its Sec. 7 table, which could not be read here",
        "read the paper's Sec. 7 table, or run the methods it compares with on the same split",
    ))  # fmt: skip
    if "flow" in results["series"]["methods"]:
        # the claim itself is propagation_forgets_flow (the same test as every other density);
        # here how well the flow fitted the draws it was trained on
        fits = [f for sd in m["seeds"] for f in sd["methods"]["flow"]["fit"]]
        gain = [f["heldout_ll"] - f["heldout_ll_diagonal"] for f in fits]
        rows.append(C.claim(
            "flow_fit_heldout", "RealNVP fitted to the draws: held-out log-likelihood per draw "
            "over the diagonal Gaussian it starts from (models.flow)", "models.flow.fit",
            "—", float(np.mean(gain)), "—", None,
            f"{len(fits)} fits: gain {min(gain):+.1f} to {max(gain):+.1f} nats per draw; best "
            f"epoch {min(f['best_epoch'] for f in fits)}-{max(f['best_epoch'] for f in fits)} of "
            f"{results['config']['flow_epochs']}; held-out log-likelihood "
            f"{np.mean([f['heldout_ll'] for f in fits]):.1f} per draw",
            kind=C.MEASUREMENT, source=C.NONE,
        ))  # fmt: skip
    else:
        rows.append(C.not_attempted(
            "flow_prior", "a normalizing-flow density propagated as the prior also forgets",
            f"{ARXIV} Sec. 3", "not read from here",
            "this run's methods do not include 'flow' (models.flow, the authors' RealNVP)",
            "the full preset (its methods include 'flow'), or --set methods=none,flow",
        ))  # fmt: skip
    return rows


# --- figures --------------------------------------------------------------------------------------


def plot(results: dict, out_dir) -> None:
    m = results["metrics"]
    methods = results["series"]["methods"]
    T = results["series"]["tasks"]
    s0 = m["seeds"][0]
    panels = [(mm, [s["methods"][mm]["acc"] for s in m["seeds"]]) for mm in methods]
    if "joint" in s0:
        panels.append(("joint", [s["joint"]["acc"] for s in m["seeds"]]))
    with plotting.style():
        import matplotlib.pyplot as plt

        # (1) accuracy matrices, mean over seeds
        fig, axs = plt.subplots(1, len(panels), figsize=(2.3 * len(panels) + 0.6, 2.6))
        axs = np.atleast_1d(axs)
        for ax, (name, accs) in zip(axs, panels, strict=True):
            mat = np.full((T, T), np.nan)
            for i in range(T):
                mat[i, : i + 1] = np.mean([a[i] for a in accs], 0)
            im = ax.imshow(mat, vmin=0.0, vmax=1.0, cmap="viridis")
            for i in range(T):
                for j in range(i + 1):
                    ax.text(j, i, f"{mat[i, j]:.2f}", ha="center", va="center", fontsize=6.5,
                            color="w" if mat[i, j] < 0.6 else "k")  # fmt: skip
            ax.set_xticks(range(T), [str(j + 1) for j in range(T)])
            ax.set_yticks(range(T), [str(i + 1) for i in range(T)])
            ax.set_xlabel("evaluated on task")
            if ax is axs[0]:
                ax.set_ylabel("after task")
            ax.set_title(name)
            ax.grid(False)
        fig.colorbar(im, ax=list(axs), shrink=0.8, label="test accuracy")
        plotting.savefig(fig, out_dir, "accuracy")

        # (2) decision boundaries after each task (seed 0)
        rows = [(mm, s0["methods"][mm]["grid"]) for mm in methods if s0["methods"][mm]["grid"]]
        if "joint" in s0 and s0["joint"]["grid"]:
            rows.append(("joint", s0["joint"]["grid"]))
        gx, gy = results["series"]["grid_shape"]
        (x0, x1), (y0, y1) = results["series"]["box"]
        fig, axs = plt.subplots(len(rows), T, figsize=(2.0 * T, 1.5 * len(rows) + 0.3),
                                squeeze=False)  # fmt: skip
        for r, (name, grids) in enumerate(rows):
            for t in range(T):
                ax = axs[r, t]
                p = np.asarray(grids[t]).reshape(gy, gx)
                im = ax.imshow(p, origin="lower", extent=(x0, x1, y0, y1), vmin=0, vmax=1,
                               cmap="RdBu_r", aspect="auto")  # fmt: skip
                ax.contour(np.linspace(x0, x1, gx), np.linspace(y0, y1, gy), p, levels=[0.5],
                           colors="k", linewidths=0.8)  # fmt: skip
                for j in range(t + 1):
                    for c, blob in enumerate((j, j + 5)):
                        ax.plot(*CENTERS[blob], "o" if c == 0 else "s", ms=3.5,
                                mfc="w" if j < t else ("b" if c == 0 else "r"), mec="k",
                                mew=0.6)  # fmt: skip
                ax.set_xticks([])
                ax.set_yticks([])
                ax.grid(False)
                if r == 0:
                    ax.set_title(f"after task {t + 1}")
                if t == 0:
                    ax.set_ylabel(name)
        fig.suptitle("posterior predictive P(class 1), seed 0, inputs in "
                     f"[{x0:g}, {x1:g}] x [{y0:g}, {y1:g}]\nblob centres: circle = class 0, "
                     "square = class 1; filled = the task just learned, white = earlier tasks",
                     fontsize=7.5)  # fmt: skip
        fig.tight_layout()
        fig.colorbar(im, ax=axs.ravel().tolist(), shrink=0.6, label="P(class 1)")
        plotting.savefig(fig, out_dir, "boundaries")

        # (3) the exact cases
        ex = m["exact"]
        from matplotlib.ticker import NullFormatter

        ib = [s["imbalance_bnn"] for s in m["seeds"] if "imbalance_bnn" in s]
        fig, axs = plt.subplots(1, 2 + bool(ib), figsize=(4.0 * (2 + bool(ib)), 3.0))
        ax = axs[0]
        for i, kind in enumerate(("linear", "hinge")):
            r = ex["models"][kind]
            ax.plot([1, 2], r["closed_after"], marker=plotting.marker(i), color=plotting.color(i),
                    label=f"{kind} features, closed form")  # fmt: skip
            ax.errorbar([1.05, 2.05], r["mc_mean"], yerr=[3 * s for s in r["mc_se"]], fmt="x",
                        color=plotting.color(i), capsize=2,
                        label=f"{kind}, Monte Carlo (+- 3 SE)")  # fmt: skip
        ax.set_xticks([1, 2], ["after task 1", "after task 2"])
        ax.set_ylabel("task 1 expected excess risk")
        ax.set_title(f"(a) misspecification, f = |x|, N = {ex['n']} per task")
        ax.legend(fontsize=6.5)
        ax = axs[1]
        imb = ex["imbalance"]
        gap = imb["mu2"] - imb["mu1"]
        ax.plot(imb["ratio"], np.asarray(imb["bias"]) / gap, marker="o", label="closed form")
        ax.errorbar(imb["ratio"], np.asarray(imb["mc_bias"]) / gap,
                    yerr=3 * np.asarray(imb["mc_bias_se"]) / abs(gap), fmt="x", capsize=2,
                    label="Monte Carlo (+- 3 SE)")  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("N2 / N1")
        ax.set_ylabel("task 1 bias / (mu2 - mu1)")
        ax.set_title(f"(b) task imbalance, N1 = {imb['n1']}")
        ax.legend(fontsize=7)
        if ib:
            ax = axs[2]
            n1 = ib[0]["n1"]
            for j, (key, label) in enumerate((("acc1", "task 1"), ("acc2", "task 2"))):
                vals = np.array([r[key] for r in ib])
                for v in vals:
                    ax.plot(n1, v, color=plotting.color(j), alpha=0.3, lw=0.8)
                ax.plot(n1, vals.mean(0), marker=plotting.marker(j), color=plotting.color(j),
                        label=f"{label} (mean of {len(ib)} seeds)")  # fmt: skip
            ax.set_xscale("log")
            ax.set_xticks(n1, [str(v) for v in n1])  # the N1 run, plain; no minor labels
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel("N1 (task 1 points per class)")
            ax.set_ylabel("test accuracy")
            n2 = results["config"]["n_per_class"]
            ax.set_title(f"(c) BNN joint posterior, N2 = {n2} per class")
            ax.legend(fontsize=7)
        fig.tight_layout()
        plotting.savefig(fig, out_dir, "exact")

        # (4) diagnostics per task: function-space R-hat and ESS
        fig, axs = plt.subplots(1, 2, figsize=(8.0, 2.8))
        for i, (name, _) in enumerate(panels):
            src = [s["joint"] if name == "joint" else s["methods"][name] for s in m["seeds"]]
            rh = np.array([[d["rhat_fn_max"] for d in s["diag"]] for s in src])
            es = np.array([[d["ess_fn_min"] for d in s["diag"]] for s in src])
            t = np.arange(1, rh.shape[1] + 1) + 0.06 * (i - len(panels) / 2)
            axs[0].plot(t, rh.max(0), marker=plotting.marker(i), color=plotting.color(i),
                        label=name)  # fmt: skip
            axs[1].plot(t, es.min(0), marker=plotting.marker(i), color=plotting.color(i),
                        label=name)  # fmt: skip
        axs[0].axhline(RHAT_MAX, color="k", ls=":", lw=0.8, label=f"R-hat = {RHAT_MAX}")
        axs[0].set_ylabel("max function-space split R-hat")
        axs[1].set_ylabel("min function-space ESS")
        from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

        for ax in axs:  # log when a stuck chain spreads them over decades, plain numbers at
            # 1, 2, 5 x 10^k; linear within a decade, where a log axis kept one tick label (1.0)
            ys = np.concatenate([np.asarray(ln.get_ydata(), float) for ln in ax.lines])
            if np.nanmax(ys) < 10 * max(np.nanmin(ys), 1e-12):
                continue
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(ScalarFormatter())
            ax.yaxis.set_minor_formatter(NullFormatter())
        for j, ax in enumerate(axs):
            ax.set_xlabel("task")
            ax.set_xticks(range(1, T + 1))
            ax.set_title(f"({'ab'[j]}) worst over seeds and probes")
        axs[0].legend(fontsize=6.5)
        fig.tight_layout()
        plotting.savefig(fig, out_dir, "diagnostics")


def main(argv: list[str] | None = None) -> int:
    return cli.main(sys.modules[__name__], argv)


if __name__ == "__main__":
    cli.exit_script(main())
