"""Catalogue entries for :mod:`losslab.segmentation` (the distance maps of :mod:`losslab.distance` are not losses)."""

from __future__ import annotations

from .. import segmentation as S
from . import LossSpec, register

register(
    LossSpec(
        name="dice_loss",
        default_for=('segmentation',),
        function=S.dice_loss,
        module=S.DiceLoss,
        family="segmentation",
        tasks=("segmentation", "imbalanced"),
        input_kind="probabilities",
        target_kind="class indices (N, *spatial) or one-hot/soft masks (N, C, *spatial)",
        activation="softmax (sigmoid for one channel)",
        value_range="[0, 1]",
        summary="Soft Dice per class (and sample, or batch): overlap-based, insensitive to class size.",
        formula="1 - (2 sum p g + s) / (sum p + sum g + s), per class",
        reference="F. Milletari, N. Navab, S.-A. Ahmadi, V-Net, 3DV 2016, arXiv:1606.04797",
        advice="Pair with cross-entropy for stable early training; batch=True pools rare classes over the batch.",
    )
)

register(
    LossSpec(
        name="generalized_dice_loss",
        function=S.generalized_dice_loss,
        module=S.GeneralizedDiceLoss,
        family="segmentation",
        tasks=("segmentation", "imbalanced"),
        input_kind="probabilities",
        target_kind="class indices (N, *spatial) or one-hot/soft masks (N, C, *spatial)",
        activation="softmax (sigmoid for one channel)",
        value_range="[0, 1]",
        summary="One Dice over all classes with inverse-squared-volume class weights (Sudre); for highly unbalanced segmentation.",
        formula="1 - 2 sum_c w_c sum p_c g_c / sum_c w_c (sum p_c + sum g_c),  w_c = 1 / (sum g_c)^2",
        reference="C. H. Sudre et al., Generalised Dice overlap, DLMIA 2017, arXiv:1707.03237",
        advice="The regional loss of choice when a class covers < 1% of the pixels; add boundary_loss with RebalancedLoss.",
    )
)

register(
    LossSpec(
        name="boundary_loss",
        function=S.boundary_loss,
        module=S.BoundaryLoss,
        family="segmentation",
        tasks=("segmentation", "imbalanced"),
        input_kind="probabilities",
        target_kind="signed distance maps (N, C, *spatial) from signed_distance_map",
        activation="softmax (sigmoid for one channel)",
        value_range="(-inf, inf); minimum negative",
        summary="Probabilities integrated against the ground truth's signed distance map (Kervadec): a contour distance.",
        formula="mean over selected classes and pixels of phi_c(x) p_c(x)",
        reference="H. Kervadec et al., Boundary loss for highly unbalanced segmentation, MIDL 2019, arXiv:1812.07032",
        advice="Never alone (it can collapse to an empty mask): mix with generalized_dice_loss via RebalancedLoss.",
    )
)

register(
    LossSpec(
        name="image_gradient_loss",
        function=S.image_gradient_loss,
        module=S.ImageGradientLoss,
        family="segmentation",
        tasks=("segmentation",),
        input_kind="probabilities",
        target_kind="the input images (N, C_img, H, W)",
        activation="sigmoid",
        value_range="[0, 1]",
        summary="Mask edges aligned with image edges, weighted by mask-gradient magnitude (hair matting).",
        formula="sum M_mag (1 - (I^ . M^)^2) / sum M_mag, Sobel gradients, hats = unit vectors",
        reference="A. Levinshtein et al., Real-time deep hair matting on mobile devices, CRV 2018, arXiv:1712.07168",
        advice="Add to cross-entropy with weight ~0.5 for thin structures (hair, vessels) whose edges the image shows.",
    )
)

register(
    LossSpec(
        name="gradient_difference_loss",
        function=S.gradient_difference_loss,
        module=S.GradientDifferenceLoss,
        family="segmentation",
        tasks=("image-transformation", "segmentation"),
        input_kind="images",
        target_kind="images, same shape",
        activation="none (or the output activation of the image)",
        value_range="[0, inf)",
        summary="Match neighbour-pixel differences of prediction and target (GDL); keeps edges sharp.",
        formula="sum over axes | |diff y| - |diff y_hat| |^alpha",
        reference="M. Mathieu, C. Couprie, Y. LeCun, Deep multi-scale video prediction beyond MSE, ICLR 2016, arXiv:1511.05440",
        advice="Add to an L1/L2 pixel loss in image-to-image tasks to counter blur.",
    )
)
