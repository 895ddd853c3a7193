"""reduce_loss's denominator rule and its checks on normalizers and weights (issue 12, item 4), and the losses
that pass a normalizer through it (the IoU-balanced losses). Expected values are worked by hand."""

from __future__ import annotations

import inspect
import math

import pytest
import torch

import losslab
from losslab._reduction import reduce_loss

LOSS = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=torch.float64)  # sum 21


# ---------------------------------------------------------------------------------------------------------------
# the denominator rule: d if d > 0 else 1


@pytest.mark.parametrize("normalizer, expected", [
    (7.0, 3.0),
    (7, 3.0),
    (0.5, 42.0),  # a fractional denominator (a sum of soft weights) is used as it is
    (0.0, 21.0),  # no positives: the plain sum, as mmdetection's max(num_pos, 1)
    (0, 21.0),
    (torch.tensor(3.0), 7.0),
    (torch.tensor([3.0]), 7.0),  # a one-element tensor, result still a scalar
    (torch.tensor(0.0), 21.0),
    (torch.tensor(4), 5.25),  # an integer count
])
def test_normalizer_rule(normalizer, expected):
    out = reduce_loss(LOSS, "mean", normalizer=normalizer)
    assert out.shape == () and out.item() == pytest.approx(expected)


def test_normalizer_rule_is_max_n_1_for_counts():
    # for a non-negative integer count n the rule equals mmdetection's sum / max(n, 1)
    for n in range(0, 5):
        assert reduce_loss(LOSS, "mean", normalizer=n).item() == pytest.approx(21.0 / max(n, 1))


def test_normalizer_zero_keeps_the_gradient_of_the_sum():
    x = LOSS.clone().requires_grad_()
    reduce_loss(x * 2, "mean", normalizer=0).backward()
    assert torch.equal(x.grad, torch.full_like(x, 2.0))


def test_mean_over_nothing_is_still_zero():
    # all weights 0 or everything masked: the numerator is 0 too, so the rule gives 0 (not NaN)
    assert reduce_loss(LOSS, "mean", torch.zeros(3, 1, dtype=torch.float64)).item() == 0.0
    assert reduce_loss(LOSS, "mean", mask=torch.zeros(3, 2, dtype=torch.bool)).item() == 0.0
    assert reduce_loss(LOSS, "mean", mask=torch.zeros(3, 2, dtype=torch.bool), normalizer=0).item() == 0.0


def test_normalizer_ignored_by_sum_and_none():
    assert reduce_loss(LOSS, "sum", normalizer=7.0).item() == 21.0
    assert torch.equal(reduce_loss(LOSS, "none", normalizer=7.0), LOSS)


# ---------------------------------------------------------------------------------------------------------------
# rejected normalizers


@pytest.mark.parametrize("bad, message", [
    (-1.0, r"normalizer: expected a value in \[0, inf\), got -1"),
    (math.nan, "normalizer: expected a finite number, got nan"),
    (math.inf, "normalizer: expected a finite number, got inf"),
    (torch.tensor(-2.0), r"normalizer: expected values in \[0, inf\], got values in \[-2, -2\]"),
    (torch.tensor(math.nan), "normalizer: expected finite values, found NaN"),
    (torch.tensor([math.inf]), "normalizer: expected finite values, found inf"),
    (torch.tensor([1.0, 2.0]), r"normalizer: expected a number or a one-element tensor, got shape \(2,\)"),
])
def test_bad_normalizer_raises(bad, message):
    with pytest.raises(ValueError, match=message):
        reduce_loss(LOSS, "mean", normalizer=bad)


def test_normalizer_types():
    with pytest.raises(TypeError, match="normalizer: expected a number, got str"):
        reduce_loss(LOSS, "mean", normalizer="3")
    with pytest.raises(TypeError, match="normalizer: expected a number, got bool"):
        reduce_loss(LOSS, "mean", normalizer=True)
    with pytest.raises(TypeError, match="normalizer: expected a real tensor, got dtype torch.bool"):
        reduce_loss(LOSS, "mean", normalizer=torch.tensor(True))


def test_tensor_normalizer_value_check_follows_the_validation_switch():
    # with validation off a tensor is not read; a NaN normalizer then shows as a NaN loss, never a silent sum
    with losslab.validation(False):
        assert math.isnan(reduce_loss(LOSS, "mean", normalizer=torch.tensor(math.nan)).item())
        # a number is an argument, checked always
        with pytest.raises(ValueError, match="normalizer"):
            reduce_loss(LOSS, "mean", normalizer=-1.0)


# ---------------------------------------------------------------------------------------------------------------
# rejected weights


@pytest.mark.parametrize("value, message", [
    (-0.5, r"sample_weight: expected values in \[0, inf\], got values in \[-0.5, 1\]; weights must be non-negative"),
    (math.nan, "sample_weight: expected finite values, found NaN"),
    (math.inf, "sample_weight: expected finite values, found inf"),
])
def test_bad_weights_raise(value, message):
    w = torch.ones(3, 1, dtype=torch.float64)
    w[1] = value
    with pytest.raises(ValueError, match=message):
        reduce_loss(LOSS, "mean", w)
    with losslab.validation(False):
        reduce_loss(LOSS, "mean", w)  # a value check: skipped with validation off


def test_zero_weights_are_allowed():
    w = torch.tensor([[1.0], [0.0], [2.0]], dtype=torch.float64)
    assert reduce_loss(LOSS, "mean", w).item() == pytest.approx((1 + 2 + 2 * 11) / 6)


# ---------------------------------------------------------------------------------------------------------------
# the IoU-balanced losses go through the same rule and checks


def _det_batch():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 3, generator=g, dtype=torch.float64)
    target = torch.zeros(6, 3, dtype=torch.float64)
    target[0, 1] = target[2, 0] = target[3, 2] = 1.0
    ious = torch.rand(6, generator=g, dtype=torch.float64)
    return logits, target, ious


def test_iou_balanced_normalizer_rule():
    logits, target, ious = _det_batch()
    total = losslab.iou_balanced_sigmoid_focal_loss(logits, target, ious, reduction="sum")
    for n in (0, 0.0, torch.tensor(0.0)):  # no positives: the plain sum
        torch.testing.assert_close(losslab.iou_balanced_sigmoid_focal_loss(logits, target, ious, normalizer=n), total)
    torch.testing.assert_close(
        losslab.iou_balanced_sigmoid_focal_loss(logits, target, ious, normalizer=torch.tensor(3.0)), total / 3
    )


@pytest.mark.parametrize("loss", ["iou_balanced_sigmoid_focal_loss", "iou_balanced_smooth_l1_loss"])
@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, torch.tensor(-1.0), torch.tensor(math.nan)])
def test_iou_balanced_bad_normalizer_raises(loss, bad):
    logits, target, ious = _det_batch()
    if loss == "iou_balanced_smooth_l1_loss":
        logits, target, ious = logits[:, :2].repeat(1, 2), torch.zeros(6, 4, dtype=torch.float64), ious
    with pytest.raises(ValueError, match="normalizer: expected"):
        getattr(losslab, loss)(logits, target, ious, normalizer=bad)


def test_iou_balanced_softmax_needs_two_classes():
    # one class on dim 1: a softmax over one class is constant 0 (softmax cross-entropy raises too)
    with pytest.raises(ValueError, match=r"logits: expected at least 2 classes on dim 1 .*got shape \(4, 1\)"):
        losslab.iou_balanced_softmax_cross_entropy(torch.randn(4, 1), torch.zeros(4, dtype=torch.long), torch.rand(4))
    with pytest.raises(ValueError, match=r"logits: expected at least 2 classes on dim 1 .*got shape \(4, 0\)"):
        losslab.iou_balanced_softmax_cross_entropy(torch.randn(4, 0), torch.zeros(4, dtype=torch.long), torch.rand(4))


def test_iou_balanced_weight_shape_checked_before_use():
    logits, target, ious = _det_batch()
    fn = losslab.iou_balanced_sigmoid_focal_loss
    w = "sample_weight" if "sample_weight" in inspect.signature(fn).parameters else "weight"
    with pytest.raises(ValueError, match=r"weight: expected a shape broadcastable to the unreduced loss \(6, 3\)"):
        fn(logits, target, ious, **{w: torch.ones(5, 3)})


def test_target_class_weight_is_torch_class_weighted_mean():
    # oracle: F.cross_entropy(weight=...) divides by the summed weights of the targets' classes
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(7, 4, dtype=torch.float64, generator=g)
    target = torch.tensor([0, 1, 2, 3, -100, 1, 1])
    cw = torch.tensor([0.5, 2.0, 1.0, 3.0], dtype=torch.float64)
    expected = torch.nn.functional.cross_entropy(logits, target, weight=cw, ignore_index=-100)
    safe = target.clamp_min(0)
    tcw = cw[safe]
    nll = -logits.log_softmax(1).gather(1, safe[:, None]).squeeze(1) * tcw
    got = reduce_loss(nll, "mean", mask=target != -100, target_class_weight=tcw)
    torch.testing.assert_close(got, expected)
    # with per-sample weights: sum(u w l) / sum(u w)
    u = torch.rand(7, dtype=torch.float64, generator=g)
    m = (target != -100).double()
    torch.testing.assert_close(
        reduce_loss(nll, "mean", u, mask=target != -100, target_class_weight=tcw), (u * nll * m).sum() / (u * tcw * m).sum()
    )
    # "sum" and "none" ignore it; a normalizer overrides it
    torch.testing.assert_close(reduce_loss(nll, "sum", target_class_weight=tcw), nll.sum())
    torch.testing.assert_close(reduce_loss(nll, "mean", normalizer=2.0, target_class_weight=tcw), nll.sum() / 2)


def test_distributed_without_a_process_group_is_the_local_mean():
    loss = torch.tensor([1.0, 2.0, 3.0, 4.0])
    w = torch.tensor([1.0, 0.0, 1.0, 2.0])
    for kw in ({}, {"sample_weight": w}, {"normalizer": 3.0}, {"normalizer": torch.tensor(0.0)}):
        torch.testing.assert_close(reduce_loss(loss, distributed=True, **kw), reduce_loss(loss, **kw))
