"""Soft clDice (Shit et al. 2021): centerline Dice through a soft skeleton, for thin tubular structures."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._checks import check_scalar
from .._compat import renamed_arguments
from .._module import LossModule
from .._numerics import safe_div
from .._reduction import reduce_loss
from .._targets import INDEX, one_hot
from ._common import _prepare
from ._helpers import keep_classes, out_dtype


def _check_iterations(iterations: int) -> int:
    if isinstance(iterations, bool) or not isinstance(iterations, int):
        raise TypeError(f"iterations: expected an int, got {type(iterations).__name__}")
    if iterations < 0:
        raise ValueError(f"iterations: expected a value >= 0, got {iterations}")
    return iterations


def soft_erode(x: torch.Tensor) -> torch.Tensor:
    """Soft erosion: the minimum over the cross-shaped 3 (3x3 or 3x3x3 cross) neighbourhood, as min-pooling."""
    d = x.ndim - 2
    pool = F.max_pool2d if d == 2 else F.max_pool3d
    eroded = []
    for axis in range(d):
        kernel = tuple(3 if a == axis else 1 for a in range(d))
        padding = tuple(1 if a == axis else 0 for a in range(d))
        eroded.append(-pool(-x, kernel, 1, padding))
    out = eroded[0]
    for e in eroded[1:]:
        out = torch.minimum(out, e)
    return out


def soft_dilate(x: torch.Tensor) -> torch.Tensor:
    """Soft dilation: max-pooling over the full 3x3 (3x3x3) neighbourhood."""
    pool = F.max_pool2d if x.ndim == 4 else F.max_pool3d
    return pool(x, 3, 1, 1)


def soft_skeleton(x: torch.Tensor, iterations: int) -> torch.Tensor:
    r"""Soft skeleton of soft masks ``(N, C, H, W)`` or ``(N, C, D, H, W)`` by iterated min/max pooling.

    Algorithm 1 of Shit et al.: with the soft opening :math:`o(x) = \mathrm{dilate}(\mathrm{erode}(x))`,
    :math:`S = \mathrm{relu}(x - o(x))`, then ``iterations`` times :math:`x \leftarrow \mathrm{erode}(x)`,
    :math:`\delta = \mathrm{relu}(x - o(x))`, :math:`S \leftarrow S + \mathrm{relu}(\delta - S\delta)`.
    """
    eroded = soft_erode(x)
    skel = F.relu(x - soft_dilate(eroded))
    for _ in range(iterations):
        # the next x is erode(x), which the opening of x has just computed: one erosion per step, not two
        x, eroded = eroded, soft_erode(eroded)
        delta = F.relu(x - soft_dilate(eroded))
        skel = skel + F.relu(delta - skel * delta)
    return skel


@renamed_arguments(weight="sample_weight")
def soft_cldice_loss(
    probs: torch.Tensor,
    target: torch.Tensor,
    *,
    iterations: int = 3,
    smooth: float = 1.0,
    include_background: bool = True,
    batch: bool = False,
    ignore_index: int | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Soft clDice loss: Dice of the centerlines, for thin, tubular structures (vessels, roads, neurons).

    Region overlap barely notices a broken vessel; clDice compares skeletons, so it rewards connectivity
    [Shit2021]_. With :math:`S_P, S_G` the soft skeletons (:func:`soft_skeleton`) of the prediction :math:`P`
    and the target :math:`G`, the topology precision and sensitivity, summed over the pixels and kept channels
    of one sample (of the batch when ``batch=True``):

    .. math::
        T_{prec} = \frac{\sum S_P\,G + s}{\sum S_P + s},\quad
        T_{sens} = \frac{\sum S_G\,P + s}{\sum S_G + s},\qquad
        \ell = 1 - \frac{2\,T_{prec}\,T_{sens}}{T_{prec} + T_{sens}}

    Args:
        probs: Probabilities ``(N, C, H, W)`` or ``(N, C, D, H, W)``: softmax outputs with class-index targets,
            or sigmoid outputs (``C = 1`` for a binary mask).
        target: Class indices ``(N, *spatial)`` (integer) or 0/1 (soft) masks ``(N, C, *spatial)`` (float).
        iterations: Skeletonization iterations :math:`k`, ``>= 0``; about the largest radius (in pixels) of the
            structures (MONAI's ``iter_``, default 3).
        smooth: :math:`s`, ``>= 0`` (the authors' and MONAI's default 1).
        include_background: Keep channel 0. With softmax outputs pass ``False``: the background skeleton is
            not a structure of interest (the authors' code drops channel 0).
        batch: Pool the sums over the batch (the authors' code) instead of per sample (MONAI's).
        ignore_index: Label of index targets whose pixels leave the four sums (they are background for the
            target's skeleton). Must lie outside ``[0, C)``.
        sample_weight: Optional weights broadcastable to the unreduced loss ``(N,)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        For ``"none"``: ``(N,)`` (0-dim with ``batch=True``); otherwise a scalar.

    Raises:
        ValueError: spatial dims other than 2 or 3, ``iterations < 0``, and as :func:`losslab.dice_loss`.
        TypeError: non-floating ``probs``, non-int ``iterations``, or a target dtype that does not match.

    Note:
        MONAI's ``SoftclDiceLoss`` adds its ``smooth=1e-4`` to the denominator of the harmonic mean; here that
        ratio is exact (it cannot be 0/0 for ``smooth > 0``; 0/0 gives a loss of 0 for ``smooth=0``). Use it
        together with a regional loss (the authors: :math:`(1 - \alpha)` Dice + :math:`\alpha` clDice, e.g.
        ``alpha=0.5``), since clDice alone ignores the width of the structures. The soft skeleton reuses the
        erosion inside each opening as the next step's erosion: :math:`k + 1` erosions and dilations instead of
        the reference code's :math:`2k + 1` erosions (3(k+1) poolings in 2D instead of 5k + 3), same values.

    Example:
        >>> import torch
        >>> target = torch.zeros(1, 1, 7, 7); target[0, 0, 3, 1:6] = 1.0     # a horizontal line
        >>> probs = target * 0.8 + 0.1
        >>> soft_cldice_loss(probs, target, smooth=0.0)
        tensor(0.0526)

    References:
        .. [Shit2021] S. Shit, J. C. Paetzold, A. Sekuboyina, I. Ezhov, A. Unger, A. Zhylka, J. P. W. Pluim,
           U. Bauer, B. H. Menze. "clDice - a Novel Topology-Preserving Loss Function for Tubular Structure
           Segmentation." CVPR 2021. https://arxiv.org/abs/2003.07311
    """
    iterations = _check_iterations(iterations)
    smooth = check_scalar(smooth, "smooth", low=0.0, high=float("inf"), high_inclusive=False)
    if probs.ndim not in (4, 5):
        raise ValueError(
            f"probs: expected shape (N, C, H, W) or (N, C, D, H, W) (2D or 3D), got {tuple(probs.shape)}"
        )
    p, target, kind = _prepare(probs, target, ignore_index, "soft_cldice_loss")
    g = one_hot(target, p.shape[1], p.dtype, ignore_index) if kind == INDEX else target.to(p.dtype)
    p, g = keep_classes(include_background, p.shape[1], p, g)
    skel_p, skel_g = soft_skeleton(p, iterations), soft_skeleton(g, iterations)
    dims = tuple(range(1, p.ndim)) if not batch else tuple(range(p.ndim))
    if kind == INDEX and ignore_index is not None:  # ignored pixels leave the four sums
        valid = (target != ignore_index).unsqueeze(1).to(p.dtype)
        skel_p, skel_g = skel_p * valid, skel_g * valid
        mask = valid.sum(dims) > 0
    else:
        mask = torch.ones(p.shape[:1] if not batch else (), dtype=torch.bool, device=p.device)
    tprec = safe_div((skel_p * g).sum(dims) + smooth, skel_p.sum(dims) + smooth, fill=1.0)
    tsens = safe_div((skel_g * p).sum(dims) + smooth, skel_g.sum(dims) + smooth, fill=1.0)
    loss = 1.0 - safe_div(2.0 * tprec * tsens, tprec + tsens, fill=1.0)
    return reduce_loss(loss, reduction, sample_weight, mask=mask, dtype=out_dtype(probs))


def _check_cldice(iterations: int, smooth: float, **_: object) -> None:
    _check_iterations(iterations)
    check_scalar(smooth, "smooth", low=0.0, high=float("inf"), high_inclusive=False)


class SoftClDiceLoss(LossModule, function=soft_cldice_loss, validate=_check_cldice):
    pass
