"""MAPE and the cosine distance (losslab.scale_invariant) against Keras 3 and optax (stored values,
tests/data/breadth.json), torch (live) and hand-worked values."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from conftest import oracle_path
from losslab import (
    CosineSimilarityLoss,
    MeanAbsolutePercentageError,
    cosine_similarity_loss,
    mean_absolute_percentage_error,
)

D = torch.float64


@pytest.fixture(scope="module")
def oracle():
    with open(oracle_path("breadth.json")) as f:
        return json.load(f)


def _t(oracle, name):
    return torch.tensor(oracle["inputs"][name], dtype=D)


def test_mape_matches_keras(oracle):
    y, p = _t(oracle, "reg_true"), _t(oracle, "reg_pred")
    keras = torch.tensor(oracle["keras"]["mape"], dtype=D)  # mean over the last axis per row
    # Keras' torch backend rounds its float64 ops.mean through float32: agreement to 7e-8 relative
    torch.testing.assert_close(mean_absolute_percentage_error(p, y, reduction="none").mean(-1), keras,
                               rtol=1e-7, atol=0)
    torch.testing.assert_close(mean_absolute_percentage_error(p, y), keras.mean(), rtol=1e-7, atol=0)


def test_mape_hand_values_and_eps():
    p, y = torch.tensor([1.1, 1.5, -2.0, 3.0], dtype=D), torch.tensor([1.0, 2.0, -4.0, 0.0], dtype=D)
    expected = torch.tensor([10.0, 25.0, 50.0, 100 * 3.0 / 1e-7], dtype=D)
    torch.testing.assert_close(mean_absolute_percentage_error(p, y, reduction="none"), expected)
    torch.testing.assert_close(mean_absolute_percentage_error(p[3:], y[3:], eps=0.5), torch.tensor(600.0, dtype=D))
    # scale-invariant: scaling prediction and target together changes nothing
    torch.testing.assert_close(mean_absolute_percentage_error(7 * p[:3], 7 * y[:3]),
                               mean_absolute_percentage_error(p[:3], y[:3]))
    with pytest.raises(ValueError, match=r"eps: expected a value in \(0, inf\)"):
        mean_absolute_percentage_error(p, y, eps=0.0)
    with pytest.raises(ValueError, match="target: expected finite values"):
        mean_absolute_percentage_error(p, torch.full_like(y, float("nan")))
    torch.testing.assert_close(MeanAbsolutePercentageError(eps=1e-3)(p, y),
                               mean_absolute_percentage_error(p, y, eps=1e-3))


def test_cosine_matches_optax_keras_torch(oracle):
    p, y = _t(oracle, "vec_pred"), _t(oracle, "vec_true")
    ours = cosine_similarity_loss(p, y, reduction="none")
    torch.testing.assert_close(ours, torch.tensor(oracle["optax"]["cosine_distance"], dtype=D), rtol=1e-12, atol=1e-14)
    # Keras (-cos): its torch backend normalizes through float32, agreement to 7e-8
    torch.testing.assert_close(ours - 1, torch.tensor(oracle["keras"]["cosine_similarity"], dtype=D),
                               rtol=1e-7, atol=1e-7)
    torch.testing.assert_close(ours, 1 - F.cosine_similarity(p, y, dim=1))
    target = torch.ones(len(p), dtype=D)
    torch.testing.assert_close(cosine_similarity_loss(p, y), F.cosine_embedding_loss(p, y, target))


def test_cosine_dims_hand_values_and_zero_vector():
    pred = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0], [0.0, 0.0]], dtype=D, requires_grad=True)
    target = torch.tensor([[0.0, 1.0], [0.0, 1.0], [3.0, 0.0], [1.0, 1.0]], dtype=D)
    loss = cosine_similarity_loss(pred, target, reduction="none")
    torch.testing.assert_close(loss, torch.tensor([1.0, 0.0, 2.0, 1.0], dtype=D))
    (g,) = torch.autograd.grad(loss.sum(), pred)
    assert torch.isfinite(g).all()
    # channels-first images: dim=1, output (N, H, W); dim=-1 picks the last axis
    x, y = torch.randn(2, 3, 4, 5, dtype=D), torch.randn(2, 3, 4, 5, dtype=D)
    torch.testing.assert_close(cosine_similarity_loss(x, y, reduction="none"), 1 - F.cosine_similarity(x, y, dim=1))
    torch.testing.assert_close(cosine_similarity_loss(x, y, dim=-1, reduction="none"),
                               1 - F.cosine_similarity(x, y, dim=-1))
    # scale invariance of each argument separately
    torch.testing.assert_close(cosine_similarity_loss(3 * x, 0.5 * y), cosine_similarity_loss(x, y))
    assert torch.autograd.gradcheck(lambda z: cosine_similarity_loss(z, y), (x.clone().requires_grad_(),))
    with pytest.raises(ValueError, match=r"dim: expected a dimension of pred \(2, 3, 4, 5\)"):
        cosine_similarity_loss(x, y, dim=4)
    with pytest.raises(TypeError, match="dim: expected an int, got float"):
        CosineSimilarityLoss(dim=1.0)
    torch.testing.assert_close(CosineSimilarityLoss(dim=-1)(x, y), cosine_similarity_loss(x, y, dim=-1))
