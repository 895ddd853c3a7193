"""Compound losses on logits: Dice + cross-entropy and Dice + focal (the defaults of nnU-Net and MONAI)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._checks import check_scalar
from .._compat import renamed_arguments
from .._module import LossModule
from .._numerics import upcast
from .._reduction import reduce_loss
from .._targets import INDEX
from ..focal import sigmoid_focal_loss, softmax_focal_loss
from ._helpers import out_dtype, prepare_logits
from ._logits import _dice


def _check_lambda(value: float, name: str) -> float:
    return check_scalar(value, name, low=0.0, high=float("inf"), high_inclusive=False)


def _compound(
    logits: torch.Tensor,
    target: torch.Tensor,
    pixel_term: str,
    lambda_dice: float,
    lambda_pixel: float,
    gamma: float,
    smooth: float,
    include_background: bool,
    batch: bool,
    ignore_index: int | None,
    sample_weight: torch.Tensor | None,
    reduction: str,
    name: str,
) -> torch.Tensor:
    """``lambda_dice * dice + lambda_pixel * pixel`` per sample (per batch with ``batch``); see the public docs."""
    smooth = check_scalar(smooth, "smooth", low=0.0, high=float("inf"), high_inclusive=False)
    link = "sigmoid" if logits.ndim >= 2 and logits.shape[1] == 1 else "softmax"
    p, kind = prepare_logits(logits, target, ignore_index, link, name)
    dice, mask = _dice(p, target, kind, smooth, include_background, batch, ignore_index)
    dice = dice.mean(-1)  # over the classes: (N,) or ()
    (x,) = upcast(logits)
    if link == "sigmoid":  # C = 1: binary cross-entropy / sigmoid focal on the foreground logit
        y = target.to(x.dtype)
        if pixel_term == "ce":
            pixel = F.binary_cross_entropy_with_logits(x, y, reduction="none")
        else:
            pixel = sigmoid_focal_loss(x, y, gamma=gamma, alpha=None, reduction="none")
        valid = torch.ones_like(pixel, dtype=torch.bool)
    elif kind == INDEX:
        if pixel_term == "ce":
            pixel = F.cross_entropy(x, target.long(), ignore_index=-100 if ignore_index is None else ignore_index,
                                    reduction="none")
        else:
            pixel = softmax_focal_loss(x, target, gamma=gamma, alpha=None, ignore_index=ignore_index, reduction="none")
        valid = torch.ones_like(pixel, dtype=torch.bool) if ignore_index is None else target != ignore_index
    else:
        y = target.to(x.dtype)
        if pixel_term == "ce":
            pixel = -(y * torch.log_softmax(x, dim=1)).sum(1)
        else:
            pixel = softmax_focal_loss(x, y, gamma=gamma, alpha=None, reduction="none")
        valid = torch.ones_like(pixel, dtype=torch.bool)
    pixel, valid = pixel.flatten(1), valid.flatten(1).to(x.dtype)
    total, count = (pixel * valid).sum(-1), valid.sum(-1)
    if batch:
        total, count = total.sum(), count.sum()
    pixel_mean = total / count.clamp_min(1)  # mean over the valid pixels of each sample (of the batch)
    loss = lambda_dice * dice + lambda_pixel * pixel_mean
    mask = mask.squeeze(-1)
    if batch:
        mask = mask.squeeze(0)
    return reduce_loss(loss, reduction, sample_weight, mask=mask, dtype=out_dtype(logits))


@renamed_arguments(weight="sample_weight")
def dice_cross_entropy_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    lambda_dice: float = 1.0,
    lambda_ce: float = 1.0,
    smooth: float = 1e-5,
    include_background: bool = True,
    batch: bool = False,
    ignore_index: int | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Dice + cross-entropy on logits, the compound loss nnU-Net and MONAI default to for segmentation.

    Cross-entropy gives smooth, well-scaled gradients from the first step; Dice counters class imbalance
    [Isensee2021]_. With :math:`p = \operatorname{softmax}(x)` (``C >= 2``) or :math:`\sigma(x)` (``C = 1``),
    per sample :math:`n`, the Dice loss :math:`D_{n,c}` of :func:`softmax_dice_loss` averaged over the classes
    and the cross-entropy averaged over the (non-ignored) pixels :math:`\Omega_n`:

    .. math::
        \ell_n = \lambda_{\mathrm{dice}}\,\frac{1}{C}\sum_c D_{n,c}
            + \lambda_{\mathrm{ce}}\,\frac{1}{|\Omega_n|}\sum_{i \in \Omega_n} -\sum_c g_{ic} \log p_{ic}

    Args:
        logits: Scores ``(N, C, *spatial)`` (2D or 3D): ``C >= 2`` classes with softmax, or ``C = 1`` with
            sigmoid (binary segmentation; the cross-entropy is then the binary one).
        target: Class indices ``(N, *spatial)`` (integer) or one-hot/soft targets ``(N, C, *spatial)``
            (float; required for ``C = 1``). Indices of shape ``(N, 1, *spatial)`` are rejected with a hint
            to squeeze the channel.
        lambda_dice: Weight of the Dice term, ``>= 0``.
        lambda_ce: Weight of the cross-entropy term, ``>= 0``.
        smooth: Dice smoothing :math:`s`, ``>= 0``.
        include_background: Keep channel 0 in the Dice term (the cross-entropy always uses every class).
        batch: Batch Dice: pool the Dice sums over the batch and the cross-entropy over all pixels of the batch
            (nnU-Net's ``batch_dice``); the loss is then one number.
        ignore_index: Label of index targets to ignore in both terms; must lie outside ``[0, C)``.
        sample_weight: Optional weights broadcastable to the unreduced loss ``(N,)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        For ``"none"``: ``(N,)`` per sample (0-dim with ``batch=True``); otherwise a scalar.

    Raises:
        ValueError: as :func:`softmax_dice_loss` / :func:`sigmoid_dice_loss`, plus negative weights.
        TypeError: non-floating ``logits``, or a target dtype that does not match its shape.

    Note:
        Without ignored pixels ``"mean"`` equals MONAI's ``DiceCELoss(softmax=True, to_onehot_y=True)`` (``C >= 2``,
        target with a channel dim there) and ``DiceCELoss(sigmoid=True)`` (``C = 1``). With ``ignore_index`` the
        cross-entropy is averaged per sample, then over samples (torch's ``F.cross_entropy`` averages over all
        valid pixels of the batch; ``batch=True`` does that). nnU-Net writes the Dice term as :math:`-\mathrm{DSC}`
        (no ``1 -``) and excludes the background: ``include_background=False`` gives its gradients.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[[[2.0, -1.0], [-2.0, 0.0]], [[0.0, 1.0], [1.0, 1.0]]]])
        >>> target = torch.tensor([[[0, 1], [1, 1]]])
        >>> dice_cross_entropy_loss(logits, target)
        tensor(0.3225)

    References:
        .. [Isensee2021] F. Isensee, P. F. Jaeger, S. A. A. Kohl, J. Petersen, K. H. Maier-Hein. "nnU-Net: a
           self-configuring method for deep learning-based biomedical image segmentation." Nature Methods 2021.
           https://arxiv.org/abs/1809.10486
    """
    lambda_dice, lambda_ce = _check_lambda(lambda_dice, "lambda_dice"), _check_lambda(lambda_ce, "lambda_ce")
    return _compound(logits, target, "ce", lambda_dice, lambda_ce, 0.0, smooth, include_background, batch,
                     ignore_index, sample_weight, reduction, "dice_cross_entropy_loss")


def _check_dice_ce(lambda_dice: float, lambda_ce: float, smooth: float, **_: object) -> None:
    _check_lambda(lambda_dice, "lambda_dice")
    _check_lambda(lambda_ce, "lambda_ce")
    check_scalar(smooth, "smooth", low=0.0, high=float("inf"), high_inclusive=False)


class DiceCrossEntropyLoss(LossModule, function=dice_cross_entropy_loss, validate=_check_dice_ce):
    pass


@renamed_arguments(weight="sample_weight")
def dice_focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    gamma: float = 2.0,
    lambda_dice: float = 1.0,
    lambda_focal: float = 1.0,
    smooth: float = 1e-5,
    include_background: bool = True,
    batch: bool = False,
    ignore_index: int | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Dice + focal loss on logits (MONAI's ``DiceFocalLoss``), for segmentation with many easy pixels.

    As :func:`dice_cross_entropy_loss` with the cross-entropy replaced by the focal loss [Lin2017]_ of the same
    link: :func:`losslab.softmax_focal_loss` for ``C >= 2``, :func:`losslab.sigmoid_focal_loss` (no
    :math:`\alpha`) for ``C = 1``:

    .. math::
        \ell_n = \lambda_{\mathrm{dice}}\,\frac{1}{C}\sum_c D_{n,c}
            + \lambda_{\mathrm{focal}}\,\frac{1}{|\Omega_n|}\sum_{i \in \Omega_n}
              -\sum_c g_{ic}\,(1 - p_{ic})^{\gamma} \log p_{ic}

    Args:
        logits: Scores ``(N, C, *spatial)``: ``C >= 2`` with softmax, or ``C = 1`` with sigmoid.
        target: Class indices ``(N, *spatial)`` or one-hot/soft targets ``(N, C, *spatial)`` (float; required
            for ``C = 1``).
        gamma: Focusing parameter, ``>= 0``; ``gamma=0`` is :func:`dice_cross_entropy_loss`.
        lambda_dice: Weight of the Dice term, ``>= 0``.
        lambda_focal: Weight of the focal term, ``>= 0``.
        smooth: Dice smoothing :math:`s`, ``>= 0``.
        include_background: Keep channel 0 in the Dice term.
        batch: Pool the Dice sums and the focal mean over the batch.
        ignore_index: Label of index targets to ignore in both terms; must lie outside ``[0, C)``.
        sample_weight: Optional weights broadcastable to the unreduced loss ``(N,)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        For ``"none"``: ``(N,)`` per sample (0-dim with ``batch=True``); otherwise a scalar.

    Raises:
        ValueError: as :func:`dice_cross_entropy_loss`, plus ``gamma < 0``.
        TypeError: non-floating ``logits``, or a target dtype that does not match its shape.

    Note:
        For ``C = 1`` this equals MONAI's ``DiceFocalLoss(sigmoid=True)``. For ``C >= 2`` MONAI's
        ``DiceFocalLoss(softmax=True)`` applies softmax in the Dice term but a *sigmoid* focal loss to every
        channel (its ``FocalLoss`` defaults to ``use_softmax=False``) and averages over classes too; here the
        focal term uses the same softmax, so it equals MONAI's ``DiceLoss(softmax=True)`` plus ``C`` times
        ``FocalLoss(use_softmax=True)``.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[[[2.0, -1.0], [-2.0, 0.0]], [[0.0, 1.0], [1.0, 1.0]]]])
        >>> target = torch.tensor([[[0, 1], [1, 1]]])
        >>> dice_focal_loss(logits, target)
        tensor(0.1751)
    """
    gamma = check_scalar(gamma, "gamma", low=0.0, high=float("inf"), high_inclusive=False)
    lambda_dice, lambda_focal = _check_lambda(lambda_dice, "lambda_dice"), _check_lambda(lambda_focal, "lambda_focal")
    return _compound(logits, target, "focal", lambda_dice, lambda_focal, gamma, smooth, include_background, batch,
                     ignore_index, sample_weight, reduction, "dice_focal_loss")


def _check_dice_focal(gamma: float, lambda_dice: float, lambda_focal: float, smooth: float, **_: object) -> None:
    check_scalar(gamma, "gamma", low=0.0, high=float("inf"), high_inclusive=False)
    _check_dice_ce(lambda_dice, lambda_focal, smooth)


class DiceFocalLoss(LossModule, function=dice_focal_loss, validate=_check_dice_focal):
    pass
