"""Soft Dice and generalized Dice losses (functions and modules)."""

from __future__ import annotations

import torch

from .._checks import check_choice, check_ignore_index, check_scalar
from .._compat import renamed_arguments
from .._module import LossModule
from .._numerics import safe_div
from .._reduction import reduce_loss
from ..distributed import per_process_share
from ._common import _batch_sums, _class_sums, _drop_background, _prepare, _with_class_weight

WEIGHT_TYPES = ("square", "simple", "uniform")
ABSENT_WEIGHTS = ("max", "zero")


# ---------------------------------------------------------------------------------------------------------------
# soft Dice


@renamed_arguments(weight="class_weight")
def dice_loss(
    probs: torch.Tensor,
    target: torch.Tensor,
    *,
    smooth: float = 1e-5,
    include_background: bool = True,
    batch: bool = False,
    ignore_index: int | None = None,
    distributed: bool = False,
    class_weight: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Soft Dice loss per class, for segmentation with class imbalance.

    Dice compares the predicted and true region of each class by their overlap, so a small structure counts as
    much as a large one [Milletari2016]_. With :math:`p` the probabilities, :math:`g` the one-hot (or soft)
    target and the sums over the pixels (voxels) of one sample (of the whole batch when ``batch=True``):

    .. math::
        \ell_{c} = 1 - \frac{2\sum p_c g_c + s}{\sum p_c + \sum g_c + s}

    Args:
        probs: Class probabilities, shape ``(N, C, *spatial)`` (2D or 3D); softmax outputs with class-index
            targets; with a single channel, sigmoid outputs (the foreground probability).
        target: Class indices ``(N, *spatial)`` (integer dtype) or one-hot/soft targets ``(N, C, *spatial)``
            in [0, 1] (floating dtype).
        smooth: :math:`s`, added to numerator and denominator, ``>= 0``. The default ``1e-5`` is MONAI's.
        include_background: Keep channel 0; ``False`` drops it (needs ``C >= 2``).
        batch: Pool the sums over the batch (one Dice per class for the whole batch) instead of per sample.
        ignore_index: Label of index targets to ignore: those positions are removed from the prediction and
            the target sums. A sample (or batch) with nothing left gives 0 and is left out of the mean.
            Must lie outside ``[0, C)``.
        distributed: With ``batch=True``, all-reduce the class sums over the processes (differentiably), so
            N processes on N shards give the whole-batch loss; each process returns its ``1/N`` share. With
            ``batch=False``, the mean divides by the global number of entries.
        class_weight: Optional per-class weights, shape ``(C,)`` (``(C-1,)`` with ``include_background=False``),
            ``>= 0``; ``"mean"`` is then the class-weighted mean over classes.
        sample_weight: Optional weights broadcastable to the unreduced loss (e.g. per sample ``(N, 1)``).
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        For ``"none"``: ``(N, C)`` per sample and class (``(C,)`` with ``batch=True``); otherwise a scalar.

    Raises:
        ValueError: shapes that fit neither target form; probabilities outside [0, 1] or (with index targets)
            not summing to 1 over dim 1; a single channel that is constantly 1 (softmax over one channel: use
            sigmoid); ``ignore_index`` in ``[0, C)``; class indices out of range.
        TypeError: non-floating ``probs``, or a target dtype that does not match its shape.

    Note:
        Empty-class policy: a class absent from the target (and ignored positions) gives
        :math:`1 - s/(\sum p_c + s)`: 0 when it is also absent from the prediction, about 1 when it is
        predicted (a false positive). With ``smooth=0`` an empty-over-empty class gives 0. MONAI's ``DiceLoss``
        has the same values; its per-class ``weight`` (``class_weight`` here) is averaged over all entries, here ``"mean"`` divides by the
        sum of the weights (``"none"`` values agree).

    Example:
        >>> import torch
        >>> probs = torch.tensor([[[[0.9, 0.2], [0.1, 0.3]], [[0.1, 0.8], [0.9, 0.7]]]])
        >>> target = torch.tensor([[[0, 1], [1, 1]]])
        >>> dice_loss(probs, target, smooth=0.0, reduction="none")
        tensor([[0.2800, 0.1273]])

    References:
        .. [Milletari2016] F. Milletari, N. Navab, S.-A. Ahmadi. "V-Net: Fully Convolutional Neural Networks
           for Volumetric Medical Image Segmentation." 3DV 2016. https://arxiv.org/abs/1606.04797
    """
    smooth = _check_dice(smooth)
    p, target, kind = _prepare(probs, target, ignore_index, "dice_loss")
    tp, p_sum, g_sum, count = _class_sums(p, target, kind, ignore_index)
    if batch:
        tp, p_sum, g_sum, count = _batch_sums(tp, p_sum, g_sum, count, distributed)
    tp, p_sum, g_sum = _drop_background(include_background, p.shape[1], tp, p_sum, g_sum)
    # 1 - (2 tp + s) / (P + G + s); an all-empty class with s = 0 is 0/0 and gives a loss of 0.
    loss = 1.0 - safe_div(2.0 * tp + smooth, p_sum + g_sum + smooth, fill=1.0)
    mask = (count > 0).unsqueeze(-1)
    if batch:
        loss, mask = loss.squeeze(0), mask.squeeze(0)
        loss = per_process_share(loss, enabled=distributed)  # equal on every process
    return reduce_loss(
        loss, reduction, _with_class_weight(sample_weight, class_weight, loss), mask=mask, distributed=distributed and not batch, dtype=probs.dtype
    )


def _check_dice(smooth: float, ignore_index: int | None = None, **_: object) -> float:
    check_ignore_index(ignore_index)
    return check_scalar(smooth, "smooth", low=0.0)


class DiceLoss(LossModule, function=dice_loss, validate=_check_dice):
    pass


# ---------------------------------------------------------------------------------------------------------------
# generalized Dice


def _gdl_weights(g_sum: torch.Tensor, weight_type: str, absent_weight: str) -> torch.Tensor:
    present = g_sum > 0
    safe = torch.where(present, g_sum, torch.ones_like(g_sum))
    if weight_type == "square":
        w = 1.0 / safe.square()
    elif weight_type == "simple":
        w = 1.0 / safe
    else:
        w = torch.ones_like(g_sum)
    w = torch.where(present, w, torch.zeros_like(w))
    if absent_weight == "max":
        w = torch.where(present, w, w.amax(-1, keepdim=True).expand_as(w))
    return w


@renamed_arguments(weight="sample_weight")
def generalized_dice_loss(
    probs: torch.Tensor,
    target: torch.Tensor,
    *,
    weight_type: str = "square",
    absent_weight: str = "max",
    smooth: float = 1e-5,
    include_background: bool = True,
    batch: bool = False,
    ignore_index: int | None = None,
    distributed: bool = False,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Generalized Dice loss (Sudre et al. 2017): one Dice over all classes, each weighted by its inverse volume.

    The class weights :math:`w_c = 1/(\sum g_c)^2` (``"square"``) keep a small class as important as a large
    one [Sudre2017]_. The weights enter numerator and denominator *before* the ratio is taken:

    .. math::
        \ell = 1 - \frac{2\sum_c w_c \sum p_c g_c + s}{\sum_c w_c \left(\sum p_c + \sum g_c\right) + s}

    with the inner sums over the pixels of one sample (of the batch when ``batch=True``). This is not a
    weighted mean of per-class Dice scores (a known peer bug, in which the weights cancel).

    Args:
        probs: Class probabilities ``(N, C, *spatial)``: softmax outputs, or a single sigmoid channel.
        target: Class indices ``(N, *spatial)`` or one-hot/soft targets ``(N, C, *spatial)`` in [0, 1].
        weight_type: ``"square"`` (:math:`1/G_c^2`, the paper's), ``"simple"`` (:math:`1/G_c`) or
            ``"uniform"`` (1), with :math:`G_c = \sum g_c`.
        absent_weight: Weight of a class absent from the target, where :math:`1/G_c` is infinite: ``"max"``
            (default) gives it the largest weight of the present classes, as NiftyNet (the authors' framework)
            and MONAI do, so predicting an absent class still costs through :math:`\sum p_c`; ``"zero"`` drops
            it (its false positives then cost nothing).
        smooth: :math:`s`, ``>= 0`` (MONAI's default ``1e-5``).
        include_background: Keep channel 0; ``False`` drops it (needs ``C >= 2``).
        batch: Pool the sums (and weights) over the batch instead of per sample.
        ignore_index: Label of index targets to ignore: removed from prediction and target sums; a sample (or
            batch) with nothing left gives 0 and is left out of the mean. Must lie outside ``[0, C)``.
        distributed: With ``batch=True``, all-reduce the class volumes (weights) and the overlap sums over the
            processes, so N processes on N shards give the whole-batch loss and gradients; each process returns
            its ``1/N`` share. With ``batch=False``, the mean divides by the global number of samples.
        sample_weight: Optional per-element weights broadcastable to the unreduced loss ``(N,)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        For ``"none"``: ``(N,)`` per sample (a scalar with ``batch=True``); otherwise a scalar.

    Raises:
        ValueError: as :func:`dice_loss`, plus an unknown ``weight_type`` or ``absent_weight``.
        TypeError: non-floating ``probs``, or a target dtype that does not match its shape.

    Note:
        Empty-class policy: with ``absent_weight="max"`` the absent class keeps the largest weight; if every
        class is absent (possible with ``include_background=False`` and an empty foreground) all weights are 0
        and the loss is :math:`1 - s/s = 0` whatever the prediction (MONAI's value). The class weights are
        statistics of the target and carry no gradient. Values agree with MONAI's ``GeneralizedDiceLoss``
        (which rounds the weights to float32) within 1e-7.

    Example:
        >>> import torch
        >>> probs = torch.tensor([[[[0.9, 0.2], [0.1, 0.3]], [[0.1, 0.8], [0.9, 0.7]]]])
        >>> target = torch.tensor([[[0, 1], [1, 1]]])
        >>> generalized_dice_loss(probs, target, smooth=0.0)
        tensor(0.2500)

    References:
        .. [Sudre2017] C. H. Sudre, W. Li, T. Vercauteren, S. Ourselin, M. J. Cardoso. "Generalised Dice
           overlap as a deep learning loss function for highly unbalanced segmentations." DLMIA 2017.
           https://arxiv.org/abs/1707.03237
    """
    smooth = _check_gdl(weight_type, absent_weight, smooth)
    p, target, kind = _prepare(probs, target, ignore_index, "generalized_dice_loss")
    tp, p_sum, g_sum, count = _class_sums(p, target, kind, ignore_index)
    if batch:
        tp, p_sum, g_sum, count = _batch_sums(tp, p_sum, g_sum, count, distributed)
    tp, p_sum, g_sum = _drop_background(include_background, p.shape[1], tp, p_sum, g_sum)
    w = _gdl_weights(g_sum.detach(), weight_type, absent_weight)
    num = 2.0 * (w * tp).sum(-1) + smooth
    den = (w * (p_sum + g_sum)).sum(-1) + smooth
    loss = 1.0 - safe_div(num, den, fill=1.0)
    mask = count > 0
    if batch:
        loss, mask = loss.squeeze(0), mask.squeeze(0)
        loss = per_process_share(loss, enabled=distributed)  # equal on every process
    return reduce_loss(
        loss, reduction, sample_weight, mask=mask, distributed=distributed and not batch, dtype=probs.dtype
    )


def _check_gdl(weight_type: str, absent_weight: str, smooth: float, **hyperparameters: object) -> float:
    check_choice(weight_type, "weight_type", WEIGHT_TYPES)
    check_choice(absent_weight, "absent_weight", ABSENT_WEIGHTS)
    return _check_dice(smooth, **hyperparameters)  # type: ignore[arg-type]


class GeneralizedDiceLoss(LossModule, function=generalized_dice_loss, validate=_check_gdl):
    pass
