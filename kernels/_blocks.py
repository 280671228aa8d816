"""Block-size arithmetic shared by the Pallas kernels (padding a size to its block grid)."""

from __future__ import annotations


def round_up(n: int, k: int) -> int:
    """The smallest multiple of k that is >= n."""
    return -(-n // k) * k


def pow2(n: int) -> int:
    """The smallest power of two >= n (1 for n <= 1): Triton's block shapes are powers of two."""
    return 1 << max(0, (n - 1).bit_length())
