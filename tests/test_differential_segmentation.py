"""Differential tests of the Dice losses against float64 references written from the papers.

* Soft Dice (Milletari et al. 2016), per sample (or over the batch) and class:
  :math:`\\ell_c = 1 - (2\\sum p_c g_c + s) / (\\sum p_c + \\sum g_c + s)`, 0 for an empty-over-empty class with
  :math:`s = 0` (the documented 0/0 policy).
* Generalized Dice (Sudre et al. 2017):
  :math:`\\ell = 1 - (2\\sum_c w_c\\sum p_c g_c + s) / (\\sum_c w_c(\\sum p_c + \\sum g_c) + s)` with
  :math:`w_c = 1/G_c^2` (``square``), :math:`1/G_c` (``simple``) or 1 (``uniform``), :math:`G_c = \\sum g_c`; a
  class absent from the target gets the largest weight of the present classes (``absent_weight="max"``,
  NiftyNet/MONAI) or 0 (``"zero"``); the weights are statistics of the target (no gradient).

Sums run over the non-ignored positions (``ignore_index``); ``batch=True`` pools them over the batch;
``include_background=False`` drops channel 0; a sample with nothing left is left out of the mean. The references
are float64 on the float64 value of the inputs; hypothesis draws 2D and 3D shapes, index / dense / single-channel
sigmoid targets, empty classes and every option. Values and gradients (autograd of the reference) are compared.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losslab import dice_loss, generalized_dice_loss

F64 = torch.float64
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def _grad(fn, x):
    leaf = x.detach().clone().requires_grad_()
    out = fn(leaf)
    (g,) = torch.autograd.grad(out.sum(), leaf)
    return out.detach(), g


def _close(got, ref, dtype, factor=256.0):
    assert torch.isfinite(got).all()
    tol = factor * torch.finfo(dtype).eps
    torch.testing.assert_close(got.double(), ref, rtol=tol, atol=tol)


def _ratio_or_one(num, den):
    """num / den, and 1 (a loss of 0) where den = 0, with no NaN in the gradient."""
    ok = den > 0
    return torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), torch.ones_like(den))


def _sums(p, g, valid, batch):
    """(tp, P, G) per sample and class ``(N, C)`` (``(1, C)`` pooled over the batch) and the valid count."""
    v = valid.unsqueeze(1).to(F64)
    dims = tuple(range(2, p.ndim))
    tp, ps, gs = (p * g * v).sum(dims), (p * v).sum(dims), (g * v).sum(dims)
    count = valid.flatten(1).sum(1).to(F64)
    if batch:
        tp, ps, gs, count = tp.sum(0, keepdim=True), ps.sum(0, keepdim=True), gs.sum(0, keepdim=True), count.sum(0, keepdim=True)
    return tp, ps, gs, count


def _reduce(loss, keep, reduction):
    """``loss`` ``(N, ...)``; ``keep`` marks the entries that count (samples with something left)."""
    keep = keep.expand_as(loss)
    loss = torch.where(keep, loss, torch.zeros_like(loss))
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    n = keep.sum()
    return loss.sum() / n if n > 0 else loss.sum() * 0


def dice_reference(p, g, valid, *, smooth, include_background, batch, reduction):
    tp, ps, gs, count = _sums(p, g, valid, batch)
    if not include_background:
        tp, ps, gs = tp[:, 1:], ps[:, 1:], gs[:, 1:]
    loss = 1 - _ratio_or_one(2 * tp + smooth, ps + gs + smooth)
    keep = (count > 0).unsqueeze(1)
    if batch:
        loss, keep = loss[0], keep[0]
    return _reduce(loss, keep, reduction)


def generalized_dice_reference(p, g, valid, *, weight_type, absent_weight, smooth, include_background, batch,
                               reduction):
    tp, ps, gs, count = _sums(p, g, valid, batch)
    if not include_background:
        tp, ps, gs = tp[:, 1:], ps[:, 1:], gs[:, 1:]
    gd = gs.detach()
    present = gd > 0
    inv = 1 / torch.where(present, gd, torch.ones_like(gd))
    w = {"square": inv**2, "simple": inv, "uniform": torch.ones_like(gd)}[weight_type]
    w = torch.where(present, w, torch.zeros_like(w))
    if absent_weight == "max":
        w = torch.where(present, w, w.max(1, keepdim=True).values.expand_as(w))
    num = 2 * (w * tp).sum(1) + smooth
    den = (w * (ps + gs)).sum(1) + smooth
    loss = 1 - _ratio_or_one(num, den)
    keep = count > 0
    if batch:
        loss, keep = loss[0], keep[0]
    return _reduce(loss, keep, reduction)


@st.composite
def _segmentation_case(draw):
    n = draw(st.integers(1, 3))
    spatial = draw(st.sampled_from([(3, 4), (2, 2, 3), (1, 5)]))
    kind = draw(st.sampled_from(["index", "dense", "sigmoid"]))
    c = 1 if kind == "sigmoid" else draw(st.integers(2, 4))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    sharp = draw(st.sampled_from([0.3, 2.0, 20.0]))
    logits = torch.randn((n, c, *spatial), generator=g, dtype=F64) * sharp
    ignore_index = None
    if kind == "index":
        probs = torch.softmax(logits, 1)
        target = torch.randint(0, c, (n, *spatial), generator=g)
        if draw(st.booleans()):  # a class absent from the target
            target[target == c - 1] = 0
        if draw(st.booleans()):
            ignore_index = draw(st.sampled_from([-100, 255]))
            target[torch.rand(target.shape, generator=g) < draw(st.sampled_from([0.3, 1.0]))] = ignore_index
        dense = F.one_hot(torch.where(target == (ignore_index or -1), 0, target), c).movedim(-1, 1).to(F64)
        valid = torch.ones_like(target, dtype=torch.bool) if ignore_index is None else target != ignore_index
    else:
        probs = torch.sigmoid(logits)
        soft = draw(st.booleans())
        dense = torch.rand((n, c, *spatial), generator=g, dtype=F64)
        dense = dense if soft else (dense > 0.6).to(F64)
        if draw(st.booleans()):  # an empty channel in both prediction and target (0/0 with smooth = 0)
            probs[:, -1] = 0.0
            dense[:, -1] = 0.0
        target = dense.to(dtype)
        valid = torch.ones((n, *spatial), dtype=torch.bool)
    opts = dict(
        smooth=draw(st.sampled_from([0.0, 1e-5, 1.0])),
        include_background=True if c == 1 else draw(st.booleans()),
        batch=draw(st.booleans()),
        reduction=draw(st.sampled_from(["none", "mean", "sum"])),
    )
    return probs.to(dtype), target, dense, valid, ignore_index, opts


@SETTINGS
@given(_segmentation_case())
def test_dice_loss_matches_definition(case):
    probs, target, dense, valid, ignore_index, opts = case
    got, gp = _grad(lambda p: dice_loss(p, target, ignore_index=ignore_index, **opts), probs)
    ref, rp = _grad(lambda p: dice_reference(p, dense, valid, **opts), probs.double())
    _close(got, ref, probs.dtype)
    _close(gp, rp, probs.dtype)


@SETTINGS
@given(_segmentation_case(), st.sampled_from(["square", "simple", "uniform"]), st.sampled_from(["max", "zero"]))
def test_generalized_dice_loss_matches_definition(case, weight_type, absent_weight):
    probs, target, dense, valid, ignore_index, opts = case
    kw = dict(weight_type=weight_type, absent_weight=absent_weight, **opts)
    got, gp = _grad(lambda p: generalized_dice_loss(p, target, ignore_index=ignore_index, **kw), probs)
    ref, rp = _grad(lambda p: generalized_dice_reference(p, dense, valid, **kw), probs.double())
    _close(got, ref, probs.dtype)
    # the weights 1/G^2 reach 1/(0.01)^2 for soft targets with tiny class volumes: gradients scale with them
    _close(gp, rp, probs.dtype, factor=1024.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_gradcheck_float64(seed):
    g = torch.Generator().manual_seed(seed)
    probs = torch.softmax(torch.randn(2, 3, 3, 4, generator=g, dtype=F64), 1).requires_grad_()
    target = torch.randint(0, 3, (2, 3, 4), generator=g)
    target[0, 0, 0] = 255
    soft = torch.rand(2, 3, 3, 4, generator=g, dtype=F64)
    for batch in (False, True):
        assert torch.autograd.gradcheck(
            lambda p, batch=batch: dice_loss(p, target, ignore_index=255, batch=batch, include_background=False), (probs,))
        assert torch.autograd.gradcheck(lambda p, batch=batch: dice_loss(p, soft, smooth=0.0, batch=batch), (probs,))
        for weight_type in ("square", "simple", "uniform"):
            assert torch.autograd.gradcheck(
                lambda p, wt=weight_type, batch=batch: generalized_dice_loss(p, target, weight_type=wt, ignore_index=255, batch=batch),
                (probs,))


@pytest.mark.parametrize("ignore_index", [None, 255])
def test_dice_class_sums_cpu_scatter_equals_compare_and_reduce(ignore_index):
    """The CPU scatter of the class sums and the compare-and-reduce form used on other devices agree."""
    import losslab

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 4, 5, 6, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 4, (3, 5, 6), generator=g)
    if ignore_index is not None:
        target[0, :2] = ignore_index
    for fn in (losslab.dice_loss, losslab.generalized_dice_loss, losslab.tversky_loss):
        probs = torch.softmax(logits, 1)
        fast = fn(probs, target, ignore_index=ignore_index)
        (g_fast,) = torch.autograd.grad(fast, logits)
        with losslab.fast_paths(False):
            ref = fn(torch.softmax(logits, 1), target, ignore_index=ignore_index)
        (g_ref,) = torch.autograd.grad(ref, logits)
        torch.testing.assert_close(fast, ref)
        torch.testing.assert_close(g_fast, g_ref)
