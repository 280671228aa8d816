"""Image datasets that ship in registry packages, read from their files (nothing downloaded).

Fashion-MNIST comes from Debian's `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist: the
four idx files, gzipped); experiments locate the folder with experiments._lib.debian.require and
pass it here.
"""

from __future__ import annotations

import gzip
import pathlib

import numpy as np

FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def idx_images(path) -> np.ndarray:
    """(n, h * w) uint8 from a gzipped idx3-ubyte file."""
    with gzip.open(path) as f:
        raw = f.read()
    if raw[:4] != b"\x00\x00\x08\x03":
        raise ValueError(f"{path} is not an idx3 ubyte file")
    n, h, w = (int.from_bytes(raw[4 + 4 * k : 8 + 4 * k], "big") for k in range(3))
    return np.frombuffer(raw, np.uint8, offset=16).reshape(n, h * w)


def idx_labels(path) -> np.ndarray:
    """(n,) uint8 from a gzipped idx1-ubyte file."""
    with gzip.open(path) as f:
        raw = f.read()
    if raw[:4] != b"\x00\x00\x08\x01":
        raise ValueError(f"{path} is not an idx1 ubyte file")
    n = int.from_bytes(raw[4:8], "big")
    return np.frombuffer(raw, np.uint8, offset=8, count=n)


def fashion_mnist(folder, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 784) uint8, labels (n,) uint8) of the 'train' (60k) or 'test' (10k) split."""
    images, labels = (pathlib.Path(folder) / f for f in FASHION_FILES[split])
    x, y = idx_images(images), idx_labels(labels)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{images.name} and {labels.name} hold different counts")
    return x, y
