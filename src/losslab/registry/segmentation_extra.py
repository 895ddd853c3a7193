"""Catalogue entries for the Tversky, Lovász, compound, clDice, Hausdorff and logit-Dice segmentation losses."""

from __future__ import annotations

from .. import segmentation as S
from . import LossSpec, register

_TARGET = "class indices (N, *spatial) or one-hot/soft masks (N, C, *spatial)"
_REF_TVERSKY = "S. S. M. Salehi, D. Erdogmus, A. Gholipour, Tversky loss function for image segmentation, MLMI 2017, arXiv:1706.05721"
_REF_DICE = "F. Milletari, N. Navab, S.-A. Ahmadi, V-Net, 3DV 2016, arXiv:1606.04797"
_REF_LOVASZ = "M. Berman, A. Rannen Triki, M. B. Blaschko, The Lovasz-Softmax loss, CVPR 2018, arXiv:1705.08790"

register(
    LossSpec(
        name="tversky_loss",
        function=S.tversky_loss,
        module=S.TverskyLoss,
        family="segmentation",
        tasks=("segmentation", "imbalanced"),
        input_kind="probabilities",
        target_kind=_TARGET,
        activation="softmax",
        activation_note="sigmoid for a single channel",
        value_range="[0, 1]",
        summary="Tversky index per class: Dice with separate weights on false positives (alpha) and false negatives (beta).",
        formula="1 - (TP + s) / (TP + alpha FP + beta FN + s), per class",
        reference=_REF_TVERSKY,
        advice="beta > alpha (0.7/0.3) favours recall for small lesions; alpha = beta = 0.5 (smooth=0) is Dice.",
    )
)

register(
    LossSpec(
        name="focal_tversky_loss",
        function=S.focal_tversky_loss,
        module=S.FocalTverskyLoss,
        family="segmentation",
        tasks=("segmentation", "imbalanced"),
        input_kind="probabilities",
        target_kind=_TARGET,
        activation="softmax",
        activation_note="sigmoid for a single channel",
        value_range="[0, 1]",
        summary="Tversky loss raised to gamma < 1: keeps pushing on small, hard classes once the large ones are fit.",
        formula="(1 - T_c)^gamma, T_c the Tversky index",
        reference="N. Abraham, N. M. Khan, A novel focal Tversky loss function, ISBI 2019, arXiv:1810.07842",
        advice="For very small lesions; gamma = 0.75 (the paper's 1/gamma = 4/3); gamma = 1 is the Tversky loss.",
    )
)

register(
    LossSpec(
        name="softmax_dice_loss",
        function=S.softmax_dice_loss,
        module=S.SoftmaxDiceLoss,
        family="segmentation",
        tasks=("segmentation", "imbalanced"),
        input_kind="logits",
        target_kind=_TARGET,
        activation="softmax",
        value_range="[0, 1]",
        summary="Soft Dice of softmax(logits) per class: dice_loss without the hand-written softmax.",
        formula="1 - (2 sum p g + s) / (sum p + sum g + s), p = softmax(x), per class",
        reference=_REF_DICE,
        advice="Mix with cross-entropy (dice_cross_entropy_loss) for stable early training.",
    )
)

register(
    LossSpec(
        name="sigmoid_dice_loss",
        function=S.sigmoid_dice_loss,
        module=S.SigmoidDiceLoss,
        family="segmentation",
        tasks=("segmentation", "imbalanced"),
        input_kind="logits",
        target_kind="0/1 or soft masks (N, C, *spatial) (or class indices for C >= 2)",
        activation="sigmoid",
        value_range="[0, 1]",
        summary="Soft Dice of sigmoid(logits) per channel: binary or overlapping (multi-label) masks.",
        formula="1 - (2 sum p g + s) / (sum p + sum g + s), p = sigmoid(x), per channel",
        reference=_REF_DICE,
        advice="For binary or region-based (overlapping) segmentation; mix with BCE for stable early training.",
    )
)

register(
    LossSpec(
        name="softmax_generalized_dice_loss",
        function=S.softmax_generalized_dice_loss,
        module=S.SoftmaxGeneralizedDiceLoss,
        family="segmentation",
        tasks=("segmentation", "imbalanced"),
        input_kind="logits",
        target_kind=_TARGET,
        activation="softmax",
        value_range="[0, 1]",
        summary="Generalized Dice (inverse squared class volumes) of softmax(logits).",
        formula="1 - 2 sum_c w_c sum p_c g_c / sum_c w_c (sum p_c + sum g_c),  w_c = 1 / (sum g_c)^2, p = softmax(x)",
        reference="C. H. Sudre et al., Generalised Dice overlap, DLMIA 2017, arXiv:1707.03237",
        advice="When a class covers < 1% of the pixels; takes logits (generalized_dice_loss takes probabilities).",
    )
)

register(
    LossSpec(
        name="softmax_tversky_loss",
        function=S.softmax_tversky_loss,
        module=S.SoftmaxTverskyLoss,
        family="segmentation",
        tasks=("segmentation", "imbalanced"),
        input_kind="logits",
        target_kind=_TARGET,
        activation="softmax",
        value_range="[0, 1]",
        summary="Tversky loss of softmax(logits) per class (alpha on FP, beta on FN).",
        formula="1 - (TP + s) / (TP + alpha FP + beta FN + s), p = softmax(x)",
        reference=_REF_TVERSKY,
        advice="beta > alpha favours recall; takes logits (tversky_loss takes probabilities).",
    )
)

register(
    LossSpec(
        name="sigmoid_tversky_loss",
        function=S.sigmoid_tversky_loss,
        module=S.SigmoidTverskyLoss,
        family="segmentation",
        tasks=("segmentation", "imbalanced"),
        input_kind="logits",
        target_kind="0/1 or soft masks (N, C, *spatial) (or class indices for C >= 2)",
        activation="sigmoid",
        value_range="[0, 1]",
        summary="Tversky loss of sigmoid(logits) per channel: binary or overlapping masks.",
        formula="1 - (TP + s) / (TP + alpha FP + beta FN + s), p = sigmoid(x)",
        reference=_REF_TVERSKY,
        advice="Binary lesion segmentation with many missed pixels: beta = 0.7, alpha = 0.3.",
    )
)

register(
    LossSpec(
        name="lovasz_softmax_loss",
        function=S.lovasz_softmax_loss,
        module=S.LovaszSoftmaxLoss,
        family="segmentation",
        tasks=("segmentation",),
        input_kind="logits",
        target_kind="class indices (N, *spatial)",
        activation="softmax",
        value_range="[0, 1]",
        summary="Lovasz extension of the per-class Jaccard loss at |g - softmax(x)|: optimizes mean IoU directly.",
        formula="mean over classes c of sum_i m_(i)(c) (J_c(1..i) - J_c(1..i-1)), m = |g - p| sorted decreasing",
        reference=_REF_LOVASZ,
        advice="Fine-tune a cross-entropy model with it when the metric is mean IoU; per_image=False for dataset IoU.",
    )
)

register(
    LossSpec(
        name="lovasz_hinge_loss",
        function=S.lovasz_hinge_loss,
        module=S.LovaszHingeLoss,
        family="segmentation",
        tasks=("segmentation",),
        input_kind="logits",
        target_kind="0/1 labels, same shape (or (N, *spatial) for (N, 1, *spatial) logits)",
        activation="sigmoid",
        value_range="[0, inf)",
        summary="Lovasz extension of the binary Jaccard loss at the hinge errors max(0, 1 - x s): binary IoU surrogate.",
        formula="sum_i m_(i) (J(1..i) - J(1..i-1)), m = relu(1 - x (2g - 1)) sorted decreasing",
        reference=_REF_LOVASZ,
        advice="Binary segmentation judged by IoU; per image (default) or per batch (per_image=False).",
    )
)

register(
    LossSpec(
        name="dice_cross_entropy_loss",
        function=S.dice_cross_entropy_loss,
        module=S.DiceCrossEntropyLoss,
        family="segmentation",
        tasks=("segmentation", "imbalanced"),
        input_kind="logits",
        target_kind=_TARGET,
        activation="softmax",
        activation_note="sigmoid for a single channel",
        value_range="[0, inf)",
        summary="lambda_dice * soft Dice + lambda_ce * cross-entropy on logits: nnU-Net's and MONAI's default.",
        formula="lambda_dice mean_c Dice_c + lambda_ce mean_pixels CE",
        reference="F. Isensee et al., nnU-Net, Nature Methods 2021, arXiv:1809.10486",
        advice="The default for semantic/medical segmentation; batch=True is nnU-Net's batch Dice.",
    )
)

register(
    LossSpec(
        name="dice_focal_loss",
        function=S.dice_focal_loss,
        module=S.DiceFocalLoss,
        family="segmentation",
        tasks=("segmentation", "imbalanced"),
        input_kind="logits",
        target_kind=_TARGET,
        activation="softmax",
        activation_note="sigmoid for a single channel",
        value_range="[0, inf)",
        summary="lambda_dice * soft Dice + lambda_focal * focal loss on logits (MONAI's DiceFocalLoss).",
        formula="lambda_dice mean_c Dice_c + lambda_focal mean_pixels -sum_c g_c (1 - p_c)^gamma log p_c",
        reference="T.-Y. Lin et al., Focal loss, ICCV 2017, arXiv:1708.02002; F. Milletari et al., V-Net, 3DV 2016",
        advice="When most pixels are easy background; gamma = 0 is dice_cross_entropy_loss.",
    )
)

register(
    LossSpec(
        name="soft_cldice_loss",
        function=S.soft_cldice_loss,
        module=S.SoftClDiceLoss,
        family="segmentation",
        tasks=("segmentation",),
        input_kind="probabilities",
        target_kind=_TARGET,
        activation="sigmoid",
        activation_note="or softmax with include_background=False",
        value_range="[0, 1]",
        summary="Dice of soft skeletons (centerlines): topology-aware loss for thin, tubular structures.",
        formula="1 - 2 Tprec Tsens / (Tprec + Tsens), Tprec = sum S_P G / sum S_P, Tsens = sum S_G P / sum S_G",
        reference="S. Shit et al., clDice, CVPR 2021, arXiv:2003.07311",
        advice="Thin structures (vessels, roads, neurons, cracks): add to a Dice loss, e.g. 0.5 Dice + 0.5 clDice.",
    )
)

register(
    LossSpec(
        name="hausdorff_distance_loss",
        function=S.hausdorff_distance_loss,
        module=S.HausdorffDistanceLoss,
        family="segmentation",
        tasks=("segmentation",),
        input_kind="probabilities",
        target_kind=_TARGET,
        activation="sigmoid",
        activation_note="or softmax for several classes",
        value_range="[0, inf)",
        summary="Squared errors weighted by distances to both boundaries: reduces the Hausdorff distance.",
        formula="mean_pixels (p - g)^2 (d_G^alpha + d_P^alpha), d from distance transforms (P thresholded at 0.5)",
        reference="D. Karimi, S. E. Salcudean, Reducing the Hausdorff distance, IEEE TMI 2019, arXiv:1904.10030",
        advice="Boundary accuracy matters (HD95 reported): add to Dice with a small weight; distance maps every call.",
    )
)
