r"""Segmentation losses: soft Dice, generalized Dice, boundary loss, and image-gradient losses.

* :func:`dice_loss` and :func:`generalized_dice_loss` are *regional* losses on class probabilities
  ``(N, C, *spatial)`` (2D or 3D) with class-index targets ``(N, *spatial)`` or one-hot/soft targets
  ``(N, C, *spatial)``.
* :func:`boundary_loss` is Kervadec et al.'s boundary (surface) loss: the probabilities integrated against a
  signed distance map of the ground truth (computed outside the loss by :func:`losslab.signed_distance_map`).
  :class:`RebalancedLoss` mixes a regional and the boundary loss with the authors' schedule.
* :func:`image_gradient_loss` (Levinshtein et al.'s hair-matting loss) and :func:`gradient_difference_loss`
  (Mathieu et al.'s GDL) compare spatial gradients.

Index targets are never expanded to a one-hot tensor: per-class sums are gathered and scattered
(``gather`` + ``scatter_add``), which is faster and lighter than materializing ``(N, C, *spatial)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (
    check_choice,
    check_finite,
    check_floating,
    check_in_range,
    check_min_ndim,
    check_same_shape,
    check_scalar,
    check_tensor,
    validation_enabled,
)
from ._numerics import safe_div, upcast
from ._reduction import reduce_loss
from ._targets import DENSE, INDEX, check_class_target, safe_indices
from .distributed import all_reduce_sum, is_distributed

__all__ = [
    "dice_loss",
    "DiceLoss",
    "generalized_dice_loss",
    "GeneralizedDiceLoss",
    "boundary_loss",
    "BoundaryLoss",
    "RebalancedLoss",
    "image_gradient_loss",
    "ImageGradientLoss",
    "gradient_difference_loss",
    "GradientDifferenceLoss",
    "sobel",
]

WEIGHT_TYPES = ("square", "simple", "uniform")
ABSENT_WEIGHTS = ("max", "zero")


# ---------------------------------------------------------------------------------------------------------------
# shared pieces of the regional losses


def _check_ignore_index(ignore_index: int | None, num_classes: int) -> None:
    if ignore_index is None:
        return
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise TypeError(f"ignore_index: expected an int or None, got {type(ignore_index).__name__}")
    if 0 <= ignore_index < num_classes:
        raise ValueError(
            f"ignore_index: {ignore_index} is a valid class index for {num_classes} classes, so that class would "
            f"vanish from the loss; use a label outside [0, {num_classes - 1}] such as -100 or 255"
        )


def _simplex_tolerance(dtype: torch.dtype, num_classes: int) -> float:
    return max(1e-4, 8.0 * num_classes * torch.finfo(dtype).eps)


def _check_probs(probs: torch.Tensor, name: str, *, simplex: bool, loss: str) -> None:
    """Value checks: probabilities in [0, 1]; summing to 1 over dim 1 when softmax outputs are expected.

    One ``aminmax`` pass covers the range and finiteness (NaN fails every comparison), and one sum over dim 1 the
    simplex: the checks cost about two reads of ``probs``.
    """
    if not validation_enabled() or probs.numel() == 0:
        return
    x = probs.detach()
    lo, hi = (float(v) for v in torch.aminmax(x))
    if not (lo >= 0.0 and hi <= 1.0):
        raise ValueError(
            f"{name}: expected values in [0, 1], got values in [{lo:.4g}, {hi:.4g}]; {loss} expects probabilities "
            f"(apply softmax or sigmoid to the logits)"
        )
    c = probs.shape[1]
    if c == 1:
        if x.numel() > 1 and lo == 1.0:
            raise ValueError(
                f"{name}: a single channel equal to 1 everywhere looks like softmax over one channel (always 1); "
                f"for binary segmentation apply sigmoid to the logits (or use 2 channels with softmax)"
            )
    elif simplex:
        smin, smax = (float(v) for v in torch.aminmax(x.sum(1)))
        if max(1.0 - smin, smax - 1.0) > _simplex_tolerance(probs.dtype, c):
            raise ValueError(
                f"{name}: expected probabilities summing to 1 over the {c} classes of dim 1 (softmax outputs), got "
                f"sums in [{smin:.4g}, {smax:.4g}]; apply softmax over dim 1 "
                f"(sigmoid outputs of overlapping classes need one-hot/soft targets of shape {tuple(probs.shape)})"
            )


def _prepare(
    probs: torch.Tensor, target: torch.Tensor, ignore_index: int | None, loss: str
) -> tuple[torch.Tensor, torch.Tensor, str]:
    check_floating(probs, "probs")
    check_tensor(target, "target")
    check_min_ndim(probs, 3, "probs", "(N, C, *spatial)")
    c = probs.shape[1]
    _check_ignore_index(ignore_index, c)
    kind = check_class_target(probs, target, ignore_index=ignore_index, input_name="probs")
    if kind == INDEX and c == 1:
        raise ValueError(
            f"target: class indices with a single-channel probs {tuple(probs.shape)} are ambiguous; for binary "
            f"segmentation pass sigmoid probabilities with a float 0/1 target of shape {tuple(probs.shape)}, "
            f"or use 2 channels with softmax"
        )
    _check_probs(probs, "probs", simplex=kind == INDEX, loss=loss)
    (p,) = upcast(probs)
    return p, target, kind


def _class_sums(
    p: torch.Tensor, target: torch.Tensor, kind: str, ignore_index: int | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample, per-class sums ``(tp, p_sum, g_sum)`` of shape ``(N, C)``, and the valid count ``(N,)``.

    ``tp = sum p*g``, ``p_sum = sum p``, ``g_sum = sum g`` over the non-ignored positions. Index targets are
    handled one-hot free: ``tp`` scatters the gathered probability of the true class into its class slot.
    """
    n, c = p.shape[:2]
    length = math.prod(p.shape[2:])
    flat = p.reshape(n, c, length)
    if kind == DENSE:
        g = target.to(p.dtype).reshape(n, c, length)
        count = torch.full((n,), float(flat.shape[-1]), dtype=p.dtype, device=p.device)
        return (flat * g).sum(-1), flat.sum(-1), g.sum(-1), count
    t = target.reshape(n, 1, length)
    idx = safe_indices(t, ignore_index).long()
    picked = flat.gather(1, idx)  # probability of the true class, (N, 1, L)
    if ignore_index is None:
        ones = torch.ones_like(picked)
        p_sum = flat.sum(-1)
    else:
        ones = (t != ignore_index).to(p.dtype)
        picked = picked * ones
        p_sum = (flat * ones).sum(-1)
    zeros = torch.zeros((n, c), dtype=p.dtype, device=p.device)
    tp = zeros.scatter_add(1, idx.squeeze(1), picked.squeeze(1))
    g_sum = zeros.scatter_add(1, idx.squeeze(1), ones.squeeze(1))
    return tp, p_sum, g_sum, ones.sum((1, 2))


def _world_size(distributed: bool) -> int:
    if distributed and is_distributed():
        return torch.distributed.get_world_size()
    return 1


def _batch_sums(
    tp: torch.Tensor, p_sum: torch.Tensor, g_sum: torch.Tensor, count: torch.Tensor, distributed: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sums over the batch (and, with ``distributed``, over every process) of the class statistics."""
    tp, p_sum = tp.sum(0, keepdim=True), p_sum.sum(0, keepdim=True)
    g_sum, count = g_sum.sum(0, keepdim=True), count.sum(0, keepdim=True)
    tp = all_reduce_sum(tp, enabled=distributed, differentiable=True)
    p_sum = all_reduce_sum(p_sum, enabled=distributed, differentiable=True)
    g_sum = all_reduce_sum(g_sum, enabled=distributed)
    count = all_reduce_sum(count, enabled=distributed)
    return tp, p_sum, g_sum, count


def _reduce_shared(
    loss: torch.Tensor,
    reduction: str,
    weight: torch.Tensor | None,
    mask: torch.Tensor,
    distributed: bool,
    per_sample: bool,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Reduce so that, under ``distributed``, the sum over processes of the results is the whole-batch loss.

    Per-sample losses: the mean divides by the global count of (weighted) entries. Batch losses (already equal
    on every process): each process returns its 1/world_size share.
    """
    world = _world_size(distributed)
    if world == 1:
        return reduce_loss(loss, reduction, weight, mask=mask, dtype=dtype)
    if not per_sample:
        return reduce_loss(loss / world, reduction, weight, mask=mask, dtype=dtype)
    normalizer = None
    if reduction == "mean":
        w = torch.ones_like(loss) if weight is None else torch.broadcast_to(weight.to(loss.dtype), loss.shape)
        den = torch.where(torch.broadcast_to(mask, loss.shape), w, torch.zeros_like(w)).sum()
        normalizer = all_reduce_sum(den, enabled=True)
    return reduce_loss(loss, reduction, weight, mask=mask, normalizer=normalizer, dtype=dtype)


def _drop_background(include_background: bool, c: int, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    if include_background:
        return tensors
    if c == 1:
        raise ValueError(
            "include_background: False needs at least 2 channels; a single channel (binary sigmoid output) "
            "is the foreground already"
        )
    return tuple(t[:, 1:] for t in tensors)


# ---------------------------------------------------------------------------------------------------------------
# soft Dice


def dice_loss(
    probs: torch.Tensor,
    target: torch.Tensor,
    *,
    smooth: float = 1e-5,
    include_background: bool = True,
    batch: bool = False,
    ignore_index: int | None = None,
    distributed: bool = False,
    weight: torch.Tensor | None = None,
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
        weight: Optional weights broadcastable to the unreduced loss (e.g. per-class weights of shape ``(C,)``
            or ``(C-1,)`` without background).
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
        has the same values; its ``weight`` is averaged over all entries, here ``"mean"`` divides by the
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
    smooth = check_scalar(smooth, "smooth", low=0.0)
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
    return _reduce_shared(loss, reduction, weight, mask, distributed, not batch, probs.dtype)


class DiceLoss(nn.Module):
    """Module form of :func:`dice_loss`."""

    def __init__(
        self,
        *,
        smooth: float = 1e-5,
        include_background: bool = True,
        batch: bool = False,
        ignore_index: int | None = None,
        distributed: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.smooth = check_scalar(smooth, "smooth", low=0.0)
        self.include_background = include_background
        self.batch = batch
        self.ignore_index = ignore_index
        self.distributed = distributed
        self.reduction = reduction

    def forward(self, probs: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return dice_loss(
            probs, target, smooth=self.smooth, include_background=self.include_background, batch=self.batch,
            ignore_index=self.ignore_index, distributed=self.distributed, weight=weight, reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return (
            f"smooth={self.smooth}, include_background={self.include_background}, batch={self.batch}, "
            f"ignore_index={self.ignore_index}, distributed={self.distributed}, reduction={self.reduction!r}"
        )


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
    weight: torch.Tensor | None = None,
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
        weight: Optional weights broadcastable to the unreduced loss ``(N,)``.
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
    check_choice(weight_type, "weight_type", WEIGHT_TYPES)
    check_choice(absent_weight, "absent_weight", ABSENT_WEIGHTS)
    smooth = check_scalar(smooth, "smooth", low=0.0)
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
    return _reduce_shared(loss, reduction, weight, mask, distributed, not batch, probs.dtype)


class GeneralizedDiceLoss(nn.Module):
    """Module form of :func:`generalized_dice_loss`."""

    def __init__(
        self,
        *,
        weight_type: str = "square",
        absent_weight: str = "max",
        smooth: float = 1e-5,
        include_background: bool = True,
        batch: bool = False,
        ignore_index: int | None = None,
        distributed: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.weight_type = check_choice(weight_type, "weight_type", WEIGHT_TYPES)
        self.absent_weight = check_choice(absent_weight, "absent_weight", ABSENT_WEIGHTS)
        self.smooth = check_scalar(smooth, "smooth", low=0.0)
        self.include_background = include_background
        self.batch = batch
        self.ignore_index = ignore_index
        self.distributed = distributed
        self.reduction = reduction

    def forward(self, probs: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return generalized_dice_loss(
            probs, target, weight_type=self.weight_type, absent_weight=self.absent_weight, smooth=self.smooth,
            include_background=self.include_background, batch=self.batch, ignore_index=self.ignore_index,
            distributed=self.distributed, weight=weight, reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return (
            f"weight_type={self.weight_type!r}, absent_weight={self.absent_weight!r}, smooth={self.smooth}, "
            f"include_background={self.include_background}, batch={self.batch}, ignore_index={self.ignore_index}, "
            f"distributed={self.distributed}, reduction={self.reduction!r}"
        )


# ---------------------------------------------------------------------------------------------------------------
# boundary loss


def _check_classes(classes: Sequence[int] | None, c: int) -> list[int]:
    if classes is None:
        return list(range(1, c)) if c > 1 else [0]
    if isinstance(classes, int) or not all(isinstance(k, int) and not isinstance(k, bool) for k in classes):
        raise TypeError(f"classes: expected a sequence of class indices, got {classes!r}")
    out = list(classes)
    if not out or len(set(out)) != len(out) or min(out) < 0 or max(out) >= c:
        raise ValueError(f"classes: expected distinct class indices in [0, {c - 1}], got {out}")
    return out


def boundary_loss(
    probs: torch.Tensor,
    dist_map: torch.Tensor,
    *,
    classes: Sequence[int] | None = None,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Boundary (surface) loss of Kervadec et al.: probabilities integrated against a signed distance map.

    A distance on the space of contours written as a regional integral, so it uses the whole image and stays
    well-defined when the foreground is tiny [Kervadec2019]_. With :math:`\phi_c` the signed distance map of
    class :math:`c` (negative inside, positive outside, from :func:`losslab.signed_distance_map`):

    .. math::
        \ell = \frac{1}{|K|\,N\,|\Omega|}\sum_{n}\sum_{c \in K}\sum_{x \in \Omega} \phi_c(x)\, p_c(x)

    Args:
        probs: Class probabilities ``(N, C, *spatial)``: softmax outputs (summing to 1 over dim 1) when
            ``C > 1``, or one sigmoid channel.
        dist_map: Signed distance maps of the target, same shape as ``probs``, floating dtype.
        classes: Class indices :math:`K` to include; default the foreground ``1..C-1`` (``[0]`` when ``C = 1``),
            the authors' ``idc=[1]`` for binary problems.
        weight: Optional weights broadcastable to the unreduced loss ``(N, |K|, *spatial)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        For ``"none"``: ``(N, |K|, *spatial)`` values :math:`\phi\,p`; otherwise a scalar.

    Raises:
        ValueError: shapes differ; probabilities outside [0, 1] or not summing to 1 over dim 1 (``C > 1``);
            a distance map that looks like a 0/1 mask (the target passed instead of its distance map);
            non-finite maps; bad ``classes``.
        TypeError: non-floating tensors.

    Note:
        The minimum is negative by design: a perfect prediction puts all its mass where :math:`\phi \le 0`, so
        it scores :math:`-\text{mean}(\max(-\phi, 0))`, not 0. The value is therefore a training signal, not a
        distance to report. Alone it can collapse to an empty prediction (whose value is 0 when all the
        selected classes' maps are 0 there), which is why it is mixed with a regional loss
        (:class:`RebalancedLoss`). The mean runs over every selected element, like the authors' ``SurfaceLoss``.

    Example:
        >>> import torch
        >>> from losslab import signed_distance_map
        >>> labels = torch.tensor([[[0, 1, 1, 1, 0]]])
        >>> dist = signed_distance_map(labels, num_classes=2, backend="scipy")
        >>> dist[0, 1]
        tensor([[ 1.,  0., -1.,  0.,  1.]])
        >>> fg = torch.tensor([[[0.1, 0.6, 0.9, 0.7, 0.2]]])
        >>> boundary_loss(torch.stack([1 - fg, fg], 1), dist)
        tensor(-0.1200)
        >>> perfect = torch.nn.functional.one_hot(labels, 2).movedim(-1, 1).float()
        >>> boundary_loss(perfect, dist)  # the minimum is negative
        tensor(-0.2000)

    References:
        .. [Kervadec2019] H. Kervadec, J. Bouchtiba, C. Desrosiers, E. Granger, J. Dolz, I. Ben Ayed.
           "Boundary loss for highly unbalanced segmentation." MIDL 2019 / MedIA 2021.
           https://arxiv.org/abs/1812.07032
    """
    check_floating(probs, "probs")
    check_floating(dist_map, "dist_map")
    check_min_ndim(probs, 3, "probs", "(N, C, *spatial)")
    check_same_shape(probs, dist_map, "probs", "dist_map")
    idc = _check_classes(classes, probs.shape[1])
    _check_probs(probs, "probs", simplex=True, loss="boundary_loss")
    check_finite(dist_map, "dist_map")
    if validation_enabled() and dist_map.numel() and bool(((dist_map == 0) | (dist_map == 1)).all()) and bool(
        (dist_map == 1).any()
    ):
        raise ValueError(
            "dist_map: expected signed distance maps, got a 0/1 mask; pass signed_distance_map(target) rather "
            "than the one-hot target"
        )
    p, d = upcast(probs, dist_map)
    if idc != list(range(idc[0], idc[0] + len(idc))):
        index = torch.tensor(idc, device=p.device)
        p, d = p.index_select(1, index), d.index_select(1, index)
    else:
        p, d = p[:, idc[0] : idc[0] + len(idc)], d[:, idc[0] : idc[0] + len(idc)]
    return reduce_loss(p * d.to(p.dtype), reduction, weight, dtype=probs.dtype)


class BoundaryLoss(nn.Module):
    """Module form of :func:`boundary_loss`."""

    def __init__(self, *, classes: Sequence[int] | None = None, reduction: str = "mean") -> None:
        super().__init__()
        if classes is not None:
            _check_classes(classes, max(classes) + 1 if len(classes) else 1)
        self.classes = None if classes is None else tuple(classes)
        self.reduction = reduction

    def forward(self, probs: torch.Tensor, dist_map: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return boundary_loss(probs, dist_map, classes=self.classes, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"classes={self.classes}, reduction={self.reduction!r}"


class RebalancedLoss(nn.Module):
    r"""A regional loss and the boundary loss mixed with Kervadec et al.'s rebalancing schedule.

    .. math::
        \mathcal{L} = \alpha\,\mathcal{L}_R(p, g) + (1 - \alpha)\,\mathcal{L}_B(p, \phi)

    :math:`\alpha` starts at ``alpha`` (1: regional only) and :meth:`step` (call it once per epoch) lowers it by
    ``decrement`` down to ``min_alpha``; the paper uses 1, 0.01 and 0.01, moving the weight from the regional
    to the boundary term as training progresses. :math:`\alpha` lives in a buffer, so it is saved in the
    ``state_dict`` and restored with the model; ``forward`` never changes it.

    Args:
        regional: ``(probs, target) -> loss``, e.g. a :class:`GeneralizedDiceLoss`.
        boundary: ``(probs, dist_map) -> loss``, e.g. a :class:`BoundaryLoss`.
        alpha: Initial weight of the regional term, in [0, 1].
        decrement: Amount :meth:`step` subtracts from :math:`\alpha`, ``>= 0``.
        min_alpha: Floor of :math:`\alpha`, in [0, ``alpha``].

    Note:
        The authors' code (``scheduler.StealWeight``) moves weights ``(a, b) -> (max(0.1, a - 0.01), b + 0.01)``
        without keeping ``a + b = 1``; this class follows the paper's convex form.

    Example:
        >>> import torch
        >>> loss = RebalancedLoss(GeneralizedDiceLoss(), BoundaryLoss(), decrement=0.25)
        >>> loss.step(), loss.step(), loss.step(), loss.step()
        (0.75, 0.5, 0.25, 0.01)
        >>> loss.state_dict()["alpha"]
        tensor(0.0100, dtype=torch.float64)

    References:
        H. Kervadec et al. "Boundary loss for highly unbalanced segmentation." MIDL 2019, section 3.
        https://arxiv.org/abs/1812.07032
    """

    alpha: torch.Tensor

    def __init__(
        self,
        regional: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        boundary: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        *,
        alpha: float = 1.0,
        decrement: float = 0.01,
        min_alpha: float = 0.01,
    ) -> None:
        super().__init__()
        if not callable(regional) or not callable(boundary):
            raise TypeError("regional, boundary: expected callables (loss modules or functions)")
        alpha = check_scalar(alpha, "alpha", low=0.0, high=1.0)
        self.decrement = check_scalar(decrement, "decrement", low=0.0)
        self.min_alpha = check_scalar(min_alpha, "min_alpha", low=0.0, high=alpha)
        self.regional = regional
        self.boundary = boundary
        self.register_buffer("alpha", torch.tensor(alpha, dtype=torch.float64))

    def step(self) -> float:
        """Advance the schedule by one epoch; returns the new :math:`\\alpha`."""
        new = max(self.min_alpha, float(self.alpha) - self.decrement)
        self.alpha.fill_(round(new, 12))
        return float(self.alpha)

    def forward(self, probs: torch.Tensor, target: torch.Tensor, dist_map: torch.Tensor) -> torch.Tensor:
        a = float(self.alpha)
        regional = self.regional(probs, target)
        if a == 1.0:
            return regional
        return a * regional + (1.0 - a) * self.boundary(probs, dist_map)

    def extra_repr(self) -> str:
        return f"alpha={float(self.alpha):g}, decrement={self.decrement:g}, min_alpha={self.min_alpha:g}"


# ---------------------------------------------------------------------------------------------------------------
# image-gradient losses


def sobel(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Sobel derivatives ``(d/dx, d/dy)`` of images ``(N, C, H, W)``, same shape, replicate padding.

    .. math::
        S_x = \begin{pmatrix}-1&0&1\\-2&0&2\\-1&0&1\end{pmatrix},\quad S_y = S_x^\top

    Example:
        >>> import torch
        >>> gx, gy = sobel(torch.arange(9.0).reshape(1, 1, 3, 3))
        >>> gx[0, 0, 1, 1].item(), gy[0, 0, 1, 1].item()
        (8.0, 24.0)
    """
    check_floating(x, "x")
    if x.ndim != 4:
        raise ValueError(f"x: expected images of shape (N, C, H, W), got {tuple(x.shape)}")
    n, c, h, w = x.shape
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=x.dtype, device=x.device)
    kernel = torch.stack([kx, kx.t()]).unsqueeze(1)  # (2, 1, 3, 3)
    flat = x.reshape(n * c, 1, h, w)
    if flat.shape[0] == 0:
        return x.clone(), x.clone()
    g = F.conv2d(F.pad(flat, (1, 1, 1, 1), mode="replicate"), kernel)
    return g[:, 0].reshape(n, c, h, w), g[:, 1].reshape(n, c, h, w)


def image_gradient_loss(
    mask_probs: torch.Tensor,
    image: torch.Tensor,
    *,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Mask-image gradient consistency loss (Levinshtein et al.'s hair matting): mask edges along image edges.

    Where the predicted mask changes, its edge should follow an edge of the image, so fine structures such as
    hair keep the image's detail [Levinshtein2018]_. With Sobel gradients :math:`M_x, M_y` of the mask and
    :math:`I_x, I_y` of the (grey) image, :math:`M_{mag} = \sqrt{M_x^2 + M_y^2}`, and hats marking unit-length
    (normalized) gradients, per image:

    .. math::
        \ell = \frac{\sum_x M_{mag}\,\big(1 - (\hat I_x \hat M_x + \hat I_y \hat M_y)^2\big)}{\sum_x M_{mag}}

    :math:`1 - \cos^2` of the angle between the two gradients: 0 where the mask edge is parallel to an image edge
    (either polarity), 1 where the image is flat or its edge is orthogonal. The paper trains with
    :math:`\mathcal{L} = \mathcal{L}_{CE} + 0.5\,\ell`.

    Args:
        mask_probs: Foreground probabilities ``(N, 1, H, W)`` (sigmoid outputs, or the foreground channel of a
            softmax).
        image: The input images ``(N, C_img, H, W)``; channels are averaged to grey.
        weight: Optional weights broadcastable to the unreduced loss ``(N,)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        For ``"none"``: ``(N,)`` per image (0 for a constant mask); otherwise a scalar.

    Raises:
        ValueError: shapes that do not match; ``mask_probs`` outside [0, 1]; non-finite ``image``.
        TypeError: non-floating tensors.

    Note:
        Where a gradient vanishes its direction is undefined: the cosine is taken as 0 there and the division is
        guarded (double ``where``), so values and gradients stay finite. The loss is scale-invariant in the
        mask, so it only shapes where edges lie; it needs a pixel-wise term beside it.

    Example:
        >>> import torch
        >>> image = torch.zeros(1, 1, 4, 4); image[..., 2:] = 1.0
        >>> aligned = image.clone()
        >>> across = image.transpose(-1, -2).clone()
        >>> image_gradient_loss(aligned, image), image_gradient_loss(across, image)
        (tensor(0.), tensor(1.))

    References:
        .. [Levinshtein2018] A. Levinshtein, C. Chang, E. Phung, I. Kezele, W. Guo, P. Aarabi. "Real-time deep
           hair matting on mobile devices." CRV 2018. https://arxiv.org/abs/1712.07168
    """
    check_floating(mask_probs, "mask_probs")
    check_floating(image, "image")
    if mask_probs.ndim != 4 or mask_probs.shape[1] != 1:
        raise ValueError(f"mask_probs: expected shape (N, 1, H, W), got {tuple(mask_probs.shape)}")
    if image.ndim != 4 or image.shape[0] != mask_probs.shape[0] or image.shape[2:] != mask_probs.shape[2:]:
        raise ValueError(
            f"image: expected shape (N, C_img, H, W) = ({mask_probs.shape[0]}, *, {mask_probs.shape[2]}, "
            f"{mask_probs.shape[3]}) matching mask_probs, got {tuple(image.shape)}"
        )
    check_in_range(mask_probs.detach(), "mask_probs", 0.0, 1.0, "image_gradient_loss expects probabilities (sigmoid outputs)")
    check_finite(image, "image")
    m, img = upcast(mask_probs, image)
    img = img.to(m.dtype).mean(1, keepdim=True)
    mx, my = sobel(m)
    ix, iy = sobel(img)
    m_sq = mx.square() + my.square()
    i_sq = ix.square() + iy.square()
    m_ok, i_ok = m_sq > 0, i_sq > 0
    m_mag = torch.where(m_ok, torch.where(m_ok, m_sq, torch.ones_like(m_sq)).sqrt(), torch.zeros_like(m_sq))
    i_norm = torch.where(i_ok, torch.where(i_ok, i_sq, torch.ones_like(i_sq)).rsqrt(), torch.zeros_like(i_sq))
    dot = (ix * mx + iy * my) * i_norm  # = M_mag * cos(angle), 0 where the image is flat
    # M_mag (1 - cos^2) = M_mag - dot^2 / M_mag, guarded where M_mag = 0 (there dot = 0 as well).
    safe_mag = torch.where(m_ok, m_mag, torch.ones_like(m_mag))
    misaligned = torch.where(m_ok, m_mag - dot.square() / safe_mag, torch.zeros_like(m_mag))
    loss = safe_div(misaligned.flatten(1).sum(1), m_mag.flatten(1).sum(1))
    return reduce_loss(loss, reduction, weight, dtype=mask_probs.dtype)


class ImageGradientLoss(nn.Module):
    """Module form of :func:`image_gradient_loss`."""

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, mask_probs: torch.Tensor, image: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return image_gradient_loss(mask_probs, image, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


def gradient_difference_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 1.0,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Gradient difference loss (Mathieu et al. 2016): match the spatial gradients of prediction and target.

    A pixel loss alone blurs; penalizing the difference of neighbouring-pixel differences keeps edges and fine
    detail sharp in image-to-image tasks [Mathieu2016]_. For 2D images:

    .. math::
        \ell_{i,j} = \Big|\,|y_{i,j} - y_{i-1,j}| - |\hat y_{i,j} - \hat y_{i-1,j}|\,\Big|^{\alpha}
                   + \Big|\,|y_{i,j-1} - y_{i,j}| - |\hat y_{i,j-1} - \hat y_{i,j}|\,\Big|^{\alpha}

    and in general one term per spatial axis. The first row (column) has no upper (left) neighbour, so its term
    is 0.

    Args:
        pred: Predictions ``(N, C, *spatial)`` (1 to 3 spatial dims).
        target: Targets, same shape.
        alpha: Exponent :math:`\alpha \ge 1` (the paper uses 1 or 2).
        weight: Optional weights broadcastable to the unreduced loss ``(N, C, *spatial)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"`` (the paper sums).

    Returns:
        For ``"none"``: ``(N, C, *spatial)``; otherwise a scalar.

    Raises:
        ValueError: shapes differ, fewer than 3 dims, ``alpha < 1``, non-finite ``target``.
        TypeError: non-floating tensors.

    Note:
        Plain neighbour differences as in the paper (not Sobel filters, which smooth across the edge).

    Example:
        >>> import torch
        >>> target = torch.tensor([[[[0.0, 0.0, 1.0, 1.0]]]])
        >>> blurred = torch.tensor([[[[0.0, 0.3, 0.7, 1.0]]]])
        >>> gradient_difference_loss(blurred, target, reduction="none")
        tensor([[[[0.0000, 0.3000, 0.6000, 0.3000]]]])

    References:
        .. [Mathieu2016] M. Mathieu, C. Couprie, Y. LeCun. "Deep multi-scale video prediction beyond mean
           square error." ICLR 2016. https://arxiv.org/abs/1511.05440
    """
    alpha = check_scalar(alpha, "alpha", low=1.0)
    check_floating(pred, "pred")
    check_floating(target, "target")
    check_same_shape(pred, target, "pred", "target")
    check_min_ndim(pred, 3, "pred", "(N, C, *spatial)")
    check_finite(target, "target")
    p, t = upcast(pred, target)
    t = t.to(p.dtype)
    loss = torch.zeros_like(p)
    for axis in range(2, p.ndim):
        if p.shape[axis] < 2:
            continue
        term = (t.diff(dim=axis).abs() - p.diff(dim=axis).abs()).abs()
        if alpha != 1.0:
            term = term.pow(alpha)
        loss = loss + F.pad(term, [0, 0] * (p.ndim - 1 - axis) + [1, 0])
    return reduce_loss(loss, reduction, weight, dtype=pred.dtype)


class GradientDifferenceLoss(nn.Module):
    """Module form of :func:`gradient_difference_loss`."""

    def __init__(self, *, alpha: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        self.alpha = check_scalar(alpha, "alpha", low=1.0)
        self.reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return gradient_difference_loss(pred, target, alpha=self.alpha, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, reduction={self.reduction!r}"
