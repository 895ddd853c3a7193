r"""Bounding-box regression losses (IoU, GIoU, DIoU, CIoU) and the IoU-balanced detection losses.

Boxes are ``(..., 4)`` tensors, ``(x1, y1, x2, y2)`` by default (``box_format`` converts ``xywh`` and ``cxcywh``
first). Losses pair box ``i`` of ``boxes`` with box ``i`` of ``target`` and return one value per pair.

Numerics shared by every function here:

* half precision (float16/bfloat16) is computed in float32 and returned in the input dtype;
* the intersection width ``min(x2, u2) - max(x1, u1)`` is computed as ``(w1 + w2 - |x2 - u2| - |x1 - u1|) / 2``
  and clipped with ``relu``: the same values and gradients as torchvision (ties split evenly, gradient 0 at a
  touching edge) without its boolean-mask indexing and with a cheaper backward than maximum/minimum;
* ``eps`` (default ``1e-7``, torchvision's) is added to the IoU, GIoU and DIoU denominators exactly where
  torchvision adds it, so non-degenerate pairs agree with torchvision to the last bits; ``eps=0`` gives the exact
  ratios (identical boxes give a loss of exactly 0) with a double ``where`` at zero denominators;
* degenerate boxes (zero width or height, points, identical points) give finite values and finite gradients:
  the GIoU enclosing term is guarded where the enclosing area is 0 (torchvision's gradient there is ``1/eps``),
  and CIoU takes the aspect angle with ``atan2`` behind a double ``where`` (torchvision's ``atan(w/h)`` is NaN
  for a point box);
* with validation on (the default in eager mode), a box with ``x2 < x1`` or ``y2 < y1`` raises ``ValueError``.
"""

from __future__ import annotations

from ._balanced import (
    IoUBalancedSigmoidFocalLoss,
    IoUBalancedSmoothL1Loss,
    IoUBalancedSoftmaxCrossEntropyLoss,
    iou_balanced_sigmoid_focal_loss,
    iou_balanced_smooth_l1_loss,
    iou_balanced_softmax_cross_entropy,
)
from ._geometry import ALPHA_MODES, BOX_FORMATS, IOU_MODES, box_convert, box_iou, pairwise_box_iou  # noqa: F401
from ._gfl import (
    DistributionFocalLoss,
    QualityFocalLoss,
    VarifocalLoss,
    distribution_focal_loss,
    quality_focal_loss,
    varifocal_loss,
)
from ._iou_losses import (
    CompleteBoxIoULoss,
    DistanceBoxIoULoss,
    GeneralizedBoxIoULoss,
    IoULoss,
    complete_box_iou_loss,
    distance_box_iou_loss,
    generalized_box_iou_loss,
    iou_loss,
)
from ._iou_variants import (  # noqa: F401
    IOU_KINDS,
    AlphaIoULoss,
    EfficientIoULoss,
    ScyllaIoULoss,
    alpha_iou_loss,
    anchor_ious,
    efficient_iou_loss,
    scylla_iou_loss,
)

__all__ = [
    "box_convert",
    "box_iou",
    "pairwise_box_iou",
    "iou_loss",
    "IoULoss",
    "generalized_box_iou_loss",
    "GeneralizedBoxIoULoss",
    "distance_box_iou_loss",
    "DistanceBoxIoULoss",
    "complete_box_iou_loss",
    "CompleteBoxIoULoss",
    "iou_balanced_sigmoid_focal_loss",
    "IoUBalancedSigmoidFocalLoss",
    "iou_balanced_softmax_cross_entropy",
    "IoUBalancedSoftmaxCrossEntropyLoss",
    "iou_balanced_smooth_l1_loss",
    "IoUBalancedSmoothL1Loss",
    "anchor_ious",
    "efficient_iou_loss",
    "EfficientIoULoss",
    "scylla_iou_loss",
    "ScyllaIoULoss",
    "alpha_iou_loss",
    "AlphaIoULoss",
    "quality_focal_loss",
    "QualityFocalLoss",
    "distribution_focal_loss",
    "DistributionFocalLoss",
    "varifocal_loss",
    "VarifocalLoss",
]
