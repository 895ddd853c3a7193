"""Catalogue entries for :mod:`losslab.perceptual`."""

from __future__ import annotations

from .. import perceptual as P
from . import LossSpec, register

_REFERENCE = (
    "J. Johnson, A. Alahi, L. Fei-Fei, Perceptual Losses for Real-Time Style Transfer and Super-Resolution, "
    "ECCV 2016, arXiv:1603.08155"
)


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
        advice=(
            "State input_range: LPIPS expects [-1, 1], VGG/piq [0, 1]. The target's features are computed without "
            "gradient; the extractor is frozen and not among the loss's parameters."
        ),
    )
)
