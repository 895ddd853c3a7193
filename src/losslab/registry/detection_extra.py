"""Catalogue entries for the later detection losses of :mod:`losslab.boxes`: GFL's quality and distribution focal
losses, the varifocal loss, and the EIoU, SIoU and alpha-IoU box losses."""

from __future__ import annotations

from .. import boxes as B
from . import LossSpec, register

_GFL = "X. Li et al., Generalized Focal Loss: Learning Qualified and Distributed Bounding Boxes for Dense Object Detection, NeurIPS 2020, arXiv:2006.04388"
_BOX_TARGET = "boxes (x1, y1, x2, y2), same shape"


register(
    LossSpec(
        name="quality_focal_loss",
        function=B.quality_focal_loss,
        module=B.QualityFocalLoss,
        family="boxes",
        tasks=("detection", "imbalanced"),
        input_kind="logits",
        target_kind="IoU-quality targets in [0, 1], same shape (IoU at a positive's class, 0 elsewhere)",
        activation="sigmoid",
        value_range="[0, inf)",
        summary="GFL's quality focal loss: the class score learns the box's IoU; focal factor |y - sigmoid(x)|^beta.",
        formula="-|y - s|^beta [y log s + (1 - y) log(1 - s)],  s = sigmoid(x)",
        reference=_GFL,
        advice="Targets from anchor_ious(decoded boxes, gt boxes); normalizer=number of positives as GFL.",
    )
)

register(
    LossSpec(
        name="distribution_focal_loss",
        function=B.distribution_focal_loss,
        module=B.DistributionFocalLoss,
        family="boxes",
        tasks=("detection",),
        input_kind="logits",
        target_kind="box-side distances in bin units, in [0, n], shape (N, *)",
        activation="softmax",
        activation_note="over the n + 1 bins (dim 1), inside the loss",
        value_range="[0, inf)",
        summary="GFL's distribution focal loss: cross-entropy on the two bins around a continuous box-side target.",
        formula="-[(y_r - y) log S_{y_l} + (y - y_l) log S_{y_r}],  y_l = floor(y), y_r = y_l + 1",
        reference=_GFL,
        advice="Pair with a GIoU loss on the decoded boxes, as GFL; weight both by the predicted quality.",
    )
)

register(
    LossSpec(
        name="varifocal_loss",
        function=B.varifocal_loss,
        module=B.VarifocalLoss,
        family="boxes",
        tasks=("detection", "imbalanced"),
        input_kind="logits",
        target_kind="IoU-aware classification targets in [0, 1], same shape (0 for negatives)",
        activation="sigmoid",
        value_range="[0, inf)",
        summary="VarifocalNet's loss: positives weighted by their IoU target, only the negatives focal-down-weighted.",
        formula="q > 0: -q [q log p + (1 - q) log(1 - p)];  q = 0: -alpha p^gamma log(1 - p)",
        reference="H. Zhang, Y. Wang, F. Dayoub, N. Sunderhauf, VarifocalNet: An IoU-aware Dense Object Detector, CVPR 2021, arXiv:2008.13367",
        advice="Targets from anchor_ious; normalizer=number of positives as VarifocalNet.",
    )
)

register(
    LossSpec(
        name="efficient_iou_loss",
        function=B.efficient_iou_loss,
        module=B.EfficientIoULoss,
        family="boxes",
        tasks=("detection",),
        input_kind="boxes",
        target_kind=_BOX_TARGET,
        activation="none",
        activation_note="decoded boxes",
        value_range="[0, 3)",
        summary="EIoU loss: DIoU plus the width and height gaps over the enclosing box's; fixes CIoU's aspect term.",
        formula="1 - IoU + rho^2/c^2 + (w - w_gt)^2/C_w^2 + (h - h_gt)^2/C_h^2",
        reference="Y.-F. Zhang et al., Focal and Efficient IOU Loss for Accurate Bounding Box Regression, Neurocomputing 2022, arXiv:2101.08158",
        advice="Not mmdetection's EIoULoss (Extended-IoU, another paper). Focal-EIoU: sample_weight=IoU.detach()**0.5.",
    )
)

register(
    LossSpec(
        name="scylla_iou_loss",
        function=B.scylla_iou_loss,
        module=B.ScyllaIoULoss,
        family="boxes",
        tasks=("detection",),
        input_kind="boxes",
        target_kind=_BOX_TARGET,
        activation="none",
        activation_note="decoded boxes",
        value_range="[0, 3)",
        summary="SIoU loss: IoU plus an angle-aware centre-distance cost and a width/height shape cost (YOLOv6).",
        formula="1 - IoU + (Delta + Omega) / 2,  Delta = sum_t 1 - exp(-(2 - Lambda) rho_t),  Omega = sum (1 - exp(-omega))^theta",
        reference="Z. Gevorgyan, SIoU Loss: More Powerful Learning for Bounding Box Regression, 2022, arXiv:2205.12740",
    )
)

register(
    LossSpec(
        name="alpha_iou_loss",
        function=B.alpha_iou_loss,
        module=B.AlphaIoULoss,
        family="boxes",
        tasks=("detection",),
        input_kind="boxes",
        target_kind=_BOX_TARGET,
        activation="none",
        activation_note="decoded boxes",
        value_range="[0, 1] (iou); [0, 2) (giou, diou); [0, 3) (ciou)",
        summary="Alpha-IoU: IoU-family loss with IoU and penalty raised to alpha (3); focuses on high-IoU boxes.",
        formula="1 - IoU^alpha + penalty^alpha  (penalty of the chosen kind: GIoU, DIoU, CIoU)",
        reference="J. He et al., Alpha-IoU: A Family of Power Intersection over Union Losses for Bounding Box Regression, NeurIPS 2021, arXiv:2110.13675",
        advice="alpha=1 gives the kind's own loss; the paper finds alpha=3 best and more robust to noisy boxes.",
    )
)
