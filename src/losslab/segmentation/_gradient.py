"""Sobel gradients and the image-gradient and gradient-difference losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._checks import check_finite, check_floating, check_in_range, check_min_ndim, check_same_shape, check_scalar
from .._compat import renamed_arguments
from .._module import LossModule
from .._numerics import safe_div, upcast
from .._reduction import reduce_loss

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
    if x.shape[0] * x.shape[1] == 0:
        return x.clone(), x.clone()
    # The separable form: a central difference along one axis smoothed by (1, 2, 1) along the other. Shifted
    # adds, not a convolution: no kernel tensor to build, and autocast cannot lower them to half precision.
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    dx = p[..., :, 2:] - p[..., :, :-2]
    dy = p[..., 2:, :] - p[..., :-2, :]
    gx = dx[..., :-2, :] + 2.0 * dx[..., 1:-1, :] + dx[..., 2:, :]
    gy = dy[..., :, :-2] + 2.0 * dy[..., :, 1:-1] + dy[..., :, 2:]
    return gx, gy


@renamed_arguments(weight="sample_weight")
def image_gradient_loss(
    mask_probs: torch.Tensor,
    image: torch.Tensor,
    *,
    sample_weight: torch.Tensor | None = None,
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
        sample_weight: Optional per-element weights broadcastable to the unreduced loss ``(N,)``.
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
    check_in_range(
        mask_probs, "mask_probs", 0.0, 1.0, "image_gradient_loss expects probabilities (sigmoid outputs)",
        loss="image_gradient_loss",
    )
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
    return reduce_loss(loss, reduction, sample_weight, dtype=mask_probs.dtype)


class ImageGradientLoss(LossModule, function=image_gradient_loss):
    pass


@renamed_arguments(weight="sample_weight")
def gradient_difference_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 1.0,
    sample_weight: torch.Tensor | None = None,
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
        sample_weight: Optional per-element weights broadcastable to the unreduced loss ``(N, C, *spatial)``.
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
    alpha = _check_gradient_difference(alpha)
    check_floating(pred, "pred")
    check_floating(target, "target")
    check_same_shape(pred, target, "pred", "target")
    check_min_ndim(pred, 3, "pred", "(N, C, *spatial)")
    check_finite(target, "target")
    check_finite(pred, "pred", "gradient_difference_loss")
    p, t = upcast(pred, target)
    t = t.to(p.dtype)
    loss: torch.Tensor | None = None
    for axis in range(2, p.ndim):
        # an axis of length 1 has no neighbour pair: its term is the zero padding alone, still on the graph of
        # pred (so a 1x1 image gives 0 with a zero gradient, and .backward() works)
        term = (t.diff(dim=axis).abs() - p.diff(dim=axis).abs()).abs()
        if alpha != 1.0:
            term = term.pow(alpha)
        term = F.pad(term, [0, 0] * (p.ndim - 1 - axis) + [min(p.shape[axis], 1), 0])
        loss = term if loss is None else loss + term
    assert loss is not None  # pred has at least one spatial axis (checked above)
    return reduce_loss(loss, reduction, sample_weight, dtype=pred.dtype)


def _check_gradient_difference(alpha: float, **_: object) -> float:
    return check_scalar(alpha, "alpha", low=1.0)


class GradientDifferenceLoss(LossModule, function=gradient_difference_loss, validate=_check_gradient_difference):
    pass
