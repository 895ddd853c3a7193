"""Differential tests of the cross-entropy family against float64 references written from the definitions.

Each reference below is the textbook formula in float64 (torch used as a calculator: ``log_softmax``,
``logsigmoid`` and ``xlogy``, no losslab code), evaluated on the float64 value of the very inputs the loss got
(so float32 rounding of the inputs is not counted as an error). hypothesis draws shapes, value scales up to
±1e4 logits, hyperparameters and every option branch; values and gradients (autograd of the reference) are
compared with ``torch.testing.assert_close`` at tolerances set by the input dtype. gradcheck in float64 runs on
a few fixed configurations per loss.

Definitions used (C classes on dim 1, :math:`\\tilde y` the smoothed target):

* softmax cross-entropy: :math:`\\ell = -\\sum_c w_c \\tilde y_c \\log\\mathrm{softmax}(x)_c`,
  :math:`\\tilde y = y(1-\\varepsilon) + \\varepsilon/C`; ``"mean"`` divides by :math:`\\sum_i w_{t_i}` (index
  targets, torch's convention) or :math:`\\sum_i \\sum_c w_c y_{ic}` (dense targets); ignored positions are
  left out of both sums.
* sigmoid BCE (torch's ``pos_weight``): :math:`\\ell = -w_+ \\tilde y \\log\\sigma(x) - (1-\\tilde y)\\log\\sigma(-x)`,
  :math:`\\tilde y = y(1-\\varepsilon) + \\varepsilon/2`.
* categorical / binary CE on probabilities (Keras): the prediction renormalized over dim 1 (categorical) and
  clipped to :math:`[\\epsilon, 1-\\epsilon]`, then the cross-entropy.
* hinge / squared hinge (Cortes & Vapnik): :math:`\\max(0, 1 - y\\hat y)` and its square, labels {0, 1} read as
  {-1, 1}.
* KL divergences (Kullback & Leibler): :math:`\\sum_c y_c(\\log\\hat y_c - \\log\\hat p_c)` with the arguments
  clipped to :math:`[\\epsilon, 1]` (categorical), or to :math:`[\\epsilon, 1-\\epsilon]` with both Bernoulli
  terms (binary).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import losslab
from losslab import (
    binary_cross_entropy,
    binary_kl_divergence,
    categorical_cross_entropy,
    categorical_kl_divergence,
    hinge_loss,
    sigmoid_binary_cross_entropy,
    softmax_cross_entropy,
    squared_hinge_loss,
)

F64 = torch.float64
SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))

DTYPES = st.sampled_from([torch.float32, torch.float64])
SPATIAL = st.sampled_from([(), (3,), (2, 3)])
LOGIT_SCALE = st.sampled_from([0.01, 1.0, 4.0, 30.0, 1e4])


def _eps(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).eps


def _close(got: torch.Tensor, ref: torch.Tensor, dtype: torch.dtype, scale: float = 1.0, factor: float = 64.0):
    """``got`` (in ``dtype``) equals the float64 ``ref`` to ``factor`` ulps of ``dtype``, relative to each value
    and absolute to ``scale`` (the size of the terms that were added or cancelled)."""
    tol = factor * _eps(dtype)
    torch.testing.assert_close(got.double(), ref, rtol=tol, atol=tol * scale)


def _grad(fn, *tensors):
    leaves = [t.detach().clone().requires_grad_() for t in tensors]
    out = fn(*leaves)
    grads = torch.autograd.grad(out.sum(), leaves, allow_unused=True)
    return out.detach(), [torch.zeros_like(t) if g is None else g for t, g in zip(leaves, grads)]


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------------------------------------------------------
# softmax cross-entropy


def _softmax_ce_reference(x, target, *, kind, class_weight, label_smoothing, ignore_index, reduction, logp=None):
    """float64 definition; ``x`` float64 ``(N, C, *)`` (or the log-probabilities ``logp``); the reduced loss."""
    c = x.shape[1]
    logp = torch.log_softmax(x, 1) if logp is None else logp
    w = torch.ones(c, dtype=F64) if class_weight is None else class_weight.double()
    wv = w.reshape(1, c, *([1] * (x.ndim - 2)))
    if kind == "index":
        valid = torch.ones_like(target, dtype=torch.bool) if ignore_index is None else target != ignore_index
        idx = torch.where(valid, target, torch.zeros_like(target))
        y = F.one_hot(idx, c).movedim(-1, 1).to(F64)
        den_per = w[idx] * valid
    else:
        valid = None
        y = target.double()
        # dense targets: "mean" over positions, or over the summed class weights of the targets
        den_per = torch.ones_like(y[:, 0]) if class_weight is None else (y * wv).sum(1)
    ys = y * (1 - label_smoothing) + label_smoothing / c
    per = -(ys * wv * logp).sum(1)  # log p is finite in float64 for logits up to 1e4
    if valid is not None:
        per = torch.where(valid, per, torch.zeros_like(per))
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    den = den_per.sum()
    return per.sum() / den if den > 0 else per.sum() * 0


@st.composite
def _softmax_ce_case(draw):
    n, c, spatial = draw(st.integers(1, 4)), draw(st.integers(2, 6)), draw(SPATIAL)
    g = _gen(draw(st.integers(0, 2**31 - 1)))
    dtype = draw(DTYPES)
    scale = draw(LOGIT_SCALE)
    x = torch.randn((n, c, *spatial), generator=g, dtype=F64) * scale
    if draw(st.booleans()):  # ties and exact extremes
        x[0].view(-1)[0] = x.abs().max()
        x[-1].view(-1)[-1] = -x.abs().max()
    kind = draw(st.sampled_from(["index", "dense"]))
    ignore_index = None
    if kind == "index":
        target = torch.randint(0, c, (n, *spatial), generator=g)
        if draw(st.booleans()):
            ignore_index = draw(st.sampled_from([-100, c, 255]))
            target[torch.rand(target.shape, generator=g) < 0.3] = ignore_index
    else:
        sharp = draw(st.sampled_from([0.1, 1.0, 10.0, 1e3]))  # 1e3: one-hot up to rounding, zeros included
        target = torch.softmax(torch.randn((n, c, *spatial), generator=g, dtype=F64) * sharp, 1)
        target = torch.where(target < 1e-12, torch.zeros_like(target), target)
        target = target / target.sum(1, keepdim=True)
        target = target.to(dtype)
    class_weight = None
    if draw(st.booleans()):
        class_weight = torch.rand(c, generator=g, dtype=F64) * 3
        if draw(st.booleans()):
            class_weight[0] = 0.0
        class_weight = class_weight.to(dtype)
    label_smoothing = draw(st.sampled_from([0.0, 0.0, 0.1, 0.5, 1.0]))
    reduction = draw(st.sampled_from(["none", "mean", "sum"]))
    return x.to(dtype), target, dict(kind=kind, class_weight=class_weight, label_smoothing=label_smoothing,
                                     ignore_index=ignore_index, reduction=reduction), scale


@SETTINGS
@given(_softmax_ce_case())
def test_softmax_cross_entropy_matches_definition(case):
    x, target, opts, scale = case
    kwargs = dict(class_weight=opts["class_weight"], ignore_index=opts["ignore_index"],
                  label_smoothing=opts["label_smoothing"], reduction=opts["reduction"])
    dense = opts["kind"] == "dense"
    if dense:
        got, (gx, gy) = _grad(lambda a, b: softmax_cross_entropy(a, b, **kwargs), x, target)
        ref, (rx, ry) = _grad(lambda a, b: _softmax_ce_reference(a, b, **opts), x.double(), target.double())
    else:
        got, (gx,) = _grad(lambda a: softmax_cross_entropy(a, target, **kwargs), x)
        ref, (rx,) = _grad(lambda a: _softmax_ce_reference(a, target, **opts), x.double())
    assert got.dtype == x.dtype and torch.isfinite(got).all() and torch.isfinite(gx).all()
    w = 1.0 if opts["class_weight"] is None else float(opts["class_weight"].abs().max()) + 1.0
    _close(got, ref, x.dtype, scale=w * (1.0 + scale))
    _close(gx, rx, x.dtype, scale=w)
    if dense:
        _close(gy, ry, x.dtype, scale=w * (1.0 + scale))


# ---------------------------------------------------------------------------------------------------------------
# sigmoid binary cross-entropy


def _sigmoid_bce_reference(x, y, pos_weight, label_smoothing):
    ys = y * (1 - label_smoothing) + label_smoothing / 2
    pw = 1.0 if pos_weight is None else pos_weight
    return -(pw * ys * F.logsigmoid(x) + (1 - ys) * F.logsigmoid(-x))


@SETTINGS
@given(
    shape=st.sampled_from([(5,), (3, 4), (2, 3, 2)]), seed=st.integers(0, 2**31 - 1), dtype=DTYPES,
    scale=LOGIT_SCALE, hard=st.booleans(), pos=st.sampled_from(["none", "scalar", "tensor"]),
    label_smoothing=st.sampled_from([0.0, 0.05, 1.0]),
)
def test_sigmoid_binary_cross_entropy_matches_definition(shape, seed, dtype, scale, hard, pos, label_smoothing):
    g = _gen(seed)
    x = (torch.randn(shape, generator=g, dtype=F64) * scale).to(dtype)
    y = torch.rand(shape, generator=g, dtype=F64)
    y = (y > 0.5).to(dtype) if hard else y.to(dtype)
    pos_weight = {"none": None, "scalar": 2.5, "tensor": (torch.rand(shape[-1], generator=g, dtype=F64) * 4).to(dtype)}[pos]
    pw_ref = pos_weight.double() if isinstance(pos_weight, torch.Tensor) else pos_weight
    got, (gx, gy) = _grad(
        lambda a, b: sigmoid_binary_cross_entropy(a, b, pos_weight=pos_weight, label_smoothing=label_smoothing,
                                                  reduction="none"), x, y)
    ref, (rx, ry) = _grad(lambda a, b: _sigmoid_bce_reference(a, b, pw_ref, label_smoothing), x.double(), y.double())
    assert torch.isfinite(got).all() and torch.isfinite(gx).all()
    _close(got, ref, dtype, scale=5 * (1 + scale))
    _close(gx, rx, dtype, scale=5.0)
    _close(gy, ry, dtype, scale=5 * (1 + scale))


# ---------------------------------------------------------------------------------------------------------------
# cross-entropy on probabilities (Keras' clipping)


def _clip_bounds(eps: float, dtype: torch.dtype) -> tuple[float, float]:
    # the bounds as the input dtype holds them (1 - 1e-7 is 1 - 1.19e-7 in float32, as in Keras)
    return float(torch.tensor(eps, dtype=dtype)), float(torch.tensor(1.0 - eps, dtype=dtype))


@SETTINGS
@given(
    n=st.integers(1, 4), c=st.integers(2, 5), spatial=SPATIAL, seed=st.integers(0, 2**31 - 1), dtype=DTYPES,
    kind=st.sampled_from(["index", "dense"]), eps=st.sampled_from([1e-7, 1e-3, 0.1]),
    label_smoothing=st.sampled_from([0.0, 0.2]), weighted=st.booleans(), sharp=st.sampled_from([0.5, 3.0, 40.0]),
    ignore=st.booleans(), reduction=st.sampled_from(["none", "mean", "sum"]),
)
def test_categorical_cross_entropy_matches_definition(n, c, spatial, seed, dtype, kind, eps, label_smoothing,
                                                      weighted, sharp, ignore, reduction):
    g = _gen(seed)
    p = torch.softmax(torch.randn((n, c, *spatial), generator=g, dtype=F64) * sharp, 1).to(dtype)
    ignore_index = None
    if kind == "index":
        target = torch.randint(0, c, (n, *spatial), generator=g)
        if ignore:
            ignore_index = -1
            target[torch.rand(target.shape, generator=g) < 0.3] = ignore_index
    else:
        target = torch.softmax(torch.randn((n, c, *spatial), generator=g, dtype=F64) * 2, 1).to(dtype)
    cw = (torch.rand(c, generator=g, dtype=F64) + 0.2).to(dtype) if weighted else None
    lo, hi = _clip_bounds(eps, dtype)
    opts = dict(kind=kind, class_weight=cw, label_smoothing=label_smoothing, ignore_index=ignore_index,
                reduction=reduction)

    def ref_fn(pp):
        logp = (pp / pp.sum(1, keepdim=True)).clamp(lo, hi).log()
        tt = target if kind == "index" else target.double()
        return _softmax_ce_reference(pp, tt, logp=logp, **opts)

    # clipping is a kink: leave out samples with a normalized probability on a clip bound in either dtype
    pn64 = p.double() / p.double().sum(1, keepdim=True)
    near = ((pn64 - lo).abs() < 1e-5 * lo + 4 * _eps(dtype)) | ((pn64 - hi).abs() < 4 * _eps(dtype))
    keep = ~near.flatten(1).any(1)
    p, target = p[keep], target[keep]
    if p.shape[0] == 0:
        return
    got, (gp,) = _grad(lambda a: categorical_cross_entropy(a, target, eps=eps, class_weight=cw, ignore_index=ignore_index,
                                                          label_smoothing=label_smoothing, reduction=reduction), p)
    ref, (rp,) = _grad(ref_fn, p.double())
    _close(got, ref, dtype, scale=-math.log(lo) * 4 * (p.numel() if reduction == "sum" else 1))
    # d/dp of log(p_c / sum p) is 1/p - 1/sum: relative accuracy
    _close(gp, rp, dtype, scale=1.0, factor=256.0)


@SETTINGS
@given(
    shape=st.sampled_from([(6,), (3, 4)]), seed=st.integers(0, 2**31 - 1), dtype=DTYPES,
    eps=st.sampled_from([1e-7, 1e-3]), label_smoothing=st.sampled_from([0.0, 0.1]), hard=st.booleans(),
)
def test_binary_cross_entropy_matches_definition(shape, seed, dtype, eps, label_smoothing, hard):
    g = _gen(seed)
    p = torch.rand(shape, generator=g, dtype=F64)
    p[..., 0] = 0.0  # exact 0 and 1: clipped
    p[..., -1] = 1.0
    p = p.to(dtype)
    y = torch.rand(shape, generator=g, dtype=F64)
    y = ((y > 0.5).double() if hard else y).to(dtype)
    lo, hi = _clip_bounds(eps, dtype)

    def ref_fn(pp, yy):
        ys = yy * (1 - label_smoothing) + label_smoothing / 2
        q = pp.clamp(lo, hi)
        return -(torch.xlogy(ys, q) + torch.xlogy(1 - ys, 1 - q))

    got, (gp, gy) = _grad(lambda a, b: binary_cross_entropy(a, b, eps=eps, label_smoothing=label_smoothing,
                                                           reduction="none"), p, y)
    ref, (rp, ry) = _grad(ref_fn, p.double(), y.double())
    _close(got, ref, dtype, scale=-math.log(lo))
    _close(gp, rp, dtype, scale=1.0 / lo * 1e-3, factor=256.0)
    _close(gy, ry, dtype, scale=-math.log(lo))


# ---------------------------------------------------------------------------------------------------------------
# hinge


@SETTINGS
@given(shape=st.sampled_from([(7,), (3, 4)]), seed=st.integers(0, 2**31 - 1), dtype=DTYPES,
       labels=st.sampled_from(["pm1", "01"]), scale=st.sampled_from([0.5, 3.0, 1e4]))
def test_hinge_losses_match_definition(shape, seed, dtype, labels, scale):
    g = _gen(seed)
    pred = (torch.randn(shape, generator=g, dtype=F64) * scale).to(dtype)
    lab = torch.randint(0, 2, shape, generator=g)
    target = (2 * lab - 1 if labels == "pm1" else lab).to(dtype)
    y = (2 * lab - 1).double()
    margin = 1 - y * pred.double()
    kink = margin.abs() < 1e-6 * (1 + scale)
    for fn, ref_fn in ((hinge_loss, lambda m: m.clamp_min(0)), (squared_hinge_loss, lambda m: m.clamp_min(0) ** 2)):
        got, (gp,) = _grad(lambda a, fn=fn: fn(a, target, reduction="none"), pred)
        ref, (rp,) = _grad(lambda a, ref_fn=ref_fn: ref_fn(1 - y * a), pred.double())
        _close(got, ref, dtype, scale=1 + scale)
        _close(gp[~kink], rp[~kink], dtype, scale=1 + scale)


# ---------------------------------------------------------------------------------------------------------------
# KL divergences


@SETTINGS
@given(n=st.integers(1, 4), c=st.integers(2, 6), spatial=SPATIAL, seed=st.integers(0, 2**31 - 1), dtype=DTYPES,
       kind=st.sampled_from(["index", "dense"]), eps=st.sampled_from([1e-7, 1e-4]),
       sharp=st.sampled_from([0.3, 3.0, 30.0]))
def test_categorical_kl_divergence_matches_definition(n, c, spatial, seed, dtype, kind, eps, sharp):
    g = _gen(seed)
    p = torch.softmax(torch.randn((n, c, *spatial), generator=g, dtype=F64) * sharp, 1).to(dtype)
    if kind == "index":
        target = torch.randint(0, c, (n, *spatial), generator=g)
        y = F.one_hot(target, c).movedim(-1, 1).to(F64)
    else:
        target = torch.softmax(torch.randn((n, c, *spatial), generator=g, dtype=F64) * sharp, 1).to(dtype)
        y = target.double()
    lo = float(torch.tensor(eps, dtype=dtype))

    def ref_fn(pp, yy):
        return (torch.xlogy(yy, yy.clamp(lo, 1)) - torch.xlogy(yy, pp.clamp(lo, 1))).sum(1)

    if kind == "dense":
        got, (gp, gy) = _grad(lambda a, b: categorical_kl_divergence(a, b, eps=eps, reduction="none"), p, target)
        ref, (rp, ry) = _grad(ref_fn, p.double(), y)
    else:
        got, (gp,) = _grad(lambda a: categorical_kl_divergence(a, target, eps=eps, reduction="none"), p)
        ref, (rp,) = _grad(lambda a: ref_fn(a, y), p.double())
    ref = ref.clamp_min(0)  # documented: rounding next to the minimum cannot make it negative
    near_clip = ((p.double() - lo).abs() <= 4 * _eps(dtype) * lo).any(1)
    keep = ~near_clip
    _close(got[keep], ref[keep], dtype, scale=-math.log(lo) * 4)
    kc = keep.unsqueeze(1).expand_as(gp)
    # d/dp = -y/p: relative accuracy where p is not clipped
    _close(gp[kc], rp[kc], dtype, scale=1.0, factor=256.0)
    if kind == "dense":
        _close(gy[kc], ry[kc], dtype, scale=-math.log(lo) * 4)


@SETTINGS
@given(shape=st.sampled_from([(6,), (3, 4)]), seed=st.integers(0, 2**31 - 1), dtype=DTYPES,
       eps=st.sampled_from([1e-7, 1e-3]))
def test_binary_kl_divergence_matches_definition(shape, seed, dtype, eps):
    g = _gen(seed)
    p = torch.rand(shape, generator=g, dtype=F64).to(dtype)
    y = torch.rand(shape, generator=g, dtype=F64)
    y[..., 0] = 0.0
    y[..., -1] = 1.0
    y = y.to(dtype)
    lo, hi = _clip_bounds(eps, dtype)

    def ref_fn(pp, yy):
        ph, yh = pp.clamp(lo, hi), yy.clamp(lo, hi)
        return (torch.xlogy(yy, yh) - torch.xlogy(yy, ph) + torch.xlogy(1 - yy, 1 - yh) - torch.xlogy(1 - yy, 1 - ph))

    got, (gp, gy) = _grad(lambda a, b: binary_kl_divergence(a, b, eps=eps, reduction="none"), p, y)
    ref, (rp, ry) = _grad(ref_fn, p.double(), y.double())
    _close(got, ref.clamp_min(0), dtype, scale=-math.log(lo) * 2)
    _close(gp, rp, dtype, scale=1.0, factor=256.0)
    inner = (y.double() > lo) & (y.double() < hi)  # the target's own clip is a kink
    _close(gy[inner], ry[inner], dtype, scale=-math.log(lo) * 2)


# ---------------------------------------------------------------------------------------------------------------
# gradcheck in float64 (a few random configurations per loss)


@pytest.mark.parametrize("seed", [0, 1])
def test_gradcheck_float64(seed):
    g = _gen(seed)
    x = torch.randn(3, 4, 2, generator=g, dtype=F64, requires_grad=True)
    idx = torch.randint(0, 4, (3, 2), generator=g)
    idx[0, 0] = -100
    soft = torch.softmax(torch.randn(3, 4, 2, generator=g, dtype=F64), 1).requires_grad_()
    cw = torch.rand(4, generator=g, dtype=F64) + 0.5
    assert torch.autograd.gradcheck(
        lambda a: softmax_cross_entropy(a, idx, class_weight=cw, ignore_index=-100, label_smoothing=0.1), (x,))
    assert torch.autograd.gradcheck(lambda a, b: softmax_cross_entropy(a, b, class_weight=cw), (x, soft))
    z = torch.randn(4, 3, generator=g, dtype=F64, requires_grad=True)
    t = torch.rand(4, 3, generator=g, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: sigmoid_binary_cross_entropy(a, b, pos_weight=torch.tensor([1.0, 2.0, 0.5], dtype=F64),
                                                  label_smoothing=0.1), (z, t))
    probs = torch.softmax(torch.randn(4, 3, generator=g, dtype=F64), 1).requires_grad_()
    assert torch.autograd.gradcheck(lambda a: categorical_cross_entropy(a, torch.tensor([0, 2, 1, 1])), (probs,))
    target = torch.softmax(torch.randn(4, 3, generator=g, dtype=F64), 1).requires_grad_()
    with losslab.validation(False):  # finite differences step off the simplex by 1e-6
        assert torch.autograd.gradcheck(categorical_kl_divergence, (probs, target))
    pb = (torch.rand(5, generator=g, dtype=F64) * 0.8 + 0.1).requires_grad_()
    yb = (torch.rand(5, generator=g, dtype=F64) * 0.8 + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(binary_cross_entropy, (pb, yb))
    assert torch.autograd.gradcheck(binary_kl_divergence, (pb, yb))
    s = (torch.randn(6, generator=g, dtype=F64) * 3).requires_grad_()
    lab = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0], dtype=F64)
    keep = (1 - lab * s.detach()).abs() > 1e-3  # away from the hinge's kink
    assert torch.autograd.gradcheck(lambda a: hinge_loss(a[keep], lab[keep]), (s,))
    assert torch.autograd.gradcheck(lambda a: squared_hinge_loss(a, lab), (s,))
