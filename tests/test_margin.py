"""Multi-class margin losses (losslab.classification.margin) against torch's MultiMarginLoss (live), Keras 3's
CategoricalHinge (stored: tests/data/keras.json and breadth.json) and hand-worked values."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from conftest import oracle_path
from losslab import CategoricalHingeLoss, MulticlassHingeLoss, categorical_hinge_loss, multiclass_hinge_loss

D = torch.float64


def _data(n=9, c=5, spatial=(), seed=0):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn((n, c, *spatial), generator=g, dtype=D) * 1.5
    index = torch.randint(0, c, (n, *spatial), generator=g)
    return scores, index


def _rows(x):
    """(N, C, *) -> (N * prod(*), C) with classes last, for torch's kernel."""
    return x.movedim(1, -1).reshape(-1, x.shape[1])


# ---------------------------------------------------------------------------------------------------------------
# multiclass hinge == torch.nn.MultiMarginLoss


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("margin", [0.5, 1.0, 2.0])
def test_multiclass_hinge_matches_torch(p, margin):
    scores, index = _data()
    for reduction in ("none", "mean", "sum"):
        torch.testing.assert_close(
            multiclass_hinge_loss(scores, index, p=p, margin=margin, reduction=reduction),
            F.multi_margin_loss(scores, index, p=p, margin=margin, reduction=reduction))
    # class weights: torch's "none" and "sum" (its "mean" divides by N, ours by the summed target weights)
    w = torch.tensor([1.0, 2.0, 0.5, 3.0, 0.0], dtype=D)
    for reduction in ("none", "sum"):
        torch.testing.assert_close(
            multiclass_hinge_loss(scores, index, p=p, margin=margin, class_weight=w, reduction=reduction),
            F.multi_margin_loss(scores, index, p=p, margin=margin, weight=w, reduction=reduction))
    torch.testing.assert_close(
        multiclass_hinge_loss(scores, index, p=p, margin=margin, class_weight=w),
        F.multi_margin_loss(scores, index, p=p, margin=margin, weight=w, reduction="sum") / w[index].sum())


def test_multiclass_hinge_spatial_and_ignore_index():
    scores, index = _data(n=3, spatial=(2, 4))
    expected = F.multi_margin_loss(_rows(scores), index.reshape(-1), p=2, reduction="none").reshape(3, 2, 4)
    torch.testing.assert_close(multiclass_hinge_loss(scores, index, p=2, reduction="none"), expected)
    ignored = index.clone()
    ignored[0] = -100
    torch.testing.assert_close(multiclass_hinge_loss(scores, ignored, p=2, ignore_index=-100), expected[1:].mean())
    # gradients agree with torch's kernel
    x1, x2 = scores.clone().requires_grad_(), _rows(scores).clone().requires_grad_()
    (g1,) = torch.autograd.grad(multiclass_hinge_loss(x1, index, reduction="sum"), x1)
    (g2,) = torch.autograd.grad(F.multi_margin_loss(x2, index.reshape(-1), reduction="sum"), x2)
    torch.testing.assert_close(_rows(g1), g2)


def test_multiclass_hinge_hand_value_errors_module():
    # scores (0.2, 0.3, 0.1), target 2: (max(0, 1 - 0.1 + 0.2) + max(0, 1 - 0.1 + 0.3)) / 3 = 2.3 / 3
    s = torch.tensor([[0.2, 0.3, 0.1]], dtype=D)
    torch.testing.assert_close(multiclass_hinge_loss(s, torch.tensor([2])), torch.tensor(2.3 / 3, dtype=D))
    scores, index = _data()
    with pytest.raises(ValueError, match="p: expected 1 or 2, got 3"):
        multiclass_hinge_loss(scores, index, p=3)
    with pytest.raises(ValueError, match=r"margin: expected a value in \[0, inf\)"):
        MulticlassHingeLoss(margin=-1.0)
    with pytest.raises(ValueError, match="target: multiclass_hinge_loss takes class indices"):
        multiclass_hinge_loss(scores, F.one_hot(index, 5).to(D))
    torch.testing.assert_close(MulticlassHingeLoss(p=2, margin=0.5)(scores, index),
                               multiclass_hinge_loss(scores, index, p=2, margin=0.5))


# ---------------------------------------------------------------------------------------------------------------
# categorical hinge == Keras' CategoricalHinge


def test_categorical_hinge_matches_keras_oracle():
    with open(oracle_path("keras.json")) as f:
        keras = json.load(f)
    case = next(c for c in keras["cases"] if c["name"] == "categorical_hinge")
    y = torch.tensor(keras["inputs"][case["y_true"]], dtype=D)
    s = torch.tensor(keras["inputs"][case["y_pred"]], dtype=D)
    ref = case["keras_tf_backend_float64"]
    torch.testing.assert_close(categorical_hinge_loss(s, y, reduction="none"),
                               torch.tensor(ref["per_sample_reduction_None"], dtype=D), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(categorical_hinge_loss(s, y.argmax(1)),
                               torch.tensor(ref["sum_over_batch_size"], dtype=D))
    sw = torch.tensor(keras["inputs"]["sample_weight"], dtype=D)
    torch.testing.assert_close(categorical_hinge_loss(s, y, sample_weight=sw, reduction="sum") / 4,
                               torch.tensor(ref["sample_weight_sum_over_batch_size"], dtype=D))


def test_categorical_hinge_keras_breadth_and_its_zero_quirk():
    with open(oracle_path("breadth.json")) as f:
        data = json.load(f)
    logits = torch.tensor(data["inputs"]["logits"], dtype=D)
    scores = torch.tensor(data["inputs"]["scores"], dtype=D)
    index = torch.tensor(data["inputs"]["index"])
    # softmax outputs (Keras' intended input): identical
    torch.testing.assert_close(categorical_hinge_loss(torch.softmax(logits, 1), index, reduction="none"),
                               torch.tensor(data["keras"]["categorical_hinge_probs"], dtype=D))
    # raw scores: identical except row 3, whose scores are all negative; Keras' max over (1 - y) * s is then 0
    keras = torch.tensor(data["keras"]["categorical_hinge_scores"], dtype=D)
    ours = categorical_hinge_loss(scores, index, reduction="none")
    rows = torch.arange(len(index)) != 3
    torch.testing.assert_close(ours[rows], keras[rows])
    s3, y3 = scores[3], index[3]
    best_other = torch.cat([s3[:y3], s3[y3 + 1:]]).max()
    torch.testing.assert_close(ours[3], torch.relu(1 + best_other - s3[y3]))
    torch.testing.assert_close(keras[3], torch.relu(1 + 0.0 - s3[y3]))
    assert ours[3] < keras[3]


def test_categorical_hinge_hand_values_and_options():
    s = torch.tensor([[2.0, 0.5, -1.0], [0.2, 0.3, 0.1], [-3.0, -1.0, -2.0]], dtype=D)
    y = torch.tensor([0, 2, 0])
    # 1 + 0.5 - 2 < 0 -> 0; 1 + 0.3 - 0.1 = 1.2; 1 + (-1) - (-3) = 3
    torch.testing.assert_close(categorical_hinge_loss(s, y, reduction="none"), torch.tensor([0.0, 1.2, 3.0], dtype=D))
    one_hot = F.one_hot(y, 3).to(D)
    torch.testing.assert_close(categorical_hinge_loss(s, one_hot, reduction="none"),
                               categorical_hinge_loss(s, y, reduction="none"))
    w = torch.tensor([2.0, 1.0, 0.5], dtype=D)
    torch.testing.assert_close(categorical_hinge_loss(s, y, class_weight=w),
                               torch.tensor((2 * 0 + 0.5 * 1.2 + 2 * 3) / 4.5, dtype=D))
    torch.testing.assert_close(categorical_hinge_loss(s, torch.tensor([0, 2, 255]), ignore_index=255),
                               torch.tensor(0.6, dtype=D))
    # spatial dims, gradients equal to the subgradient of the Crammer-Singer hinge
    scores, index = _data(n=2, spatial=(3,))
    x = scores.clone().requires_grad_()
    (g,) = torch.autograd.grad(categorical_hinge_loss(x, index, reduction="sum"), x)
    expected = torch.zeros_like(scores)
    for i in range(2):
        for j in range(3):
            sc, t = scores[i, :, j], index[i, j]
            others = sc.clone()
            others[t] = -torch.inf
            k = others.argmax()
            if 1 + sc[k] - sc[t] > 0:
                expected[i, k, j], expected[i, t, j] = 1.0, -1.0
    torch.testing.assert_close(g, expected)
    with pytest.raises(ValueError, match=r"target: expected values in \{0, 1\}"):
        categorical_hinge_loss(s, one_hot * 0.5)
    torch.testing.assert_close(CategoricalHingeLoss()(s, y), categorical_hinge_loss(s, y))
