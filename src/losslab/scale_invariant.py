r"""Scale-invariant regression losses: the mean absolute percentage error and the cosine distance.

Both ignore a common scale: :func:`mean_absolute_percentage_error` measures the error relative to the target
(scaling prediction and target together changes nothing), :func:`cosine_similarity_loss` compares directions only
(scaling either vector changes nothing). They fill the gaps against Keras' ``MeanAbsolutePercentageError`` and
``CosineSimilarity``, torch's ``CosineEmbeddingLoss`` (positive pairs) and optax's ``cosine_distance``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._checks import check_finite, check_floating, check_reduction, check_same_shape, check_scalar
from ._compat import renamed_arguments
from ._module import LossModule
from ._numerics import upcast
from ._reduction import reduce_loss
from .classification._class_terms import out_dtype

__all__ = [
    "mean_absolute_percentage_error",
    "MeanAbsolutePercentageError",
    "cosine_similarity_loss",
    "CosineSimilarityLoss",
]


def _check_pair(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    check_floating(pred, "pred")
    check_floating(target, "target")
    check_same_shape(pred, target, "pred", "target")
    check_finite(pred, "pred")
    check_finite(target, "target")
    p, y = upcast(pred, target)
    return p, y


def _check_mape_eps(eps: float) -> float:
    return check_scalar(eps, "eps", low=0.0, low_inclusive=False)


@renamed_arguments(weight="sample_weight")
def mean_absolute_percentage_error(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    eps: float = 1e-7,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Mean absolute percentage error (MAPE), for regression where the relative error matters.

    The absolute error as a percentage of the target, as Keras computes it (the denominator floored at
    :math:`\epsilon` so a zero target gives a large but finite loss):

    .. math::
        \ell = 100\,\frac{|y - \hat y|}{\max(|y|, \epsilon)}

    Args:
        pred: Predictions, any shape.
        target: Targets, same shape as ``pred``; best kept away from 0.
        eps: Floor of :math:`|y|`, ``> 0``; Keras' ``backend.epsilon()`` ``1e-7``.
        sample_weight: Optional weights broadcastable to the unreduced loss (``pred``'s shape; ``(N, 1)`` weighs
            samples).
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Element-wise loss (in percent) of ``pred``'s shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, a non-finite ``pred``/``target``, or ``eps <= 0``.
        TypeError: a non-floating tensor.

    Note:
        Keras returns the mean over the last axis per sample before its reduction; here ``"none"`` is
        element-wise and ``"mean"`` averages every element, which gives Keras' ``"sum_over_batch_size"``
        result. MAPE is asymmetric: an over-prediction can cost any amount, an under-prediction of a positive
        target at most 100, so a model trained on it under-predicts.

    Example:
        >>> import torch
        >>> mean_absolute_percentage_error(torch.tensor([1.1, 1.5, -2.0]), torch.tensor([1.0, 2.0, -4.0]),
        ...                                reduction="none")
        tensor([10.0000, 25.0000, 50.0000])

    References:
        Keras 3, ``keras.losses.MeanAbsolutePercentageError``; standard in forecasting (R. J. Hyndman,
        A. B. Koehler, "Another look at measures of forecast accuracy", Int. J. Forecasting 2006).
    """
    check_reduction(reduction)
    eps = _check_mape_eps(eps)
    p, y = _check_pair(pred, target)
    loss = 100.0 * (y - p).abs() / y.abs().clamp_min(eps)
    return reduce_loss(loss, reduction, sample_weight, dtype=out_dtype(pred))


def _check_mape(*, eps: float = 1e-7, **_: object) -> None:
    _check_mape_eps(eps)


class MeanAbsolutePercentageError(LossModule, function=mean_absolute_percentage_error, validate=_check_mape):
    pass


def _check_cosine(*, dim: int = 1, eps: float = 1e-8, **_: object) -> tuple[int, float]:
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"dim: expected an int, got {type(dim).__name__}")
    return dim, check_scalar(eps, "eps", low=0.0, low_inclusive=False)


@renamed_arguments(weight="sample_weight")
def cosine_similarity_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    dim: int = 1,
    eps: float = 1e-8,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Cosine distance :math:`1 - \cos(\hat y, y)`, for regressing directions (embeddings, normals, flows).

    One minus the cosine of the angle between the prediction and target vectors along ``dim``: 0 when they point
    the same way, 1 when orthogonal, 2 when opposite; their lengths do not matter. With
    :math:`\hat u = \hat y / \max(\|\hat y\|_2, \epsilon)` and :math:`u = y / \max(\|y\|_2, \epsilon)`:

    .. math::
        \ell = 1 - \langle \hat u, u \rangle

    Args:
        pred: Predicted vectors, vector components on ``dim`` (e.g. ``(N, D)`` or ``(N, D, H, W)``).
        target: Target vectors, same shape as ``pred``.
        dim: The vector dimension; default 1 (channels first, as ``torch.nn.functional.cosine_similarity``).
        eps: Floor of each vector's norm, ``> 0``; a zero vector has cosine 0 with everything (loss 1).
        sample_weight: Optional weights broadcastable to the unreduced loss (the shape without ``dim``).
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Loss of the input shape without ``dim`` for ``"none"``, in ``[0, 2]``; otherwise a scalar.

    Raises:
        ValueError: shapes differ, a non-finite ``pred``/``target``, ``dim`` out of range, or ``eps <= 0``.
        TypeError: a non-floating tensor or a non-int ``dim``.

    Note:
        Equals optax's ``cosine_distance`` and torch's ``CosineEmbeddingLoss`` with every pair labelled +1. Keras'
        ``CosineSimilarity`` loss is :math:`-\cos`, i.e. this minus 1 (same gradient), with ``axis=-1``.

    Example:
        >>> import torch
        >>> pred = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]])
        >>> cosine_similarity_loss(pred, torch.tensor([[0.0, 1.0], [0.0, 1.0], [3.0, 0.0]]), reduction="none")
        tensor([1., 0., 2.])
    """
    check_reduction(reduction)
    dim, eps = _check_cosine(dim=dim, eps=eps)
    p, y = _check_pair(pred, target)
    if not -p.ndim <= dim < p.ndim:
        raise ValueError(
            f"dim: expected a dimension of pred {tuple(pred.shape)} (in [{-p.ndim}, {p.ndim - 1}]), got {dim}"
        )
    # x / max(||x||, eps) (F.normalize): finite value and gradient at a zero vector, where it is x / eps
    loss = 1.0 - (F.normalize(p, dim=dim, eps=eps) * F.normalize(y, dim=dim, eps=eps)).sum(dim)
    return reduce_loss(loss, reduction, sample_weight, dtype=out_dtype(pred))


def _validate_cosine(**hyperparameters: object) -> None:
    _check_cosine(**hyperparameters)  # type: ignore[arg-type]


class CosineSimilarityLoss(LossModule, function=cosine_similarity_loss, validate=_validate_cosine):
    pass
