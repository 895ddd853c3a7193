"""Dice, generalized Dice and Tversky losses on logits: the link (softmax or sigmoid over dim 1) in the name."""

from __future__ import annotations

import torch

from .._compat import renamed_arguments
from .._module import LossModule
from .._numerics import safe_div
from .._reduction import reduce_loss
from ..distributed import per_process_share
from ._common import _with_class_weight
from ._dice import _check_dice, _check_gdl, _gdl_weights
from ._helpers import keep_classes, out_dtype, prepare_logits, region_sums
from ._tversky import _check_tversky_module, check_tversky, tversky_index


def _dice(
    p: torch.Tensor, target: torch.Tensor, kind: str, smooth: float, include_background: bool, batch: bool,
    ignore_index: int | None, distributed: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    tp, fp, fn, mask = region_sums(p, target, kind, ignore_index, batch, distributed)
    tp, fp, fn = keep_classes(include_background, p.shape[1], tp, fp, fn)
    # 1 - (2 tp + s) / (P + G + s) with P + G = 2 tp + fp + fn; 0/0 (empty class, s = 0) gives 0.
    loss = 1.0 - safe_div(2.0 * tp + smooth, 2.0 * tp + fp + fn + smooth, fill=1.0)
    if batch:
        loss, mask = loss.squeeze(0), mask.squeeze(0)
    return loss, mask


@renamed_arguments(weight="class_weight")
def softmax_dice_loss(
    logits: torch.Tensor,
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
    r"""Soft Dice loss of ``softmax(logits)`` per class: :func:`losslab.dice_loss` without the hand-written softmax.

    With :math:`p = \operatorname{softmax}(x)` over dim 1 and the sums over the pixels of one sample (of the
    batch when ``batch=True``) [Milletari2016]_:

    .. math::
        \ell_c = 1 - \frac{2\sum p_c g_c + s}{\sum p_c + \sum g_c + s}

    Args:
        logits: Class scores ``(N, C, *spatial)`` with ``C >= 2`` (2D or 3D).
        target: Class indices ``(N, *spatial)`` (integer) or one-hot/soft targets ``(N, C, *spatial)`` (float).
            Indices of shape ``(N, 1, *spatial)`` are rejected with a hint to squeeze the channel.
        smooth: :math:`s`, added to numerator and denominator, ``>= 0`` (MONAI's default ``1e-5``).
        include_background: Keep channel 0; ``False`` drops it.
        batch: Pool the sums over the batch (one Dice per class) instead of per sample.
        ignore_index: Label of index targets to ignore (removed from all sums); must lie outside ``[0, C)``.
        distributed: With ``batch=True``, all-reduce the class sums over the processes (differentiably), so N
            processes on N shards give the whole-batch loss, each returning its ``1/N`` share; with
            ``batch=False`` the mean divides by the global number of entries (as :func:`losslab.dice_loss`).
        class_weight: Optional per-class weights, shape ``(C,)`` (``(C-1,)`` with ``include_background=False``),
            ``>= 0``, as in :func:`losslab.dice_loss`.
        sample_weight: Optional weights broadcastable to the unreduced loss (e.g. per sample ``(N, 1)``).
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        For ``"none"``: ``(N, C)`` (``(C,)`` with ``batch=True``); otherwise a scalar.

    Raises:
        ValueError: a single channel (softmax is constant; use :func:`sigmoid_dice_loss`), target shapes that fit
            neither form, ``ignore_index`` in ``[0, C)``, class indices out of range.
        TypeError: non-floating ``logits``, or a target dtype that does not match its shape.

    Note:
        Equals ``dice_loss(logits.softmax(1), target)`` and MONAI's ``DiceLoss(softmax=True, to_onehot_y=True)``
        (for index targets of shape ``(N, 1, *)`` there); the empty-class policy is :func:`losslab.dice_loss`'s.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[[[2.0, -1.0], [-2.0, 0.0]], [[0.0, 1.0], [1.0, 1.0]]]])
        >>> target = torch.tensor([[[0, 1], [1, 1]]])
        >>> softmax_dice_loss(logits, target, reduction="none")
        tensor([[0.2395, 0.0976]])
    """
    smooth = _check_dice(smooth)
    p, kind = prepare_logits(logits, target, ignore_index, "softmax", "softmax_dice_loss")
    loss, mask = _dice(p, target, kind, smooth, include_background, batch, ignore_index, distributed)
    if batch:
        loss = per_process_share(loss, enabled=distributed)  # equal on every process
    return reduce_loss(
        loss, reduction, _with_class_weight(sample_weight, class_weight, loss), mask=mask, distributed=distributed and not batch, dtype=out_dtype(logits)
    )


@renamed_arguments(weight="class_weight")
def sigmoid_dice_loss(
    logits: torch.Tensor,
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
    r"""Soft Dice loss of ``sigmoid(logits)`` per channel: binary or multi-label (overlapping) segmentation.

    Each channel is an independent foreground probability :math:`p_c = \sigma(x_c)`; the Dice loss per channel
    is that of :func:`softmax_dice_loss` [Milletari2016]_.

    Args:
        logits: Scores ``(N, C, *spatial)``, one channel per (possibly overlapping) class; ``C = 1`` for binary
            segmentation.
        target: 0/1 or soft masks ``(N, C, *spatial)`` (floating), or, for ``C >= 2``, class indices
            ``(N, *spatial)`` (one-hot channels). Indices of shape ``(N, 1, *spatial)`` with ``C >= 2`` are
            rejected with a hint to squeeze the channel.
        smooth: :math:`s`, ``>= 0``.
        include_background: Keep channel 0; ``False`` drops it (needs ``C >= 2``).
        batch: Pool the sums over the batch instead of per sample.
        ignore_index: Label of index targets to ignore; must lie outside ``[0, C)``.
        distributed: With ``batch=True``, all-reduce the class sums over the processes (differentiably), so N
            processes on N shards give the whole-batch loss, each returning its ``1/N`` share; with
            ``batch=False`` the mean divides by the global number of entries (as :func:`losslab.dice_loss`).
        class_weight: Optional per-class weights, shape ``(C,)`` (``(C-1,)`` with ``include_background=False``),
            ``>= 0``, as in :func:`losslab.dice_loss`.
        sample_weight: Optional weights broadcastable to the unreduced loss (e.g. per sample ``(N, 1)``).
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        For ``"none"``: ``(N, C)`` (``(C,)`` with ``batch=True``); otherwise a scalar.

    Raises:
        ValueError: index targets with a single channel (pass a float mask), shapes that fit neither form.
        TypeError: non-floating ``logits``, or a target dtype that does not match its shape.

    Note:
        Equals ``dice_loss(logits.sigmoid(), target)`` and MONAI's ``DiceLoss(sigmoid=True)``.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[[[3.0, -2.0], [1.0, -1.0]]]])
        >>> target = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])
        >>> sigmoid_dice_loss(logits, target, reduction="none")
        tensor([[0.1730]])
    """
    smooth = _check_dice(smooth)
    p, kind = prepare_logits(logits, target, ignore_index, "sigmoid", "sigmoid_dice_loss")
    loss, mask = _dice(p, target, kind, smooth, include_background, batch, ignore_index, distributed)
    if batch:
        loss = per_process_share(loss, enabled=distributed)  # equal on every process
    return reduce_loss(
        loss, reduction, _with_class_weight(sample_weight, class_weight, loss), mask=mask, distributed=distributed and not batch, dtype=out_dtype(logits)
    )


class SoftmaxDiceLoss(LossModule, function=softmax_dice_loss, validate=_check_dice):
    pass


class SigmoidDiceLoss(LossModule, function=sigmoid_dice_loss, validate=_check_dice):
    pass


@renamed_arguments(weight="sample_weight")
def softmax_generalized_dice_loss(
    logits: torch.Tensor,
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
    r"""Generalized Dice loss of ``softmax(logits)``: :func:`losslab.generalized_dice_loss` on logits.

    One Dice over all classes with class weights :math:`w_c = 1/(\sum g_c)^2` (``"square"``) [Sudre2017]_,
    with :math:`p = \operatorname{softmax}(x)` over dim 1:

    .. math::
        \ell = 1 - \frac{2\sum_c w_c \sum p_c g_c + s}{\sum_c w_c \left(\sum p_c + \sum g_c\right) + s}

    Args:
        logits: Class scores ``(N, C, *spatial)`` with ``C >= 2``.
        target: Class indices ``(N, *spatial)`` or one-hot/soft targets ``(N, C, *spatial)``; indices of shape
            ``(N, 1, *spatial)`` are rejected with a hint to squeeze the channel.
        weight_type: ``"square"`` | ``"simple"`` | ``"uniform"`` (as :func:`losslab.generalized_dice_loss`).
        absent_weight: ``"max"`` | ``"zero"``: the weight of a class absent from the target.
        smooth: :math:`s`, ``>= 0``.
        include_background: Keep channel 0; ``False`` drops it.
        batch: Pool the sums and weights over the batch instead of per sample.
        ignore_index: Label of index targets to ignore; must lie outside ``[0, C)``.
        distributed: With ``batch=True``, all-reduce the class sums over the processes (differentiably), so N
            processes on N shards give the whole-batch loss, each returning its ``1/N`` share; with
            ``batch=False`` the mean divides by the global number of entries (as :func:`losslab.dice_loss`).
        sample_weight: Optional weights broadcastable to the unreduced loss ``(N,)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        For ``"none"``: ``(N,)`` (a scalar with ``batch=True``); otherwise a scalar.

    Raises:
        ValueError: as :func:`softmax_dice_loss`, plus an unknown ``weight_type`` or ``absent_weight``.
        TypeError: non-floating ``logits``, or a target dtype that does not match its shape.

    Note:
        Equals ``generalized_dice_loss(logits.softmax(1), target)`` and MONAI's
        ``GeneralizedDiceLoss(softmax=True, to_onehot_y=True)`` (which rounds the weights to float32).

    Example:
        >>> import torch
        >>> logits = torch.tensor([[[[2.0, -1.0], [-2.0, 0.0]], [[0.0, 1.0], [1.0, 1.0]]]])
        >>> target = torch.tensor([[[0, 1], [1, 1]]])
        >>> softmax_generalized_dice_loss(logits, target, smooth=0.0)
        tensor(0.2091)
    """
    smooth = _check_gdl(weight_type, absent_weight, smooth)
    p, kind = prepare_logits(logits, target, ignore_index, "softmax", "softmax_generalized_dice_loss")
    tp, fp, fn, mask = region_sums(p, target, kind, ignore_index, batch, distributed)
    tp, fp, fn = keep_classes(include_background, p.shape[1], tp, fp, fn)
    w = _gdl_weights((tp + fn).detach(), weight_type, absent_weight)  # G_c = tp + fn
    num = 2.0 * (w * tp).sum(-1) + smooth
    den = (w * (2.0 * tp + fp + fn)).sum(-1) + smooth
    loss = 1.0 - safe_div(num, den, fill=1.0)
    mask = mask.squeeze(-1)
    if batch:
        loss, mask = loss.squeeze(0), mask.squeeze(0)
        loss = per_process_share(loss, enabled=distributed)  # equal on every process
    return reduce_loss(
        loss, reduction, sample_weight, mask=mask, distributed=distributed and not batch, dtype=out_dtype(logits)
    )


class SoftmaxGeneralizedDiceLoss(LossModule, function=softmax_generalized_dice_loss, validate=_check_gdl):
    pass


def _tversky_logits(
    link: str, name: str, logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float, smooth: float,
    include_background: bool, batch: bool, ignore_index: int | None, distributed: bool,
    sample_weight: torch.Tensor | None, reduction: str,
) -> torch.Tensor:
    alpha, beta, smooth = check_tversky(alpha, beta, smooth)
    p, kind = prepare_logits(logits, target, ignore_index, link, name)
    tp, fp, fn, mask = region_sums(p, target, kind, ignore_index, batch, distributed)
    tp, fp, fn = keep_classes(include_background, p.shape[1], tp, fp, fn)
    loss = 1.0 - tversky_index(tp, fp, fn, alpha, beta, smooth)
    if batch:
        loss, mask = loss.squeeze(0), mask.squeeze(0)
        loss = per_process_share(loss, enabled=distributed)  # equal on every process
    return reduce_loss(
        loss, reduction, sample_weight, mask=mask, distributed=distributed and not batch, dtype=out_dtype(logits)
    )


@renamed_arguments(weight="sample_weight")
def softmax_tversky_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 0.3,
    beta: float = 0.7,
    smooth: float = 1e-5,
    include_background: bool = True,
    batch: bool = False,
    ignore_index: int | None = None,
    distributed: bool = False,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Tversky loss of ``softmax(logits)`` per class: :func:`losslab.tversky_loss` on logits.

    With :math:`p = \operatorname{softmax}(x)` over dim 1 [Salehi2017]_:

    .. math::
        \ell_c = 1 - \frac{\mathrm{TP}_c + s}{\mathrm{TP}_c + \alpha\,\mathrm{FP}_c + \beta\,\mathrm{FN}_c + s}

    Args:
        logits: Class scores ``(N, C, *spatial)`` with ``C >= 2``.
        target: Class indices ``(N, *spatial)`` or one-hot/soft targets ``(N, C, *spatial)``; indices of shape
            ``(N, 1, *spatial)`` are rejected with a hint to squeeze the channel.
        alpha: Weight of the false positives, ``>= 0``.
        beta: Weight of the false negatives, ``>= 0``.
        smooth: :math:`s`, ``>= 0``.
        include_background: Keep channel 0; ``False`` drops it.
        batch: Pool the sums over the batch instead of per sample.
        ignore_index: Label of index targets to ignore; must lie outside ``[0, C)``.
        distributed: With ``batch=True``, all-reduce the class sums over the processes (differentiably), so N
            processes on N shards give the whole-batch loss, each returning its ``1/N`` share; with
            ``batch=False`` the mean divides by the global number of entries (as :func:`losslab.dice_loss`).
        sample_weight: Optional weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        For ``"none"``: ``(N, C)`` (``(C,)`` with ``batch=True``); otherwise a scalar.

    Raises:
        ValueError: as :func:`softmax_dice_loss`, plus a negative ``alpha``/``beta``.
        TypeError: non-floating ``logits``, or a target dtype that does not match its shape.

    Note:
        Equals ``tversky_loss(logits.softmax(1), target)``; see there for the FP/FN naming of the peers.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[[[2.0, -1.0], [-2.0, 0.0]], [[0.0, 1.0], [1.0, 1.0]]]])
        >>> target = torch.tensor([[[0, 1], [1, 1]]])
        >>> softmax_tversky_loss(logits, target, reduction="none")
        tensor([[0.1956, 0.1173]])
    """
    return _tversky_logits(
        "softmax", "softmax_tversky_loss", logits, target, alpha, beta, smooth, include_background, batch,
        ignore_index, distributed, sample_weight, reduction,
    )


@renamed_arguments(weight="sample_weight")
def sigmoid_tversky_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 0.3,
    beta: float = 0.7,
    smooth: float = 1e-5,
    include_background: bool = True,
    batch: bool = False,
    ignore_index: int | None = None,
    distributed: bool = False,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Tversky loss of ``sigmoid(logits)`` per channel: binary or multi-label segmentation.

    Each channel is an independent foreground probability :math:`p_c = \sigma(x_c)` [Salehi2017]_:

    .. math::
        \ell_c = 1 - \frac{\mathrm{TP}_c + s}{\mathrm{TP}_c + \alpha\,\mathrm{FP}_c + \beta\,\mathrm{FN}_c + s}

    Args:
        logits: Scores ``(N, C, *spatial)``; ``C = 1`` for binary segmentation.
        target: 0/1 or soft masks ``(N, C, *spatial)`` (floating), or, for ``C >= 2``, class indices
            ``(N, *spatial)``.
        alpha: Weight of the false positives, ``>= 0``.
        beta: Weight of the false negatives, ``>= 0``.
        smooth: :math:`s`, ``>= 0``.
        include_background: Keep channel 0; ``False`` drops it (needs ``C >= 2``).
        batch: Pool the sums over the batch instead of per sample.
        ignore_index: Label of index targets to ignore; must lie outside ``[0, C)``.
        distributed: With ``batch=True``, all-reduce the class sums over the processes (differentiably), so N
            processes on N shards give the whole-batch loss, each returning its ``1/N`` share; with
            ``batch=False`` the mean divides by the global number of entries (as :func:`losslab.dice_loss`).
        sample_weight: Optional weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        For ``"none"``: ``(N, C)`` (``(C,)`` with ``batch=True``); otherwise a scalar.

    Raises:
        ValueError: index targets with a single channel, shapes that fit neither form, negative weights.
        TypeError: non-floating ``logits``, or a target dtype that does not match its shape.

    Note:
        Equals ``tversky_loss(logits.sigmoid(), target)`` and MONAI's ``TverskyLoss(sigmoid=True)``.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[[[3.0, -2.0], [1.0, -1.0]]]])
        >>> target = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])
        >>> sigmoid_tversky_loss(logits, target, reduction="none")
        tensor([[0.1671]])
    """
    return _tversky_logits(
        "sigmoid", "sigmoid_tversky_loss", logits, target, alpha, beta, smooth, include_background, batch,
        ignore_index, distributed, sample_weight, reduction,
    )


class SoftmaxTverskyLoss(LossModule, function=softmax_tversky_loss, validate=_check_tversky_module):
    pass


class SigmoidTverskyLoss(LossModule, function=sigmoid_tversky_loss, validate=_check_tversky_module):
    pass
