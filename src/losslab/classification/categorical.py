"""Softmax (logits) and categorical (probabilities) cross-entropy, with index or dense targets."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._checks import check_finite, check_floating, check_ignore_index, check_probabilities, check_reduction
from .._compat import renamed_arguments
from .._module import LossModule
from .._numerics import result_dtype, upcast
from .._reduction import reduce_loss
from .._targets import INDEX, check_class_target, check_label_smoothing, safe_indices, valid_mask
from ._common import (
    _PROBS_HINT_CATEGORICAL,
    _categorical_from_log_probs,
    _check_class_weight,
    _check_eps,
    _check_two_classes,
    _log_clipped_categorical,
    _validate,
)

__all__ = ["softmax_cross_entropy", "SoftmaxCrossEntropyLoss", "categorical_cross_entropy", "CategoricalCrossEntropyLoss"]

# ---------------------------------------------------------------------------------------------------------------
# categorical cross-entropy


@renamed_arguments(weight="sample_weight")
def softmax_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    class_weight: torch.Tensor | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Softmax cross-entropy on logits, for single-label classification (one class per sample or pixel).

    The negative log-likelihood of the target class under a softmax over the classes; with soft (or smoothed)
    targets, the cross-entropy between the target distribution and the softmax. With :math:`p = \mathrm{softmax}(x)`
    over dim 1, per-class weights :math:`w_c` (default 1) and the smoothed target
    :math:`\tilde y = y(1-\varepsilon) + \varepsilon/C`:

    .. math::
        \ell = -\sum_{c=1}^{C} w_c\,\tilde y_c \log p_c

    Args:
        logits: Unnormalized class scores, shape ``(N, C, *)``, ``C >= 2``.
        target: Class indices ``(N, *)`` (integer dtype, in ``[0, C)`` or ``ignore_index``), or class
            probabilities ``(N, C, *)`` (floating, in ``[0, 1]``).
        class_weight: Optional per-class weights, shape ``(C,)``, ``>= 0`` (torch's ``weight``). With
            ``reduction="mean"`` the weighted sum is divided by the summed weights of the targets' classes
            :math:`\sum_i w_{y_i}` (torch's convention), so a constant class weight changes nothing.
        ignore_index: A class-index value whose positions are left out of the loss and of the mean's
            denominator (index targets only). It may lie outside ``[0, C)``, e.g. ``-100`` or ``255``.
        label_smoothing: :math:`\varepsilon \in [0, 1]`: the target is mixed with the uniform distribution,
            :math:`y(1-\varepsilon) + \varepsilon/C` (torch's and Keras' formula).
        sample_weight: Optional per-element weights broadcastable to the unreduced loss ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-sample loss ``(N, *)`` for ``"none"`` (0 at ignored positions), otherwise a scalar. With user
        ``sample_weight`` :math:`u`, ``"mean"`` is :math:`\sum u\ell / \sum u\,w_{y}` over the non-ignored positions;
        a batch with nothing left gives 0 with a zero gradient.

    Raises:
        ValueError: a target shape that fits neither form, class indices out of range, dense targets outside
            ``[0, 1]`` or not finite, ``C < 2``, ``ignore_index`` with dense targets, a bad ``class_weight`` or
            ``label_smoothing``.
        TypeError: floating targets of the index shape, or integer targets of the dense shape.

    Note:
        Index targets are computed by torch's fused ``F.cross_entropy`` kernel (one log-softmax pass; the
        ``"mean"`` over ignored or class-weighted positions is normalized here so that an all-ignored batch gives
        0, not NaN). Dense targets use ``log_softmax``. With dense targets and ``class_weight``, the ``"mean"``
        divides by :math:`\sum_i \sum_c w_c y_{ic}` (torch divides by N there), so one-hot targets give exactly
        the result of the matching index targets. The minimum over logits of the soft-target loss is the
        target's entropy, not 0 (see :func:`categorical_kl_divergence`). Logits must be finite (validation rejects
        inf and NaN): to mask a class, use a large negative logit such as -1e4 rather than -inf. Finite logits
        never give NaN: with dense targets a log-probability that overflows to -inf
        (logits of ±3e38) is taken as the most negative finite number, so a class with target 0 adds 0, and a
        target :math:`y_c` on such a class adds about :math:`3.4\cdot 10^{38} y_c` in float32 (index targets
        give inf) with no gradient through that class.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
        >>> softmax_cross_entropy(logits, torch.tensor([0, 2]), reduction="none")
        tensor([0.1698, 1.5514])
        >>> softmax_cross_entropy(logits, torch.tensor([0, -100]), ignore_index=-100)
        tensor(0.1698)

    References:
        .. [Szegedy2016] C. Szegedy, V. Vanhoucke, S. Ioffe, J. Shlens, Z. Wojna. "Rethinking the Inception
           Architecture for Computer Vision." CVPR 2016 (label smoothing, §7). https://arxiv.org/abs/1512.00567
    """
    check_floating(logits, "logits")
    check_reduction(reduction)
    label_smoothing = check_label_smoothing(label_smoothing)
    ignore_index = check_ignore_index(ignore_index)
    kind = check_class_target(logits, target, ignore_index=ignore_index, input_name="logits")
    _check_two_classes(logits, "logits", "softmax_cross_entropy")
    check_finite(logits, "logits", "softmax_cross_entropy")
    class_weight = _check_class_weight(class_weight, logits.shape[1])
    (x,) = upcast(logits)
    cw = None if class_weight is None else class_weight.to(x.dtype)

    if kind == INDEX:
        if target.dtype != torch.long:  # the fused kernel takes int64 (or uint8) indices only
            target = target.long()
        ii = -100 if ignore_index is None else ignore_index
        simple_mean = reduction == "mean" and ignore_index is None and cw is None and target.numel() > 0
        if sample_weight is None and (reduction == "sum" or simple_mean):
            # Exactly torch's definition: the fused kernel, no extra pass.
            out = F.cross_entropy(x, target, weight=cw, ignore_index=ii, reduction=reduction,
                                  label_smoothing=label_smoothing)
            return result_dtype(out, logits)
        loss = F.cross_entropy(x, target, weight=cw, ignore_index=ii, reduction="none",
                               label_smoothing=label_smoothing)
        target_weight = None if cw is None else cw[safe_indices(target, ignore_index)]
        return reduce_loss(
            loss, reduction, sample_weight, mask=valid_mask(target, ignore_index),
            target_class_weight=target_weight, dtype=logits.dtype,
        )

    (y,) = upcast(target)
    # log p is -inf where a logit trails the largest by more than the dtype's range (logits of +-3e38), and
    # 0 * -inf would be NaN: clamp it to the most negative finite number. One pass, and exact values and
    # gradients everywhere log p is representable (a where on y > 0 would also zero d loss / d y at y = 0).
    logp = F.log_softmax(x, dim=1).clamp_min(torch.finfo(x.dtype).min)
    loss, target_weight, mask = _categorical_from_log_probs(
        logp, y, kind, class_weight=cw, label_smoothing=label_smoothing, ignore_index=None
    )
    return reduce_loss(
        loss, reduction, sample_weight, mask=mask, target_class_weight=target_weight, dtype=logits.dtype
    )


class SoftmaxCrossEntropyLoss(LossModule, function=softmax_cross_entropy, validate=_validate):
    pass


@renamed_arguments(weight="sample_weight")
def categorical_cross_entropy(
    probs: torch.Tensor,
    target: torch.Tensor,
    *,
    eps: float = 1e-7,
    class_weight: torch.Tensor | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Categorical cross-entropy on probabilities (softmax outputs), as Keras computes it.

    The same loss as :func:`softmax_cross_entropy` for a model whose last layer already applies softmax. Each
    row of ``probs`` is renormalized to sum to 1 and clipped to :math:`[\epsilon, 1-\epsilon]`:

    .. math::
        \hat p_c = \mathrm{clip}\Bigl(\frac{p_c}{\sum_k p_k}, \epsilon, 1-\epsilon\Bigr), \qquad
        \ell = -\sum_{c=1}^{C} w_c\,\tilde y_c \log \hat p_c, \qquad \tilde y = y(1-\varepsilon_{ls}) + \varepsilon_{ls}/C

    Args:
        probs: Class probabilities, shape ``(N, C, *)``, values in ``[0, 1]``, ``C >= 2``.
        target: Class indices ``(N, *)`` or class probabilities ``(N, C, *)``, as in :func:`softmax_cross_entropy`.
        eps: Clipping bound, in ``(0, 0.5)``; Keras' default ``1e-7``.
        class_weight: Optional per-class weights ``(C,)``; see :func:`softmax_cross_entropy`.
        ignore_index: Index-target value to leave out; see :func:`softmax_cross_entropy`.
        label_smoothing: :math:`\varepsilon_{ls} \in [0, 1]`, formula above.
        sample_weight: Optional per-element weights broadcastable to the unreduced loss ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-sample loss ``(N, *)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: ``probs`` outside ``[0, 1]`` (the message points to :func:`softmax_cross_entropy` for logits:
            tanh or linear outputs do not belong here), and the target errors of :func:`softmax_cross_entropy`.
        TypeError: wrong target dtype for its shape.

    Note:
        Prefer :func:`softmax_cross_entropy` on logits: clipping caps the loss of a confident mistake at
        :math:`-\log\epsilon \approx 16.1` and zeroes its gradient. In float32, :math:`1 - 10^{-7}` rounds to
        :math:`1 - 1.19\cdot 10^{-7}`, as in Keras.

    Example:
        >>> import torch
        >>> probs = torch.tensor([[0.7, 0.2, 0.1], [0.25, 0.25, 0.5]])
        >>> categorical_cross_entropy(probs, torch.tensor([0, 2]), reduction="none")
        tensor([0.3567, 0.6931])

    References:
        Keras 3, ``keras.losses.CategoricalCrossentropy`` / ``SparseCategoricalCrossentropy`` (the clipping and
        renormalization reproduced here).
    """
    eps = _check_eps(eps)
    check_floating(probs, "probs")
    check_reduction(reduction)
    label_smoothing = check_label_smoothing(label_smoothing)
    ignore_index = check_ignore_index(ignore_index)
    kind = check_class_target(probs, target, ignore_index=ignore_index, input_name="probs")
    _check_two_classes(probs, "probs", "categorical_cross_entropy")
    check_probabilities(probs.detach(), "probs", logits_variant=_PROBS_HINT_CATEGORICAL, loss="categorical_cross_entropy")
    class_weight = _check_class_weight(class_weight, probs.shape[1])
    (p,) = upcast(probs)
    y = target if kind == INDEX else upcast(target)[0]
    cw = None if class_weight is None else class_weight.to(p.dtype)
    loss, target_weight, mask = _categorical_from_log_probs(
        _log_clipped_categorical(p, eps), y, kind, class_weight=cw, label_smoothing=label_smoothing,
        ignore_index=ignore_index,
    )
    return reduce_loss(
        loss, reduction, sample_weight, mask=mask, target_class_weight=target_weight, dtype=probs.dtype
    )


class CategoricalCrossEntropyLoss(LossModule, function=categorical_cross_entropy, validate=_validate):
    pass
