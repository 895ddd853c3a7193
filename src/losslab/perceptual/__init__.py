r"""Perceptual losses: feature reconstruction, style (Gram matrices) and total variation [Johnson2016]_.

A perceptual loss compares images through the activations :math:`\phi_j` of a fixed *loss network* (VGG-16 in
the paper) instead of pixel by pixel. This module provides

* :class:`VGG16Features`: the VGG-16 convolutional stack written here (no torchvision dependency), loading a
  torchvision-format VGG-16 state dict from disk (never downloading), frozen and in eval mode;
* :func:`feature_reconstruction_loss`, :func:`gram_matrix`, :func:`style_loss`, :func:`total_variation_loss`:
  pure functions of feature maps / images;
* :func:`perceptual_loss` and :class:`PerceptualLoss`: images in a *stated* value range, mapped to the loss
  network's normalization, passed through any extractor (VGG-16, or any ``nn.Module`` / callable returning a
  dict or list of feature maps), combining content, style and total-variation terms.

The input contract that peers leave implicit is explicit here: ``input_range`` says what the images hold
(``(0, 1)`` or ``(-1, 1)``; LPIPS expects [-1, 1], piq and torchvision [0, 1], and feeding one to the other is a
silent error), values outside it raise while validation is on, and the images are mapped to ImageNet mean/std
inside the loss.

References:
    .. [Johnson2016] J. Johnson, A. Alahi, L. Fei-Fei. "Perceptual Losses for Real-Time Style Transfer and
       Super-Resolution." ECCV 2016. https://arxiv.org/abs/1603.08155
    .. [Simonyan2015] K. Simonyan, A. Zisserman. "Very Deep Convolutional Networks for Large-Scale Image
       Recognition." ICLR 2015. https://arxiv.org/abs/1409.1556
"""

from __future__ import annotations

from ._losses import (  # noqa: F401
    FeatureReconstructionLoss,
    Features,
    LayerWeights,
    StyleLoss,
    TotalVariationLoss,
    feature_reconstruction_loss,
    gram_matrix,
    style_loss,
    total_variation_loss,
)
from ._lpips import (  # noqa: F401
    LPIPS_SCALE,
    LPIPS_SHIFT,
    LPIPS_VGG16_LAYERS,
    LPIPSDistance,
    LPIPSNetwork,
    default_lpips_linear_weights_path,
    lpips_distance,
)
from ._perceptual import IMAGENET_MEAN, IMAGENET_STD, Extractor, PerceptualLoss, perceptual_loss  # noqa: F401
from ._vgg import VGG16_LAYERS, VGG16_WEIGHTS_FILENAME, VGG16Features, default_vgg16_weights_path

__all__ = [
    "VGG16Features",
    "VGG16_LAYERS",
    "VGG16_WEIGHTS_FILENAME",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "default_vgg16_weights_path",
    "feature_reconstruction_loss",
    "FeatureReconstructionLoss",
    "gram_matrix",
    "style_loss",
    "StyleLoss",
    "total_variation_loss",
    "TotalVariationLoss",
    "perceptual_loss",
    "PerceptualLoss",
    "lpips_distance",
    "LPIPSDistance",
    "LPIPSNetwork",
    "LPIPS_VGG16_LAYERS",
    "default_lpips_linear_weights_path",
]
