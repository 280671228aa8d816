"""numpyro samplers for the Bayesian MLP of models.bnn: NUTS with a dense mass matrix (ours) and
fixed-step HMC (the paper's setting: step 1e-3, 20 leapfrog steps, identity mass), chains
vectorised (and optionally split across devices), data and prior passed as arguments so one
compiled sampler serves every task and every prior of the same shapes.

Diagnostics (`diagnose`): divergences and leapfrog steps per chain; split R-hat and ESS in
function space, i.e. of the predicted class-1 probability at fixed probe inputs (weight-space
R-hat is meaningless for a BNN: its posterior is invariant to permuting hidden units and
flipping signs, so chains in equivalent modes disagree in weights while agreeing as functions)."""

from __future__ import annotations

import time
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec

from models.bnn import MLP, log_density
from runtime import sharding


class Run(NamedTuple):
    draws: jax.Array  # (chains, samples, d)
    diverging: np.ndarray  # (chains, samples) bool
    num_steps: np.ndarray  # (chains, samples) leapfrog steps per draw
    seconds: float  # wall time of warmup + sampling (compiled; the first call also compiles)


def _splits(chains: int, n_dev: int) -> bool:
    """Whether shard=True splits the chains across n_dev devices: more than one, evenly."""
    return n_dev > 1 and chains % n_dev == 0


def check_shard(chains: int, n_dev: int, backend: str) -> None:
    """Refuse the sharded sampler where it deadlocks: several chains per device on CPU devices.

    Found 2026-12-05 with 2 forced host devices (`--xla_force_host_platform_device_count=2`):
    the sampler hung at 0% CPU for the 2-10-10-2 MLP (d = 162; d = 29 and 57 ran, 93 hung),
    with XLA's SPMD partitioning and equally with shard_map. gdb put every device's program in
    jaxlib's batched LAPACK Cholesky (numpyro's dense-mass adaptation, batched over the
    device's chains by vmap): `lapack_spotrf_ffi` -> `jax::ParallelBatchMap` ->
    `BlockingCounter::Wait`, waiting for tasks on the thread pool the device programs occupy
    (jaxlib 0.10.2; `--xla_cpu_multi_thread_eigen=false` and OPENBLAS_NUM_THREADS=1 did not
    help). One chain per device has no batch and runs (tests/models/test_bnn_hmc.py).
    Nothing to refuse where shard=True would not split the chains (one device, or a chain count
    the devices do not divide)."""
    if not _splits(chains, n_dev):
        return
    per_device = chains // n_dev
    if backend == "cpu" and per_device > 1:
        raise ValueError(
            f"sharded chains: {chains} chains on {n_dev} CPU devices ({per_device} per device) "
            "deadlock in jaxlib's batched CPU Cholesky (models/hmc.py, check_shard); use "
            f"{n_dev} chains (one per device) or shard off"
        )


def _potential_gen(mlp: MLP, prior_log_density=log_density):
    """prior_log_density(prior, theta): the prior is an argument (a pytree: a MixturePrior, or
    a models.flow.Flow with its log density), so one compiled sampler serves every prior of
    one type and shape."""

    def gen(x, y, w, prior):
        return lambda theta: -(prior_log_density(prior, theta) + mlp.log_likelihood(theta, x, y, w))

    return gen


class Sampler:
    """One compiled program per (kind, sizes): warmup + sampling of every chain as one
    jit(vmap(scan)) over numpyro's functional NUTS/HMC kernels (`numpyro.infer.hmc.hmc`), data
    and prior as arguments, so `run` recompiles only when their shapes change. (numpyro's MCMC
    class re-traces and recompiles its sampling loop on every `run`, 5-7 s here, even with
    jit_model_args.) kind: "nuts" (dense mass; step size and mass matrix adapted over warmup by
    numpyro's windowed scheme) or "hmc_fixed" (the paper's: step `step_size`, `num_steps`
    leapfrog steps, identity mass, no adaptation). prior_log_density(prior, theta): the prior's
    log density, `models.bnn.log_density` for a MixturePrior (the default) or
    `models.flow.log_density` for a flow; `run`'s prior must be of that type.

    shard=True splits the chains across jax.devices() when their count divides evenly
    (shard_map: each device runs its chains as a local program, nothing crosses devices); on
    CPU devices only one chain per device (`check_shard`: more deadlock in jaxlib 0.10.2).
    It is off by default: the partitioned program's arithmetic differs from the one-device
    program in the last bits, and a Hamiltonian trajectory amplifies that exponentially, so
    the draws (and every number made from them) change with the device count (measured with
    the earlier SPMD form: 8 chains on 4 simulated CPU devices vs 1 device, every sampled value
    differed). With it off, results are the same on any number of devices; on a GPU, where one
    device holds every chain anyway, nothing is lost."""

    def __init__(
        self,
        mlp: MLP,
        *,
        kind: str,
        chains: int,
        warmup: int,
        samples: int,
        max_tree_depth: int = 10,
        step_size: float = 1e-3,
        num_steps: int = 20,
        shard: bool = False,
        prior_log_density=log_density,
    ):
        from numpyro.infer.hmc import hmc

        if kind == "nuts":
            init_k, sample_k = hmc(
                potential_fn_gen=_potential_gen(mlp, prior_log_density), algo="NUTS"
            )
            opts = dict(dense_mass=True, max_tree_depth=max_tree_depth)
        elif kind == "hmc_fixed":
            init_k, sample_k = hmc(
                potential_fn_gen=_potential_gen(mlp, prior_log_density), algo="HMC"
            )
            # Given as a trajectory length: numpyro's init_kernel with `num_steps` set keeps
            # its default trajectory length 2 pi and leaps with step 2 pi / num_steps (0.31
            # here: every proposal diverged), whatever `step_size` says (numpyro 0.22.0).
            opts = dict(step_size=step_size, trajectory_length=step_size * num_steps,
                        adapt_step_size=False, adapt_mass_matrix=False)  # fmt: skip
        else:
            raise ValueError(f"unknown sampler kind {kind!r}; expected 'nuts' or 'hmc_fixed'")
        self.mlp, self.chains = mlp, chains

        def chain(key, init, args):
            state = init_k(init, warmup, model_args=args, rng_key=key, **opts)

            def step(st, _):
                st = sample_k(st, model_args=args)
                return st, (st.z, st.diverging, st.num_steps)

            _, (z, div, n) = jax.lax.scan(step, state, None, length=warmup + samples)
            return z[warmup:], div[warmup:], n[warmup:]

        batched = jax.vmap(chain, in_axes=(0, 0, None))
        n_dev = jax.device_count()
        if shard and _splits(chains, n_dev):
            check_shard(chains, n_dev, jax.default_backend())
            # shard_map: each device runs the vmapped sampler on its own chains as a local
            # program, data and prior replicated, so nothing crosses devices.
            spec = PartitionSpec(sharding.BATCH_AXIS)
            batched = jax.shard_map(
                batched,
                mesh=sharding.batch_mesh(),
                in_specs=(spec, spec, PartitionSpec()),
                out_specs=spec,
                check_vma=False,
            )
        self._run = jax.jit(batched)

    def run(self, key, x, y, w, prior, init) -> Run:
        """init: (chains, d) starting points (dispersed: e.g. draws from the first prior)."""
        t0 = time.perf_counter()
        keys, init = jax.random.split(key, self.chains), jnp.asarray(init)
        draws, div, steps = self._run(keys, init, (x, y, w, prior))
        draws.block_until_ready()
        return Run(draws, np.asarray(div), np.asarray(steps), time.perf_counter() - t0)


def _draw_probs(mlp: MLP, draws, x):
    """(chains * samples, n, classes) class probabilities at inputs x for every draw."""
    flat = draws.reshape(-1, draws.shape[-1])
    return jax.vmap(lambda th: jax.nn.softmax(mlp.logits(th, x), -1))(flat)


@partial(jax.jit, static_argnums=0)
def class1_probs(mlp: MLP, draws, x):
    """(chains, samples, n) predicted probability of class 1 at inputs x for every draw."""
    return _draw_probs(mlp, draws, x)[..., 1].reshape(*draws.shape[:2], x.shape[0])


def diagnose(mlp: MLP, run: Run, probe) -> dict:
    """Function-space split R-hat (max over probes) and bulk ESS (min over probes), per-chain
    divergences and mean leapfrog steps, ESS per 1000 leapfrog steps (per 1000 gradient
    evaluations: the sampler's cost in a unit that does not depend on the machine). Wall-clock
    figures (run.seconds) are the caller's to keep apart: they differ from run to run."""
    from numpyro.diagnostics import effective_sample_size, split_gelman_rubin

    f = np.asarray(class1_probs(mlp, run.draws, probe), np.float64)  # (chains, samples, probes)
    # probes where every draw predicts the same value carry no information (R-hat 0/0)
    live = f.std(axis=(0, 1)) > 1e-6
    if live.any():
        rhat = float(np.max(split_gelman_rubin(f[..., live])))
        ess = float(np.min(effective_sample_size(f[..., live])))
    else:
        rhat, ess = 1.0, float(f.shape[0] * f.shape[1])
    return {
        "rhat_fn_max": rhat,
        "ess_fn_min": ess,
        "divergences": int(run.diverging.sum()),
        "mean_leapfrog": float(run.num_steps.mean()),
        "ess_per_1k_leapfrog": 1e3 * ess / max(int(run.num_steps.sum()), 1),
    }


@partial(jax.jit, static_argnums=0)
def predictive_accuracy(mlp: MLP, draws, x, y) -> jax.Array:
    """Accuracy of the posterior predictive (class probabilities averaged over all draws)."""
    p = jnp.mean(_draw_probs(mlp, draws, x), 0)
    return jnp.mean(jnp.argmax(p, -1) == y)
