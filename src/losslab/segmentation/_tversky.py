"""Tversky and focal Tversky losses on probabilities (Salehi et al. 2017; Abraham & Khan 2019)."""

from __future__ import annotations

import torch

from .._checks import check_scalar
from .._compat import renamed_arguments
from .._module import LossModule
from .._numerics import safe_div, safe_pow
from .._reduction import reduce_loss
from ..distributed import per_process_share
from ._common import _prepare
from ._helpers import keep_classes, out_dtype, region_sums


def check_tversky(alpha: float, beta: float, smooth: float) -> tuple[float, float, float]:
    alpha = check_scalar(alpha, "alpha", low=0.0, high=float("inf"), high_inclusive=False)
    beta = check_scalar(beta, "beta", low=0.0, high=float("inf"), high_inclusive=False)
    smooth = check_scalar(smooth, "smooth", low=0.0, high=float("inf"), high_inclusive=False)
    return alpha, beta, smooth


def check_gamma(gamma: float) -> float:
    return check_scalar(gamma, "gamma", low=0.0, high=float("inf"), low_inclusive=False, high_inclusive=False)


def tversky_index(
    tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor, alpha: float, beta: float, smooth: float
) -> torch.Tensor:
    r"""``(tp + s) / (tp + alpha fp + beta fn + s)``; 0/0 (an empty class predicted empty, ``s = 0``) is 1."""
    return safe_div(tp + smooth, tp + alpha * fp + beta * fn + smooth, fill=1.0)


@renamed_arguments(weight="sample_weight")
def tversky_loss(
    probs: torch.Tensor,
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
    r"""Tversky loss per class, for segmentation where false negatives cost more than false positives.

    The Tversky index generalizes Dice with separate weights on the false positives and the false negatives
    [Salehi2017]_; ``beta > alpha`` trades precision for recall, which helps small lesions. With :math:`p` the
    probabilities, :math:`g` the one-hot (or soft) target and the sums over the pixels (voxels) of one sample
    (of the batch when ``batch=True``):

    .. math::
        \mathrm{TP}_c = \sum p_c g_c,\quad \mathrm{FP}_c = \sum p_c (1 - g_c),\quad
        \mathrm{FN}_c = \sum (1 - p_c) g_c,\qquad
        \ell_c = 1 - \frac{\mathrm{TP}_c + s}{\mathrm{TP}_c + \alpha\,\mathrm{FP}_c + \beta\,\mathrm{FN}_c + s}

    Args:
        probs: Class probabilities ``(N, C, *spatial)`` (2D or 3D): softmax outputs with class-index targets;
            with a single channel, sigmoid outputs (the foreground probability).
        target: Class indices ``(N, *spatial)`` (integer dtype) or one-hot/soft targets ``(N, C, *spatial)``
            in [0, 1] (floating dtype).
        alpha: Weight of the **false positives**, ``>= 0`` (Salehi et al.'s :math:`\alpha`, MONAI's ``alpha``).
        beta: Weight of the **false negatives**, ``>= 0``. The defaults 0.3/0.7 are the paper's best setting.
            ``alpha = beta = 0.5`` with ``smooth=0`` is the Dice loss; ``alpha = beta = 1`` the Jaccard loss.
        smooth: :math:`s`, added to numerator and denominator, ``>= 0`` (MONAI's ``smooth_nr = smooth_dr``).
        include_background: Keep channel 0; ``False`` drops it (needs ``C >= 2``).
        batch: Pool the sums over the batch (one index per class for the whole batch) instead of per sample.
        ignore_index: Label of index targets to ignore: those positions leave all three sums. A sample (or
            batch) with nothing left gives 0 and is left out of the mean. Must lie outside ``[0, C)``.
        distributed: With ``batch=True``, all-reduce the class sums over the processes (differentiably), so N
            processes on N shards give the whole-batch loss, each returning its ``1/N`` share; with
            ``batch=False`` the mean divides by the global number of entries (as :func:`losslab.dice_loss`).
        sample_weight: Optional weights broadcastable to the unreduced loss (e.g. per-class ``(C,)``).
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        For ``"none"``: ``(N, C)`` per sample and class (``(C,)`` with ``batch=True``); otherwise a scalar.

    Raises:
        ValueError: as :func:`losslab.dice_loss`, plus a negative or non-finite ``alpha``/``beta``/``smooth``.
        TypeError: non-floating ``probs``, or a target dtype that does not match its shape.

    Note:
        Which weight goes with which error differs between peers. Here, as in the paper and MONAI's
        ``TverskyLoss``, ``alpha`` weights FP and ``beta`` FN. Abraham & Khan [Abraham2019]_ write the index with
        :math:`\alpha` on FN (their :math:`\alpha = 0.7` is our ``beta = 0.7``), and Keras 3's
        ``keras.losses.Tversky`` documents ``alpha`` as FP but computes it on FN: ``Tversky(alpha=a, beta=b)``
        equals ``tversky_loss(alpha=b, beta=a)`` (with Keras' ``epsilon`` in place of ``smooth``). Empty
        classes follow :func:`losslab.dice_loss`: absent and not predicted gives 0, predicted gives about 1
        (kornia's ``tversky_loss`` leaves absent classes out of the mean instead).

    Example:
        >>> import torch
        >>> probs = torch.tensor([[[[0.9, 0.2], [0.1, 0.3]], [[0.1, 0.8], [0.9, 0.7]]]])
        >>> target = torch.tensor([[[0, 1], [1, 1]]])
        >>> tversky_loss(probs, target, smooth=0.0, reduction="none")
        tensor([[0.2174, 0.1579]])

    References:
        .. [Salehi2017] S. S. M. Salehi, D. Erdogmus, A. Gholipour. "Tversky loss function for image
           segmentation using 3D fully convolutional deep networks." MLMI 2017. https://arxiv.org/abs/1706.05721
    """
    alpha, beta, smooth = check_tversky(alpha, beta, smooth)
    p, target, kind = _prepare(probs, target, ignore_index, "tversky_loss")
    tp, fp, fn, mask = region_sums(p, target, kind, ignore_index, batch, distributed)
    tp, fp, fn = keep_classes(include_background, p.shape[1], tp, fp, fn)
    loss = 1.0 - tversky_index(tp, fp, fn, alpha, beta, smooth)
    if batch:
        loss, mask = loss.squeeze(0), mask.squeeze(0)
        loss = per_process_share(loss, enabled=distributed)  # equal on every process
    return reduce_loss(
        loss, reduction, sample_weight, mask=mask, distributed=distributed and not batch, dtype=out_dtype(probs)
    )


def _check_tversky_module(alpha: float, beta: float, smooth: float, **_: object) -> None:
    check_tversky(alpha, beta, smooth)


class TverskyLoss(LossModule, function=tversky_loss, validate=_check_tversky_module):
    pass


@renamed_arguments(weight="sample_weight")
def focal_tversky_loss(
    probs: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 0.3,
    beta: float = 0.7,
    gamma: float = 0.75,
    smooth: float = 1e-5,
    include_background: bool = True,
    batch: bool = False,
    ignore_index: int | None = None,
    distributed: bool = False,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Focal Tversky loss per class: the Tversky loss raised to a power, for small lesions [Abraham2019]_.

    With the Tversky index :math:`T_c` of :func:`losslab.tversky_loss` (``alpha`` on FP, ``beta`` on FN):

    .. math::
        \ell_c = (1 - T_c)^{\gamma}

    With ``gamma < 1`` a class that is already well segmented (:math:`T_c \to 1`) still gets a large gradient
    relative to its loss, so training keeps working on the hard, small classes.

    Args:
        probs: Class probabilities ``(N, C, *spatial)``, as :func:`losslab.tversky_loss`.
        target: Class indices ``(N, *spatial)`` or one-hot/soft targets ``(N, C, *spatial)``.
        alpha: Weight of the false positives, ``>= 0``.
        beta: Weight of the false negatives, ``>= 0``.
        gamma: Exponent :math:`\gamma > 0`. The paper writes :math:`(1 - T)^{1/\gamma'}` with
            :math:`\gamma' \in [1, 3]` and uses :math:`\gamma' = 4/3`; ``gamma`` here is :math:`1/\gamma'`
            (default ``0.75``). ``gamma=1`` is the Tversky loss.
        smooth: :math:`s`, added to numerator and denominator of :math:`T_c`, ``>= 0``.
        include_background: Keep channel 0; ``False`` drops it (needs ``C >= 2``).
        batch: Pool the sums over the batch instead of per sample.
        ignore_index: Label of index targets to ignore (as :func:`losslab.tversky_loss`).
        distributed: With ``batch=True``, all-reduce the class sums over the processes (differentiably), so N
            processes on N shards give the whole-batch loss, each returning its ``1/N`` share; with
            ``batch=False`` the mean divides by the global number of entries (as :func:`losslab.dice_loss`).
        sample_weight: Optional weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        For ``"none"``: ``(N, C)`` (``(C,)`` with ``batch=True``); otherwise a scalar.

    Raises:
        ValueError: as :func:`losslab.tversky_loss`, plus ``gamma <= 0``.
        TypeError: non-floating ``probs``, or a target dtype that does not match its shape.

    Note:
        The paper sums over classes; ``"mean"`` here averages the classes (and samples), ``"sum"`` sums them.
        Abraham & Khan put :math:`\alpha` on the false negatives (:math:`\alpha = 0.7`); their setting is
        ``alpha=0.3, beta=0.7`` here. At :math:`T_c = 1` the power has an infinite slope for ``gamma < 1``;
        the gradient there is set to 0 (the loss is at its minimum).

    Example:
        >>> import torch
        >>> probs = torch.tensor([[[[0.9, 0.2], [0.1, 0.3]], [[0.1, 0.8], [0.9, 0.7]]]])
        >>> target = torch.tensor([[[0, 1], [1, 1]]])
        >>> focal_tversky_loss(probs, target, smooth=0.0, reduction="none")
        tensor([[0.3184, 0.2505]])

    References:
        .. [Abraham2019] N. Abraham, N. M. Khan. "A novel focal Tversky loss function with improved attention
           U-Net for lesion segmentation." ISBI 2019. https://arxiv.org/abs/1810.07842
    """
    alpha, beta, smooth = check_tversky(alpha, beta, smooth)
    gamma = check_gamma(gamma)
    p, target, kind = _prepare(probs, target, ignore_index, "focal_tversky_loss")
    tp, fp, fn, mask = region_sums(p, target, kind, ignore_index, batch, distributed)
    tp, fp, fn = keep_classes(include_background, p.shape[1], tp, fp, fn)
    loss = safe_pow(1.0 - tversky_index(tp, fp, fn, alpha, beta, smooth), gamma)
    if batch:
        loss, mask = loss.squeeze(0), mask.squeeze(0)
        loss = per_process_share(loss, enabled=distributed)  # equal on every process
    return reduce_loss(
        loss, reduction, sample_weight, mask=mask, distributed=distributed and not batch, dtype=out_dtype(probs)
    )


def _check_focal_tversky_module(alpha: float, beta: float, gamma: float, smooth: float, **_: object) -> None:
    check_tversky(alpha, beta, smooth)
    check_gamma(gamma)


class FocalTverskyLoss(LossModule, function=focal_tversky_loss, validate=_check_focal_tversky_module):
    pass
