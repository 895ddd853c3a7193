r"""Focal losses: sigmoid (binary / multi-label) and softmax (single-label) forms of Lin et al.'s focal loss.

The focal loss scales cross-entropy by :math:`(1 - p_t)^\gamma`, so well-classified examples (:math:`p_t \to 1`)
contribute little and training concentrates on the hard ones [Lin2017]_.

Each function body is the formula in log space, differentiated by autograd: it is what runs on accelerators,
under ``torch.compile`` (which fuses it into one kernel) and under ``torch.func``. On CPU in eager mode a fused
fast path with the closed-form gradient runs instead (``losslab._kernels``), pinned to the formula by
differential tests; ``losslab.fast_paths(False)`` switches it off.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import _kernels
from ._checks import (
    check_finite,
    check_floating,
    check_ignore_index,
    check_in_range,
    check_same_shape,
    check_scalar,
)
from ._compat import renamed_arguments
from ._module import LossModule
from ._numerics import log_softmax, safe_pow, upcast
from ._reduction import reduce_loss
from ._targets import (
    INDEX,
    check_class_target,
    check_label_smoothing,
    one_hot,
    safe_indices,
    smooth_binary,
    smooth_categorical,
    valid_mask,
)

__all__ = ["sigmoid_focal_loss", "SigmoidFocalLoss", "softmax_focal_loss", "SoftmaxFocalLoss"]


@renamed_arguments(weight="sample_weight")
def sigmoid_focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    gamma: float = 2.0,
    alpha: float | torch.Tensor | None = 0.25,
    pos_weight: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
    ignore_index: int | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Sigmoid focal loss, for binary and multi-label classification with many easy negatives (dense detection).

    Binary cross-entropy down-weighted by :math:`(1 - p_t)^\gamma`, so confident correct predictions contribute
    little; :math:`\alpha` balances positives against negatives [Lin2017]_. With :math:`p = \sigma(x)`:

    .. math::
        p_t = p\,y + (1 - p)(1 - y), \qquad \alpha_t = \alpha\,y + (1 - \alpha)(1 - y),

        \ell = -\alpha_t\,(1 - p_t)^\gamma \,\bigl[y \log p + (1 - y)\log(1 - p)\bigr].

    For hard targets :math:`y \in \{0, 1\}` this is the paper's :math:`-\alpha_t (1-p_t)^\gamma \log p_t`. Soft
    targets :math:`y \in [0, 1]` use the same formulas, interpolating :math:`p_t` and :math:`\alpha_t` linearly in
    :math:`y` (torchvision's, optax's and Keras' convention; Keras' label smoothing is this with a smoothed
    :math:`y`).

    Args:
        logits: Raw scores (before the sigmoid), any shape.
        target: Targets in [0, 1] (hard 0/1 labels or soft labels), same shape and floating dtype as ``logits``.
        gamma: Focusing parameter, ``>= 0``. ``gamma=0`` recovers (alpha-balanced) binary cross-entropy.
        alpha: Weight of the positive class in [0, 1]; negatives get ``1 - alpha``. ``None`` disables the
            balancing (every element weighted 1). The paper's default is 0.25. A tensor of shape ``(C,)`` gives
            each class its own value (classes on dim 1 of ``logits``, which then has at least 2 dims).
        pos_weight: Optional weight of the positive term inside the cross-entropy, exactly as
            ``torch.nn.BCEWithLogitsLoss`` defines it (broadcast against ``logits``: a ``(C,)`` tensor applies to
            the last dim): :math:`-[w_+\,y \log p + (1-y)\log(1-p)]`.
        label_smoothing: ``eps`` in [0, 1]: targets become ``y (1 - eps) + eps / 2`` (Keras' binary smoothing).
        ignore_index: Optional target value (e.g. ``-1``) marking positions left out of the loss and of the
            ``"mean"`` denominator; ``target`` may then hold that value besides [0, 1].
        sample_weight: Optional weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. The paper normalizes the summed loss by the number of
            positive anchors: use ``reduction="sum"`` and divide, or ``reduce_loss(..., normalizer=num_pos)``.

    Returns:
        The loss of ``logits``' shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: ``gamma < 0``, ``alpha`` outside [0, 1], shapes differ, ``target`` outside [0, 1] (besides
            ``ignore_index``) or not finite, a negative ``pos_weight``, ``label_smoothing`` outside [0, 1].
        TypeError: a non-floating ``logits`` or ``target``, or a non-number ``gamma``/``alpha``.

    Note:
        No term is computed by subtracting nearly equal numbers, so loss and gradient are finite for every
        ``gamma >= 0`` at logits of ±1e4 (where the probability-space form of torchvision gives NaN gradients for
        ``gamma < 1``): the cross-entropy is :math:`-[w_+ y \log\sigma(x) + (1-y)\log\sigma(-x)]`, two
        non-negative terms from ``logsigmoid``; :math:`1 - p_t = (1-y)\,\sigma(x) + y\,\sigma(-x)` is a convex
        combination of two sigmoids, each accurate to a few ulps relative; its power is taken where it is a normal
        number and is 0 below (a double ``where``, so :math:`(1-p_t)^{\gamma-1}` never meets 0 in backward).
        Values and both gradients match a float64 evaluation of the formula to a few float32 ulps relative
        (tests/test_differential_focal.py). Gradients also flow to a ``target`` that requires them. On CPU in
        eager mode a fused kernel with the closed-form gradient runs instead (``losslab._kernels``; same values,
        first derivatives only — see :func:`losslab.fast_paths`). float16/bfloat16 inputs are computed in
        float32 and returned in their dtype (float32 under autocast).

    Example:
        >>> import torch
        >>> logits = torch.tensor([2.0, -1.0, 0.5])
        >>> target = torch.tensor([1.0, 0.0, 0.0])
        >>> sigmoid_focal_loss(logits, target, reduction="none")
        tensor([0.0005, 0.0170, 0.2831])
        >>> sigmoid_focal_loss(logits, target, gamma=0.0, alpha=None)  # == BCE with logits
        tensor(0.4714)

    References:
        .. [Lin2017] T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollár. "Focal Loss for Dense Object Detection."
           ICCV 2017. https://arxiv.org/abs/1708.02002
    """
    gamma, alpha, label_smoothing = _check_hyperparameters(gamma, alpha, label_smoothing, ignore_index)
    check_floating(logits, "logits")
    check_floating(target, "target")
    check_same_shape(logits, target, "logits", "target")
    alpha = _check_alpha_tensor(alpha, logits, class_dim=1)
    mask = None if ignore_index is None else target != ignore_index
    check_in_range(target, "target", 0.0, 1.0, "sigmoid_focal_loss expects binary or soft labels in [0, 1]", where=mask)
    check_finite(logits, "logits", "sigmoid_focal_loss")
    if pos_weight is not None:
        check_floating(pos_weight, "pos_weight")
        check_in_range(pos_weight, "pos_weight", 0.0, float("inf"), "positive-class weights are non-negative")
    x, y = upcast(logits, target)
    y = y.to(x.dtype) if mask is None else torch.where(mask, y.to(x.dtype), torch.zeros_like(x))
    y = smooth_binary(y, label_smoothing)

    if pos_weight is None and not isinstance(alpha, torch.Tensor) and _kernels.use_fast_path(x, y):
        loss = _kernels.SigmoidFocal.apply(x, y, gamma, alpha)
    else:
        # cross-entropy from the two log-probabilities (torch's pos_weight on the positive term)
        w_pos = 1.0 if pos_weight is None else pos_weight.to(x.dtype)
        ce = -(w_pos * y * F.logsigmoid(x) + (1 - y) * F.logsigmoid(-x))
        # 1 - p_t = (1 - y) p + y (1 - p), a convex combination of two accurately computed sigmoids
        one_minus_pt = torch.lerp(torch.sigmoid(x), torch.sigmoid(-x), y)
        loss = ce * safe_pow(one_minus_pt, gamma)
        if alpha is not None:
            loss = loss * (alpha * y + (1 - alpha) * (1 - y))
    return reduce_loss(loss, reduction, sample_weight, mask=mask, dtype=logits.dtype)


def _check_hyperparameters(
    gamma: float = 2.0,
    alpha: float | torch.Tensor | None = None,
    label_smoothing: float = 0.0,
    ignore_index: int | None = None,
    **_: object,
) -> tuple[float, float | torch.Tensor | None, float]:
    """Both focal losses' hyperparameters (a per-class ``alpha`` tensor is checked against the logits later)."""
    gamma = check_scalar(gamma, "gamma", low=0.0)
    if alpha is not None and not isinstance(alpha, torch.Tensor):
        alpha = check_scalar(alpha, "alpha", low=0.0, high=1.0)
    check_ignore_index(ignore_index)
    return gamma, alpha, check_label_smoothing(label_smoothing)


def _check_alpha_tensor(
    alpha: float | torch.Tensor | None, logits: torch.Tensor, *, class_dim: int, high: float = 1.0
) -> float | torch.Tensor | None:
    """A per-class ``alpha`` of shape ``(C,)``, reshaped to broadcast along ``class_dim``; numbers pass through."""
    if not isinstance(alpha, torch.Tensor):
        return alpha
    check_floating(alpha, "alpha")
    num_classes = logits.shape[class_dim] if logits.ndim > class_dim else None
    if alpha.ndim != 1 or num_classes is None or alpha.shape[0] != num_classes:
        expected = f"({num_classes},), one value per class on dim {class_dim}" if num_classes else "(C,) with logits (N, C, *)"
        raise ValueError(f"alpha: expected a per-class tensor of shape {expected}, got {tuple(alpha.shape)}")
    check_in_range(alpha, "alpha", 0.0, high, "per-class alpha values")
    return alpha.to(logits.dtype if logits.dtype not in (torch.float16, torch.bfloat16) else torch.float32).reshape(
        (-1,) + (1,) * (logits.ndim - class_dim - 1)
    )


class SigmoidFocalLoss(LossModule, function=sigmoid_focal_loss, validate=_check_hyperparameters):
    pass


@renamed_arguments(weight="sample_weight")
def softmax_focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    gamma: float = 2.0,
    alpha: float | torch.Tensor | None = None,
    label_smoothing: float = 0.0,
    ignore_index: int | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Softmax focal loss, for single-label classification with class imbalance or many easy examples.

    Softmax cross-entropy down-weighted by :math:`(1 - p_c)^\gamma` [Lin2017]_, the multi-class form used by
    Keras' ``CategoricalFocalCrossentropy``. With :math:`p = \operatorname{softmax}(x)` over dim 1 and a target
    distribution :math:`y` (one-hot for class indices):

    .. math::
        \ell = -\sum_{c} \alpha_c\, y_c\, (1 - p_c)^\gamma \log p_c,
        \qquad\text{so for a class index } t:\quad \ell = -\alpha_t (1 - p_t)^\gamma \log p_t .

    ``alpha`` sets :math:`\alpha_c`, and peers disagree on it, so precisely:

    * ``None``: :math:`\alpha_c = 1` (plain focal loss);
    * a float :math:`a`: :math:`\alpha_c = a` for **every** class, a plain multiplier of the loss (Keras'
      ``CategoricalFocalCrossentropy(alpha=a)``; not kornia's/MONAI's "``1 - a`` for class 0, ``a`` for the rest");
    * a tensor of shape ``(C,)``: :math:`\alpha_c` = ``alpha[c]``, a per-class weight (e.g. inverse class
      frequencies). It scales each position's loss; ``"mean"`` still divides by the number of positions, unlike
      ``F.cross_entropy(weight=...)`` which divides by :math:`\sum \alpha_{t}`. For that normalization pass
      ``sample_weight=alpha[target]`` instead.

    Args:
        logits: Raw scores, shape ``(N, C, *)`` with classes on dim 1, ``C >= 2``.
        target: Class indices ``(N, *)`` (integer dtype) or class probabilities ``(N, C, *)`` (floating, in
            [0, 1], e.g. label-smoothed one-hots).
        gamma: Focusing parameter, ``>= 0``. ``gamma=0`` with ``alpha=None`` is softmax cross-entropy.
        alpha: ``None``, a float in [0, 1], or a non-negative tensor of shape ``(C,)`` (see above).
        label_smoothing: ``eps`` in [0, 1]: the target distribution becomes ``y (1 - eps) + eps / C`` (torch's
            ``cross_entropy`` convention), for index and dense targets.
        ignore_index: Class index whose positions are left out of the loss and of the ``"mean"`` denominator
            (index targets only). A batch with nothing left gives 0 with a zero gradient.
        sample_weight: Optional weights broadcastable to the per-position loss ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        The per-position loss ``(N, *)`` for ``"none"`` (0 at ignored positions), otherwise a scalar.

    Raises:
        ValueError: ``gamma < 0``; a float ``alpha`` outside [0, 1]; an ``alpha`` tensor not of shape ``(C,)`` or
            with negative values; ``C < 2``; target shape fitting neither form; class indices out of range;
            dense targets outside [0, 1]; ``ignore_index`` with dense targets.
        TypeError: floating targets of the index shape or integer targets of the dense shape; non-floating
            ``logits``.

    Note:
        Computed in log space: :math:`\log p_c` by :func:`losslab._numerics.log_softmax`
        (:math:`(x_c - m) - \operatorname{log1p}(\sum_{c' \ne c^*} e^{x_{c'} - m})`, relatively accurate also
        for the most likely class, where ``torch.log_softmax`` gives :math:`\log p_t = 0` from a logit margin of
        about 17 in float32) and :math:`1 - p_c = -\operatorname{expm1}(\log p_c)`, whose power is taken where it
        is a normal number (0 below, with a finite gradient), so loss and gradient are finite at logits of ±1e4
        for every ``gamma >= 0``. :math:`\log p_c` is clamped to
        the dtype's finite range, so at logits of ±3e38 a class with target 0 adds 0, not NaN. On CPU in eager mode
        with class-index targets a fused kernel with the closed-form gradient runs instead (``losslab._kernels``:
        saves only the inputs and :math:`\log p_t`, works by row blocks; 0.33x the reference's time at
        (16384, 1000); first derivatives only — see :func:`losslab.fast_paths`). Dense targets always run the
        reference (the fused dense kernel measured 2.5x slower than it).

    Example:
        >>> import torch
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 0.0, 3.0]])
        >>> softmax_focal_loss(logits, torch.tensor([0, 1]), reduction="none")
        tensor([0.0111, 2.8210])
        >>> softmax_focal_loss(logits, torch.tensor([0, 1]), gamma=0.0)  # == F.cross_entropy
        tensor(1.6681)
        >>> softmax_focal_loss(logits, torch.tensor([0, 1]), alpha=torch.tensor([1.0, 0.5, 0.5]), reduction="none")
        tensor([0.0111, 1.4105])

    References:
        .. [Lin2017] T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollár. "Focal Loss for Dense Object Detection."
           ICCV 2017. https://arxiv.org/abs/1708.02002
    """
    gamma, alpha, label_smoothing = _check_hyperparameters(gamma, alpha, label_smoothing, ignore_index)
    check_floating(logits, "logits")
    if logits.ndim >= 2 and logits.shape[1] < 2:
        raise ValueError(
            f"logits: expected at least 2 classes on dim 1, got shape {tuple(logits.shape)}; a softmax over one "
            "class is constant (for binary problems use sigmoid_focal_loss)"
        )
    checked = target.detach() if isinstance(target, torch.Tensor) else target
    kind = check_class_target(logits, checked, ignore_index=ignore_index)
    check_finite(logits, "logits", "softmax_focal_loss")
    alpha = _check_alpha_tensor(alpha, logits, class_dim=1, high=float("inf"))
    (x,) = upcast(logits)
    mask = valid_mask(target, ignore_index) if kind == INDEX else None
    if kind == INDEX and label_smoothing == 0.0:
        idx = safe_indices(target, ignore_index).long()
        alpha_t = alpha.reshape(-1)[idx] if isinstance(alpha, torch.Tensor) else alpha  # per position
        if _kernels.use_fast_path(x):
            loss = _kernels.SoftmaxFocalIndex.apply(x, idx, gamma)
        else:
            log_pt = _finite_log_softmax(x).gather(1, idx.unsqueeze(1)).squeeze(1)
            loss = -safe_pow(-torch.expm1(log_pt), gamma) * log_pt  # 1 - p_t = -expm1(log p_t), no cancellation
        if alpha_t is not None:
            loss = loss * alpha_t
    else:
        y = one_hot(target, x.shape[1], x.dtype, ignore_index) if kind == INDEX else target.to(x.dtype)
        y = smooth_categorical(y, label_smoothing)
        log_p = _finite_log_softmax(x)
        terms = y * safe_pow(-torch.expm1(log_p), gamma) * log_p
        loss = -(terms if alpha is None else alpha * terms).sum(1)
    return reduce_loss(loss, reduction, sample_weight, mask=mask, dtype=logits.dtype)


def _finite_log_softmax(x: torch.Tensor) -> torch.Tensor:
    # clamped to the finite range: at logits of +-3e38 log p overflows to -inf, and 0 * -inf would be NaN
    return log_softmax(x, 1).clamp_min(torch.finfo(x.dtype).min)


class SoftmaxFocalLoss(LossModule, function=softmax_focal_loss, validate=_check_hyperparameters):
    pass
