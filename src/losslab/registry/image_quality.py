"""Catalogue entries for :mod:`losslab.image_quality` (SSIM, MS-SSIM, Charbonnier) and the LPIPS distance of
:mod:`losslab.perceptual`.

Samplers: SSIM gets ``(n, 2, 9, 9)`` images in [0, 1] with a 5-pixel window; MS-SSIM ``(n, 2, 11, 11)`` (odd, so
the padded pooling runs) with a 3-pixel window and three scales; both compare an image with a slightly noisy
copy, so every SSIM and contrast term is positive (the fractional powers are smooth there). LPIPS gets RGB
images in (-0.9, 0.9) and a tiny fixed two-layer tanh network (VGG-16 needs its weights on disk and is tested in
tests/test_lpips.py), built in the sample's compute dtype.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import image_quality as Q
from .. import perceptual as P
from .._numerics import compute_dtype
from . import LossSpec, register
from ._samplers import elementwise, rand, randn

_WANG2004 = (
    "Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, Image Quality Assessment: From Error Visibility to "
    "Structural Similarity, IEEE TIP 2004"
)


def noisy_pairs(channels: int = 2, size: int = 9, noise: float = 0.05, **kwargs):
    """Images ``(n, C, size, size)`` in [0, 1] and a copy with small Gaussian noise (clipped to [0, 1])."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        x = rand((n, channels, size, size), torch.float64, g)
        y = (x + noise * randn((n, channels, size, size), torch.float64, g)).clamp(0.0, 1.0)
        return (x.to(dtype), y.to(dtype)), dict(kwargs)

    return sample


_G = torch.Generator().manual_seed(4321)
_W1 = torch.randn(4, 3, 3, 3, generator=_G, dtype=torch.float64) * 0.5
_W2 = torch.randn(5, 4, 3, 3, generator=_G, dtype=torch.float64) * 0.3
_LIN = (torch.rand(4, generator=_G, dtype=torch.float64) + 0.1, torch.rand(5, generator=_G, dtype=torch.float64) + 0.1)


def tiny_lpips_features(x: torch.Tensor) -> list[torch.Tensor]:
    """Two feature maps ``(n, 4, H, W)`` and ``(n, 5, H/2, W/2)`` of a fixed tanh conv net, in ``x``'s dtype."""
    a = torch.tanh(F.conv2d(x, _W1.to(x.dtype), padding=1))
    b = torch.tanh(F.conv2d(F.avg_pool2d(a, 2), _W2.to(x.dtype), padding=1))
    return [a, b]


def lpips_images(size: int = 8, **kwargs):
    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        network = P.LPIPSNetwork(tiny_lpips_features, [w.float() for w in _LIN]).to(compute_dtype(dtype))
        x = rand((n, 3, size, size), dtype, g, -0.9, 0.9)
        y = rand((n, 3, size, size), dtype, g, -0.9, 0.9)
        return (x, y), dict(kwargs, network=network)

    return sample


register(
    LossSpec(
        name="ssim_loss",
        function=Q.ssim_loss,
        module=Q.SSIMLoss,
        family="image_quality",
        tasks=("image-transformation",),
        input_kind="images",
        target_kind="reference images, same shape (N, C, H, W) or (N, C, D, H, W)",
        activation="none",
        activation_note="images in a stated data_range",
        value_range="[0, 2]",
        summary="1 - SSIM: compares local means, variances and covariance under a Gaussian window; per image.",
        formula="1 - mean_c mean_window [(2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2))]",
        reference=_WANG2004,
        sample=noisy_pairs(data_range=1.0, win_size=5),
        advice="data_range has no default: 1.0 for [0, 1] images, 255.0 for 8-bit. Often mixed with L1 (0.84 SSIM).",
    )
)

register(
    LossSpec(
        name="ms_ssim_loss",
        function=Q.ms_ssim_loss,
        module=Q.MSSSIMLoss,
        family="image_quality",
        tasks=("image-transformation",),
        input_kind="images",
        target_kind="reference images, same shape (N, C, H, W) or (N, C, D, H, W)",
        activation="none",
        activation_note="images in a stated data_range",
        value_range="[0, 1]",
        summary="1 - MS-SSIM: contrast-structure at five scales, luminance at the coarsest; per image.",
        formula="1 - mean_c SSIM_M^w_M prod_{j<M} cs_j^w_j,  w = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)",
        reference="Z. Wang, E. P. Simoncelli, A. C. Bovik, Multiscale Structural Similarity for Image Quality Assessment, Asilomar 2003",
        sample=noisy_pairs(size=11, data_range=1.0, win_size=3, weights=(0.3, 0.4, 0.3)),
        advice="Needs images of at least 161 pixels a side with the default window and five scales.",
    )
)

register(
    LossSpec(
        name="charbonnier_loss",
        function=Q.charbonnier_loss,
        module=Q.CharbonnierLoss,
        family="image_quality",
        tasks=("image-transformation", "regression"),
        input_kind="real values",
        target_kind="real values, same shape",
        activation="linear",
        value_range="[eps, inf)",
        summary="Charbonnier (smooth L1) loss sqrt(d^2 + eps^2): the robust pixel loss of image restoration.",
        formula="sqrt((x - y)^2 + eps^2)",
        reference="P. Charbonnier et al., Two Deterministic Half-Quadratic Regularization Algorithms for Computed Imaging, ICIP 1994; W.-S. Lai et al., LapSRN, CVPR 2017, arXiv:1704.03915",
        sample=elementwise(eps=0.1),
        curve=lambda x, y: ((x - y) ** 2 + 1e-6).sqrt(),
    )
)

register(
    LossSpec(
        name="lpips_distance",
        function=P.lpips_distance,
        module=P.LPIPSDistance,
        family="perceptual",
        tasks=("image-transformation",),
        input_kind="images",
        target_kind="reference images (N, 3, H, W) in the same input_range",
        activation="none",
        activation_note="images in a stated input_range, [-1, 1] by default",
        value_range="[0, inf)",
        summary="LPIPS: unit-normalized deep features, squared differences weighted per channel, summed over layers.",
        formula="sum_k mean_hw sum_c w_kc (f_khwc(x)/||f_khw(x)|| - f_khwc(y)/||f_khw(y)||)^2",
        reference="R. Zhang, P. Isola, A. A. Efros, E. Shechtman, O. Wang, The Unreasonable Effectiveness of Deep Features as a Perceptual Metric, CVPR 2018, arXiv:1801.03924",
        sample=lpips_images(),
        advice="LPIPSNetwork.vgg16(backbone_weights=..., linear_weights=...) loads both files from disk; nothing is downloaded.",
    )
)
