"""models.protocl: the conjugate prototype posterior (closed forms, float64 references), the
authors' per-row form, training order (a batch never sees its own labels), the evaluation's
label updates; models.image_data: the Fashion-MNIST files."""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy.stats import multivariate_normal

from models import image_data
from models import protocl as P

PAPER = "kessler2023_seqbayes"  # the paper this module's time is charged to (conftest)
C, K, S2 = 4, 3, 0.05


def _data(seed, n):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, K)).astype(np.float32), rng.integers(0, C, n).astype(np.int32)


def test_batch_updates_sum_to_the_conjugate_posterior_of_all_data():
    post0 = P.prior(jax.random.key(0), C, K)
    phi, y = _data(0, 60)
    post = post0
    for i in range(0, 60, 20):  # three batches
        post = P.update(post, jnp.asarray(phi[i : i + 20]), jnp.asarray(y[i : i + 20]), S2, C,
                        per_row=False)  # fmt: skip
    exact = P.exact_posterior(post0, phi, y, S2, C)
    # float32 sums of <= 60 terms of size |phi| / s2 ~ 60: relative error ~ 60 ulp ~ 1e-5
    for got, want in zip(post, exact, strict=True):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-4)
    assert np.array_equal(np.asarray(post.alpha) - np.asarray(post0.alpha), np.bincount(y, None, C))


def test_per_row_posterior_sees_only_its_row_of_every_batch():
    """The authors' form: row i of the posterior holds the prior plus row i of each batch."""
    post0 = P.prior(jax.random.key(1), C, K)
    phi, y = _data(1, 3 * 8)
    post = post0
    for i in range(3):
        sl = slice(8 * i, 8 * i + 8)
        post = P.update(post, jnp.asarray(phi[sl]), jnp.asarray(y[sl]), S2, C, per_row=True)
    assert post.q.shape == (8, C, K)
    for r in range(8):
        rows = np.arange(r, 24, 8)
        exact = P.exact_posterior(post0, phi[rows], y[rows], S2, C)
        for got, want in zip(post, exact, strict=True):
            np.testing.assert_allclose(np.asarray(got)[r], want, rtol=1e-5, atol=1e-4)


def test_log_joint_is_the_gaussian_predictive_times_the_dirichlet_mean(x64):
    post = P.prior(jax.random.key(2), C, K, log_l0=0.5)
    post = P.update(post, *map(jnp.asarray, _data(2, 30)), S2, C, per_row=False)
    phi, _ = _data(3, 5)
    got = np.asarray(P.log_joint(post, jnp.asarray(phi, jnp.float64), S2))
    q, prec, alpha = (np.asarray(v, np.float64) for v in post)
    for c in range(C):
        mvn = multivariate_normal(q[c] / prec[c], (1 / prec[c] + S2) * np.eye(K))
        want = mvn.logpdf(phi) + np.log(alpha[c] / alpha.sum())
        np.testing.assert_allclose(got[:, c], want, rtol=1e-12)


def _setup(per_row):
    enc = P.Encoder(hidden=8, dim=K)
    params = enc.init(jax.random.key(3), jnp.zeros((1, 6)))
    opt = optax.adam(1e-2)
    return enc, params, opt, opt.init(params), P.prior(jax.random.key(4), C, K)


@pytest.mark.parametrize("per_row", [False, True])
def test_a_training_step_scores_its_batch_before_adding_it(per_row):
    enc, params, opt, state, post0 = _setup(per_row)
    rng = np.random.default_rng(5)
    xs = jnp.asarray(rng.normal(size=(2, 8, 6)), jnp.float32)
    ys = jnp.asarray(rng.integers(0, C, (2, 8)), jnp.int32)
    epoch = jax.jit(P.make_train_epoch(enc, opt, S2, C, per_row=per_row))
    p2, _, post, losses = epoch(params, state, post0, xs, ys)
    # step 0's loss is the NLL under the prior; the returned posterior holds both batches, each
    # added with the embedding of its own forward pass (step 1's from the updated parameters)
    # Tolerances: the same float32 arithmetic eagerly here and fused inside the jitted scan (sums
    # in another order: ~1e-7 relative per op, a few ops deep); 1e-5 leaves a 10x margin.
    phi0 = enc.apply(params, xs[0])
    np.testing.assert_allclose(losses[0], jnp.mean(P.nll(post0, phi0, ys[0], S2)), rtol=1e-6)
    post1 = P.update(post0, phi0, ys[0], S2, C, per_row=per_row)
    upd, _ = opt.update(jax.grad(lambda p: jnp.mean(P.nll(post0, enc.apply(p, xs[0]), ys[0], S2)))(
        params), state, params)  # fmt: skip
    phi1 = enc.apply(optax.apply_updates(params, upd), xs[1])
    np.testing.assert_allclose(losses[1], jnp.mean(P.nll(post1, phi1, ys[1], S2)), rtol=1e-5)
    want = P.update(post1, phi1, ys[1], S2, C, per_row=per_row)
    for got, w in zip(post, want, strict=True):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-5)


def test_evaluation_adds_test_labels_only_in_the_authors_mode():
    enc, params, _, _, post0 = _setup(False)
    rng = np.random.default_rng(6)
    xs = jnp.asarray(rng.normal(size=(3, 8, 6)), jnp.float32)
    ys = jnp.asarray(rng.integers(0, C, (3, 8)), jnp.int32)
    clean = P.make_evaluate(enc, S2, C, per_row=False, update_on_eval=False)
    post, correct = clean(params, post0, xs, ys)
    assert correct.shape == (3, 8) and all(
        np.array_equal(a, b) for a, b in zip(post, post0, strict=True)
    )
    leaky = P.make_evaluate(enc, S2, C, per_row=False, update_on_eval=True)
    post, correct_leaky = leaky(params, post0, xs, ys)
    phi = enc.apply(params, xs.reshape(-1, 6))  # (tolerance: as in the training-step test)
    want = P.update(post0, phi, ys.reshape(-1), S2, C, per_row=False)
    for got, w in zip(post, want, strict=True):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-5)
    # the first batch is scored before any label is added: the same answers either way
    assert np.array_equal(correct_leaky[0], correct[0])


def test_training_separates_two_gaussian_classes():
    """End to end on an easy problem: two classes 4 sd apart in 6-D, one epoch of 40 batches."""
    enc, params, opt, state, _ = _setup(False)
    post0 = P.prior(jax.random.key(7), 2, K)
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 40 * 16)
    x = rng.normal(size=(y.size, 6)) + 4.0 * y[:, None] * np.eye(6)[0]
    xs, ys = jnp.asarray(x.reshape(40, 16, 6), jnp.float32), jnp.asarray(y.reshape(40, 16))
    epoch = jax.jit(P.make_train_epoch(enc, opt, S2, 2, per_row=False))
    params, _, post, losses = epoch(params, state, post0, xs, ys)
    _, correct = P.make_evaluate(enc, S2, 2, per_row=False, update_on_eval=False)(
        params, post, xs, ys
    )
    # Bayes accuracy at 4 sd separation is Phi(2) = 0.977; a learnt encoder should be near it
    # (0.9 leaves 8 points of slack for one epoch of training at 640 points)
    assert float(jnp.mean(correct)) > 0.9 and losses[-5:].mean() < losses[:5].mean()


FASHION = pathlib.Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not FASHION.exists(), reason="Debian's dataset-fashion-mnist not installed")
def test_fashion_mnist_files_read_with_balanced_labels():
    x, y = image_data.fashion_mnist(FASHION, "test")
    assert x.shape == (10_000, 784) and x.dtype == np.uint8
    assert np.array_equal(np.bincount(y), np.full(10, 1000))
    with pytest.raises(ValueError, match="not an idx1"):
        image_data.idx_labels(FASHION / "t10k-images-idx3-ubyte.gz")
