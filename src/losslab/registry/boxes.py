"""Catalogue entries for :mod:`losslab.boxes`."""

from __future__ import annotations

from .. import boxes as B
from . import LossSpec, register

_BOX_TARGET = "boxes (x1, y1, x2, y2), same shape"
_ZHENG = "Z. Zheng et al., Distance-IoU Loss: Faster and Better Learning for Bounding Box Regression, AAAI 2020, arXiv:1911.08287"
_WU = "S. Wu, J. Yang, X. Wang, X. Li, IoU-balanced Loss Functions for Single-stage Object Detection, arXiv:1908.05641"

register(
    LossSpec(
        name="iou_loss",
        function=B.iou_loss,
        module=B.IoULoss,
        family="boxes",
        tasks=("detection",),
        input_kind="boxes",
        target_kind=_BOX_TARGET,
        activation="none (decoded boxes)",
        value_range="[0, 1] (linear, square); [0, -log eps] (log)",
        summary="1 - IoU of predicted and target boxes; scale invariant but flat when the boxes do not overlap.",
        formula="1 - IoU | 1 - IoU^2 | -log IoU",
        reference="J. Yu et al., UnitBox: An Advanced Object Detection Network, ACM MM 2016, arXiv:1608.01471",
        advice="No gradient for non-overlapping boxes: prefer generalized_box_iou_loss or distance_box_iou_loss.",
    )
)

register(
    LossSpec(
        name="generalized_box_iou_loss",
        function=B.generalized_box_iou_loss,
        module=B.GeneralizedBoxIoULoss,
        family="boxes",
        tasks=("detection",),
        input_kind="boxes",
        target_kind=_BOX_TARGET,
        activation="none (decoded boxes)",
        value_range="[0, 2)",
        summary="GIoU loss: 1 - IoU plus the empty share of the enclosing box; gradients for disjoint boxes too.",
        formula="1 - IoU + (|C| - |union|) / |C|",
        reference="H. Rezatofighi et al., Generalized Intersection over Union, CVPR 2019, arXiv:1902.09630",
        advice="Converges slowly when one box contains the other (the penalty vanishes); DIoU fixes that.",
    )
)

register(
    LossSpec(
        name="distance_box_iou_loss",
        function=B.distance_box_iou_loss,
        module=B.DistanceBoxIoULoss,
        family="boxes",
        tasks=("detection",),
        input_kind="boxes",
        target_kind=_BOX_TARGET,
        activation="none (decoded boxes)",
        value_range="[0, 2)",
        summary="DIoU loss: 1 - IoU plus squared centre distance over squared enclosing diagonal; fast convergence.",
        formula="1 - IoU + rho^2 / c^2",
        reference=_ZHENG,
        advice="detach_diagonal=True gives the paper's gradient (c treated as a constant), faster in its simulation.",
    )
)

register(
    LossSpec(
        name="complete_box_iou_loss",
        default_for=('detection',),
        function=B.complete_box_iou_loss,
        module=B.CompleteBoxIoULoss,
        family="boxes",
        tasks=("detection",),
        input_kind="boxes",
        target_kind=_BOX_TARGET,
        activation="none (decoded boxes)",
        value_range="[0, 3)",
        summary="CIoU loss: DIoU plus an aspect-ratio consistency term; the usual choice for YOLO-style detectors.",
        formula="1 - IoU + rho^2 / c^2 + alpha v,  v = 4/pi^2 (atan(w_gt/h_gt) - atan(w/h))^2",
        reference=_ZHENG,
        advice="alpha_mode='always' matches torchvision, 'iou>0.5' matches mmdetection.",
    )
)

register(
    LossSpec(
        name="iou_balanced_sigmoid_focal_loss",
        function=B.iou_balanced_sigmoid_focal_loss,
        module=B.IoUBalancedSigmoidFocalLoss,
        family="boxes",
        tasks=("detection", "imbalanced"),
        input_kind="logits",
        target_kind="binary targets (N, C) and IoUs of the regressed boxes (N,)",
        activation="sigmoid",
        value_range="[0, inf)",
        summary="Focal loss with positives weighted by IoU^eta (sum kept): ties scores to localization quality.",
        formula="sum_pos IoU^eta * S * FL + sum_neg FL,  S = sum_pos FL / sum_pos IoU^eta FL",
        reference=_WU,
        advice="Pass normalizer=number of positive anchors to reproduce RetinaNet's normalization.",
    )
)

register(
    LossSpec(
        name="iou_balanced_softmax_cross_entropy",
        function=B.iou_balanced_softmax_cross_entropy,
        module=B.IoUBalancedSoftmaxCrossEntropyLoss,
        family="boxes",
        tasks=("detection",),
        input_kind="logits",
        target_kind="class indices (background_index = negatives) and IoUs (N,)",
        activation="softmax",
        value_range="[0, inf)",
        summary="Softmax cross-entropy with positives weighted by IoU^eta (sum kept); the two-stage/SSD variant.",
        formula="sum_pos IoU^eta * S * CE + sum_neg CE,  S = sum_pos CE / sum_pos IoU^eta CE",
        reference=_WU,
    )
)

register(
    LossSpec(
        name="iou_balanced_smooth_l1_loss",
        function=B.iou_balanced_smooth_l1_loss,
        module=B.IoUBalancedSmoothL1Loss,
        family="boxes",
        tasks=("detection",),
        input_kind="real values",
        target_kind="box deltas (N, 4) and IoUs of the predicted boxes (N,)",
        activation="none (linear output)",
        value_range="[0, inf)",
        summary="Smooth-L1 on box deltas weighted by IoU^lambda: less gradient from outliers, more from good boxes.",
        formula="w_loc IoU^lambda sum_m smooth_l1(pred_m - target_m), mean over positive boxes",
        reference=_WU,
    )
)
