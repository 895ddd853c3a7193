"""Regression losses: squared, absolute, squared-log, Huber, smooth-L1, log-cosh and Poisson errors.

Every function takes ``pred`` and ``target`` of the same shape and returns the element-wise loss reduced by
:func:`losslab._reduction.reduce_loss`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._checks import check_bool, check_finite, check_floating, check_in_range, check_same_shape, check_scalar
from ._compat import renamed_arguments
from ._module import LossModule
from ._numerics import upcast
from ._reduction import reduce_loss

__all__ = [
    "mse_loss",
    "MSELoss",
    "mae_loss",
    "MAELoss",
    "msle_loss",
    "MSLELoss",
    "huber_loss",
    "HuberLoss",
    "smooth_l1_loss",
    "SmoothL1Loss",
    "log_cosh_loss",
    "LogCoshLoss",
    "poisson_loss",
    "PoissonLoss",
]


def _check_pair(
    pred: torch.Tensor, target: torch.Tensor, loss: str = "", *, values: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Dtypes and shapes; with ``values`` also the finiteness of both (a loss with range checks passes False
    and checks the ranges itself, which reads each tensor once for both)."""
    check_floating(pred, "pred")
    check_floating(target, "target")
    check_same_shape(pred, target, "pred", "target")
    if values:
        check_finite(pred, "pred", loss)
        check_finite(target, "target")
    p, t = upcast(pred, target)
    return p, t


@renamed_arguments(weight="sample_weight")
def mse_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Mean squared error, for regression to continuous values with Gaussian-like noise.

    Squaring penalizes large errors heavily, so a few outliers dominate the loss; prefer :func:`mae_loss` or
    :func:`huber_loss` when the targets have outliers:

    .. math::
        \ell = (\hat y - y)^2

    Args:
        pred: Predictions, any shape.
        target: Targets, same shape as ``pred``.
        sample_weight: Optional per-element weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        The loss of ``pred``'s shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, or ``target`` is not finite.
        TypeError: a non-floating tensor.

    Example:
        >>> import torch
        >>> mse_loss(torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 3.0, 2.0]))
        tensor(1.6667)
    """
    p, t = _check_pair(pred, target, "mse_loss")
    return reduce_loss((p - t).square(), reduction, sample_weight, dtype=pred.dtype)


class MSELoss(LossModule, function=mse_loss):
    pass


@renamed_arguments(weight="sample_weight")
def mae_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Mean absolute error, for regression when the targets contain outliers.

    Every unit of error costs the same, so outliers weigh less than under :func:`mse_loss`; the minimizer is the
    conditional median rather than the mean:

    .. math::
        \ell = |\hat y - y|

    Args:
        pred: Predictions, any shape.
        target: Targets, same shape as ``pred``.
        sample_weight: Optional per-element weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        The loss of ``pred``'s shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, or ``target`` is not finite.
        TypeError: a non-floating tensor.

    Example:
        >>> import torch
        >>> mae_loss(torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 3.0, 2.0]))
        tensor(1.)
    """
    p, t = _check_pair(pred, target, "mae_loss")
    return reduce_loss((p - t).abs(), reduction, sample_weight, dtype=pred.dtype)


class MAELoss(LossModule, function=mae_loss):
    pass


def _huber(residual: torch.Tensor, delta: float) -> torch.Tensor:
    # 0.5 r^2 inside |r| <= delta, delta (|r| - 0.5 delta) outside; written with a clamp so both branches are
    # finite everywhere and the gradient is r inside, delta * sign(r) outside.
    a = residual.abs()
    q = a.clamp(max=delta)
    return 0.5 * q.square() + delta * (a - q)


@renamed_arguments(weight="sample_weight")
def huber_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    delta: float = 1.0,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Huber loss: squared error for small residuals, absolute error beyond ``delta``.

    A compromise between :func:`mse_loss` (smooth near the optimum) and :func:`mae_loss` (robust to outliers)
    [Huber1964]_. With :math:`r = \hat y - y`:

    .. math::
        \ell = \begin{cases} \tfrac12 r^2 & |r| \le \delta \\ \delta\,(|r| - \tfrac12\delta) & |r| > \delta \end{cases}

    Args:
        pred: Predictions, any shape.
        target: Targets, same shape as ``pred``.
        delta: Where the quadratic turns linear, ``> 0``.
        sample_weight: Optional per-element weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        The loss of ``pred``'s shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, ``target`` not finite, or ``delta <= 0``.
        TypeError: a non-floating tensor.

    Note:
        ``huber_loss(delta=d) == d * smooth_l1_loss(beta=d)``: torch's ``HuberLoss`` and Keras' ``Huber`` use
        this definition.

    Example:
        >>> import torch
        >>> huber_loss(torch.tensor([0.5, 3.0]), torch.tensor([0.0, 0.0]), reduction="none")
        tensor([0.1250, 2.5000])

    References:
        .. [Huber1964] P. J. Huber. "Robust Estimation of a Location Parameter." Ann. Math. Statist. 1964.
    """
    delta = _check_huber(delta)
    p, t = _check_pair(pred, target, "huber_loss")
    return reduce_loss(_huber(p - t, delta), reduction, sample_weight, dtype=pred.dtype)


def _check_huber(delta: float, **_: object) -> float:
    return check_scalar(delta, "delta", low=0.0, low_inclusive=False)


class HuberLoss(LossModule, function=huber_loss, validate=_check_huber):
    pass


@renamed_arguments(weight="sample_weight")
def smooth_l1_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    beta: float = 1.0,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Smooth-L1 loss (Fast R-CNN): absolute error with a quadratic zone of width ``beta`` around 0.

    The box-regression loss of Fast R-CNN [Girshick2015]_; with :math:`r = \hat y - y`:

    .. math::
        \ell = \begin{cases} \tfrac{1}{2\beta} r^2 & |r| < \beta \\ |r| - \tfrac12\beta & |r| \ge \beta \end{cases}

    Unlike :func:`huber_loss`, the linear part always has slope 1, so ``beta`` changes only the quadratic zone.
    ``beta=0`` is the absolute error.

    Args:
        pred: Predictions, any shape.
        target: Targets, same shape as ``pred``.
        beta: Width of the quadratic zone, ``>= 0``.
        sample_weight: Optional per-element weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        The loss of ``pred``'s shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, ``target`` not finite, or ``beta < 0``.
        TypeError: a non-floating tensor.

    Example:
        >>> import torch
        >>> smooth_l1_loss(torch.tensor([0.5, 3.0]), torch.tensor([0.0, 0.0]), reduction="none")
        tensor([0.1250, 2.5000])

    References:
        .. [Girshick2015] R. Girshick. "Fast R-CNN." ICCV 2015. https://arxiv.org/abs/1504.08083
    """
    beta = _check_smooth_l1(beta)
    p, t = _check_pair(pred, target, "smooth_l1_loss")
    r = p - t
    loss = r.abs() if beta == 0.0 else _huber(r, beta) / beta
    return reduce_loss(loss, reduction, sample_weight, dtype=pred.dtype)


def _check_smooth_l1(beta: float, **_: object) -> float:
    return check_scalar(beta, "beta", low=0.0)


class SmoothL1Loss(LossModule, function=smooth_l1_loss, validate=_check_smooth_l1):
    pass


@renamed_arguments(weight="sample_weight")
def msle_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    clamp_min: float | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Mean squared logarithmic error, for positive targets that span orders of magnitude.

    The squared error between :math:`\log(1 + \cdot)` of prediction and target, so it measures the *ratio*
    :math:`(1 + \hat y) / (1 + y)` rather than the difference; an under-estimate costs more than an
    over-estimate of the same size:

    .. math::
        \ell = \bigl(\log(1 + \hat y) - \log(1 + y)\bigr)^2

    Args:
        pred: Predictions, any shape, values ``> -1``.
        target: Targets, same shape as ``pred``, values ``> -1``.
        clamp_min: If given, ``pred`` and ``target`` are first clamped to ``[clamp_min, inf)``. Keras'
            ``MeanSquaredLogarithmicError`` does this with ``1e-7``; pass ``clamp_min=1e-7`` to reproduce it.
            ``None`` (default) uses the inputs as they are.
        sample_weight: Optional per-element weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        The loss of ``pred``'s shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, ``target`` not finite, or (without ``clamp_min``) a value ``<= -1`` in
            ``pred`` or ``target``, where :math:`\log(1 + x)` is undefined.
        TypeError: a non-floating tensor.

    Note:
        Computed with ``log1p``, accurate for values near 0. Keras clamps negative predictions to ``1e-7``
        silently, which also gives them a zero gradient (a model that predicts a negative value cannot learn
        its way back); here negative values in ``(-1, 0)`` keep the log1p form and its gradient, and values
        ``<= -1`` are an error unless ``clamp_min`` is set.

    Example:
        >>> import torch
        >>> msle_loss(torch.tensor([0.0, 3.0]), torch.tensor([0.0, 1.0]), reduction="none")
        tensor([0.0000, 0.4805])

    References:
        Keras 3, ``keras.losses.MeanSquaredLogarithmicError`` (which also clamps its inputs to ``1e-7``).
    """
    clamp_min = _check_msle(clamp_min)
    p, t = _check_pair(pred, target, "msle_loss", values=clamp_min is not None)
    if clamp_min is None:
        hint = "msle_loss compares log1p(pred) with log1p(target); pass clamp_min=1e-7 to clamp as Keras does"
        check_in_range(p, "pred", -1.0, math.inf, hint, low_inclusive=False, loss="msle_loss")
        check_in_range(t, "target", -1.0, math.inf, hint, low_inclusive=False)
    else:
        p, t = p.clamp_min(clamp_min), t.clamp_min(clamp_min)
    loss = (torch.log1p(p) - torch.log1p(t)).square()
    return reduce_loss(loss, reduction, sample_weight, dtype=pred.dtype)


def _check_msle(clamp_min: float | None, **_: object) -> float | None:
    return None if clamp_min is None else check_scalar(clamp_min, "clamp_min", low=-1.0, low_inclusive=False)


class MSLELoss(LossModule, function=msle_loss, validate=_check_msle):
    pass


_LOG2 = math.log(2.0)


def _log_cosh(r: torch.Tensor) -> torch.Tensor:
    # Far from 0: log cosh r = |r| + log1p(exp(-2|r|)) - log 2 = |r| + softplus(-2|r|) - log 2, which never
    # overflows (cosh(1e4) is inf even in float64). Near 0 that form cancels (it subtracts two numbers close to
    # log 2), so there we use cosh r - 1 = 2 sinh^2(r/2): log cosh r = log1p(2 sinh^2(r/2)), accurate to full
    # relative precision. The near-0 branch is evaluated on a zeroed copy elsewhere (double where), so sinh of
    # a large residual cannot put inf * 0 = NaN into the gradient.
    a = r.abs()
    near = a < 1.0
    r_near = torch.where(near, r, torch.zeros_like(r))
    small = torch.log1p(2.0 * torch.sinh(0.5 * r_near).square())
    large = a + nn.functional.softplus(-2.0 * a) - _LOG2
    return torch.where(near, small, large)


@renamed_arguments(weight="sample_weight")
def log_cosh_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Log-cosh loss: about :math:`r^2/2` for small residuals and :math:`|r| - \log 2` for large ones.

    A smooth alternative to :func:`huber_loss` with no threshold to pick: twice differentiable everywhere, with
    gradient :math:`\tanh(r)` bounded by 1. With :math:`r = \hat y - y`:

    .. math::
        \ell = \log\cosh(r)

    Args:
        pred: Predictions, any shape.
        target: Targets, same shape as ``pred``.
        sample_weight: Optional per-element weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        The loss of ``pred``'s shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, or ``target`` is not finite.
        TypeError: a non-floating tensor.

    Note:
        ``log(cosh(r))`` overflows for :math:`|r| > 710` in float64 (89 in float32). This uses
        :math:`|r| + \operatorname{softplus}(-2|r|) - \log 2` for :math:`|r| \ge 1` (the form Keras uses, written
        with :math:`|r|` so there is no cancellation for large negative residuals) and
        :math:`\operatorname{log1p}(2\sinh^2(r/2))` below 1, so the loss keeps full relative precision at
        tiny residuals and is finite at residual 1e4 with gradient :math:`\pm 1`.

    Example:
        >>> import torch
        >>> log_cosh_loss(torch.tensor([0.1, 1e4]), torch.tensor([0.0, 0.0]), reduction="none")
        tensor([4.9917e-03, 9.9993e+03])

    References:
        .. [Chen2019] P. Chen, G. Chen, S. Zhang. "Log Hyperbolic Cosine Loss Improves Variational
           Auto-Encoder." ICLR 2019 submission (OpenReview). The overflow-free form: keras-team/keras PR #8524.
    """
    p, t = _check_pair(pred, target, "log_cosh_loss")
    return reduce_loss(_log_cosh(p - t), reduction, sample_weight, dtype=pred.dtype)


class LogCoshLoss(LossModule, function=log_cosh_loss):
    pass


@renamed_arguments(weight="sample_weight")
def poisson_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    log_input: bool = False,
    eps: float = 1e-7,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Poisson negative log-likelihood, for regressing counts (events per interval) on a predicted rate.

    The negative log-likelihood of the count :math:`y` under a Poisson distribution with rate :math:`\lambda`,
    without the constant :math:`\log y!`. With a rate ``pred`` (``log_input=False``, Keras' ``Poisson``) or a
    log-rate ``pred`` (``log_input=True``, torch's ``PoissonNLLLoss`` default):

    .. math::
        \ell = \hat\lambda - y \log(\hat\lambda + \epsilon)
        \qquad\text{or}\qquad
        \ell = e^{x} - y\,x \quad (x = \log\hat\lambda)

    Args:
        pred: Predicted rates (``>= 0``, e.g. a softplus or exp output), or log-rates when ``log_input=True``.
        target: Observed counts, same shape as ``pred``, ``>= 0`` (need not be integers).
        log_input: Whether ``pred`` holds log-rates. The log-rate form needs no ``eps`` and has a gradient
            that never blows up near a rate of 0.
        eps: Added to the rate inside the log (rate input only), ``>= 0``; Keras uses ``1e-7``, torch ``1e-8``.
        sample_weight: Optional per-element weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        The loss of ``pred``'s shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, ``target`` negative or not finite, a negative rate (rate input), or ``eps < 0``.
        TypeError: a non-floating tensor.

    Note:
        The loss is not 0 at its minimum (:math:`\hat\lambda = y`), because the :math:`\log y!` term is left out,
        as Keras and torch (``full=False``) do. Where :math:`y = 0` the log term is exactly 0, even at
        :math:`\hat\lambda = 0` with ``eps=0``.

    Example:
        >>> import torch
        >>> poisson_loss(torch.tensor([2.0, 0.5]), torch.tensor([2.0, 0.0]), reduction="none")
        tensor([0.6137, 0.5000])
        >>> poisson_loss(torch.tensor([2.0, 0.5]).log(), torch.tensor([2.0, 0.0]), log_input=True, reduction="none")
        tensor([0.6137, 0.5000])

    References:
        .. [McCullagh1989] P. McCullagh, J. A. Nelder. "Generalized Linear Models." 2nd ed., Chapman & Hall 1989
           (Poisson regression with the log link).
    """
    eps = _check_poisson(log_input, eps)
    p, t = _check_pair(pred, target, "poisson_loss", values=False)
    check_in_range(t, "target", 0.0, math.inf, "poisson_loss expects non-negative counts")
    if log_input:
        check_finite(p, "pred", "poisson_loss")
        loss = torch.exp(p) - t * p
    else:
        check_in_range(
            p, "pred", 0.0, math.inf,
            "poisson_loss expects rates (e.g. softplus or exp outputs); for log-rates pass log_input=True",
            loss="poisson_loss",
        )
        # y * log(rate + eps) with 0 * log(0) := 0; the log sees 1 where y == 0 so no inf enters the gradient.
        zero = t == 0
        log_rate = torch.log(torch.where(zero, torch.ones_like(p), p + eps))
        loss = p - torch.where(zero, torch.zeros_like(p), t * log_rate)
    return reduce_loss(loss, reduction, sample_weight, dtype=pred.dtype)


def _check_poisson(log_input: bool, eps: float, **_: object) -> float:
    check_bool(log_input, "log_input")
    return check_scalar(eps, "eps", low=0.0)


class PoissonLoss(LossModule, function=poisson_loss, validate=_check_poisson):
    pass
