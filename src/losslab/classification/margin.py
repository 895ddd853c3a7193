r"""Multi-class margin losses on raw class scores: the categorical (Crammer-Singer) hinge and torch's
``MultiMarginLoss`` (Weston-Watkins with a ``1/C`` factor).

Both take scores ``(N, C, *)`` (no softmax; any real values) and class indices ``(N, *)``; the categorical hinge
also takes one-hot targets ``(N, C, *)`` as Keras does. The binary hinge losses are in :mod:`.hinge`.
"""

from __future__ import annotations

import torch

from .._checks import check_reduction, check_scalar, check_values_in
from .._compat import renamed_arguments
from .._module import LossModule
from .._numerics import upcast
from .._reduction import reduce_loss
from .._targets import DENSE
from ._class_terms import ClassTarget, out_dtype

__all__ = ["categorical_hinge_loss", "CategoricalHingeLoss", "multiclass_hinge_loss", "MulticlassHingeLoss"]


def _weighted_by_target(loss: torch.Tensor, t: ClassTarget) -> torch.Tensor:
    tw = t.target_weight()
    return loss if tw is None else loss * tw


@renamed_arguments(weight="sample_weight")
def categorical_hinge_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    class_weight: torch.Tensor | None = None,
    ignore_index: int | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Categorical hinge loss: the target's score must beat the best other score by a margin of 1.

    The multi-class hinge of Crammer and Singer [Crammer2001]_ (Keras' ``CategoricalHinge``): zero once the
    labelled class leads every other class by at least 1, linear in the shortfall otherwise. With scores
    :math:`s`:

    .. math::
        \ell = \max\bigl(0,\ 1 + \max_{k \ne y} s_k - s_y\bigr)
        \qquad\text{(one-hot } y\text{: } \max(0,\ 1 + \max_{k: y_k = 0} s_k - \textstyle\sum_c y_c s_c))

    Args:
        pred: Class scores, shape ``(N, C, *)``, ``C >= 2`` (raw scores or probabilities).
        target: Class indices ``(N, *)`` (integer) or one-hot labels ``(N, C, *)`` (floating, values in
            ``{0, 1}``).
        class_weight: Optional per-class weights ``(C,)``: each position's loss is scaled by its target class's
            weight, and ``"mean"`` divides by their sum.
        ignore_index: Index-target value left out of the loss and of the mean's denominator.
        sample_weight: Optional weights broadcastable to the unreduced loss ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-sample loss ``(N, *)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: dense targets with values other than 0 and 1, and the target errors of
            :func:`softmax_cross_entropy`.
        TypeError: a target dtype that does not fit its shape.

    Note:
        Keras takes :math:`\max_k (1 - y_k) s_k`, a maximum that includes the 0 it writes at the labelled class.
        For non-negative scores (softmax outputs, Keras' intended use) that is the same number; for raw scores that
        are all negative Keras' "best other score" becomes 0. Here it is the best *other* score, as in the paper.
        Keras also averages over the last axis (classes last); here classes are on dim 1.

    Example:
        >>> import torch
        >>> scores = torch.tensor([[2.0, 0.5, -1.0], [0.2, 0.3, 0.1]])
        >>> categorical_hinge_loss(scores, torch.tensor([0, 2]), reduction="none")
        tensor([0.0000, 1.2000])

    References:
        .. [Crammer2001] K. Crammer, Y. Singer. "On the Algorithmic Implementation of Multiclass Kernel-based
           Vector Machines." JMLR 2, 2001.
    """
    check_reduction(reduction)
    t = ClassTarget(pred, target, class_weight=class_weight, ignore_index=ignore_index,
                    loss="categorical_hinge_loss", input_name="pred")
    (s,) = upcast(pred)
    if t.kind == DENSE:
        check_values_in(target, "target", (0.0, 1.0), "categorical_hinge_loss takes one-hot labels or class indices")
        y = t.dense
        assert y is not None
        positive = (y * s).sum(1)
        best_other = torch.where(y > 0, torch.full_like(s, -torch.inf), s).amax(1)
    else:
        assert t.index is not None
        positive = t.gather(s)
        best_other = s.scatter(1, t.index.unsqueeze(1), -torch.inf).amax(1)
    loss = _weighted_by_target(torch.relu(1.0 + best_other - positive), t)
    return reduce_loss(loss, reduction, sample_weight, mask=t.mask,
                       target_class_weight=t.target_weight(), dtype=out_dtype(pred))


class CategoricalHingeLoss(LossModule, function=categorical_hinge_loss):
    pass


def _check_multiclass_hinge(*, p: int = 1, margin: float = 1.0, **_: object) -> tuple[int, float]:
    if isinstance(p, bool) or p not in (1, 2):
        raise ValueError(f"p: expected 1 or 2, got {p!r}")
    return int(p), check_scalar(margin, "margin", low=0.0)


@renamed_arguments(weight="sample_weight")
def multiclass_hinge_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    p: int = 1,
    margin: float = 1.0,
    class_weight: torch.Tensor | None = None,
    ignore_index: int | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Multi-class hinge loss as ``torch.nn.MultiMarginLoss`` defines it: every other class is a margin violation.

    The Weston-Watkins multi-class SVM loss [Weston1999]_ divided by the number of classes: each other class whose
    score comes within ``margin`` of the target's adds its shortfall (squared for ``p=2``). With scores :math:`s`
    and :math:`C` classes:

    .. math::
        \ell = \frac{w_y}{C} \sum_{k \ne y} \max\bigl(0,\ \mathrm{margin} - s_y + s_k\bigr)^p

    Args:
        pred: Class scores, shape ``(N, C, *)``, ``C >= 2``.
        target: Class indices ``(N, *)`` (integer, in ``[0, C)`` or ``ignore_index``).
        p: ``1`` (hinge) or ``2`` (squared hinge), as torch.
        margin: The margin, ``>= 0``; torch's default 1.
        class_weight: Optional per-class weights ``(C,)`` (torch's ``weight``): scale each position's loss by
            :math:`w_y`. ``"mean"`` divides by :math:`\sum_i w_{y_i}` (torch's ``MultiMarginLoss`` divides by
            :math:`N`; ``"sum"`` and ``"none"`` agree with it).
        ignore_index: Index-target value left out of the loss and of the mean's denominator.
        sample_weight: Optional weights broadcastable to the unreduced loss ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-sample loss ``(N, *)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: ``p`` not 1 or 2, a negative ``margin``, dense targets, and the index-target errors of
            :func:`softmax_cross_entropy`.
        TypeError: a non-integer target.

    Note:
        torch's kernel takes ``(N, C)`` or ``(C,)`` scores; here any trailing dims ``(N, C, *)`` work (classes on
        dim 1), so it also serves per-pixel classification.

    Example:
        >>> import torch
        >>> scores = torch.tensor([[2.0, 0.5, -1.0], [0.2, 0.3, 0.1]])
        >>> multiclass_hinge_loss(scores, torch.tensor([0, 2]), reduction="none")
        tensor([0.0000, 0.7667])

    References:
        .. [Weston1999] J. Weston, C. Watkins. "Support Vector Machines for Multi-Class Pattern Recognition."
           ESANN 1999.
    """
    check_reduction(reduction)
    p, margin = _check_multiclass_hinge(p=p, margin=margin)
    t = ClassTarget(pred, target, class_weight=class_weight, ignore_index=ignore_index,
                    loss="multiclass_hinge_loss", input_name="pred")
    if t.index is None:
        raise ValueError(
            f"target: multiclass_hinge_loss takes class indices of shape {tuple(pred.shape[:1] + pred.shape[2:])}, "
            f"got dense targets {tuple(target.shape)}; for one-hot labels use categorical_hinge_loss or "
            f"target.argmax(1)"
        )
    (s,) = upcast(pred)
    violation = torch.relu(margin - t.gather(s).unsqueeze(1) + s)
    if p == 2:
        violation = violation.square()
    others = violation.scatter(1, t.index.unsqueeze(1), 0.0)  # drop k = y
    loss = _weighted_by_target(others.sum(1) / s.shape[1], t)
    return reduce_loss(loss, reduction, sample_weight, mask=t.mask,
                       target_class_weight=t.target_weight(), dtype=out_dtype(pred))


def _validate_multiclass_hinge(**hyperparameters: object) -> None:
    _check_multiclass_hinge(**hyperparameters)  # type: ignore[arg-type]


class MulticlassHingeLoss(LossModule, function=multiclass_hinge_loss, validate=_validate_multiclass_hinge):
    pass
