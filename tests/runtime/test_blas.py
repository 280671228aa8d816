"""runtime.blas: one BLAS thread above the threaded-dpotrf limit, checked in force; nothing
changes at or below it."""

import numpy as np
import pytest
import scipy.linalg
from threadpoolctl import threadpool_info

from runtime import blas


def _blas_threads():
    return {i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"}


def test_one_thread_above_limit_and_restored():
    before = _blas_threads()
    with blas.one_thread_above(blas.THREADED_MAX + 1):
        assert _blas_threads() == {1}
    assert _blas_threads() == before


def test_nothing_changes_at_or_below_limit():
    before = _blas_threads()
    with blas.one_thread_above(blas.THREADED_MAX):
        assert _blas_threads() == before


def test_factorization_inside_matches_outside():
    # a small factorization under a lowered limit: the guard changes threads, not the answer
    # (one-thread and threaded dpotrf may differ in round-off: compare to 1e-12 relative, the
    # Cholesky's backward error at n = 64 is ~n * eps = 1.4e-14)
    rng = np.random.default_rng(0)
    g = rng.standard_normal((64, 64))
    a = g @ g.T + 64 * np.eye(64)
    with blas.one_thread_above(64, limit=1):
        low = scipy.linalg.cholesky(a, lower=True)
    np.testing.assert_allclose(low, scipy.linalg.cholesky(a, lower=True), rtol=1e-12, atol=1e-12)


def test_refuses_when_not_in_force(monkeypatch):
    import threadpoolctl

    fake = [{"user_api": "blas", "internal_api": "openblas", "version": "x", "num_threads": 2}]
    monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: fake)
    with pytest.raises(blas.BlasThreadError, match="one BLAS thread"):
        with blas.one_thread_above(10, limit=1):
            pass
