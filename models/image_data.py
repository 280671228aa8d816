"""Image datasets that ship in registry packages, read from their files (nothing downloaded).

Fashion-MNIST comes from Debian's `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist: the
four idx files, gzipped); experiments locate the folder with experiments._lib.debian.require and
pass it here.
"""

from __future__ import annotations

import gzip
import pathlib

import numpy as np

# (pixel values, pixels per image) and (train, test) sizes of the two image sets the PC experiments
# read: scikit-learn's digits (1797 8x8 images at 0..16, split 1497/300 by a fixed seeded
# permutation in experiments.pc_compression.load) and Fashion-MNIST (its own 60k/10k split).
SHAPES = {"digits": (17, 64), "fashion_mnist": (256, 784)}
SPLITS = {"digits": (1497, 300), "fashion_mnist": (60_000, 10_000)}

FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def _idx(path, ndim: int, what: str) -> np.ndarray:
    """The uint8 array of a gzipped idx file with `ndim` dimensions (magic 0x0000 08 ndim)."""
    with gzip.open(path) as f:
        raw = f.read()
    if raw[:4] != bytes((0, 0, 8, ndim)):
        raise ValueError(f"{path} is not an {what} ubyte file")
    shape = [int.from_bytes(raw[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim, count=int(np.prod(shape))).reshape(
        shape
    )


def idx_images(path) -> np.ndarray:
    """(n, h * w) uint8 from a gzipped idx3-ubyte file."""
    x = _idx(path, 3, "idx3")
    return x.reshape(x.shape[0], -1)


def idx_labels(path) -> np.ndarray:
    """(n,) uint8 from a gzipped idx1-ubyte file."""
    return _idx(path, 1, "idx1")


def fashion_mnist(folder, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 784) uint8, labels (n,) uint8) of the 'train' (60k) or 'test' (10k) split."""
    images, labels = (pathlib.Path(folder) / f for f in FASHION_FILES[split])
    x, y = idx_images(images), idx_labels(labels)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{images.name} and {labels.name} hold different counts")
    return x, y
