r"""Segmentation losses: soft Dice, generalized Dice, boundary loss, and image-gradient losses.

* :func:`dice_loss` and :func:`generalized_dice_loss` are *regional* losses on class probabilities
  ``(N, C, *spatial)`` (2D or 3D) with class-index targets ``(N, *spatial)`` or one-hot/soft targets
  ``(N, C, *spatial)``.
* :func:`boundary_loss` is Kervadec et al.'s boundary (surface) loss: the probabilities integrated against a
  signed distance map of the ground truth (computed outside the loss by :func:`losslab.signed_distance_map`).
  :class:`RebalancedLoss` mixes a regional and the boundary loss with the authors' schedule.
* :func:`image_gradient_loss` (Levinshtein et al.'s hair-matting loss) and :func:`gradient_difference_loss`
  (Mathieu et al.'s GDL) compare spatial gradients.

Index targets are never expanded to a one-hot tensor: per-class sums are gathered and scattered
(``gather`` + ``scatter_add``), which is faster and lighter than materializing ``(N, C, *spatial)``.
"""

from __future__ import annotations

from ._boundary import BoundaryLoss, RebalancedLoss, boundary_loss
from ._dice import (  # noqa: F401
    ABSENT_WEIGHTS,
    WEIGHT_TYPES,
    DiceLoss,
    GeneralizedDiceLoss,
    dice_loss,
    generalized_dice_loss,
)
from ._gradient import GradientDifferenceLoss, ImageGradientLoss, gradient_difference_loss, image_gradient_loss, sobel

__all__ = [
    "dice_loss",
    "DiceLoss",
    "generalized_dice_loss",
    "GeneralizedDiceLoss",
    "boundary_loss",
    "BoundaryLoss",
    "RebalancedLoss",
    "image_gradient_loss",
    "ImageGradientLoss",
    "gradient_difference_loss",
    "GradientDifferenceLoss",
    "sobel",
]
