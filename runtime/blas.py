"""Large dense factorizations with one BLAS thread: OpenBLAS's threaded Cholesky segfaults here.

Found 2026-12-05 running experiments.cnn_learning_curves at n = 16384 + 2048: the process died
with SIGSEGV inside LAPACK's dpotrf, called from scipy.linalg.cholesky and equally from
numpy.linalg.cholesky (both use the OpenBLAS 0.3.31 that numpy's wheel bundles,
libscipy_openblas64_). Measured on this 2-core host with a well-conditioned matrix
(0.5 everywhere, n added to the diagonal): 2 threads factor n = 8192 (2.5 s) and 12288 (7.4 s),
and segfault at 16384 and 18432, also with `ulimit -s unlimited`; 1 thread factors 18432 in
40.7 s. The same family as OpenMathLib/OpenBLAS#2562 (threaded dpotrf at 32768 with 2 threads:
bus errors and segfaults) and #2821 (dsyrk_thread inside dpotrf_U_parallel).

`one_thread_above(n)` is a context manager: for n above `THREADED_MAX` every BLAS/LAPACK
library in the process (threadpoolctl, pinned in uv.lock through scikit-learn) runs one
thread, checked in force (raises `BlasThreadError` if any library still reports more threads:
a silent crash is worse than a refusal); at or below, nothing changes, so results already
computed at smaller n keep their exact round-off.
"""

from __future__ import annotations

import contextlib

# Largest n measured to factor safely with the threaded dpotrf here (see the module docstring).
THREADED_MAX = 12288


class BlasThreadError(RuntimeError):
    pass


@contextlib.contextmanager
def one_thread_above(n: int, *, limit: int = THREADED_MAX):
    """One BLAS thread inside the block when the matrix order n exceeds limit."""
    if n <= limit:
        yield
        return
    from threadpoolctl import threadpool_info, threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        busy = [
            f"{i.get('internal_api')} {i.get('version')} ({i['num_threads']} threads)"
            for i in threadpool_info()
            if i.get("user_api") == "blas" and i["num_threads"] != 1
        ]
        if busy:
            raise BlasThreadError(
                f"a {n} x {n} factorization needs one BLAS thread (threaded OpenBLAS dpotrf "
                f"segfaults above n = {limit}; runtime/blas.py) but could not set it: "
                + ", ".join(busy)
            )
        yield
