"""The foundation helpers every loss builds on: reduce_loss, _checks (and the validation switch), _targets,
_numerics. Expected values are worked by hand, by mpmath, or by the obvious slow form."""

from __future__ import annotations

import math

import mpmath
import pytest
import torch

import losslab
from losslab import _checks, _numerics, _targets
from losslab._reduction import reduce_loss

# ---------------------------------------------------------------------------------------------------------------
# reduce_loss


LOSS = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=torch.float64)


def test_reductions_by_hand():
    assert reduce_loss(LOSS, "sum").item() == 21.0
    assert reduce_loss(LOSS, "mean").item() == 3.5
    assert torch.equal(reduce_loss(LOSS, "none"), LOSS)


def test_weights_broadcast_and_weighted_mean():
    w = torch.tensor([[1.0], [0.0], [2.0]], dtype=torch.float64)  # per row
    assert torch.equal(reduce_loss(LOSS, "none", w), LOSS * w)
    assert reduce_loss(LOSS, "sum", w).item() == 1 + 2 + 2 * (5 + 6)
    assert reduce_loss(LOSS, "mean", w).item() == pytest.approx((1 + 2 + 22) / 6)
    wc = torch.tensor([0.5, 1.5], dtype=torch.float64)  # per column
    assert reduce_loss(LOSS, "mean", wc).item() == pytest.approx((0.5 * 9 + 1.5 * 12) / 6)


def test_mask_removes_from_numerator_and_denominator():
    mask = torch.tensor([[True, False], [True, True], [False, False]])
    assert reduce_loss(LOSS, "mean", mask=mask).item() == pytest.approx((1 + 3 + 4) / 3)
    assert reduce_loss(LOSS, "sum", mask=mask).item() == 8.0
    assert torch.equal(reduce_loss(LOSS, "none", mask=mask), LOSS * mask)
    w = torch.tensor([[2.0], [1.0], [5.0]], dtype=torch.float64)
    assert reduce_loss(LOSS, "mean", w, mask=mask).item() == pytest.approx((2 + 3 + 4) / (2 + 1 + 1))


def test_normalizer_replaces_the_denominator():
    assert reduce_loss(LOSS, "mean", normalizer=7.0).item() == 3.0
    assert reduce_loss(LOSS, "mean", normalizer=torch.tensor(3.0)).item() == 7.0
    assert reduce_loss(LOSS, "sum", normalizer=7.0).item() == 21.0  # ignored by "sum"


@pytest.mark.parametrize("kwargs", [
    {"mask": torch.zeros(3, 2, dtype=torch.bool)},
    {"sample_weight": torch.zeros(3, 1, dtype=torch.float64)},
    {"normalizer": 0.0, "mask": torch.zeros(3, 2, dtype=torch.bool)},
])
def test_mean_over_nothing_is_zero_with_zero_gradient(kwargs):
    x = LOSS.clone().requires_grad_()
    out = reduce_loss(x * 2, "mean", **kwargs)
    out.backward()
    assert out.item() == 0.0 and torch.equal(x.grad, torch.zeros_like(x))


def test_empty_loss():
    x = torch.zeros(0, 4, requires_grad=True)
    for red in ("mean", "sum"):
        out = reduce_loss(x.exp(), red)
        assert out.shape == () and out.item() == 0.0
    assert reduce_loss(x, "none").shape == (0, 4)


def test_masked_non_finite_values_do_not_leak():
    # A NaN/inf loss value at a masked position stays out of the result, also when multiplied by a weight, and
    # gets a zero gradient. (An op whose own derivative is infinite there, like log at 0, still produces
    # 0 * inf = NaN upstream: the loss must evaluate such ops on safe values, as the losses here do.)
    x = torch.tensor([0.0, 1.0, 2.0], requires_grad=True)
    loss = x + torch.tensor([float("nan"), 0.0, float("inf")])
    mask = torch.tensor([True, True, False])
    mask[0] = False
    w = torch.tensor([2.0, 3.0, 4.0])
    out = reduce_loss(loss, "mean", w, mask=mask)
    out.backward()
    assert out.item() == 1.0
    assert x.grad.tolist() == [0.0, 1.0, 0.0]
    assert torch.equal(reduce_loss(loss, "none", w, mask=mask).detach(), torch.tensor([0.0, 3.0, 0.0]))


def test_dtype_argument():
    out = reduce_loss(LOSS.float(), "mean", dtype=torch.bfloat16)
    assert out.dtype == torch.bfloat16 and out.item() == 3.5


def test_reduce_loss_errors():
    with pytest.raises(ValueError, match=r"reduction: expected one of \('none', 'mean', 'sum'\), got 'avg'"):
        reduce_loss(LOSS, "avg")
    with pytest.raises(ValueError, match=r"weight: expected a shape broadcastable to the unreduced loss \(3, 2\), got \(2, 3\)"):
        reduce_loss(LOSS, "mean", torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"weight: expected a shape broadcastable .* got \(3, 2, 2\)"):
        reduce_loss(LOSS, "mean", torch.ones(3, 2, 2))  # would broadcast the loss up: rejected
    with pytest.raises(TypeError, match="weight: expected a torch.Tensor, got list"):
        reduce_loss(LOSS, "mean", [1.0, 2.0])
    with pytest.raises(TypeError, match="mask: expected a bool tensor, got dtype torch.float32"):
        reduce_loss(LOSS, "mean", mask=torch.ones(3, 2))


# ---------------------------------------------------------------------------------------------------------------
# argument checks (always run)


def test_argument_checks():
    _checks.check_reduction("sum")
    with pytest.raises(TypeError, match="x: expected a torch.Tensor, got ndarray"):
        import numpy as np

        _checks.check_tensor(np.zeros(2), "x")
    with pytest.raises(TypeError, match="x: expected a floating-point tensor, got dtype torch.int32"):
        _checks.check_floating(torch.zeros(2, dtype=torch.int32), "x")
    with pytest.raises(TypeError, match="t: expected an integer tensor of class indices, got dtype torch.float32; cast"):
        _checks.check_integer(torch.zeros(2), "t", "; cast")
    with pytest.raises(TypeError, match="got dtype torch.bool"):
        _checks.check_integer(torch.zeros(2, dtype=torch.bool), "t")
    _checks.check_integer(torch.zeros(2, dtype=torch.uint8), "t")
    with pytest.raises(ValueError, match=r"b: expected the same shape as a \(2,\), got \(3,\)"):
        _checks.check_same_shape(torch.zeros(2), torch.zeros(3), "a", "b")
    with pytest.raises(ValueError, match=r"x: expected shape \(N, C, \*\) with at least 2 dims, got \(4,\)"):
        _checks.check_min_ndim(torch.zeros(4), 2, "x", "(N, C, *)")
    with pytest.raises(ValueError, match=r"boxes: expected a last dimension of size 4, got shape \(2, 5\)"):
        _checks.check_last_dim(torch.zeros(2, 5), 4, "boxes")
    with pytest.raises(ValueError, match=r"boxes: expected a last dimension of size 4, got shape \(\)"):
        _checks.check_last_dim(torch.tensor(1.0), 4, "boxes")
    assert _checks.check_choice("a", "mode", ("a", "b")) == "a"
    with pytest.raises(ValueError, match=r"mode: expected one of \('a', 'b'\), got 'c'"):
        _checks.check_choice("c", "mode", ("a", "b"))


@pytest.mark.parametrize("value, kwargs, message", [
    (-0.1, {"low": 0.0}, r"gamma: expected a value in \[0, inf\), got -0.1"),
    (0.0, {"low": 0.0, "low_inclusive": False}, r"gamma: expected a value in \(0, inf\), got 0"),
    (1.5, {"low": 0.0, "high": 1.0}, r"gamma: expected a value in \[0, 1\], got 1.5"),
    (1.0, {"high": 1.0, "high_inclusive": False}, r"gamma: expected a value in \(-inf, 1\), got 1"),
    (float("nan"), {}, "gamma: expected a finite number, got nan"),
    (float("inf"), {"low": 0.0}, "gamma: expected a finite number, got inf"),
    (-float("inf"), {}, "gamma: expected a finite number, got -inf"),
])
def test_check_scalar_ranges(value, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _checks.check_scalar(value, "gamma", **kwargs)


def test_check_scalar_types_and_return():
    assert _checks.check_scalar(2, "gamma", low=0.0) == 2.0 and isinstance(_checks.check_scalar(2, "gamma"), float)
    with pytest.raises(TypeError, match="gamma: expected a number, got bool"):
        _checks.check_scalar(True, "gamma")
    with pytest.raises(TypeError, match="gamma: expected a number, got Tensor"):
        _checks.check_scalar(torch.tensor(1.0), "gamma")


# ---------------------------------------------------------------------------------------------------------------
# value checks and the validation switch


def test_value_checks():
    with pytest.raises(ValueError, match="x: expected finite values, found NaN"):
        _checks.check_finite(torch.tensor([1.0, float("nan"), float("inf")]), "x")
    with pytest.raises(ValueError, match="x: expected finite values, found -inf"):
        _checks.check_finite(torch.tensor([1.0, -float("inf")]), "x")
    with pytest.raises(ValueError, match=r"x: expected finite values, found -inf and inf \(in my_loss\)"):
        _checks.check_finite(torch.tensor([float("inf"), -float("inf")]), "x", loss="my_loss")
    _checks.check_finite(torch.tensor([1, 2]), "x")  # integers are finite
    _checks.check_finite(torch.zeros(0), "x")
    with pytest.raises(ValueError, match=r"x: expected values in \[0, 1\], got values in \[-0.5, 2\]; hint"):
        _checks.check_in_range(torch.tensor([-0.5, 2.0]), "x", 0.0, 1.0, "hint")
    with pytest.raises(ValueError, match=r"x: expected values in \(0, 1\]"):
        _checks.check_in_range(torch.tensor([0.0, 1.0]), "x", 0.0, 1.0, low_inclusive=False)
    _checks.check_in_range(torch.tensor([0.0, 1.0]), "x", 0.0, 1.0)
    with pytest.raises(ValueError, match="probs: expected values in .*; my_loss expects probabilities .*for logits use my_logit_loss"):
        _checks.check_probabilities(torch.tensor([3.0]), "probs", logits_variant="my_logit_loss", loss="my_loss")
    with pytest.raises(ValueError, match=r"target: expected class indices in \[0, 2\], got values in \[0, 3\]"):
        _checks.check_class_indices(torch.tensor([0, 3]), 3)
    _checks.check_class_indices(torch.tensor([0, 255, 2]), 3, ignore_index=255)
    _checks.check_class_indices(torch.tensor([255, 255]), 3, ignore_index=255)  # all ignored: nothing to check
    with pytest.raises(ValueError, match=r"y: expected values in \{-1, 1\}, got e.g. \[0.0, 2.0\]; use labels"):
        _checks.check_values_in(torch.tensor([1.0, 0.0, -1.0, 2.0]), "y", (-1.0, 1.0), "use labels")


def test_set_validation_switches_value_checks_not_argument_checks():
    bad = torch.tensor([2.0])
    try:
        losslab.set_validation(False)
        assert not losslab.validation_enabled()
        _checks.check_in_range(bad, "x", 0.0, 1.0)  # skipped
        _checks.check_finite(torch.tensor([float("nan")]), "x")  # skipped
        with pytest.raises(ValueError, match="reduction"):
            _checks.check_reduction("avg")  # argument checks always run
    finally:
        losslab.set_validation(True)
    assert losslab.validation_enabled()
    with pytest.raises(TypeError, match="enabled: expected True, False or 'always', got 0"):
        losslab.set_validation(0)


def test_validation_context_manager_restores_on_exit_and_error():
    assert losslab.validation_enabled()
    with losslab.validation(False):
        assert not losslab.validation_enabled()
        with losslab.validation(True):
            assert losslab.validation_enabled()
        assert not losslab.validation_enabled()
    assert losslab.validation_enabled()
    with pytest.raises(RuntimeError):
        with losslab.validation(False):
            raise RuntimeError("boom")
    assert losslab.validation_enabled()


def test_value_checks_skipped_while_compiling():
    def fn(p):
        flag = torch.tensor(float(losslab.validation_enabled()))
        _checks.check_in_range(p, "p", 0.0, 1.0)
        return p * 2, flag

    torch._dynamo.reset()
    out, flag = torch.compile(fn, backend="eager")(torch.tensor([2.0]))
    assert out.item() == 4.0 and flag.item() == 0.0
    with pytest.raises(ValueError):
        fn(torch.tensor([2.0]))


# ---------------------------------------------------------------------------------------------------------------
# class targets


def test_target_kind():
    x = torch.randn(4, 3, 5)
    assert _targets.target_kind(x, torch.zeros(4, 5, dtype=torch.long)) == _targets.INDEX
    assert _targets.target_kind(x, torch.rand(4, 3, 5)) == _targets.DENSE
    with pytest.raises(TypeError, match=r"target: class indices of shape \(4, 5\) must have an integer dtype"):
        _targets.target_kind(x, torch.zeros(4, 5))
    with pytest.raises(TypeError, match=r"target: dense targets of shape \(4, 3, 5\) must be floating point"):
        _targets.target_kind(x, torch.zeros(4, 3, 5, dtype=torch.long))
    with pytest.raises(TypeError, match="target: expected integer class indices, got dtype torch.bool"):
        _targets.target_kind(x, torch.zeros(4, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"target: expected class indices of shape \(4, 5\) or probabilities of shape \(4, 3, 5\), got \(4, 3\)"):
        _targets.target_kind(x, torch.zeros(4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"logits: expected shape \(N, C, \*\) with classes on dim 1, got \(3,\)"):
        _targets.target_kind(torch.randn(3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(TypeError, match="target: expected a torch.Tensor, got list"):
        _targets.target_kind(x, [0, 1])


def test_check_class_target_values():
    x = torch.randn(2, 3)
    with pytest.raises(ValueError, match=r"target: expected class indices in \[0, 2\]"):
        _targets.check_class_target(x, torch.tensor([0, 5]))
    assert _targets.check_class_target(x, torch.tensor([0, -100]), ignore_index=-100) == _targets.INDEX
    with pytest.raises(ValueError, match=r"target: expected values in \[0, 1\]"):
        _targets.check_class_target(x, torch.tensor([[0.5, 0.5, 1.5], [0.0, 0.0, 1.0]]))
    with pytest.raises(ValueError, match="ignore_index: only applies to class-index targets"):
        _targets.check_class_target(x, torch.rand(2, 3), ignore_index=0)


def test_ignore_index_applied_before_one_hot():
    t = torch.tensor([[2, 255], [0, 1]])
    assert torch.equal(_targets.valid_mask(t, 255), torch.tensor([[True, False], [True, True]]))
    assert _targets.valid_mask(t, None) is None
    assert torch.equal(_targets.safe_indices(t, 255), torch.tensor([[2, 0], [0, 1]]))
    assert _targets.safe_indices(t, None) is t
    oh = _targets.one_hot(t, 3, torch.float32, ignore_index=255)  # 255 never reaches F.one_hot
    assert oh.shape == (2, 3, 2)  # channels first
    expected = torch.tensor([[[0, 0], [0, 0], [1, 0]], [[1, 0], [0, 1], [0, 0]]], dtype=torch.float32)
    assert torch.equal(oh, expected)


def test_label_smoothing_formulas():
    dense = torch.tensor([[0.0, 1.0, 0.0, 0.0]])
    torch.testing.assert_close(_targets.smooth_categorical(dense, 0.2), torch.tensor([[0.05, 0.85, 0.05, 0.05]]))
    assert _targets.smooth_categorical(dense, 0.0) is dense
    torch.testing.assert_close(_targets.smooth_categorical(dense, 1.0), torch.full((1, 4), 0.25))
    torch.testing.assert_close(_targets.smooth_binary(torch.tensor([0.0, 1.0, 0.3]), 0.2), torch.tensor([0.1, 0.9, 0.34]))
    with pytest.raises(ValueError, match=r"label_smoothing: expected a value in \[0, 1\], got -0.1"):
        _targets.check_label_smoothing(-0.1)


# ---------------------------------------------------------------------------------------------------------------
# numerics


def test_upcast_and_result_dtype():
    h, b, f, d = (torch.zeros(1, dtype=t) for t in (torch.float16, torch.bfloat16, torch.float32, torch.float64))
    assert [t.dtype for t in _numerics.upcast(h, b, f, d)] == [torch.float32, torch.float32, torch.float32, torch.float64]
    assert _numerics.compute_dtype(torch.bfloat16) == torch.float32 and _numerics.compute_dtype(torch.float64) == torch.float64
    assert _numerics.result_dtype(torch.zeros(1), h).dtype == torch.float16
    assert _numerics.result_dtype(torch.zeros(1), torch.zeros(1, dtype=torch.long)).dtype == torch.float32


def test_safe_sqrt():
    x = torch.tensor([0.0, 4.0, -1.0], dtype=torch.float64, requires_grad=True)
    y = _numerics.safe_sqrt(x)
    y.sum().backward()
    assert y.tolist() == [0.0, 2.0, 0.0]
    assert x.grad.tolist() == [0.0, 0.25, 0.0]  # not inf / NaN at 0
    assert torch.autograd.gradcheck(_numerics.safe_sqrt, (torch.tensor([0.3, 2.0], dtype=torch.float64, requires_grad=True),))


def test_safe_div_and_safe_log():
    num = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    den = torch.tensor([0.0, 4.0], dtype=torch.float64, requires_grad=True)
    q = _numerics.safe_div(num, den, fill=-1.0)
    q.sum().backward()
    assert q.tolist() == [-1.0, 0.5]
    assert torch.isfinite(num.grad).all() and torch.isfinite(den.grad).all()
    assert den.grad.tolist() == [0.0, -2.0 / 16]
    x = torch.tensor([0.0, math.e, -1.0], dtype=torch.float64, requires_grad=True)
    y = _numerics.safe_log(x, fill=-5.0)
    y.sum().backward()
    assert y.tolist() == [-5.0, pytest.approx(1.0), -5.0]
    assert x.grad.tolist() == [0.0, pytest.approx(1 / math.e), 0.0]


def test_check_in_range_where_checks_the_selected_elements_only():
    x = torch.tensor([-100.0, 0.5, 1.0])
    keep = torch.tensor([False, True, True])
    _checks.check_in_range(x, "target", 0.0, 1.0, where=keep)  # the -100 is not selected
    _checks.check_in_range(x[1:], "target", 0.0, 1.0, low_inclusive=False, where=keep[1:])
    _checks.check_in_range(x, "rate", 0.0, math.inf, low_inclusive=False, where=keep)
    with pytest.raises(ValueError, match=r"target: expected values in \[0, 1\], got values in \[-100, 1\]"):
        _checks.check_in_range(x, "target", 0.0, 1.0)
    with pytest.raises(ValueError, match="target: expected finite values, found NaN"):
        _checks.check_in_range(torch.tensor([float("nan"), 0.5]), "target", 0.0, 1.0, where=torch.tensor([True, True]))


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 1.0, 1.5, 2.0, 3.7])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_safe_pow_against_the_plain_power(p, dtype):
    """``max(x, 0) ** p``: the plain power and its derivative ``p x^(p-1)`` (float64, by hand) on normal
    positive bases; 0 with gradient 0 on negative ones (p > 0); 1 with gradient 0 everywhere at p = 0."""
    xs = [-2.0, -1e-17, 1e-30, 1e-3, 0.25, 0.5, 0.999, 1.0, 3.0]
    x = torch.tensor(xs, dtype=dtype, requires_grad=True)
    y = _numerics.safe_pow(x, p)
    if p == 0:  # a constant: no graph to the base
        assert y.tolist() == [1.0] * len(xs) and not y.requires_grad
        return
    y.sum().backward()
    value = [v**p if v > 0 else 0.0 for v in xs]
    slope = [p * v ** (p - 1) if v > 0 else 0.0 for v in xs]
    torch.testing.assert_close(y, torch.tensor(value, dtype=dtype))
    torch.testing.assert_close(x.grad, torch.tensor(slope, dtype=dtype))
    z = torch.tensor([0.3, 0.7, 2.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: _numerics.safe_pow(t, p), (z,))


def test_safe_pow_is_finite_at_zero_and_subnormal_bases():
    """The slope ``p x^(p-1)`` overflows float32 below the smallest normal number for small ``p``
    (``1e-45 ** -0.9 = 1e40``): there the value and the gradient are 0, at every ``p``."""
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        tiny = torch.finfo(dtype).tiny
        x = torch.tensor([0.0, tiny / 4, tiny / 1024], dtype=dtype).clamp_min(0).requires_grad_()
        for p in (0.05, 0.1, 0.5, 0.9, 1.0, 2.0):
            x.grad = None
            y = _numerics.safe_pow(x, p)
            y.sum().backward()
            assert torch.isfinite(x.grad).all() and (y.abs() <= tiny**p).all(), (dtype, p, y, x.grad)
    # the old helpers compared with 0 only: a subnormal base gave an infinite gradient in float32
    x = torch.tensor([1e-45], dtype=torch.float32, requires_grad=True)
    assert torch.isinf(torch.autograd.grad(x.pow(0.1).sum(), x)[0]).all()


def test_log1mexp_against_mpmath():
    xs = [-1e-20, -1e-10, -1e-3, -0.5, -0.6931471805599453, -0.7, -1.0, -5.0, -40.0, -700.0]
    got = _numerics.log1mexp(torch.tensor(xs, dtype=torch.float64))
    with mpmath.workdps(400):  # 1 - exp(-700) needs ~310 digits to differ from 1
        expected = [float(mpmath.log(1 - mpmath.exp(mpmath.mpf(x)))) for x in xs]
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64), rtol=1e-14, atol=0)
    x = torch.tensor([-1e-3, -0.5, -0.9, -10.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_numerics.log1mexp, (x,))


# ---------------------------------------------------------------------------------------------------------------
# the non-finite policy (issue 12): float hyperparameters, and one host read per checked tensor


def test_check_scalar_allow_inf_is_an_explicit_opt_in():
    assert _checks.check_scalar(float("inf"), "max_norm", low=0.0, allow_inf=True) == float("inf")
    with pytest.raises(ValueError, match="max_norm: expected a finite number, got nan"):
        _checks.check_scalar(float("nan"), "max_norm", allow_inf=True)  # NaN never
    with pytest.raises(ValueError, match=r"max_norm: expected a value in \[0, inf\), got -inf"):
        _checks.check_scalar(-float("inf"), "max_norm", low=0.0, allow_inf=True)  # still range-checked


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_range_check_sees_nan_and_inf_in_one_read(dtype):
    # aminmax propagates NaN into both extremes, and an infinity is an extreme: the finiteness check needs no
    # second pass, for every floating dtype
    x = torch.linspace(0, 1, 1001, dtype=dtype)
    for value, found in ((float("nan"), "NaN"), (float("inf"), "inf"), (-float("inf"), "-inf")):
        bad = x.clone()
        bad[500] = value
        with pytest.raises(ValueError, match=f"p: expected finite values, found {found}"):
            _checks.check_in_range(bad, "p", 0.0, 1.0)
    # an infinity is rejected even when the range is unbounded (weights in [0, inf))
    with pytest.raises(ValueError, match="w: expected finite values, found inf"):
        _checks.check_in_range(torch.tensor([1.0, float("inf")], dtype=dtype), "w", 0.0, math.inf)


def test_finite_extremes_reads_extras_in_the_same_sync():
    x = torch.tensor([[0.25, 0.75], [0.5, 0.5]])
    lo, hi, row_max = _checks.finite_extremes(x, "x", extra=(x.sum(1).amax(),))
    assert (lo, hi, row_max) == (0.25, 0.75, 1.0)
    with pytest.raises(ValueError, match=r"x: expected finite values, found NaN \(in my_loss\)"):
        _checks.finite_extremes(torch.tensor([float("nan")]), "x", "my_loss")


def test_check_all_finite_names_the_bad_tensor():
    good, bad = torch.ones(2, 2), torch.tensor([1.0, float("nan")])
    _checks.check_all_finite([("a", good), ("b", good.double()), ("e", torch.zeros(0))])
    with pytest.raises(ValueError, match=r"f\['b'\]: expected finite values, found NaN"):
        _checks.check_all_finite([("f['a']", good), ("f['b']", bad)])
    with losslab.validation(False):
        _checks.check_all_finite([("f['b']", bad)])


def test_check_values_in_rejects_non_finite_by_name():
    with pytest.raises(ValueError, match="y: expected finite values, found NaN"):
        _checks.check_values_in(torch.tensor([1.0, float("nan")]), "y", (-1.0, 1.0))
    with pytest.raises(ValueError, match="y: expected finite values, found inf"):
        _checks.check_values_in(torch.tensor([1.0, float("inf")]), "y", (-1.0, 1.0))
    _checks.check_values_in(torch.tensor([1, 0, 1]), "y", (0.0, 1.0))  # integer labels


def test_message_names_the_public_loss_from_the_call_stack():
    # a check called outside any loss names none; inside a loss it names the one the user called
    with pytest.raises(ValueError, match=r"x: expected finite values, found NaN$"):
        _checks.check_finite(torch.tensor([float("nan")]), "x")
    with pytest.raises(ValueError, match=r"target: expected finite values, found NaN \(in mse_loss\)"):
        losslab.mse_loss(torch.zeros(2), torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match=r"target: expected finite values, found NaN \(in mse_loss\)"):
        losslab.MSELoss()(torch.zeros(2), torch.tensor([0.0, float("nan")]))
