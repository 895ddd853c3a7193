r"""Image-quality losses for restoration and generation: SSIM, MS-SSIM and the Charbonnier loss.

Images are channels first, ``(N, C, H, W)`` or volumes ``(N, C, D, H, W)``. The structural-similarity losses
return one value per image (``1 - SSIM``, averaged over the channels) and compare local statistics under a
Gaussian window; they need the images' **value range** (``data_range``: 1.0 for [0, 1] images, 255.0 for 8-bit
ones), which sets the stabilizing constants :math:`C_1 = (K_1 L)^2, C_2 = (K_2 L)^2`. A wrong range silently
changes the loss (piq, torchmetrics and pytorch-msssim each default to a different one), so here it has no
default and, while validation is on, a target whose values span more than ``data_range`` raises.

Precision: float16/bfloat16 images are computed in float32 and returned in their dtype; under ``torch.autocast``
the convolutions run in float32 (autocast would lower them) and the loss is float32.

The LPIPS distance (a learned perceptual metric) lives with the other feature-space losses in
:mod:`losslab.perceptual` (:func:`~losslab.perceptual.lpips_distance`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import nullcontext

import torch
import torch.nn.functional as F

from ._checks import check_finite, check_floating, check_same_shape, check_scalar, finite_extremes, validation_enabled
from ._compat import renamed_arguments
from ._module import LossModule
from ._numerics import safe_pow, upcast
from ._reduction import reduce_loss

__all__ = ["ssim_loss", "SSIMLoss", "ms_ssim_loss", "MSSSIMLoss", "charbonnier_loss", "CharbonnierLoss", "MS_SSIM_WEIGHTS"]

_AUTOCAST_DEVICES = ("cpu", "cuda", "xpu", "mps", "hpu")

# The five scale weights of Wang, Simoncelli & Bovik (2003), Table/Section 3.2 (finest scale first).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


# ---------------------------------------------------------------------------------------------------------------
# checks


def _check_images(pred: torch.Tensor, target: torch.Tensor) -> None:
    check_floating(pred, "pred")
    check_floating(target, "target")
    check_same_shape(pred, target, "pred", "target")
    if pred.ndim not in (4, 5):
        raise ValueError(f"pred: expected images (N, C, H, W) or volumes (N, C, D, H, W), got shape {tuple(pred.shape)}")
    if pred.shape[1] == 0:  # a mean over no channel would be NaN
        raise ValueError(f"pred: expected at least one channel on dim 1, got shape {tuple(pred.shape)}")


def _check_data_range(data_range: float | None) -> float:
    if data_range is None:
        raise ValueError(
            "data_range: expected the images' value range (1.0 for images in [0, 1], 255.0 for 8-bit images, 2.0 for "
            "[-1, 1]), got None; it sets SSIM's constants, so it has no default"
        )
    return check_scalar(data_range, "data_range", low=0.0, low_inclusive=False)


def _check_window(win_size: int, win_sigma: float) -> tuple[int, float]:
    if isinstance(win_size, bool) or not isinstance(win_size, int) or win_size < 1 or win_size % 2 == 0:
        raise ValueError(f"win_size: expected an odd int >= 1, got {win_size!r}")
    return win_size, check_scalar(win_sigma, "win_sigma", low=0.0, low_inclusive=False)


def _check_weights(weights: Sequence[float]) -> tuple[float, ...]:
    if isinstance(weights, str) or not isinstance(weights, Sequence) or len(weights) == 0:
        raise ValueError(f"weights: expected a non-empty sequence of scale weights, got {weights!r}")
    return tuple(check_scalar(w, f"weights[{i}]", low=0.0) for i, w in enumerate(weights))


def _check_values(pred: torch.Tensor, target: torch.Tensor, data_range: float) -> None:
    """Value checks (validation on): finite images, and a target that fits in ``data_range``."""
    if target.numel() == 0 or not validation_enabled(target):
        return
    check_finite(pred, "pred")
    lo, hi = finite_extremes(target, "target")  # one read: finite, and the span
    if hi - lo > data_range * (1.0 + 1e-6):
        raise ValueError(
            f"data_range: expected the target's values to span at most data_range={data_range:g}, got values in "
            f"[{lo:.4g}, {hi:.4g}]; pass the range the images use (e.g. data_range=255.0 for 8-bit images)"
        )


def _check_sizes(shape: torch.Size, win_size: int, scales: int) -> None:
    sizes = list(shape[2:])
    for level in range(scales):
        if min(sizes) < win_size:
            where = "" if scales == 1 else f" at scale {level + 1} of {scales} (halved {level} times)"
            raise ValueError(
                f"pred: expected every spatial size >= win_size={win_size}{where}, got spatial shape {tuple(shape[2:])}"
                + (" (sizes there " + str(tuple(sizes)) + ")" if level else "")
                + "; use a smaller win_size" + (" or fewer scale weights" if scales > 1 else "")
            )
        sizes = [(s + 2 * (s % 2) - 2) // 2 + 1 for s in sizes]


# ---------------------------------------------------------------------------------------------------------------
# the SSIM statistics


def _gaussian_window(win_size: int, sigma: float, like: torch.Tensor) -> torch.Tensor:
    coords = torch.arange(win_size, dtype=like.dtype, device=like.device) - (win_size - 1) / 2
    g = torch.exp(-(coords**2) / (2.0 * sigma**2))
    return g / g.sum()


def _blur(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter, 'valid' (no padding), of every channel of ``(1, K, *spatial)`` (2 or 3 spatial
    dims), as depthwise convolutions (``groups=K``: on CPU several times faster than a batch of 1-channel
    images)."""
    nd = x.ndim - 2
    k = x.shape[1]
    if k == 0:  # an empty batch: the output's shape, still attached to the graph
        return x[(Ellipsis,) + tuple(slice(0, s - g.numel() + 1) for s in x.shape[2:])]
    conv = F.conv2d if nd == 2 else F.conv3d
    for d in range(nd):
        shape = [1] * nd
        shape[d] = g.numel()
        x = conv(x, g.reshape(1, 1, *shape).expand(k, 1, *shape), groups=k)
    return x


def _ssim_cs(x: torch.Tensor, y: torch.Tensor, g: torch.Tensor, c1: float, c2: float):
    """Per-image, per-channel mean SSIM and contrast-structure term, each ``(N, C)``."""
    n, c = x.shape[:2]
    # one convolution pass over the five local moments, batched
    stats = torch.stack((x, y, x * x, y * y, x * y)).reshape(1, 5 * n * c, *x.shape[2:])
    blurred = _blur(stats, g)
    mu_x, mu_y, e_xx, e_yy, e_xy = blurred.reshape(5, n, c, math.prod(blurred.shape[2:])).unbind(0)
    var_x = e_xx - mu_x.square()
    var_y = e_yy - mu_y.square()
    cov = e_xy - mu_x * mu_y
    cs_map = (2.0 * cov + c2) / (var_x + var_y + c2)
    luminance = (2.0 * mu_x * mu_y + c1) / (mu_x.square() + mu_y.square() + c1)
    return (luminance * cs_map).mean(-1), cs_map.mean(-1)


def _float32_region(pred: torch.Tensor, target: torch.Tensor):
    """Inputs in their compute dtype, the result dtype, and a context with autocast off (convolutions in fp32)."""
    device = pred.device.type
    has_autocast = device in _AUTOCAST_DEVICES  # e.g. not "meta"
    out_dtype = torch.float32 if has_autocast and torch.is_autocast_enabled(device) else pred.dtype
    x, y = upcast(pred, target)
    y = y.to(x.dtype)
    return x, y, out_dtype, (torch.autocast(device_type=device, enabled=False) if has_autocast else nullcontext())


# ---------------------------------------------------------------------------------------------------------------
# losses


@renamed_arguments(weight="sample_weight")
def ssim_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    data_range: float | None = None,
    win_size: int = 11,
    win_sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""SSIM loss: one minus the mean structural similarity of each image (or volume) with its target.

    SSIM compares local means (luminance), variances (contrast) and the covariance (structure) under a Gaussian
    window [Wang2004]_. With windowed means :math:`\mu`, variances :math:`\sigma^2`, covariance
    :math:`\sigma_{xy}`, and :math:`C_1 = (K_1 L)^2`, :math:`C_2 = (K_2 L)^2` for the data range :math:`L`:

    .. math::
        \mathrm{SSIM}(x, y) = \frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}
        {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)}, \qquad
        \ell = 1 - \frac{1}{C}\sum_{c} \overline{\mathrm{SSIM}}_c

    where :math:`\overline{\mathrm{SSIM}}_c` averages the SSIM map of channel :math:`c` over all valid window
    positions.

    Args:
        pred: Images ``(N, C, H, W)`` or volumes ``(N, C, D, H, W)``.
        target: Reference images, same shape.
        data_range: The images' value range :math:`L` (1.0 for [0, 1], 255.0 for 8-bit, 2.0 for [-1, 1]). No
            default: it sets :math:`C_1, C_2`. While validation is on, a target spanning more than it raises.
        win_size: Side of the Gaussian window, odd (11 in the paper).
        win_sigma: Standard deviation of the window, ``> 0`` (1.5 in the paper).
        k1: :math:`K_1`, ``>= 0`` (0.01).
        k2: :math:`K_2`, ``>= 0`` (0.03).
        sample_weight: Optional weights broadcastable to the per-image loss ``(N,)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-image loss ``(N,)`` for ``"none"``, otherwise a scalar; values in ``[0, 2]``.

    Raises:
        ValueError: shapes differ or are not 4-D/5-D, a spatial size below ``win_size``, ``data_range`` missing
            or not ``> 0``, a bad window, or (validation on) non-finite images or a target spanning more than
            ``data_range``.
        TypeError: non-floating images.

    Note:
        pytorch-msssim's conventions (equal to it, see tests/test_image_quality.py): a normalized separable
        Gaussian window, 'valid' filtering (only window positions inside the image count), biased local
        variances, the mean over channels of each channel's mean SSIM. torchmetrics (1.9) instead pads the images
        by reflection and averages over every pixel, with a window size set by ``win_sigma``
        (``2 * int(3.5 * sigma + 0.5) + 1``): it equals this loss on reflection-padded images. The Gaussian
        filtering runs as separable convolutions in float32 (or float64) even under autocast.

    Example:
        >>> import torch
        >>> x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
        >>> ssim_loss(x, x, data_range=1.0)
        tensor(0.)
        >>> ssim_loss(x, (x + 0.1).clamp(0, 1), data_range=1.0, win_size=7, reduction="none")
        tensor([0.0166, 0.0183])

    References:
        .. [Wang2004] Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli. "Image Quality Assessment: From Error
           Visibility to Structural Similarity." IEEE Transactions on Image Processing 13(4), 2004.
           https://doi.org/10.1109/TIP.2003.819861
    """
    data_range = _check_data_range(data_range)
    win_size, win_sigma = _check_window(win_size, win_sigma)
    k1 = check_scalar(k1, "k1", low=0.0)
    k2 = check_scalar(k2, "k2", low=0.0)
    _check_images(pred, target)
    _check_sizes(pred.shape, win_size, 1)
    _check_values(pred, target, data_range)
    x, y, out_dtype, no_autocast = _float32_region(pred, target)
    with no_autocast:
        g = _gaussian_window(win_size, win_sigma, x)
        ssim, _ = _ssim_cs(x, y, g, (k1 * data_range) ** 2, (k2 * data_range) ** 2)
        loss = 1.0 - ssim.mean(1)
    return reduce_loss(loss, reduction, sample_weight, dtype=out_dtype)


@renamed_arguments(weight="sample_weight")
def ms_ssim_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    data_range: float | None = None,
    win_size: int = 11,
    win_sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    weights: Sequence[float] = MS_SSIM_WEIGHTS,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Multi-scale SSIM loss: SSIM's contrast-structure term at several scales, luminance at the coarsest.

    The images are compared at :math:`M` scales, halving the resolution with a 2x2 average between them; the
    contrast-structure term :math:`cs_j` (SSIM without its luminance factor) counts at every scale and full SSIM
    at the coarsest one, each raised to its weight [Wang2003]_:

    .. math::
        \mathrm{MS\text{-}SSIM}_c = \mathrm{SSIM}_{c,M}^{\,w_M} \prod_{j=1}^{M-1} cs_{c,j}^{\,w_j}, \qquad
        \ell = 1 - \frac{1}{C}\sum_c \mathrm{MS\text{-}SSIM}_c

    with the paper's weights :math:`w = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)` (finest first).

    Args:
        pred: Images ``(N, C, H, W)`` or volumes ``(N, C, D, H, W)``; after ``len(weights) - 1`` halvings every
            spatial size must still be ``>= win_size`` (at least 161 pixels for the defaults).
        target: Reference images, same shape.
        data_range: The images' value range (see :func:`ssim_loss`); no default.
        win_size: Side of the Gaussian window, odd (11).
        win_sigma: Standard deviation of the window, ``> 0`` (1.5).
        k1: :math:`K_1`, ``>= 0`` (0.01).
        k2: :math:`K_2`, ``>= 0`` (0.03).
        weights: Exponents of the scales, finest first, each ``>= 0``; their number is the number of scales.
            ``weights=(1.0,)`` is :func:`ssim_loss` (where SSIM > 0).
        sample_weight: Optional weights broadcastable to the per-image loss ``(N,)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-image loss ``(N,)`` for ``"none"``, otherwise a scalar; values in ``[0, 1]``.

    Raises:
        ValueError: as :func:`ssim_loss`, plus images too small for the number of scales or bad ``weights``.
        TypeError: non-floating images.

    Note:
        pytorch-msssim's conventions (equal to it, see tests/test_image_quality.py): the per-scale terms are
        clipped at 0 (``relu``) before the fractional powers, the product is taken per channel and then averaged
        over channels, and an odd size is zero-padded by one before the 2x2 average pooling (which counts the
        pad). torchmetrics averages over channels *before* the powers and pools without padding, so the two
        differ for several channels or odd sizes. The powers have a zero gradient where a clipped term is 0.
        pytorch-msssim also refuses images with a side of at most ``(win_size - 1) * 16``; here any image whose
        coarsest scale still fits the window is accepted.

    Example:
        >>> import torch
        >>> x = torch.rand(2, 1, 48, 48, generator=torch.Generator().manual_seed(0))
        >>> y = (x + 0.05 * torch.randn(2, 1, 48, 48, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
        >>> ms_ssim_loss(x, y, data_range=1.0, win_size=3, reduction="none")
        tensor([0.0183, 0.0130])

    References:
        .. [Wang2003] Z. Wang, E. P. Simoncelli, A. C. Bovik. "Multiscale Structural Similarity for Image Quality
           Assessment." Asilomar Conference on Signals, Systems and Computers, 2003.
           https://doi.org/10.1109/ACSSC.2003.1292216
    """
    data_range = _check_data_range(data_range)
    win_size, win_sigma = _check_window(win_size, win_sigma)
    k1 = check_scalar(k1, "k1", low=0.0)
    k2 = check_scalar(k2, "k2", low=0.0)
    weights = _check_weights(weights)
    _check_images(pred, target)
    _check_sizes(pred.shape, win_size, len(weights))
    _check_values(pred, target, data_range)
    x, y, out_dtype, no_autocast = _float32_region(pred, target)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    pool = F.avg_pool2d if x.ndim == 4 else F.avg_pool3d
    with no_autocast:
        g = _gaussian_window(win_size, win_sigma, x)
        terms = []
        for level, w in enumerate(weights):
            ssim, cs = _ssim_cs(x, y, g, c1, c2)
            terms.append(safe_pow(ssim if level == len(weights) - 1 else cs, w))
            if level < len(weights) - 1:
                padding = [s % 2 for s in x.shape[2:]]
                x, y = pool(x, 2, padding=padding), pool(y, 2, padding=padding)
        loss = 1.0 - torch.stack(terms).prod(0).mean(1)
    return reduce_loss(loss, reduction, sample_weight, dtype=out_dtype)


@renamed_arguments(weight="sample_weight")
def charbonnier_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    eps: float = 1e-3,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Charbonnier loss: a smooth L1, the robust penalty of image restoration (LapSRN, EDVR, ...).

    Behaves as :math:`|x - y|` for residuals much larger than :math:`\varepsilon` and is differentiable (locally
    quadratic) at 0 [Charbonnier1994]_ [Lai2017]_:

    .. math::
        \ell = \sqrt{(x - y)^2 + \varepsilon^2}

    Args:
        pred: Predictions, any shape.
        target: Targets, same shape.
        eps: :math:`\varepsilon`, ``> 0`` (``1e-3`` as LapSRN).
        sample_weight: Optional weights broadcastable to the element-wise loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Element-wise loss for ``"none"``, otherwise a scalar; values ``>= eps``.

    Raises:
        ValueError: shapes differ or ``eps <= 0``.
        TypeError: non-floating inputs.

    Note:
        The minimum is :math:`\varepsilon`, not 0 (as in LapSRN and BasicSR; subtracting it would not change the
        gradient). BasicSR's ``eps=1e-12`` is added *unsquared* (:math:`\sqrt{d^2 + 10^{-12}}`), i.e. this loss at
        ``eps=1e-6``. kornia's ``charbonnier_loss`` is Barron's :math:`\sqrt{d^2 + 1} - 1`, i.e.
        :math:`(\ell - \varepsilon)/\varepsilon` at :math:`d/\varepsilon`.

    Example:
        >>> import torch
        >>> charbonnier_loss(torch.tensor([0.0, 0.5, -2.0]), torch.zeros(3), reduction="none")
        tensor([0.0010, 0.5000, 2.0000])

    References:
        .. [Charbonnier1994] P. Charbonnier, L. Blanc-Féraud, G. Aubert, M. Barlaud. "Two Deterministic
           Half-Quadratic Regularization Algorithms for Computed Imaging." ICIP 1994.
           https://doi.org/10.1109/ICIP.1994.413553
        .. [Lai2017] W.-S. Lai, J.-B. Huang, N. Ahuja, M.-H. Yang. "Deep Laplacian Pyramid Networks for Fast and
           Accurate Super-Resolution." CVPR 2017. https://arxiv.org/abs/1704.03915
    """
    eps = check_scalar(eps, "eps", low=0.0, low_inclusive=False)
    if not math.isfinite(eps):
        raise ValueError(f"eps: expected a finite value, got {eps}")
    check_floating(pred, "pred")
    check_floating(target, "target")
    check_same_shape(pred, target, "pred", "target")
    check_finite(pred, "pred")
    check_finite(target, "target")
    x, y = upcast(pred, target)
    loss = ((x - y.to(x.dtype)).square() + eps**2).sqrt()
    return reduce_loss(loss, reduction, sample_weight, dtype=pred.dtype)


def _validate_window_hyperparameters(**kw) -> None:
    _check_data_range(kw["data_range"])
    _check_window(kw["win_size"], kw["win_sigma"])
    check_scalar(kw["k1"], "k1", low=0.0)
    check_scalar(kw["k2"], "k2", low=0.0)
    if "weights" in kw:
        _check_weights(kw["weights"])


class SSIMLoss(LossModule, function=ssim_loss, validate=_validate_window_hyperparameters):
    pass


class MSSSIMLoss(LossModule, function=ms_ssim_loss, validate=_validate_window_hyperparameters):
    pass


class CharbonnierLoss(LossModule, function=charbonnier_loss):
    pass
