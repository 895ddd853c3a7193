"""Catalogue entries for :mod:`losslab.image_quality` (SSIM, MS-SSIM, Charbonnier) and the LPIPS distance of
:mod:`losslab.perceptual`."""

from __future__ import annotations

import torch

from .. import image_quality as Q
from .. import perceptual as P
from . import LossSpec, register

_WANG2004 = (
    "Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, Image Quality Assessment: From Error Visibility to "
    "Structural Similarity, IEEE TIP 2004"
)


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
        curve=lambda x, y: Q.charbonnier_loss(x, torch.full_like(x, y), reduction="none"),
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
        advice="LPIPSNetwork.vgg16(backbone_weights=..., linear_weights=...) loads both files from disk; nothing is downloaded.",
    )
)
