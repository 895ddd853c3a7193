"""Hausdorff distance loss, distance-transform form (Karimi & Salcudean 2019)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch

from .._checks import check_choice, check_scalar
from .._compat import renamed_arguments
from .._module import LossModule
from .._reduction import reduce_loss
from .._targets import INDEX, one_hot
from ..distance import BACKENDS, _check_spacing, signed_distance_map
from ._common import _prepare
from ._helpers import keep_classes, out_dtype


@torch.compiler.disable  # SciPy/edt on host arrays; compiled callers call it eagerly
def unsigned_distance(
    mask: torch.Tensor, spacing: Sequence[float] | float | None = None, backend: str | None = None
) -> torch.Tensor:
    r"""Distance of every pixel to the other side of the boundary of a binary mask ``(N, C, *spatial)``.

    Outside the mask, the distance to the nearest mask pixel; inside, the distance to the nearest background
    pixel (both at least one pixel): :math:`d = \mathrm{EDT}(M) + \mathrm{EDT}(\bar M)`. It is read off
    :func:`losslab.signed_distance_map` (:math:`\phi` outside, :math:`1 - \phi` inside, since that map shifts the
    inside by one raw unit). An empty or full mask (no boundary) gives 0 everywhere, as MONAI's
    ``HausdorffDTLoss``. ``backend`` as :func:`losslab.signed_distance_map` (``None``: ``"torch"`` on the
    tensor's accelerator, ``"edt"``/``"scipy"`` on the CPU); returned on ``mask``'s device, no gradient.
    """
    if mask.numel() == 0:  # an empty batch (the torch backend cannot reshape it)
        return torch.zeros(mask.shape, dtype=torch.float64, device=mask.device)
    maps = signed_distance_map(mask.detach(), spacing=spacing, backend=backend, dtype=torch.float64)
    phi = cast(torch.Tensor, maps)
    d = torch.where(phi > 0, phi, 1.0 - phi)
    flat = mask.flatten(2)
    boundary = (flat.any(-1) & ~flat.all(-1)).reshape(*mask.shape[:2], *([1] * (mask.ndim - 2)))
    return torch.where(boundary, d, torch.zeros_like(d))


@renamed_arguments(weight="sample_weight")
def hausdorff_distance_loss(
    probs: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 2.0,
    include_background: bool = True,
    spacing: Sequence[float] | float | None = None,
    backend: str | None = None,
    ignore_index: int | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Hausdorff distance loss (distance-transform form): squared errors weighted by the distance to the boundaries.

    Karimi & Salcudean estimate the Hausdorff distance between prediction and target by their distance maps
    and penalize errors far from either boundary more [Karimi2019]_. With :math:`d_G` the distance map of the
    target's boundary and :math:`d_P` that of the prediction thresholded at 0.5 (:func:`unsigned_distance`,
    constants for the gradient), per sample and class over the pixels :math:`\Omega`:

    .. math::
        \ell_c = \frac{1}{|\Omega|}\sum_{i \in \Omega} (p_{ic} - g_{ic})^2\,\big(d_{G,ic}^{\alpha}
            + d_{P,ic}^{\alpha}\big)

    Args:
        probs: Probabilities ``(N, C, *spatial)`` (1D to 3D): softmax outputs with class-index targets, or
            sigmoid outputs (``C = 1`` for a binary mask).
        target: Class indices ``(N, *spatial)`` (integer) or 0/1 masks ``(N, C, *spatial)`` (float,
            thresholded at 0.5 for the distance map).
        alpha: Exponent :math:`\alpha` of the distances, ``>= 0`` (the paper's and MONAI's 2).
        include_background: Keep channel 0; ``False`` drops it (needs ``C >= 2``). MONAI defaults to ``False``.
        spacing: Pixel (voxel) size per spatial axis for the distance maps (one number for all axes).
        backend: Distance-transform backend of :func:`losslab.signed_distance_map`: ``None`` (default) runs
            ``"torch"`` on an accelerator (the maps never leave the device) and ``"edt"`` or ``"scipy"`` on the
            CPU (much faster there); or name one.
        ignore_index: Label of index targets to ignore: those pixels leave the mean (they count as background
            in the target's distance map). Must lie outside ``[0, C)``.
        sample_weight: Optional weights broadcastable to the unreduced loss (e.g. per class ``(C,)``).
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        For ``"none"``: ``(N, C)`` per sample and class; otherwise a scalar.

    Raises:
        ValueError: as :func:`losslab.dice_loss`, plus a negative ``alpha`` or a bad ``spacing``.
        TypeError: non-floating ``probs``, or a target dtype that does not match its shape.

    Note:
        The distance maps are recomputed at every call (the prediction's changes every step): on the tensor's
        device with the ``"torch"`` backend (the default on accelerators), or on the host with SciPy/``edt``,
        which costs a device-to-host copy and a sync for accelerator tensors. Values agree with MONAI's ``HausdorffDTLoss``
        (``include_background=True``, ``batch=False``; MONAI's ``batch=True`` gives the same mean). The loss is
        not bounded: it grows with the squared size of the image. Pair it with a Dice loss, as the authors did.

    Example:
        >>> import torch
        >>> target = torch.zeros(1, 1, 5, 5); target[0, 0, 1:4, 1:4] = 1.0
        >>> probs = torch.full((1, 1, 5, 5), 0.2); probs[0, 0, 1:3, 1:3] = 0.9
        >>> hausdorff_distance_loss(probs, target)
        tensor(0.4044)

    References:
        .. [Karimi2019] D. Karimi, S. E. Salcudean. "Reducing the Hausdorff Distance in Medical Image
           Segmentation with Convolutional Neural Networks." IEEE TMI 2019. https://arxiv.org/abs/1904.10030
    """
    alpha = check_scalar(alpha, "alpha", low=0.0, high=float("inf"), high_inclusive=False)
    p, target, kind = _prepare(probs, target, ignore_index, "hausdorff_distance_loss")
    if spacing is not None:
        _check_spacing(spacing, p.ndim - 2)
    g = one_hot(target, p.shape[1], p.dtype, ignore_index) if kind == INDEX else target.to(p.dtype)
    if kind == INDEX and ignore_index is not None:
        valid = (target != ignore_index).unsqueeze(1).to(p.dtype)
    else:
        valid = torch.ones_like(p[:, :1])
    p, g = keep_classes(include_background, p.shape[1], p, g)
    d_g = unsigned_distance(g > 0.5, spacing, backend).to(p.dtype)
    d_p = unsigned_distance(p.detach() > 0.5, spacing, backend).to(p.dtype)
    error = (p - g).square() * (d_g.pow(alpha) + d_p.pow(alpha)) * valid
    spatial = tuple(range(2, p.ndim))
    count = valid.sum(spatial)  # (N, 1)
    loss = error.sum(spatial) / count.clamp_min(1)
    return reduce_loss(loss, reduction, sample_weight, mask=count > 0, dtype=out_dtype(probs))


def _check_hausdorff(alpha: float, backend: str | None, **_: object) -> None:
    check_scalar(alpha, "alpha", low=0.0, high=float("inf"), high_inclusive=False)
    if backend is not None:
        check_choice(backend, "backend", BACKENDS)


class HausdorffDistanceLoss(LossModule, function=hausdorff_distance_loss, validate=_check_hausdorff):
    pass
