"""Tests for losslab.focal: sigmoid_focal_loss and softmax_focal_loss.

Oracles: torchvision 0.29.1 (``torchvision.json``) and Keras 3.15.1 (``keras.json``) reference values; torch.nn
(``F.binary_cross_entropy_with_logits``, ``F.cross_entropy``) in the gamma=0 limit; a float64 reference written
here from the paper's formula in probability space (Lin et al. 2017, eq. 5), and autograd of that reference for
the closed-form gradients.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

import losslab
from conftest import oracle_path
from losslab import _kernels
from losslab.focal import SigmoidFocalLoss, SoftmaxFocalLoss, sigmoid_focal_loss, softmax_focal_loss

F64 = torch.float64


def _load(name: str) -> dict:
    with open(oracle_path(name)) as f:
        return json.load(f)


# ---------------------------------------------------------------------------------------------------------------
# naive references from the paper's formula (probability space, float64; valid away from saturation)


def naive_sigmoid_focal(x, y, gamma, alpha):
    p = 1.0 / (1.0 + torch.exp(-x))
    p_t = p * y + (1 - p) * (1 - y)
    ce = -(y * torch.log(p) + (1 - y) * torch.log(1 - p))
    loss = (1 - p_t) ** gamma * ce
    if alpha is not None:
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    return loss


def naive_softmax_focal(x, y_dense, gamma, alpha):
    p = torch.exp(x) / torch.exp(x).sum(1, keepdim=True)
    a = 1.0 if alpha is None else alpha
    if isinstance(alpha, torch.Tensor):
        a = alpha.reshape((1, -1) + (1,) * (x.ndim - 2))
    return -(a * y_dense * (1 - p) ** gamma * torch.log(p)).sum(1)


def one_hot(t, c):
    return F.one_hot(t, c).movedim(-1, 1).to(F64)


# ---------------------------------------------------------------------------------------------------------------
# torchvision oracle (sigmoid focal loss)


def _tv():
    d = _load("torchvision.json")
    inp = d["inputs"]
    x = torch.tensor(inp["focal_logits_3x5"], dtype=F64)
    t = torch.tensor(inp["focal_targets_3x5"], dtype=F64)
    soft = torch.tensor(inp["focal_soft_targets_3x5"], dtype=F64)
    return d["sigmoid_focal_loss"], x, t, soft


def test_sigmoid_matches_torchvision_values_reductions_and_gradients():
    settings, x, t, soft = _tv()
    assert len(settings) == 5
    for s in settings:
        alpha = None if s["alpha"] < 0 else s["alpha"]  # torchvision's alpha=-1 sentinel is our None
        kw = dict(gamma=s["gamma"], alpha=alpha)
        xg = x.clone().requires_grad_()
        none = sigmoid_focal_loss(xg, t, **kw, reduction="none")
        # atol: at logit -30 the cross-entropy log(1 + e^-30) = 9.4e-14 is accurate to one ulp of 1 in both
        # torchvision and here (the precision of F.binary_cross_entropy_with_logits), i.e. to ~1% relative
        torch.testing.assert_close(none, torch.tensor(s["reduction_none_float64"], dtype=F64), rtol=1e-6, atol=1e-15)
        (grad,) = torch.autograd.grad(none.sum(), xg)
        expected_grad = torch.tensor(s["grad_wrt_logits_of_sum_float64"], dtype=F64)
        torch.testing.assert_close(grad, expected_grad, rtol=1e-6, atol=1e-12)
        torch.testing.assert_close(sigmoid_focal_loss(x, t, **kw), torch.tensor(s["reduction_mean_float64"], dtype=F64))
        torch.testing.assert_close(
            sigmoid_focal_loss(x, t, **kw, reduction="sum"), torch.tensor(s["reduction_sum_float64"], dtype=F64)
        )
        torch.testing.assert_close(
            sigmoid_focal_loss(x, soft, **kw, reduction="none"),
            torch.tensor(s["soft_targets_reduction_none_float64"], dtype=F64), rtol=1e-6, atol=1e-12,
        )
        torch.testing.assert_close(
            sigmoid_focal_loss(x.float(), t.float(), **kw, reduction="none"),
            torch.tensor(s["reduction_none_float32"], dtype=torch.float32), rtol=1e-5, atol=1e-6,
        )


def test_sigmoid_tiny_losses_have_absolute_accuracy():
    # confident and right: loss = alpha_t p^gamma log1p(e^-|x|), worked out by hand; accurate to ~1 ulp of 1
    x = torch.tensor([-12.0, 12.0, -30.0], dtype=F64)
    y = torch.tensor([0.0, 1.0, 0.0], dtype=F64)
    p = 1.0 / (1.0 + math.exp(12.0))
    expected = torch.tensor([0.5 * p**0.5 * math.log1p(p / (1 - p))] * 2 + [0.0], dtype=F64)
    torch.testing.assert_close(
        sigmoid_focal_loss(x, y, gamma=0.5, alpha=0.5, reduction="none"), expected, rtol=1e-9, atol=1e-16
    )


# ---------------------------------------------------------------------------------------------------------------
# Keras oracle. Keras takes probabilities and clips them to [1e-7, 1 - 1e-7]; the fixtures' probabilities lie in
# [1/1024, 1023/1024], so the clip is inactive and we feed the exact logits log(p) - log(1 - p) (softmax: log p).
# Keras' per-sample value is the mean (binary) or sum (categorical) over the last axis.


def _keras():
    d = _load("keras.json")
    return d["inputs"], {c["name"]: c for c in d["cases"]}


@pytest.mark.parametrize(
    "case, kwargs, smoothing",
    [
        ("binary_focal_gamma2_probs", dict(gamma=2.0, alpha=None), 0.0),
        ("binary_focal_gamma2_balanced_alpha0.25_probs", dict(gamma=2.0, alpha=0.25), 0.0),
        ("binary_focal_gamma2_logits", dict(gamma=2.0, alpha=None), 0.0),
        ("binary_focal_gamma2_balanced_alpha0.25_logits", dict(gamma=2.0, alpha=0.25), 0.0),
        ("binary_focal_gamma2_probs_ls0.1", dict(gamma=2.0, alpha=None), 0.1),
        ("binary_focal_gamma0_probs(=bce)", dict(gamma=0.0, alpha=None), 0.0),
    ],
)
def test_sigmoid_matches_keras_binary_focal(case, kwargs, smoothing):
    inp, cases = _keras()
    c = cases[case]
    y = torch.tensor(inp[c["y_true"]], dtype=F64)
    pred = torch.tensor(inp[c["y_pred"]], dtype=F64)
    assert pred.min() >= 1 / 1024 and pred.max() <= 1023 / 1024 or c["y_pred"] == "bin_logit"
    x = pred if c["y_pred"] == "bin_logit" else torch.log(pred) - torch.log1p(-pred)
    y = y * (1 - smoothing) + 0.5 * smoothing  # Keras' binary label smoothing, a soft target here
    ref = c["keras_tf_backend_float64"]
    per_sample = sigmoid_focal_loss(x, y, **kwargs, reduction="none").mean(-1)
    torch.testing.assert_close(per_sample, torch.tensor(ref["per_sample_reduction_None"], dtype=F64), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(sigmoid_focal_loss(x, y, **kwargs), torch.tensor(ref["sum_over_batch_size"], dtype=F64))
    ref32 = c["keras_torch_backend_float32"]
    per_sample32 = sigmoid_focal_loss(x.float(), y.float(), **kwargs, reduction="none").mean(-1)
    torch.testing.assert_close(per_sample32, torch.tensor(ref32["per_sample_reduction_None"]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "case, kwargs, smoothing",
    [
        ("categorical_focal_default_probs", dict(gamma=2.0, alpha=0.25), 0.0),
        ("categorical_focal_default_logits", dict(gamma=2.0, alpha=0.25), 0.0),
        ("categorical_focal_alpha1_gamma0_probs(=cce)", dict(gamma=0.0, alpha=1.0), 0.0),
        ("categorical_focal_probs_ls0.1", dict(gamma=2.0, alpha=0.25), 0.1),
    ],
)
def test_softmax_matches_keras_categorical_focal(case, kwargs, smoothing):
    inp, cases = _keras()
    c = cases[case]
    y = torch.tensor(inp[c["y_true"]], dtype=F64)
    pred = torch.tensor(inp[c["y_pred"]], dtype=F64)
    x = pred if c["y_pred"] == "cat_logit" else torch.log(pred)  # rows sum to 1 exactly: softmax(log p) = p
    dense = y * (1 - smoothing) + smoothing / y.shape[1]
    expected = torch.tensor(c["keras_tf_backend_float64"]["per_sample_reduction_None"], dtype=F64)
    torch.testing.assert_close(softmax_focal_loss(x, dense, **kwargs, reduction="none"), expected, rtol=1e-9, atol=1e-12)
    if smoothing == 0.0:  # the same loss from class indices
        idx = torch.tensor(inp["cat_idx"])
        assert torch.equal(y.argmax(1), idx)
        torch.testing.assert_close(softmax_focal_loss(x, idx, **kwargs, reduction="none"), expected, rtol=1e-9, atol=1e-12)
    expected32 = torch.tensor(c["keras_torch_backend_float32"]["per_sample_reduction_None"])
    got32 = softmax_focal_loss(x.float(), dense.float(), **kwargs, reduction="none")
    torch.testing.assert_close(got32, expected32, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------------------------
# limit cases against torch.nn


def test_sigmoid_gamma0_no_alpha_is_bce_with_logits():
    x = torch.randn(7, 5, dtype=F64) * 3
    y = torch.rand(7, 5, dtype=F64)
    w = torch.rand(7, 1, dtype=F64)
    for red in ("none", "sum", "mean"):
        torch.testing.assert_close(
            sigmoid_focal_loss(x, y, gamma=0.0, alpha=None, sample_weight=w, reduction=red),
            F.binary_cross_entropy_with_logits(x, y, reduction=red if red != "mean" else "sum", weight=w)
            / (w.expand_as(x).sum() if red == "mean" else 1.0),
        )


def test_sigmoid_gamma0_with_alpha_is_alpha_balanced_bce():
    x = torch.randn(6, 4, dtype=F64) * 3
    y = (torch.rand(6, 4) < 0.4).to(F64)
    alpha_t = 0.3 * y + 0.7 * (1 - y)
    torch.testing.assert_close(
        sigmoid_focal_loss(x, y, gamma=0.0, alpha=0.3, reduction="none"),
        F.binary_cross_entropy_with_logits(x, y, weight=alpha_t, reduction="none"),
    )


def test_softmax_gamma0_no_alpha_is_cross_entropy_with_ignore_index():
    x = torch.randn(5, 4, 3, dtype=F64) * 3
    t = torch.randint(0, 4, (5, 3))
    t[0, 0] = t[2, 1] = -100
    torch.testing.assert_close(
        softmax_focal_loss(x, t, gamma=0.0, ignore_index=-100), F.cross_entropy(x, t, ignore_index=-100)
    )
    torch.testing.assert_close(
        softmax_focal_loss(x, t, gamma=0.0, ignore_index=-100, reduction="none"),
        F.cross_entropy(x, t, ignore_index=-100, reduction="none"),
    )
    dense = torch.softmax(torch.randn(5, 4, 3, dtype=F64), 1)  # soft targets: CE with probabilities
    torch.testing.assert_close(softmax_focal_loss(x, dense, gamma=0.0), F.cross_entropy(x, dense))


def test_softmax_gamma0_alpha_tensor_is_weighted_cross_entropy_per_position():
    x = torch.randn(8, 5, dtype=F64) * 2
    t = torch.randint(0, 5, (8,))
    a = torch.rand(5, dtype=F64)
    expected = F.cross_entropy(x, t, weight=a, reduction="none")
    torch.testing.assert_close(softmax_focal_loss(x, t, gamma=0.0, alpha=a, reduction="none"), expected)
    # F.cross_entropy's weighted mean divides by sum(alpha[t]): ours with sample_weight=alpha[t] and alpha=None
    torch.testing.assert_close(softmax_focal_loss(x, t, gamma=0.0, sample_weight=a[t]), F.cross_entropy(x, t, weight=a))
    # a float alpha multiplies every class (Keras), not "1 - alpha for class 0"
    torch.testing.assert_close(
        softmax_focal_loss(x, t, gamma=0.0, alpha=0.25, reduction="none"), 0.25 * F.cross_entropy(x, t, reduction="none")
    )


# ---------------------------------------------------------------------------------------------------------------
# naive float64 reference on a parameter grid, and custom gradients == autograd of that reference

GAMMAS = [0.0, 0.5, 1.0, 2.0, 3.5]


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("alpha", [None, 0.25, 0.75])
def test_sigmoid_equals_paper_formula_and_its_gradients(gamma, alpha):
    g = torch.Generator().manual_seed(int(gamma * 10) + (0 if alpha is None else int(alpha * 100)))
    x = (torch.rand(40, 3, generator=g, dtype=F64) * 16 - 8).requires_grad_()
    hard = (torch.rand(40, 3, generator=g) < 0.5).to(F64)
    soft = torch.rand(40, 3, generator=g, dtype=F64)
    for y in (hard, soft.clone().requires_grad_()):
        ours = sigmoid_focal_loss(x, y, gamma=gamma, alpha=alpha, reduction="none")
        ref = naive_sigmoid_focal(x, y, gamma, alpha)
        torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-13)
        v = torch.rand(ours.shape, generator=g, dtype=F64)  # a non-uniform incoming gradient
        inputs = (x, y) if y.requires_grad else (x,)
        for a, b in zip(torch.autograd.grad(ours, inputs, v), torch.autograd.grad(ref, inputs, v)):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("gamma", GAMMAS)
def test_softmax_equals_paper_formula_and_its_gradients(gamma):
    g = torch.Generator().manual_seed(int(gamma * 10))
    x = (torch.randn(6, 5, 2, generator=g, dtype=F64) * 3).requires_grad_()
    t = torch.randint(0, 5, (6, 2), generator=g)
    soft = torch.softmax(torch.randn(6, 5, 2, generator=g, dtype=F64) * 2, 1).requires_grad_()
    v = torch.rand(6, 2, generator=g, dtype=F64)
    for alpha in (None, 0.5, torch.rand(5, generator=g, dtype=F64)):
        for y, dense in ((t, one_hot(t, 5)), (soft, soft)):
            ours = softmax_focal_loss(x, y, gamma=gamma, alpha=alpha, reduction="none")
            ref = naive_softmax_focal(x, dense, gamma, alpha)
            torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-13)
            inputs = (x, soft) if y is soft else (x,)
            for a, b in zip(torch.autograd.grad(ours, inputs, v), torch.autograd.grad(ref, inputs, v)):
                torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_large_inputs_use_blocks_and_still_match_the_reference():
    # more elements than one eager block: exercises the chunked kernels (and a materialized incoming gradient)
    n = _kernels._CHUNK * 2 + 123
    x = (torch.randn(n, dtype=F64) * 4).requires_grad_()
    y = torch.rand(n, dtype=F64)
    w = torch.rand(n, dtype=F64)
    for weight in (None, w):
        ours = sigmoid_focal_loss(x, y, gamma=0.5, sample_weight=weight, reduction="sum")
        ref = (naive_sigmoid_focal(x, y, 0.5, 0.25) * (1 if weight is None else weight)).sum()
        torch.testing.assert_close(ours, ref)
        torch.testing.assert_close(torch.autograd.grad(ours, x)[0], torch.autograd.grad(ref, x)[0])
    rows = _kernels._ROW_CHUNK // 7 * 3 + 5
    xs = (torch.randn(rows, 7, dtype=F64) * 3).requires_grad_()
    t = torch.randint(0, 7, (rows,))
    soft = torch.softmax(torch.randn(rows, 7, dtype=F64), 1)
    for y, dense in ((t, one_hot(t, 7)), (soft, soft)):
        ours = softmax_focal_loss(xs, y, gamma=2.0)
        ref = naive_softmax_focal(xs, dense, 2.0, None).mean()
        torch.testing.assert_close(ours, ref)
        torch.testing.assert_close(torch.autograd.grad(ours, xs)[0], torch.autograd.grad(ref, xs)[0])


# ---------------------------------------------------------------------------------------------------------------
# gradcheck (float64), extremes, dtypes


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_gradcheck(gamma):
    x = torch.randn(4, 3, dtype=F64, requires_grad=True)
    y = torch.rand(4, 3, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: sigmoid_focal_loss(a, b, gamma=gamma, reduction="none"), (x, y))
    xs = torch.randn(3, 4, 2, dtype=F64, requires_grad=True)
    t = torch.randint(0, 4, (3, 2))
    t[0, 1] = -1
    alpha = torch.tensor([0.1, 0.4, 1.0, 2.0], dtype=F64)
    assert torch.autograd.gradcheck(
        lambda a: softmax_focal_loss(a, t, gamma=gamma, alpha=alpha, ignore_index=-1, reduction="none"), (xs,)
    )
    soft = torch.softmax(torch.randn(3, 4, 2, dtype=F64), 1).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: softmax_focal_loss(a, b, gamma=gamma, alpha=alpha), (xs, soft))


def test_second_derivatives_are_refused_not_wrong():
    x = torch.randn(5, requires_grad=True)
    # the CPU fast path is first order only: differentiating it again raises, naming the loss and the way out
    with pytest.raises(RuntimeError, match=r"sigmoid_focal_loss: the CPU fast path gives first derivatives only"):
        torch.autograd.grad(sigmoid_focal_loss(x, torch.rand(5)), x, create_graph=True)
    # the reference path has exact second derivatives
    x64 = torch.randn(5, dtype=F64, requires_grad=True)
    y64 = torch.rand(5, dtype=F64)
    with losslab.fast_paths(False):
        assert torch.autograd.gradgradcheck(lambda a: sigmoid_focal_loss(a, y64, gamma=1.5), (x64,))
        logits = torch.randn(4, 3, dtype=F64, requires_grad=True)
        assert torch.autograd.gradgradcheck(lambda a: softmax_focal_loss(a, torch.tensor([0, 2, 1, 1]), gamma=1.5), (logits,))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("scale", [100.0, 1e4])
def test_finite_loss_and_gradient_at_extreme_logits(dtype, gamma, scale):
    x = torch.tensor([scale, -scale, scale, -scale, 0.0], dtype=dtype, requires_grad=True)
    y = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5], dtype=dtype)
    loss = sigmoid_focal_loss(x, y, gamma=gamma, alpha=None, reduction="none")
    (grad,) = torch.autograd.grad(loss.sum(), x)
    assert torch.isfinite(loss).all() and torch.isfinite(grad).all()
    # confident and right: 0 loss, 0 gradient; confident and wrong: loss = |x|, gradient = +-1 (q = 1)
    torch.testing.assert_close(loss[:4], torch.tensor([0.0, 0.0, scale, scale], dtype=dtype))
    torch.testing.assert_close(grad[:4], torch.tensor([0.0, 0.0, 1.0, -1.0], dtype=dtype))
    xs = torch.tensor([[scale, -scale, 0.0], [-scale, scale, 0.0]], dtype=dtype, requires_grad=True)
    for target in (torch.tensor([0, 0]), F.one_hot(torch.tensor([0, 0]), 3).to(dtype)):
        loss = softmax_focal_loss(xs, target, gamma=gamma, reduction="none")
        (grad,) = torch.autograd.grad(loss.sum(), xs)
        assert torch.isfinite(loss).all() and torch.isfinite(grad).all()
        torch.testing.assert_close(loss, torch.tensor([0.0, 2 * scale], dtype=dtype))
        torch.testing.assert_close(grad[1], torch.tensor([-1.0, 1.0, 0.0], dtype=dtype))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_computed_in_float32(dtype):
    x = (torch.randn(16, 5) * 3).to(dtype)
    y = torch.rand(16, 5).to(dtype)
    out = sigmoid_focal_loss(x, y, reduction="none")
    assert out.dtype == dtype
    torch.testing.assert_close(out, sigmoid_focal_loss(x.float(), y.float(), reduction="none").to(dtype))
    t = torch.randint(0, 5, (16,))
    outs = softmax_focal_loss(x, t, alpha=0.5)
    assert outs.dtype == dtype
    torch.testing.assert_close(outs, softmax_focal_loss(x.float(), t, alpha=0.5).to(dtype))
    xg = x.clone().requires_grad_()
    (grad,) = torch.autograd.grad(softmax_focal_loss(xg, t).float(), xg)
    assert grad.dtype == dtype and torch.isfinite(grad).all()


# ---------------------------------------------------------------------------------------------------------------
# ignore_index


def test_all_ignored_is_zero_with_zero_gradient():
    x = torch.randn(4, 3, requires_grad=True)
    t = torch.full((4,), 255)
    for red in ("mean", "sum"):
        loss = softmax_focal_loss(x, t, ignore_index=255, reduction=red)
        (grad,) = torch.autograd.grad(loss, x)
        assert loss.item() == 0.0 and torch.equal(grad, torch.zeros_like(x))
    none = softmax_focal_loss(x, t, ignore_index=255, reduction="none")
    assert torch.equal(none, torch.zeros(4))


def test_ignored_positions_change_nothing():
    x = torch.randn(6, 4, dtype=F64)
    t = torch.tensor([0, 3, 255, 1, 255, 2])
    keep = t != 255
    torch.testing.assert_close(softmax_focal_loss(x, t, ignore_index=255), softmax_focal_loss(x[keep], t[keep]))
    xg = x.clone().requires_grad_()
    (grad,) = torch.autograd.grad(softmax_focal_loss(xg, t, ignore_index=255, reduction="sum"), xg)
    assert torch.equal(grad[~keep], torch.zeros(2, 4, dtype=F64))


# ---------------------------------------------------------------------------------------------------------------
# modules


def test_modules_equal_functions_and_hold_alpha_as_buffer():
    x = torch.randn(5, 3)
    y = torch.rand(5, 3)
    torch.testing.assert_close(SigmoidFocalLoss(gamma=0.5, alpha=None)(x, y), sigmoid_focal_loss(x, y, gamma=0.5, alpha=None))
    assert "gamma=0.5, alpha=None" in repr(SigmoidFocalLoss(gamma=0.5, alpha=None))
    alpha = torch.tensor([0.2, 0.3, 0.5])
    module = SoftmaxFocalLoss(gamma=1.0, alpha=alpha, ignore_index=-1, reduction="sum")
    t = torch.tensor([0, 2, -1, 1, 1])
    torch.testing.assert_close(
        module(x, t), softmax_focal_loss(x, t, gamma=1.0, alpha=alpha, ignore_index=-1, reduction="sum")
    )
    assert "alpha" in module.state_dict()
    assert module.double().alpha.dtype == F64
    assert "alpha=tensor(shape=(3,)" in repr(module)
    assert losslab.SoftmaxFocalLoss is SoftmaxFocalLoss and losslab.sigmoid_focal_loss is sigmoid_focal_loss


# ---------------------------------------------------------------------------------------------------------------
# bad input, messages pinned


def test_bad_hyperparameters():
    x, y = torch.randn(3, 2), torch.rand(3, 2)
    with pytest.raises(ValueError, match=r"gamma: expected a value in \[0, inf\), got -1"):
        sigmoid_focal_loss(x, y, gamma=-1.0)
    with pytest.raises(ValueError, match=r"alpha: expected a value in \[0, 1\], got 1.5"):
        sigmoid_focal_loss(x, y, alpha=1.5)
    with pytest.raises(ValueError, match=r"alpha: expected a value in \[0, 1\], got -1"):
        sigmoid_focal_loss(x, y, alpha=-1.0)  # no sentinel: None disables
    with pytest.raises(ValueError, match=r"gamma: expected a value in \[0, inf\), got -0.5"):
        SoftmaxFocalLoss(gamma=-0.5)
    with pytest.raises(ValueError, match=r"alpha: expected a value in \[0, 1\], got 2"):
        SigmoidFocalLoss(alpha=2.0)
    with pytest.raises(ValueError, match=r"alpha: expected a per-class tensor of shape \(2,\), one value per class on dim 1, got \(3,\)"):
        softmax_focal_loss(x, torch.tensor([0, 1, 1]), alpha=torch.ones(3))
    with pytest.raises(ValueError, match=r"alpha: expected values in \[0, inf\]"):
        softmax_focal_loss(x, torch.tensor([0, 1, 1]), alpha=torch.tensor([1.0, -0.5]))
    with pytest.raises(TypeError, match="gamma: expected a number, got str"):
        sigmoid_focal_loss(x, y, gamma="2")


def test_bad_targets_and_shapes():
    x = torch.randn(3, 2)
    with pytest.raises(ValueError, match=r"target: expected values in \[0, 1\], got values in \[0, 2\]; sigmoid_focal_loss"):
        sigmoid_focal_loss(x, torch.tensor([[0.0, 1.0], [2.0, 0.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match=r"target: expected the same shape as logits \(3, 2\), got \(3,\)"):
        sigmoid_focal_loss(x, torch.rand(3))
    with pytest.raises(TypeError, match="target: expected a floating-point tensor, got dtype torch.int64"):
        sigmoid_focal_loss(x, torch.ones(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"target: expected class indices in \[0, 1\], got values in \[0, 2\]"):
        softmax_focal_loss(x, torch.tensor([0, 2, 1]))
    with pytest.raises(TypeError, match="target: class indices of shape \\(3,\\) must have an integer dtype"):
        softmax_focal_loss(x, torch.tensor([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="logits: expected at least 2 classes on dim 1, got shape \\(3, 1\\)"):
        softmax_focal_loss(torch.randn(3, 1), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="ignore_index: only applies to class-index targets"):
        softmax_focal_loss(x, torch.rand(3, 2), ignore_index=0)
    with pytest.raises(ValueError, match="target: expected finite values, found NaN"):
        sigmoid_focal_loss(x, torch.tensor([[0.0, float("nan")], [1.0, 0.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="reduction: expected one of"):
        softmax_focal_loss(x, torch.tensor([0, 1, 1]), reduction="avg")


def test_value_checks_can_be_switched_off():
    x = torch.randn(3, 2)
    with losslab.validation(False):
        out = sigmoid_focal_loss(x, torch.full((3, 2), 2.0), reduction="none")  # not checked, computed as given
    assert out.shape == (3, 2)


# ---------------------------------------------------------------------------------------------------------------
# layouts and torch.compile


def test_non_contiguous_inputs():
    n = _kernels._CHUNK // 4 + 7  # the transposed tensor spans several eager blocks
    x = (torch.randn(8, n, dtype=F64) * 3).t().requires_grad_()
    y = torch.rand(8, n, dtype=F64).t()
    ours = sigmoid_focal_loss(x, y, gamma=0.5)
    ref = naive_sigmoid_focal(x, y, 0.5, 0.25).mean()
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(torch.autograd.grad(ours, x)[0], torch.autograd.grad(ref, x)[0])
    xs = torch.randn(3, 6, 5, 4, dtype=F64).to(memory_format=torch.channels_last).requires_grad_()
    t = torch.randint(0, 6, (3, 5, 4))
    ours = softmax_focal_loss(xs, t)
    ref = naive_softmax_focal(xs, one_hot(t, 6), 2.0, None).mean()
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(torch.autograd.grad(ours, xs)[0], torch.autograd.grad(ref, xs)[0])


def test_compiles_fullgraph_through_the_autograd_functions():
    torch._dynamo.reset()
    x = torch.randn(6, 4, 3, requires_grad=True)
    soft = torch.softmax(torch.randn(6, 4, 3), 1)
    y = torch.rand(6, 4, 3)

    def both(a):
        return softmax_focal_loss(a, soft, gamma=0.5, alpha=0.5) + sigmoid_focal_loss(a, y, gamma=0.5)

    compiled = torch.compile(both, backend="aot_eager", fullgraph=True)
    (g_compiled,) = torch.autograd.grad(compiled(x), x)
    (g_eager,) = torch.autograd.grad(both(x), x)
    torch.testing.assert_close(g_compiled, g_eager)


# ---------------------------------------------------------------------------------------------------------------
# issue 12: regressions


def _sigmoid_focal_reference(x: torch.Tensor, y: torch.Tensor, gamma: float, alpha: float | None) -> torch.Tensor:
    """Lin et al. (2017) eq. 5 with soft targets, float64: -alpha_t (1 - p_t)^gamma [y log p + (1-y) log(1-p)]."""
    log_p, log_1mp = F.logsigmoid(x), F.logsigmoid(-x)
    p = torch.sigmoid(x)
    one_minus_pt = p * (1 - y) + (1 - p) * y
    loss = -(one_minus_pt**gamma) * (y * log_p + (1 - y) * log_1mp)
    return loss if alpha is None else loss * (alpha * y + (1 - alpha) * (1 - y))


@pytest.mark.parametrize("gamma", [0.26, 0.5, 2.0])
@pytest.mark.parametrize("alpha", [None, 0.25])
def test_sigmoid_focal_soft_target_gradient_at_confident_logits_float32(gamma, alpha):
    # Issue 12 item 6: the cross-entropy was -log(sigmoid(|x|)), exact only to one ulp of 1, and the closed-form
    # gradients divide it by 1 - p_t; at |x| > 16 in float32 it rounded to 0 and d loss / d target was 1.4-3 % off
    # (logit -16.6, target 0, gamma 0.26, alpha None: 0.2284 instead of 0.22513).
    x64 = torch.tensor([-16.6, 16.6, -20.0, 17.0, -30.0, 40.0, -80.0, 12.0, -9.0], dtype=F64)
    y64 = torch.tensor([0.0, 1.0, 0.0, 1.0, 1e-3, 0.999, 0.0, 0.7, 0.3], dtype=F64)
    x32, y32 = x64.float().requires_grad_(), y64.float().requires_grad_()
    loss = sigmoid_focal_loss(x32, y32, gamma=gamma, alpha=alpha, reduction="none")
    gx, gy = torch.autograd.grad(loss.sum(), (x32, y32))
    # the float32 inputs are the float64 ones rounded; the reference at the rounded inputs:
    xq, yq = x32.detach().double().requires_grad_(), y32.detach().double().requires_grad_()
    refq = _sigmoid_focal_reference(xq, yq, gamma, alpha)
    gxq, gyq = torch.autograd.grad(refq.sum(), (xq, yq))
    tiny = 1e-37  # below this float32 underflows (the reference at logit -80 is 1e-105)
    torch.testing.assert_close(loss.double(), refq.detach(), rtol=2e-6, atol=tiny)
    torch.testing.assert_close(gx.double(), gxq, rtol=2e-6, atol=tiny)
    torch.testing.assert_close(gy.double(), gyq, rtol=2e-6, atol=tiny)
    if alpha is None and gamma == 0.26:
        assert abs(gy[0].item() - 0.22513476) < 1e-6


def test_softmax_focal_logits_at_float_range_give_no_nan():
    # Issue 12 item 7: log p = -inf where logits differ by more than the float range; 0 * -inf was NaN.
    x = torch.tensor([[3e38, -3e38, 0.0]], requires_grad=True)
    for target, expected in ((torch.tensor([[1.0, 0.0, 0.0]]), 0.0), (torch.tensor([[0.5, 0.0, 0.5]]), 1.5e38)):
        for gamma in (0.0, 0.5, 2.0):
            loss = softmax_focal_loss(x, target, gamma=gamma)
            (g,) = torch.autograd.grad(loss, x)
            torch.testing.assert_close(loss, torch.tensor(expected), rtol=1e-6, atol=0)
            torch.testing.assert_close(g, torch.tensor([[0.0, 0.0, 0.0]]) if expected == 0 else torch.tensor([[0.5, 0.0, -0.5]]))
    # a target on the class whose log-probability overflows: the most negative finite value; the CPU fast path
    # (index targets) gives the exact gradient, the reference (dense targets, other devices) the clamp's, finite
    for target in (torch.tensor([[0.0, 1.0, 0.0]]), torch.tensor([1])):
        loss = softmax_focal_loss(x, target, gamma=0.5)
        (g,) = torch.autograd.grad(loss, x)
        assert loss.item() == torch.finfo(torch.float32).max
        assert torch.isfinite(g).all()
        if target.ndim == 1:
            torch.testing.assert_close(g, torch.tensor([[1.0, -1.0, 0.0]]))


# ---------------------------------------------------------------------------------------------------------------
# options users expect (issue 15) and torch.func (issue 14)


def test_sigmoid_focal_pos_weight_is_torchs():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(6, 4, generator=g, dtype=F64) * 3
    y = (torch.rand(6, 4, generator=g, dtype=F64) > 0.5).to(F64)
    pw = torch.tensor([1.0, 2.0, 0.5, 4.0], dtype=F64)
    for fast in (True, False):
        with losslab.fast_paths(fast):
            ours = sigmoid_focal_loss(x, y, gamma=0.0, alpha=None, pos_weight=pw, reduction="none")
        torch.testing.assert_close(ours, F.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="none"))
    # with focusing: pos_weight scales only the positive term of the cross-entropy
    p = torch.sigmoid(x)
    expected = -(pw * y * torch.log(p) + (1 - y) * torch.log1p(-p)) * (p * (1 - y) + (1 - p) * y) ** 2
    torch.testing.assert_close(sigmoid_focal_loss(x, y, alpha=None, pos_weight=pw, reduction="none"), expected)


def test_sigmoid_focal_per_class_alpha_smoothing_and_ignore_index():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(5, 3, 2, generator=g, dtype=F64) * 2
    y = (torch.rand(5, 3, 2, generator=g, dtype=F64) > 0.7).to(F64)
    alpha = torch.tensor([0.1, 0.5, 0.9], dtype=F64)
    a = alpha.reshape(3, 1)
    at = a * y + (1 - a) * (1 - y)
    plain = sigmoid_focal_loss(x, y, alpha=None, reduction="none")
    torch.testing.assert_close(sigmoid_focal_loss(x, y, alpha=alpha, reduction="none"), at * plain)
    # label smoothing == the smoothed targets
    torch.testing.assert_close(
        sigmoid_focal_loss(x, y, label_smoothing=0.2, reduction="none"),
        sigmoid_focal_loss(x, y * 0.8 + 0.1, reduction="none"),
    )
    # ignore_index == removing the positions from the mean
    t = y.clone()
    t[0, 0, 0] = -1
    t[3, 2, 1] = -1
    keep = t != -1
    for fast in (True, False):
        with losslab.fast_paths(fast):
            got = sigmoid_focal_loss(x, t, ignore_index=-1)
        torch.testing.assert_close(got, sigmoid_focal_loss(x[keep], y[keep]))
    # the range check skips the ignored positions only: a label of 2 elsewhere is still an error
    t[1, 1, 1] = 2.0
    with pytest.raises(ValueError, match=r"target: expected values in \[0, 1\], got values in \[0, 2\]"):
        sigmoid_focal_loss(x, t, ignore_index=-1)
    with pytest.raises(ValueError, match="alpha: expected a per-class tensor"):
        sigmoid_focal_loss(x, y, alpha=torch.tensor([0.1, 0.2], dtype=F64))


def test_softmax_focal_label_smoothing_is_torchs_convention():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(7, 4, generator=g, dtype=F64)
    t = torch.randint(0, 4, (7,), generator=g)
    torch.testing.assert_close(softmax_focal_loss(x, t, gamma=0.0, label_smoothing=0.2),
                               F.cross_entropy(x, t, label_smoothing=0.2))
    dense = F.one_hot(t, 4).to(F64) * 0.8 + 0.05
    torch.testing.assert_close(softmax_focal_loss(x, t, label_smoothing=0.2), softmax_focal_loss(x, dense))


@pytest.mark.parametrize("name", ["sigmoid_focal_loss", "softmax_focal_loss"])
def test_focal_under_torch_func(name):
    fn = getattr(losslab, name)
    g = torch.Generator().manual_seed(6)
    x = torch.randn(4, 3, generator=g, dtype=F64)
    y = torch.rand(4, 3, generator=g, dtype=F64) if name.startswith("sigmoid") else torch.tensor([0, 2, 1, 1])
    leaf = x.clone().requires_grad_()
    fn(leaf, y).backward()
    torch.testing.assert_close(torch.func.grad(lambda a: fn(a, y))(x), leaf.grad)
    per_row = torch.func.vmap(lambda a, b: fn(a[None], b[None]))(x, y)
    torch.testing.assert_close(per_row, fn(x, y, reduction="none").reshape(4, -1).mean(1))
