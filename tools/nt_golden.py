"""Golden values from neural-tangents, in the side env (make nt-env) or through the compat module.

`python tools/nt_golden.py` prints JSON. In .venv-nt (unmodified neural-tangents 0.6.5 on jax 0.5.3,
tensorflow installed) it writes tests/fixtures/nt_golden.json; tests/theory/test_nt_compat.py
recomputes the same numbers through theory/_nt_compat.py on the pinned jax and compares.
Inputs and weights are deterministic formulas (no PRNG), so the two jax versions see the same data.
"""

from __future__ import annotations

import json
import sys

import numpy as np


def _inputs():
    # Deterministic, non-degenerate inputs: sines of distinct frequencies.
    n, d = 4, 8
    i = np.arange(n)[:, None] + 1.0
    j = np.arange(d)[None, :] + 1.0
    return np.sin(0.7 * i * j + 0.3 * i).astype(np.float32)


def _det_params(params):
    import jax

    leaves, tree = jax.tree_util.tree_flatten(params)
    out = []
    for k, leaf in enumerate(leaves):
        size = int(np.prod(leaf.shape))
        vals = np.cos(0.37 * np.arange(size) + 0.11 * (k + 1)).reshape(leaf.shape)
        out.append(vals.astype(np.float32))
    return jax.tree_util.tree_unflatten(tree, out)


def compute(nt):
    import jax
    import jax.numpy as jnp

    stax = nt.stax
    x = jnp.asarray(_inputs())
    out = {"jax_version": jax.__version__, "nt_version": nt.__version__}

    _, _, fc_kernel = stax.serial(
        stax.Dense(512, W_std=1.5, b_std=0.05), stax.Relu(), stax.Dense(1, W_std=1.5)
    )
    k = fc_kernel(x, None, ("nngp", "ntk"))
    out["fc_relu_nngp"] = np.asarray(k.nngp, np.float64).tolist()
    out["fc_relu_ntk"] = np.asarray(k.ntk, np.float64).tolist()

    # 1-D CNN with non-overlapping patches (stride = filter), the hierarchical-CNN architecture.
    x_conv = x[:, :, None]
    cnn_init, cnn_apply, cnn_kernel = stax.serial(
        stax.Conv(64, (2,), strides=(2,), padding="VALID"),
        stax.Relu(),
        stax.Conv(64, (2,), strides=(2,), padding="VALID"),
        stax.Relu(),
        stax.Flatten(),
        stax.Dense(1),
    )
    k = cnn_kernel(x_conv, None, ("nngp", "ntk"))
    out["cnn_relu_nngp"] = np.asarray(k.nngp, np.float64).tolist()
    out["cnn_relu_ntk"] = np.asarray(k.ntk, np.float64).tolist()

    _, params = cnn_init(jax.random.PRNGKey(0), x_conv.shape)
    params = _det_params(params)
    emp = nt.empirical_ntk_fn(cnn_apply, trace_axes=(), vmap_axes=0)
    out["cnn_empirical_ntk"] = (
        np.asarray(emp(x_conv, None, params), np.float64).reshape(x.shape[0], x.shape[0]).tolist()
    )
    return out


def main():
    try:  # side env: the unmodified package imports on its own
        import neural_tangents as nt
    except ImportError:
        sys.path.insert(0, ".")
        from theory._nt_compat import nt
    json.dump(compute(nt), sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
