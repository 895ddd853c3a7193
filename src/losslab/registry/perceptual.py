"""Catalogue entries for :mod:`losslab.perceptual`.

The contract tests call every entry with small random tensors. The feature-map losses get one feature tensor
``(n, C, H, W)`` per side (a single layer); :func:`perceptual_loss` gets small RGB images in (0.05, 0.95) and a
tiny fixed two-layer convolutional extractor (a plain function, so it follows the input's dtype; VGG-16 would need
weights on disk and is tested in ``tests/test_perceptual.py``).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from .. import perceptual as P
from . import LossSpec, register
from ._samplers import rand, randn

_REFERENCE = (
    "J. Johnson, A. Alahi, L. Fei-Fei, Perceptual Losses for Real-Time Style Transfer and Super-Resolution, "
    "ECCV 2016, arXiv:1603.08155"
)


def _tiny_weights() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1234)
    w1 = torch.randn(4, 3, 3, 3, generator=g, dtype=torch.float64) * 0.5
    b1 = torch.randn(4, generator=g, dtype=torch.float64) * 0.1
    w2 = torch.randn(5, 4, 3, 3, generator=g, dtype=torch.float64) * 0.3
    b2 = torch.randn(5, generator=g, dtype=torch.float64) * 0.1
    return w1, b1, w2, b2


_TINY = _tiny_weights()


def tiny_extractor(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """A fixed 2-layer conv feature extractor ``{"a": (n, 4, H, W), "b": (n, 5, H/2, W/2)}`` in ``x``'s dtype.

    softplus keeps it smooth (gradcheck); the second layer is strided so the two layers differ in size.
    """
    w1, b1, w2, b2 = (t.to(x.dtype) for t in _TINY)
    a = F.softplus(F.conv2d(x, w1, b1, padding=1))
    b = F.softplus(F.conv2d(a, w2, b2, padding=1, stride=2))
    return {"a": a, "b": b}


def _features(channels: int = 3, size: int = 4, **kwargs):
    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        return (randn((n, channels, size, size), dtype, g), randn((n, channels, size, size), dtype, g)), dict(kwargs)

    return sample


def _images(**kwargs):
    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        return (rand((n, 3, 6, 6), dtype, g, 0.05, 0.95), rand((n, 3, 6, 6), dtype, g, 0.05, 0.95)), dict(kwargs)

    return sample


def _single_image(**kwargs):
    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        return (randn((n, 2, 5, 4), dtype, g),), dict(kwargs)

    return sample


register(
    LossSpec(
        name="feature_reconstruction_loss",
        function=P.feature_reconstruction_loss,
        module=P.FeatureReconstructionLoss,
        family="perceptual",
        tasks=("image-transformation",),
        input_kind="features",
        target_kind="feature maps of the target image (same layers, same shapes)",
        activation="none (feature maps of a fixed loss network, e.g. VGG16Features)",
        value_range="[0, inf)",
        summary="Content loss: normalized squared distance of loss-network feature maps, summed over layers.",
        formula="sum_j lambda_j ||phi_j(pred) - phi_j(target)||^2 / (C_j H_j W_j)",
        reference=_REFERENCE,
        sample=_features(),
        advice="Compute target features under torch.no_grad(); relu2_2 of VGG-16 is the paper's super-resolution choice.",
    )
)

register(
    LossSpec(
        name="style_loss",
        function=P.style_loss,
        module=P.StyleLoss,
        family="perceptual",
        tasks=("image-transformation",),
        input_kind="features",
        target_kind="feature maps of the style image (same layers and channels, batch n or 1, any size)",
        activation="none (feature maps of a fixed loss network, e.g. VGG16Features)",
        value_range="[0, inf)",
        summary="Style loss: squared Frobenius distance of Gram matrices (normalized by C*H*W), summed over layers.",
        formula="sum_j lambda_j ||G_j(pred) - G_j(target)||_F^2,  G = psi psi^T / (C H W)",
        reference=_REFERENCE,
        sample=_features(),
        advice="Gram normalization varies between libraries; this is Johnson et al.'s 1/(C H W).",
    )
)

register(
    LossSpec(
        name="total_variation_loss",
        function=P.total_variation_loss,
        module=P.TotalVariationLoss,
        family="perceptual",
        tasks=("image-transformation",),
        input_kind="images",
        target_kind="none (a regularizer of the generated image)",
        activation="any image range",
        value_range="[0, inf)",
        summary="Total variation regularizer: mean squared difference of neighbouring pixels, per image.",
        formula="(sum (x[h+1,w]-x[h,w])^2 + sum (x[h,w+1]-x[h,w])^2) / (C H W)",
        reference=_REFERENCE + "; A. Mahendran, A. Vedaldi, CVPR 2015, arXiv:1412.0035",
        sample=_single_image(),
    )
)

register(
    LossSpec(
        name="perceptual_loss",
        default_for=('image-transformation',),
        function=P.perceptual_loss,
        module=P.PerceptualLoss,
        family="perceptual",
        tasks=("image-transformation",),
        input_kind="images",
        target_kind="images in the same stated input_range (same size for the content term)",
        activation="sigmoid for input_range=(0, 1), tanh for (-1, 1)",
        value_range="[0, inf)",
        summary="Images through a fixed loss network (VGG-16 by default): content + style + total variation.",
        formula="cw * feature_reconstruction + sw * style + tvw * total_variation(pred)",
        reference=_REFERENCE,
        sample=_images(
            extractor=tiny_extractor,
            content_layers=("a", "b"),
            style_layers=("b",),
            content_weight=1.0,
            style_weight=0.5,
            tv_weight=0.1,
            input_range=(0, 1),
        ),
        advice=(
            "State input_range: LPIPS expects [-1, 1], VGG/piq [0, 1]. The target's features are computed without "
            "gradient; the extractor is frozen and not among the loss's parameters."
        ),
    )
)
