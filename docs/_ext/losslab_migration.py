"""The migration table: peers' loss names and arguments -> losslab's, with the convention differences.

The rows are written by hand (they describe other libraries), but every losslab name must be in
``losslab.__all__`` and every keyword written as ``name=`` in the losslab column must be a parameter of that
function: :func:`check` raises otherwise, so the table cannot drift from the API (``tests/test_docs.py`` runs it).
Facts about the peers come from their source as read in ``shared/research/peers.md``, the oracle notes in
``tests/data/README.md`` and the losslab docstrings' notes.
"""

from __future__ import annotations

import inspect
import re

# Conventions that hold for every row: said once above the tables.
COMMON = [
    "**Argument order**: prediction first, target second (Keras puts `y_true` first).",
    "**Layout**: channels first, classes on dim 1, `(N, C, *)`; Keras and optax put classes last (`axis=-1`): "
    "move them with `x.movedim(-1, 1)`.",
    "**Link in the name, no flags**: `softmax_*` / `sigmoid_*` take logits, the others take probabilities or "
    "values. Keras' `from_logits=`, MONAI's `sigmoid=`/`softmax=` and SMP's `mode=` become a choice of function.",
    "**Reduction** is `\"mean\"` by default (torchvision and kornia default to `\"none\"`; Keras calls the mean "
    "`\"sum_over_batch_size\"`). A weighted mean is Σ w·ℓ / Σ w (Keras divides by the number of elements), and "
    "a mean over nothing (everything ignored or weighted 0) is 0 with a zero gradient, not NaN.",
    "**Weights**: per-class weights are `class_weight` (torch's and kornia's `weight`), per-element or "
    "per-sample weights `sample_weight` (Keras' call-time `sample_weight`, torch's BCE `weight`); `pos_weight` "
    "is torch's.",
    "**ignore_index** defaults to `None` (torch uses -100); pass the label to ignore explicitly.",
    "**Probabilities are clipped** to `[eps, 1 - eps]` with `eps=1e-7`, as Keras does (torch's `BCELoss` clamps "
    "the log at -100 instead).",
]

# (peer call, losslab call, differences). In the losslab column ``name=`` keywords are checked against the
# function's signature.
ROWS: dict[str, list[tuple[str, str, str]]] = {
    "torch.nn / torch.nn.functional": [
        ("CrossEntropyLoss(weight, ignore_index=-100, label_smoothing)",
         "softmax_cross_entropy(logits, target, class_weight=, ignore_index=, label_smoothing=)",
         "`weight` is `class_weight`. With probability targets and class weights the mean divides by "
         "Σᵢ Σ_c w_c y_ic (torch divides by N), so one-hot targets give exactly the index-target result. "
         "An all-ignored batch gives 0, not NaN."),
        ("NLLLoss(weight, ignore_index)",
         "softmax_cross_entropy(log_probs, target, class_weight=, ignore_index=)",
         "Pass the log-probabilities as they are: log-softmax leaves them unchanged, so the value is NLL's."),
        ("BCEWithLogitsLoss(weight, pos_weight)",
         "sigmoid_binary_cross_entropy(logits, target, pos_weight=, sample_weight=)",
         "`weight` is `sample_weight`. Adds Keras-style `label_smoothing=` (targets move toward 0.5)."),
        ("BCELoss(weight)", "binary_cross_entropy(probs, target, eps=, sample_weight=)",
         "Clips the probabilities to [eps, 1 − eps] (Keras) instead of clamping the log at −100: a confident "
         "mistake costs about 16.1 with a zero gradient. Train on logits with `sigmoid_binary_cross_entropy`."),
        ("MSELoss()", "mse_loss(pred, target)", "Same values."),
        ("L1Loss()", "mae_loss(pred, target)", "Same values."),
        ("HuberLoss(delta)", "huber_loss(pred, target, delta=)", "Same values."),
        ("SmoothL1Loss(beta)", "smooth_l1_loss(pred, target, beta=)",
         "Same values; `huber_loss(delta=b) == b * smooth_l1_loss(beta=b)`."),
        ("PoissonNLLLoss(log_input=True, full=False, eps=1e-8)",
         "poisson_loss(pred, target, log_input=, eps=)",
         "`log_input` defaults to False here (the input is the rate, as in Keras); torch defaults to True "
         "(the log-rate). `eps` defaults to 1e-7. Neither adds the log y! term."),
        ("KLDivLoss(reduction='batchmean')(log_q, p)",
         "categorical_kl_divergence(probs, target)",
         "Takes probabilities q (not log q) first and the target p second; computes KL(p ‖ q) per row, clamped "
         "at 0; the mean is over rows (torch's `batchmean`)."),
        ("MultiMarginLoss(p, margin, weight)",
         "multiclass_hinge_loss(pred, target, p=, margin=, class_weight=)",
         "`weight` is `class_weight`; accepts `(N, C, *)` scores, not only `(N, C)`."),
        ("CosineEmbeddingLoss() with every label +1", "cosine_similarity_loss(pred, target, dim=)",
         "1 − cos along `dim` (default 1)."),
        ("HingeEmbeddingLoss, SoftMarginLoss", "hinge_loss(pred, target)",
         "Not the same losses: `hinge_loss` is the SVM hinge max(0, 1 − y·s) with labels in {−1, 1} "
         "(0 is read as −1)."),
    ],
    "torchvision.ops": [
        ("sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction='none')",
         "sigmoid_focal_loss(logits, target, gamma=, alpha=)",
         "Default reduction is \"mean\". Disable balancing with `alpha=None` (torchvision: `alpha=-1`). "
         "Computed in log space: finite gradients for every gamma ≥ 0 (torchvision's probability form gives NaN "
         "gradients for gamma < 1 at large logits). The paper divides the sum by the number of positives: "
         "`reduction=\"sum\"` / num_pos."),
        ("generalized_box_iou_loss(boxes1, boxes2, reduction='none', eps=1e-7)",
         "generalized_box_iou_loss(boxes, target, eps=, box_format=)",
         "Default reduction is \"mean\"; `box_format=` accepts xyxy, xywh and cxcywh."),
        ("distance_box_iou_loss(boxes1, boxes2, reduction='none', eps=1e-7)",
         "distance_box_iou_loss(boxes, target, eps=, detach_diagonal=)",
         "Default reduction is \"mean\"."),
        ("complete_box_iou_loss(boxes1, boxes2, reduction='none', eps=1e-7)",
         "complete_box_iou_loss(boxes, target, eps=, alpha_mode=)",
         "`alpha_mode=\"always\"` is torchvision's; `\"iou>0.5\"` is mmdetection's. torchvision passes its `eps` "
         "only to alpha; here it enters every denominator. A point box gives a finite loss (torchvision: NaN)."),
        ("box_iou(boxes1, boxes2)", "pairwise_box_iou(boxes1, boxes2)",
         "The (N, M) matrix. losslab's `box_iou` is the IoU of matched pairs, shape (...)."),
        ("box_convert(boxes, in_fmt, out_fmt)", "box_convert(boxes, in_fmt, out_fmt)",
         "Formats xyxy, xywh, cxcywh; differentiable."),
    ],
    "Keras 3 (keras.losses)": [
        ("BinaryCrossentropy(from_logits=False, label_smoothing)",
         "binary_cross_entropy(probs, target, label_smoothing=)",
         "`from_logits=True` is `sigmoid_binary_cross_entropy(logits, target)`. Element-wise: Keras first "
         "averages over the last axis; the overall mean is the same."),
        ("CategoricalCrossentropy(from_logits=False, label_smoothing, axis=-1)",
         "categorical_cross_entropy(probs, target, label_smoothing=)",
         "Classes on dim 1. Renormalizes and clips as Keras does. `from_logits=True` is "
         "`softmax_cross_entropy(logits, target)`."),
        ("SparseCategoricalCrossentropy(from_logits, ignore_class)",
         "softmax_cross_entropy(logits, target, ignore_index=)",
         "Index targets go to the same functions as one-hot ones; on probabilities use "
         "`categorical_cross_entropy`."),
        ("MeanSquaredError / MeanAbsoluteError", "mse_loss(pred, target) / mae_loss(pred, target)", "Same values."),
        ("MeanSquaredLogarithmicError()", "msle_loss(pred, target, clamp_min=)",
         "Keras silently clamps predictions to 1e-7 (a zero gradient below it); here values in (−1, 0) keep "
         "their gradient and values ≤ −1 raise unless `clamp_min=` is set."),
        ("MeanAbsolutePercentageError()", "mean_absolute_percentage_error(pred, target, eps=)",
         "\"mean\" equals Keras' `sum_over_batch_size` result; \"none\" is element-wise."),
        ("Poisson()", "poisson_loss(pred, target)", "Same rate input."),
        ("Hinge / SquaredHinge", "hinge_loss(pred, target) / squared_hinge_loss(pred, target)",
         "0 labels become −1 element by element (Keras converts only when every label in the batch is 0/1)."),
        ("CategoricalHinge()", "categorical_hinge_loss(pred, target, class_weight=)", "Classes on dim 1."),
        ("Huber(delta) / LogCosh()", "huber_loss(pred, target, delta=) / log_cosh_loss(pred, target)", "Same values."),
        ("KLDivergence()", "categorical_kl_divergence(probs, target)",
         "Keras also clips the target; the difference is at most 1.6e-6 per class with target 0."),
        ("CosineSimilarity(axis=-1)", "cosine_similarity_loss(pred, target, dim=)",
         "Keras returns −cos; this is 1 − cos (same gradient)."),
        ("BinaryFocalCrossentropy(apply_class_balancing, alpha, gamma, from_logits)",
         "sigmoid_focal_loss(logits, target, gamma=, alpha=)",
         "`alpha` always applies unless it is None (Keras ignores it unless `apply_class_balancing=True`). "
         "Takes logits; in log space."),
        ("CategoricalFocalCrossentropy(alpha=0.25, gamma=2)",
         "softmax_focal_loss(logits, target, gamma=, alpha=)",
         "A float `alpha` multiplies every class as in Keras, but the default is None (no scaling): pass "
         "`alpha=0.25` for Keras' default. A (C,) tensor gives per-class weights."),
        ("Dice(axis=None)", "dice_loss(probs, target, batch=)",
         "Keras' `axis=None` pools the whole tensor (batch and classes) into one Dice; losslab computes one Dice "
         "per class (per sample, or pooled over the batch with `batch=True`) and averages them: the same for a "
         "single channel with `batch=True`."),
        ("Tversky(alpha, beta)", "tversky_loss(probs, target, alpha=, beta=)",
         "Keras computes its `alpha` on false negatives: `Tversky(alpha=a, beta=b)` equals "
         "`tversky_loss(alpha=b, beta=a)`. Here `alpha` weights FP and `beta` FN, as in the paper and MONAI."),
    ],
    "MONAI (monai.losses)": [
        ("DiceLoss(sigmoid=, softmax=, to_onehot_y=, include_background, batch, smooth_nr, smooth_dr)",
         "dice_loss(probs, target, include_background=, batch=, smooth=, class_weight=) / softmax_dice_loss(logits, target) / "
         "sigmoid_dice_loss(logits, target)",
         "The activation flag becomes the function; index targets `(N, *)` are accepted directly (no channel "
         "dim, no `to_onehot_y`). Same values; MONAI's per-class `weight` is `class_weight`: MONAI averages it "
         "over all entries, here \"mean\" divides by the sum of the weights."),
        ("GeneralizedDiceLoss(w_type='square')",
         "generalized_dice_loss(probs, target, weight_type=, absent_weight=)",
         "`absent_weight=\"max\"` (the default) is MONAI's treatment of classes absent from the target."),
        ("TverskyLoss(alpha, beta)", "tversky_loss(probs, target, alpha=, beta=)",
         "Same meaning of alpha (FP) and beta (FN). On logits: `softmax_tversky_loss` / `sigmoid_tversky_loss`."),
        ("FocalLoss(gamma, alpha, use_softmax)",
         "sigmoid_focal_loss(logits, target, gamma=, alpha=) / softmax_focal_loss(logits, target, gamma=, alpha=)",
         "MONAI's softmax alpha gives 1 − alpha to class 0 and alpha to the others; pass that explicitly as a "
         "(C,) tensor."),
        ("DiceCELoss(lambda_dice, lambda_ce)",
         "dice_cross_entropy_loss(logits, target, lambda_dice=, lambda_ce=)",
         "Same \"mean\" without ignored pixels; index targets without a channel dim."),
        ("DiceFocalLoss(gamma, lambda_dice, lambda_focal)",
         "dice_focal_loss(logits, target, gamma=, lambda_dice=, lambda_focal=)", "Index or dense targets."),
        ("HausdorffDTLoss(alpha, include_background=False)",
         "hausdorff_distance_loss(probs, target, alpha=, include_background=)",
         "Same values with `include_background=True`; losslab's default keeps the background."),
        ("SoftclDiceLoss(iter_, smooth)", "soft_cldice_loss(probs, target, iterations=, smooth=)",
         "`iter_` is `iterations`; no extra 1e-4 in the harmonic mean's denominator."),
        ("SSIMLoss(spatial_dims, data_range)", "ssim_loss(pred, target, data_range=, win_size=)",
         "pytorch-msssim's conventions (Gaussian window, valid filtering)."),
        ("PatchAdversarialLoss(criterion='bce'|'least_squares'|'hinge')",
         "minimax_discriminator_loss / least_squares_discriminator_loss / hinge_discriminator_loss",
         "Raw discriminator outputs: MONAI applies tanh (hinge) or LeakyReLU (least squares) to them first; "
         "losslab applies nothing. Generator losses are separate functions."),
        ("PerceptualLoss(network_type='vgg')", "lpips_distance(pred, target, network=, input_range=)",
         "Needs an explicit `LPIPSNetwork` loaded from local files; nothing is downloaded."),
    ],
    "kornia (kornia.losses)": [
        ("focal_loss(pred, target, alpha, gamma, reduction='none', weight)",
         "softmax_focal_loss(logits, target, gamma=, alpha=)",
         "kornia's softmax alpha gives 1 − alpha to class 0; pass a (C,) tensor. Default reduction is \"mean\"."),
        ("binary_focal_loss_with_logits(pred, target, alpha=0.25, gamma=2, pos_weight, weight)",
         "sigmoid_focal_loss(logits, target, gamma=, alpha=, sample_weight=)",
         "`weight` is `sample_weight`. Default reduction is \"mean\"."),
        ("dice_loss(pred, target, average='micro')", "softmax_dice_loss(logits, target)",
         "Takes logits and index targets like kornia. One Dice per sample and class, then averaged: kornia's "
         "`average='macro'`, except that a class absent from the target counts (0, or about 1 if predicted) where "
         "kornia leaves it out; kornia's default `'micro'` pools all classes into one Dice per sample."),
        ("tversky_loss(pred, target, alpha, beta)", "softmax_tversky_loss(logits, target, alpha=, beta=)",
         "kornia leaves classes absent from the target out of the mean; here they give 0 (or about 1 if "
         "predicted)."),
        ("lovasz_softmax_loss / lovasz_hinge_loss", "lovasz_softmax_loss(logits, target, per_image=, classes=) / "
         "lovasz_hinge_loss(logits, target, per_image=)",
         "kornia's is `per_image=True, classes=\"all\"` on 2-D inputs, without `ignore_index`."),
        ("ssim_loss(img1, img2, window_size, max_val)", "ssim_loss(pred, target, win_size=, data_range=)",
         "kornia returns (1 − SSIM) / 2 from a padded SSIM map; losslab returns 1 − SSIM over valid windows."),
        ("total_variation(img)", "total_variation_loss(images)",
         "Squared differences divided by C·H·W (kornia sums absolute differences)."),
        ("filters.sobel", "sobel", "The image gradient used by the gradient losses."),
    ],
    "segmentation_models_pytorch (smp.losses)": [
        ("DiceLoss(mode='multiclass', from_logits=True, smooth, ignore_index)",
         "softmax_dice_loss(logits, target, batch=True, smooth=, ignore_index=)",
         "SMP pools the batch (`dims=(0, 2)`): `batch=True`. SMP zeroes classes absent from the target; here they "
         "give 0 unless predicted. `mode='binary'` or `'multilabel'` is `sigmoid_dice_loss`."),
        ("FocalLoss(mode, alpha, gamma)", "sigmoid_focal_loss(logits, target, gamma=, alpha=)",
         "SMP's multiclass mode is one-vs-rest sigmoid focal; the softmax form is `softmax_focal_loss`."),
        ("TverskyLoss(alpha=0.5, beta=0.5, gamma=1)",
         "sigmoid_tversky_loss / softmax_tversky_loss / focal_tversky_loss(probs, target, alpha=, beta=, gamma=)",
         "Defaults are the paper's (0.3, 0.7)."),
        ("LovaszLoss(mode, per_image)",
         "lovasz_softmax_loss(logits, target, per_image=) / lovasz_hinge_loss(logits, target, per_image=)", ""),
        ("SoftBCEWithLogitsLoss(smooth_factor=s, pos_weight)",
         "sigmoid_binary_cross_entropy(logits, target, label_smoothing=, pos_weight=)",
         "SMP maps 1 → 1 − s and 0 → s; Keras' formula here moves targets toward 0.5 by ε/2: `label_smoothing=2*s` "
         "gives SMP's targets."),
        ("SoftCrossEntropyLoss(smooth_factor, ignore_index)",
         "softmax_cross_entropy(logits, target, label_smoothing=, ignore_index=)",
         "torch's label-smoothing formula (mixture with the uniform distribution)."),
    ],
    "pytorch-toolbelt (pytorch_toolbelt.losses)": [
        ("BinaryFocalLoss / FocalLoss(alpha, gamma)", "sigmoid_focal_loss(logits, target, gamma=, alpha=)",
         "Log-space focal term; `alpha=None` disables the balancing."),
        ("BiTemperedLogisticLoss(t1, t2, smoothing)",
         "bi_tempered_logistic_loss(activations, target, t1=, t2=, label_smoothing=)",
         "The official smoothing: the labelled class gets 1 − ε, each other class ε/(C − 1). With `ignore_index` "
         "the mean divides by the non-ignored positions (toolbelt zeroes them but divides by all)."),
        ("BinaryBiTemperedLogisticLoss(t1, t2)",
         "bi_tempered_binary_logistic_loss(activations, target, t1=, t2=)",
         "The official binary form on `[0, x]`; toolbelt uses `[-x, x]` (at t1 = t2 = 1 that is sigmoid(2x))."),
        ("DiceLoss / LovaszLoss", "softmax_dice_loss / lovasz_softmax_loss", "See the SMP rows."),
        ("SoftBCEWithLogitsLoss / SoftCrossEntropyLoss",
         "sigmoid_binary_cross_entropy / softmax_cross_entropy", "See the SMP rows for the smoothing factors."),
        ("QualityFocalLoss", "quality_focal_loss(logits, target, beta=, normalizer=)",
         "The official GFL conventions (modulating factor not detached)."),
    ],
}

_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\(([^)]*)\))?")


def _calls(cell: str) -> list[tuple[str, list[str]]]:
    """``[(function, [keywords])]`` of a losslab cell such as ``"a(x, y, k=) / b"``."""
    out = []
    for part in cell.split(" / "):
        m = _CALL.match(part.strip())
        if not m:
            raise ValueError(f"migration: cannot read {part!r}")
        kws = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", m.group(3) or "")
        out.append((m.group(1), kws))
    return out


def _resolve(function, keyword: str) -> str | None:
    """``keyword`` if the function takes it, else ``None``."""
    return keyword if keyword in inspect.signature(function).parameters else None


def check() -> list[str]:
    """Problems in the table: names not in ``losslab.__all__``, keywords not in the signature (empty when fine)."""
    import losslab

    problems = []
    for library, rows in ROWS.items():
        for peer, ours, _ in rows:
            for name, kws in _calls(ours):
                if name not in losslab.__all__:
                    problems.append(f"{library}: {peer}: {name} is not in losslab.__all__")
                    continue
                fn = getattr(losslab, name)
                for kw in kws:
                    if _resolve(fn, kw) is None:
                        problems.append(f"{library}: {peer}: {name} has no argument {kw!r}")
    return problems


def names() -> set[str]:
    return {name for rows in ROWS.values() for _, ours, _ in rows for name, _ in _calls(ours)}


def _render_ours(cell: str) -> str:
    import losslab

    parts = []
    for part in cell.split(" / "):
        m = _CALL.match(part.strip())
        name, args = m.group(1), m.group(3)
        fn = getattr(losslab, name)
        if args is not None and callable(fn):
            args = re.sub(r"([A-Za-z_][A-Za-z0-9_]*)=", lambda k, fn=fn: (_resolve(fn, k.group(1)) or k.group(1)) + "=", args)
        role = "class" if inspect.isclass(fn) else "func"
        parts.append(f"{{py:{role}}}`~losslab.{name}`" + (f" `({args})`" if args is not None else ""))
    return " / ".join(parts)


def _render_peer(text: str) -> str:
    """The peer's call as code, split before its arguments so that a narrow column breaks there."""
    name, paren, args = text.partition("(")
    return f"`{_cell(name.strip())}`" + (f" `({_cell(args)}`" if paren else "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    problems = check()
    if problems:
        raise ValueError("migration table out of date:\n" + "\n".join(problems))

    out = ["Conventions that hold for every row:", ""]
    out += [f"- {c}" for c in COMMON]
    out += [""]
    for library, rows in ROWS.items():
        out += [f"## {library}", "", "| peer | losslab | differences |", "|---|---|---|"]
        for peer, ours, diff in rows:
            out.append(f"| {_render_peer(peer)} | {_render_ours(ours)} | {_cell(diff) or 'Same values.'} |")
        out.append("")
    return "\n".join(out)
