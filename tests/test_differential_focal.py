"""Differential tests of the focal losses against float64 references written from Lin et al. (2017).

The references are the paper's formulas in probability space, evaluated in float64 on the float64 value of the
very inputs the loss got (torch as a calculator, no losslab code):

* sigmoid focal loss (eq. 5, soft targets by linear interpolation as torchvision/optax/Keras):
  :math:`p = \\sigma(x)`, :math:`1 - p_t = p(1-y) + (1-p)y`, :math:`\\alpha_t = \\alpha y + (1-\\alpha)(1-y)`,
  :math:`\\ell = -\\alpha_t (1-p_t)^\\gamma [y\\log p + (1-y)\\log(1-p)]`;
* softmax focal loss: :math:`\\ell = -\\sum_c \\alpha_c y_c (1-p_c)^\\gamma \\log p_c` with
  :math:`p = \\mathrm{softmax}(x)` (one-hot :math:`y` for class indices).

Only two identities are used so that float64 itself does not round the reference away: :math:`1 - \\sigma(x) =
\\sigma(-x)` and :math:`1 - p_c = -\\mathrm{expm1}(\\log p_c)`. hypothesis draws shapes, logits up to ±1e4,
hard and soft targets, :math:`\\gamma \\in \\{0\\} \\cup (0, 1) \\cup [1, 4]`, every ``alpha`` form and
``ignore_index``; values and the gradients with respect to logits and (soft) targets are compared, the latter
from autograd of the reference. Where the reference's own gradient is not finite (a probability that underflows
to exactly 0 in float64 at logits of 1e4, where autograd of :math:`q^{\\gamma}` gives ``inf * 0``), the reference
takes the limit of the exact gradient, 0 (``_focal_factor``).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import losslab
from losslab import sigmoid_focal_loss, softmax_focal_loss

F64 = torch.float64


@pytest.fixture(autouse=True, params=[True, False], ids=["fast-path", "reference"])
def _path(request):
    """Every test runs twice: with the CPU fast path (losslab._kernels) and with the reference formula, so both
    are pinned to the paper's float64 values (and hence to each other)."""
    with losslab.fast_paths(request.param):
        yield


SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))

DTYPES = st.sampled_from([torch.float32, torch.float64])
GAMMAS = st.sampled_from([0.0, 0.26, 0.5, 0.9, 1.0, 1.5, 2.0, 4.0])
LOGIT_SCALE = st.sampled_from([0.01, 1.0, 5.0, 20.0, 60.0, 1e4])


def _grad(fn, *tensors):
    leaves = [t.detach().clone().requires_grad_() for t in tensors]
    out = fn(*leaves)
    grads = torch.autograd.grad(out.sum(), leaves, allow_unused=True)
    return out.detach(), [torch.zeros_like(t) if g is None else g for t, g in zip(leaves, grads)]


def _close(got, ref, dtype, scale, factor=64.0):
    """``factor`` ulps of ``dtype`` relative, and absolute to ``scale``."""
    assert torch.isfinite(got).all(), got
    tol = factor * torch.finfo(dtype).eps
    torch.testing.assert_close(got.double(), ref, rtol=tol, atol=tol * scale)


# ---------------------------------------------------------------------------------------------------------------
# sigmoid focal loss


def _focal_factor(q, gamma):
    """:math:`q^\\gamma` for :math:`q \\ge 0`, with the derivative's limit (0) where q is exactly 0: autograd of
    ``q**gamma`` there is ``inf * 0`` for gamma < 1, while the loss's exact gradient tends to 0 (the factor multiplies
    a cross-entropy that vanishes as fast)."""
    ok = q > 0
    safe = torch.where(ok, q, torch.ones_like(q))
    return torch.where(ok, safe**gamma, torch.zeros_like(q))


def _sigmoid_focal_reference(x, y, gamma, alpha):
    p, one_minus_p = torch.sigmoid(x), torch.sigmoid(-x)
    q = p * (1 - y) + one_minus_p * y  # 1 - p_t
    ce = -(y * F.logsigmoid(x) + (1 - y) * F.logsigmoid(-x))
    loss = ce if gamma == 0 else _focal_factor(q, gamma) * ce
    return loss if alpha is None else (alpha * y + (1 - alpha) * (1 - y)) * loss


@SETTINGS
@given(
    shape=st.sampled_from([(7,), (3, 4), (2, 3, 2)]), seed=st.integers(0, 2**31 - 1), dtype=DTYPES,
    scale=LOGIT_SCALE, targets=st.sampled_from(["hard", "soft", "near-hard"]), gamma=GAMMAS,
    alpha=st.sampled_from([None, 0.25, 0.5, 1.0, 0.0]), reduction=st.sampled_from(["none", "mean", "sum"]),
)
def test_sigmoid_focal_loss_matches_paper(shape, seed, dtype, scale, targets, gamma, alpha, reduction):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, generator=g, dtype=F64) * scale).to(dtype)
    u = torch.rand(shape, generator=g, dtype=F64)
    y = {"hard": (u > 0.5).double(), "soft": u, "near-hard": torch.where(u > 0.5, 1 - u * 1e-3, u * 1e-3)}[targets]
    y = y.to(dtype)

    def reduce(t):
        return t if reduction == "none" else (t.sum() if reduction == "sum" else t.mean())

    got, (gx, gy) = _grad(lambda a, b: sigmoid_focal_loss(a, b, gamma=gamma, alpha=alpha, reduction=reduction), x, y)
    ref, (rx, ry) = _grad(lambda a, b: reduce(_sigmoid_focal_reference(a, b, gamma, alpha)), x.double(), y.double())
    assert got.dtype == dtype
    n = 1.0 if reduction == "none" else float(x.numel())
    _close(got, ref, dtype, scale=(1.0 + scale) * (n if reduction == "sum" else 1.0))
    # d/dx is bounded by 1 + gamma (|x| + 1) and d/dy by |x| + gamma (|x| + 1); "mean" divides them by n
    _close(gx, rx, dtype, scale=(1.0 + gamma) / n)
    _close(gy, ry, dtype, scale=(1.0 + gamma) * (1.0 + scale) / n)
    if reduction == "none":
        # element by element, relative to the size of the terms each gradient sums (so tiny gradients at confident
        # logits must be accurate too, issue 12 item 6): with q = 1 - p_t, w = q^gamma and ce the cross-entropy,
        # d/dx = a_t w [(s - y) + gamma ce rho] with |s - y| <= q, |rho| <= 1, and
        # d/dy = a_t w [-x + gamma (ce / q)(1 - 2s)] + (2 alpha - 1) ce w
        xd, yd = x.double(), y.double()
        q = torch.sigmoid(xd) * (1 - yd) + torch.sigmoid(-xd) * yd
        ce = -(yd * F.logsigmoid(xd) + (1 - yd) * F.logsigmoid(-xd))
        w = _focal_factor(q, gamma) if gamma else torch.ones_like(q)
        ratio = torch.where(q > 0, ce / torch.where(q > 0, q, 1.0), 1.0)
        a_t = 1.0 if alpha is None else alpha * yd + (1 - alpha) * (1 - yd)
        tol = 64 * torch.finfo(dtype).eps
        tiny = torch.finfo(dtype).tiny / tol  # results below the dtype's normal range
        bound_x = tol * (a_t * w * (q + gamma * ce) + rx.abs()) + tiny
        bound_y = tol * (a_t * w * (xd.abs() + gamma * ratio) + abs(2 * (alpha or 0.5) - 1) * ce * w + ry.abs()) + tiny
        assert ((gx.double() - rx).abs() <= bound_x).all(), ((gx.double() - rx).abs() / bound_x).max()
        assert ((gy.double() - ry).abs() <= bound_y).all(), ((gy.double() - ry).abs() / bound_y).max()


def test_sigmoid_focal_issue_example():
    # The issue's reproducer (logit -16.6, target 0, gamma 0.26, alpha None): d loss / d target = 0.22513.
    x, y = torch.tensor([-16.6]), torch.tensor([0.0])
    got, (_, gy) = _grad(lambda a, b: sigmoid_focal_loss(a, b, gamma=0.26, alpha=None, reduction="sum"), x, y)
    ref, (_, ry) = _grad(lambda a, b: _sigmoid_focal_reference(a, b, 0.26, None).sum(), x.double(), y.double())
    torch.testing.assert_close(gy.double(), ry, rtol=1e-6, atol=0)
    torch.testing.assert_close(got.double(), ref, rtol=1e-6, atol=0)


# ---------------------------------------------------------------------------------------------------------------
# softmax focal loss


def _softmax_focal_reference(x, y, gamma, alpha):
    """Per position ``(N, *)``; ``y`` dense ``(N, C, *)``; ``alpha`` None, a float or a ``(C,)`` float64 tensor."""
    logp = torch.log_softmax(x, 1)
    one_minus_p = -torch.expm1(logp)
    term = y * logp if gamma == 0 else y * _focal_factor(one_minus_p, gamma) * logp
    if isinstance(alpha, torch.Tensor):
        term = term * alpha.reshape(1, -1, *([1] * (x.ndim - 2)))
    elif alpha is not None:
        term = term * alpha
    return -term.sum(1)  # log p is finite in float64 for logits up to 1e4


@st.composite
def _softmax_focal_case(draw):
    n, c, spatial = draw(st.integers(1, 3)), draw(st.integers(2, 6)), draw(st.sampled_from([(), (3,), (2, 2)]))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    dtype, scale, gamma = draw(DTYPES), draw(LOGIT_SCALE), draw(GAMMAS)
    x = torch.randn((n, c, *spatial), generator=g, dtype=F64) * scale
    kind = draw(st.sampled_from(["index", "dense"]))
    ignore_index = None
    if kind == "index":
        target = torch.randint(0, c, (n, *spatial), generator=g)
        if draw(st.booleans()):
            ignore_index = -100
            target[torch.rand(target.shape, generator=g) < 0.3] = ignore_index
    else:
        sharp = draw(st.sampled_from([0.3, 3.0, 1e3]))
        target = torch.softmax(torch.randn((n, c, *spatial), generator=g, dtype=F64) * sharp, 1)
        target = torch.where(target < 1e-12, torch.zeros_like(target), target)
        target = (target / target.sum(1, keepdim=True)).to(dtype)
    alpha_kind = draw(st.sampled_from(["none", "float", "tensor"]))
    alpha = {"none": None, "float": 0.25, "tensor": (torch.rand(c, generator=g, dtype=F64) * 2).to(dtype)}[alpha_kind]
    return x.to(dtype), target, kind, gamma, alpha, ignore_index, scale


@SETTINGS
@given(_softmax_focal_case())
def test_softmax_focal_loss_matches_paper(case):
    x, target, kind, gamma, alpha, ignore_index, scale = case
    dtype, c = x.dtype, x.shape[1]
    alpha_ref = alpha.double() if isinstance(alpha, torch.Tensor) else alpha
    a_max = 1.0 if alpha is None else float(alpha_ref.max()) if isinstance(alpha, torch.Tensor) else alpha
    if kind == "dense":
        got, (gx, gy) = _grad(lambda a, b: softmax_focal_loss(a, b, gamma=gamma, alpha=alpha, reduction="none"),
                              x, target)
        ref, (rx, ry) = _grad(lambda a, b: _softmax_focal_reference(a, b, gamma, alpha_ref), x.double(),
                              target.double())
        _close(gy, ry, dtype, scale=a_max * (1.0 + 2 * scale))
    else:
        valid = torch.ones_like(target, dtype=torch.bool) if ignore_index is None else target != ignore_index
        onehot = F.one_hot(torch.where(valid, target, 0), c).movedim(-1, 1).double() * valid.unsqueeze(1)
        got, (gx,) = _grad(lambda a: softmax_focal_loss(a, target, gamma=gamma, alpha=alpha,
                                                        ignore_index=ignore_index, reduction="none"), x)
        ref, (rx,) = _grad(lambda a: _softmax_focal_reference(a, onehot, gamma, alpha_ref), x.double())
        # "mean" leaves ignored positions out of the denominator
        mean = softmax_focal_loss(x, target, gamma=gamma, alpha=alpha, ignore_index=ignore_index)
        expected = ref.sum() / valid.sum() if valid.any() else ref.sum() * 0
        _close(mean, expected, dtype, scale=a_max * (1.0 + 2 * scale))
    assert got.dtype == dtype
    _close(got, ref, dtype, scale=a_max * (1.0 + 2 * scale))
    _close(gx, rx, dtype, scale=a_max * (1.0 + gamma))


# ---------------------------------------------------------------------------------------------------------------
# limits stated in the paper, and gradcheck in float64


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gamma_zero_is_cross_entropy(dtype):
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(6, 4, generator=g, dtype=F64) * 30).to(dtype)
    y = torch.rand(6, 4, generator=g, dtype=F64).to(dtype)
    torch.testing.assert_close(sigmoid_focal_loss(x, y, gamma=0.0, alpha=None, reduction="none"),
                               F.binary_cross_entropy_with_logits(x, y, reduction="none"))
    idx = torch.randint(0, 4, (6,), generator=g)
    torch.testing.assert_close(softmax_focal_loss(x, idx, gamma=0.0, reduction="none"),
                               F.cross_entropy(x, idx, reduction="none"))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradcheck_float64(seed):
    g = torch.Generator().manual_seed(seed)
    gamma = [0.5, 2.0, 1.3][seed]
    x = (torch.randn(4, 3, generator=g, dtype=F64) * 3).requires_grad_()
    y = torch.rand(4, 3, generator=g, dtype=F64).requires_grad_()
    for alpha in (None, 0.25):
        assert torch.autograd.gradcheck(lambda a, b, alpha=alpha: sigmoid_focal_loss(a, b, gamma=gamma, alpha=alpha), (x, y))
    yd = torch.softmax(torch.randn(4, 3, generator=g, dtype=F64), 1).requires_grad_()
    alpha_t = torch.rand(3, generator=g, dtype=F64) + 0.5
    assert torch.autograd.gradcheck(lambda a, b: softmax_focal_loss(a, b, gamma=gamma, alpha=alpha_t), (x, yd))
    idx = torch.tensor([0, 2, -100, 1])
    assert torch.autograd.gradcheck(
        lambda a: softmax_focal_loss(a, idx, gamma=gamma, alpha=0.5, ignore_index=-100, reduction="sum"), (x,))


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("dense", [False, True])
def test_softmax_focal_confident_predictions_are_relatively_accurate(gamma, dense):
    # A confident correct prediction has log p_t = -log1p(sum_{c != t} exp(x_c - x_t)), tiny: torch.log_softmax
    # computes it only to one ulp of 1 (0 from margins of ~17 in float32, 0.1 % off at a margin of 10), and the
    # gradient's target entry g (1 - p_t) cancelled to 0. The reference uses that log1p form in float64.
    margins = torch.tensor([3.0, 8.0, 10.0, 14.0, 17.0, 25.0, 40.0])
    x = torch.stack([margins, torch.zeros(7), -0.5 * margins.sqrt()], 1)  # target 0, the top class
    idx = torch.zeros(7, dtype=torch.long)
    target = F.one_hot(idx, 3).float() if dense else idx
    got, (gx,) = _grad(lambda a: softmax_focal_loss(a, target, gamma=gamma, reduction="none"), x)

    def ref_fn(a):
        u = -torch.log1p(torch.exp(a[:, 1:] - a[:, :1]).sum(1))  # log p_0
        return -u if gamma == 0 else -torch.exp(gamma * torch.log(-torch.expm1(u))) * u

    ref, (rx,) = _grad(ref_fn, x.double())
    log_scale = 1 + gamma * margins.double()  # exp(gamma log(1 - p)) amplifies relative errors by |gamma log(1 - p)|
    tol = 64 * torch.finfo(torch.float32).eps
    tiny = torch.finfo(torch.float32).tiny  # below float32's normal range (the loss at margin 40, gamma 2: 9e-53)
    assert ((got.double() - ref).abs() <= tol * log_scale * ref.abs() + tiny).all(), (got, ref)
    assert ((gx.double() - rx).abs() <= tol * log_scale[:, None] * rx.abs() + tiny).all(), (gx, rx)


def test_softmax_focal_index_forward_over_several_eager_blocks():
    # more elements than one eager block of the index forward (focal._GATHER_CHUNK): the blocked kernel equals
    # the float64 formula row for row
    from losslab import _kernels

    c = 7
    n = _kernels._GATHER_CHUNK // c * 2 + 11
    g = torch.Generator().manual_seed(3)
    x = torch.randn(n, c, generator=g) * 6
    idx = torch.randint(0, c, (n,), generator=g)
    got, (gx,) = _grad(lambda a: softmax_focal_loss(a, idx, gamma=1.5, reduction="none"), x)
    onehot = F.one_hot(idx, c).double()
    ref, (rx,) = _grad(lambda a: _softmax_focal_reference(a, onehot, 1.5, None), x.double())
    _close(got, ref, torch.float32, scale=1.0)
    _close(gx, rx, torch.float32, scale=1.0)
