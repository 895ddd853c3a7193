r"""Segmentation losses: soft Dice, generalized Dice, boundary loss, and image-gradient losses.

* :func:`dice_loss` and :func:`generalized_dice_loss` are *regional* losses on class probabilities
  ``(N, C, *spatial)`` (2D or 3D) with class-index targets ``(N, *spatial)`` or one-hot/soft targets
  ``(N, C, *spatial)``.
* :func:`boundary_loss` is Kervadec et al.'s boundary (surface) loss: the probabilities integrated against a
  signed distance map of the ground truth (computed outside the loss by :func:`losslab.signed_distance_map`).
  :class:`RebalancedLoss` mixes a regional and the boundary loss with the authors' schedule.
* :func:`image_gradient_loss` (Levinshtein et al.'s hair-matting loss) and :func:`gradient_difference_loss`
  (Mathieu et al.'s GDL) compare spatial gradients.
* :func:`tversky_loss` / :func:`focal_tversky_loss` (probabilities), the logit forms :func:`softmax_dice_loss`,
  :func:`sigmoid_dice_loss`, :func:`softmax_generalized_dice_loss`, :func:`softmax_tversky_loss`,
  :func:`sigmoid_tversky_loss`, the Lovász losses :func:`lovasz_softmax_loss` / :func:`lovasz_hinge_loss`, the
  compound :func:`dice_cross_entropy_loss` / :func:`dice_focal_loss`, :func:`soft_cldice_loss` (thin structures)
  and :func:`hausdorff_distance_loss` (distance-transform Hausdorff).

Index targets are never expanded to a one-hot tensor: per-class sums are gathered and scattered
(``gather`` + ``scatter_add``), which is faster and lighter than materializing ``(N, C, *spatial)``.
"""

from __future__ import annotations

from ._boundary import BoundaryLoss, RebalancedLoss, boundary_loss
from ._cldice import SoftClDiceLoss, soft_cldice_loss
from ._compound import DiceCrossEntropyLoss, DiceFocalLoss, dice_cross_entropy_loss, dice_focal_loss
from ._dice import (  # noqa: F401
    ABSENT_WEIGHTS,
    WEIGHT_TYPES,
    DiceLoss,
    GeneralizedDiceLoss,
    dice_loss,
    generalized_dice_loss,
)
from ._gradient import GradientDifferenceLoss, ImageGradientLoss, gradient_difference_loss, image_gradient_loss, sobel
from ._hausdorff import HausdorffDistanceLoss, hausdorff_distance_loss
from ._logits import (
    SigmoidDiceLoss,
    SigmoidTverskyLoss,
    SoftmaxDiceLoss,
    SoftmaxGeneralizedDiceLoss,
    SoftmaxTverskyLoss,
    sigmoid_dice_loss,
    sigmoid_tversky_loss,
    softmax_dice_loss,
    softmax_generalized_dice_loss,
    softmax_tversky_loss,
)
from ._lovasz import LovaszHingeLoss, LovaszSoftmaxLoss, lovasz_hinge_loss, lovasz_softmax_loss
from ._tversky import FocalTverskyLoss, TverskyLoss, focal_tversky_loss, tversky_loss

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
    "softmax_dice_loss",
    "SoftmaxDiceLoss",
    "sigmoid_dice_loss",
    "SigmoidDiceLoss",
    "softmax_generalized_dice_loss",
    "SoftmaxGeneralizedDiceLoss",
    "tversky_loss",
    "TverskyLoss",
    "focal_tversky_loss",
    "FocalTverskyLoss",
    "softmax_tversky_loss",
    "SoftmaxTverskyLoss",
    "sigmoid_tversky_loss",
    "SigmoidTverskyLoss",
    "lovasz_softmax_loss",
    "LovaszSoftmaxLoss",
    "lovasz_hinge_loss",
    "LovaszHingeLoss",
    "dice_cross_entropy_loss",
    "DiceCrossEntropyLoss",
    "dice_focal_loss",
    "DiceFocalLoss",
    "soft_cldice_loss",
    "SoftClDiceLoss",
    "hausdorff_distance_loss",
    "HausdorffDistanceLoss",
]
