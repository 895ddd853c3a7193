"""Classification losses: softmax/categorical and binary cross-entropy, hinge, squared hinge, and the
soft-target floor (entropies and KL divergences).

Names say what the first argument holds (DESIGN.md §3): ``softmax_*`` and ``sigmoid_*`` losses take logits,
``categorical_*`` and ``binary_*`` losses take probabilities (clipped to ``[eps, 1 - eps]`` as Keras does). There
are no ``from_logits`` flags.

Shapes: categorical losses take scores ``(N, C, *)`` with classes on dim 1 and targets that are either class
indices ``(N, *)`` (integer dtype) or probabilities ``(N, C, *)`` (floating); ``reduction="none"`` returns one value
per sample ``(N, *)``. Binary and hinge losses are element-wise: ``target`` has the shape of the input and
``reduction="none"`` returns one value per element.

Cross-entropy with soft targets does not reach 0 at its minimum: its minimum, at prediction == target, is the
entropy of the target. :func:`binary_entropy` / :func:`categorical_entropy` give that floor and
:func:`binary_kl_divergence` / :func:`categorical_kl_divergence` the cross-entropy minus the floor, which is 0
exactly when the prediction equals the target.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (
    check_finite,
    check_floating,
    check_in_range,
    check_probabilities,
    check_reduction,
    check_same_shape,
    check_scalar,
    check_tensor,
    check_values_in,
)
from ._numerics import upcast
from ._reduction import _check_broadcast, reduce_loss
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

__all__ = [
    "softmax_cross_entropy",
    "SoftmaxCrossEntropyLoss",
    "categorical_cross_entropy",
    "CategoricalCrossEntropyLoss",
    "sigmoid_binary_cross_entropy",
    "SigmoidBinaryCrossEntropyLoss",
    "binary_cross_entropy",
    "BinaryCrossEntropyLoss",
    "hinge_loss",
    "HingeLoss",
    "squared_hinge_loss",
    "SquaredHingeLoss",
    "binary_entropy",
    "binary_kl_divergence",
    "BinaryKLDivergenceLoss",
    "categorical_entropy",
    "categorical_kl_divergence",
    "CategoricalKLDivergenceLoss",
]

_PROBS_HINT_CATEGORICAL = "softmax_cross_entropy"
_PROBS_HINT_BINARY = "sigmoid_binary_cross_entropy"


# ---------------------------------------------------------------------------------------------------------------
# shared argument handling


def _check_eps(eps: float) -> float:
    return check_scalar(eps, "eps", low=0.0, high=0.5, low_inclusive=False, high_inclusive=False)


def _check_ignore_index(ignore_index: int | None) -> int | None:
    if ignore_index is not None and (isinstance(ignore_index, bool) or not isinstance(ignore_index, int)):
        raise TypeError(f"ignore_index: expected an int or None, got {type(ignore_index).__name__}")
    return ignore_index


def _check_class_weight(class_weight: torch.Tensor | None, num_classes: int | None = None) -> torch.Tensor | None:
    """Per-class weights: a 1-D non-negative tensor of length C (metadata check, then a value check)."""
    if class_weight is None:
        return None
    check_tensor(class_weight, "class_weight")
    if class_weight.ndim != 1 or (num_classes is not None and class_weight.shape[0] != num_classes):
        expected = "(C,)" if num_classes is None else f"({num_classes},), one weight per class"
        raise ValueError(f"class_weight: expected shape {expected}, got {tuple(class_weight.shape)}")
    if class_weight.is_complex() or class_weight.dtype == torch.bool:
        raise TypeError(f"class_weight: expected a real tensor, got dtype {class_weight.dtype}")
    check_in_range(class_weight.detach(), "class_weight", 0.0, math.inf)
    return class_weight


def _class_view(w: torch.Tensor, ndim: int) -> torch.Tensor:
    """Shape a per-class vector ``(C,)`` to broadcast over ``(N, C, *)`` with ``ndim`` dims."""
    return w.reshape(1, -1, *([1] * (ndim - 2)))


def _check_two_classes(x: torch.Tensor, name: str, loss: str) -> None:
    if x.ndim >= 2 and x.shape[1] < 2:
        raise ValueError(
            f"{name}: expected at least 2 classes on dim 1, got shape {tuple(x.shape)}; {loss} over one class is "
            f"constant (loss 0, no gradient); for one binary output per sample use sigmoid_binary_cross_entropy"
        )


def _categorical_from_log_probs(
    logp: torch.Tensor,
    target: torch.Tensor,
    kind: str,
    *,
    class_weight: torch.Tensor | None,
    label_smoothing: float,
    ignore_index: int | None,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Per-sample cross-entropy ``(N, *)`` from log-probabilities ``(N, C, *)``.

    Returns the loss, the per-sample class weight of the target (the weighted mean's denominator term; ``None``
    without class weights) and the validity mask (``None`` without ``ignore_index``).
    """
    num_classes = logp.shape[1]
    cw = None if class_weight is None else _class_view(class_weight.to(logp.dtype), logp.ndim)
    if kind == INDEX:
        idx = safe_indices(target, ignore_index).long()
        nll = -logp.gather(1, idx.unsqueeze(1)).squeeze(1)
        target_weight = None
        if class_weight is not None:
            target_weight = class_weight.to(logp.dtype)[idx]
            nll = nll * target_weight
        if label_smoothing > 0.0:
            # smoothed target y(1-e) + e/C: the uniform part adds e/C * sum_c w_c (-log p_c)
            uniform = -(logp if cw is None else logp * cw).sum(1)
            loss = (1.0 - label_smoothing) * nll + (label_smoothing / num_classes) * uniform
        else:
            loss = nll
        return loss, target_weight, valid_mask(target, ignore_index)
    y = smooth_categorical(target.to(logp.dtype), label_smoothing)
    wy = y if cw is None else y * cw
    # 0 * log p := 0, so a class with target 0 and log-probability -inf (a masked class) contributes nothing
    loss = -torch.where(wy != 0, wy * logp, torch.zeros((), dtype=logp.dtype, device=logp.device)).sum(1)
    target_weight = None if cw is None else (target.to(logp.dtype) * cw).sum(1)
    return loss, target_weight, None


def _reduce_categorical(
    loss: torch.Tensor,
    target_weight: torch.Tensor | None,
    mask: torch.Tensor | None,
    weight: torch.Tensor | None,
    reduction: str,
    dtype: torch.dtype,
) -> torch.Tensor:
    """``reduce_loss`` with torch's class-weighted mean: divide by the summed class weights of the targets."""
    if reduction != "mean" or target_weight is None:
        return reduce_loss(loss, reduction, weight, mask=mask, dtype=dtype)
    if weight is not None:
        _check_broadcast(weight, loss, "weight")
        target_weight = target_weight * weight.to(loss.dtype)
    if mask is not None:
        target_weight = torch.where(mask, target_weight, torch.zeros_like(target_weight))
    den = torch.broadcast_to(target_weight, loss.shape).sum()
    return reduce_loss(loss, reduction, weight, mask=mask, normalizer=den, dtype=dtype)


# ---------------------------------------------------------------------------------------------------------------
# categorical cross-entropy


def softmax_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    class_weight: torch.Tensor | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    weight: torch.Tensor | None = None,
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
        weight: Optional weights broadcastable to the unreduced loss ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-sample loss ``(N, *)`` for ``"none"`` (0 at ignored positions), otherwise a scalar. With user
        ``weight`` :math:`u`, ``"mean"`` is :math:`\sum u\ell / \sum u\,w_{y}` over the non-ignored positions;
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
        target's entropy, not 0 (see :func:`categorical_kl_divergence`).

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
    ignore_index = _check_ignore_index(ignore_index)
    kind = check_class_target(logits, target, ignore_index=ignore_index, input_name="logits")
    _check_two_classes(logits, "logits", "softmax_cross_entropy")
    class_weight = _check_class_weight(class_weight, logits.shape[1])
    (x,) = upcast(logits)
    cw = None if class_weight is None else class_weight.to(x.dtype)

    if kind == INDEX:
        if target.dtype != torch.long:  # the fused kernel takes int64 (or uint8) indices only
            target = target.long()
        ii = -100 if ignore_index is None else ignore_index
        simple_mean = reduction == "mean" and ignore_index is None and cw is None and target.numel() > 0
        if weight is None and (reduction == "sum" or simple_mean):
            # Exactly torch's definition: the fused kernel, no extra pass.
            out = F.cross_entropy(x, target, weight=cw, ignore_index=ii, reduction=reduction,
                                  label_smoothing=label_smoothing)
            return out.to(logits.dtype)
        loss = F.cross_entropy(x, target, weight=cw, ignore_index=ii, reduction="none",
                               label_smoothing=label_smoothing)
        target_weight = None if cw is None else cw[safe_indices(target, ignore_index)]
        return _reduce_categorical(loss, target_weight, valid_mask(target, ignore_index), weight, reduction, logits.dtype)

    (y,) = upcast(target)
    loss, target_weight, mask = _categorical_from_log_probs(
        F.log_softmax(x, dim=1), y, kind, class_weight=cw, label_smoothing=label_smoothing, ignore_index=None
    )
    return _reduce_categorical(loss, target_weight, mask, weight, reduction, logits.dtype)


class SoftmaxCrossEntropyLoss(nn.Module):
    """Module form of :func:`softmax_cross_entropy` (``class_weight`` is a buffer, so ``.to()`` moves it)."""

    class_weight: torch.Tensor | None

    def __init__(
        self,
        *,
        class_weight: torch.Tensor | None = None,
        ignore_index: int | None = None,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        check_reduction(reduction)
        self.register_buffer("class_weight", _check_class_weight(class_weight))
        self.ignore_index = _check_ignore_index(ignore_index)
        self.label_smoothing = check_label_smoothing(label_smoothing)
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return softmax_cross_entropy(
            logits, target, class_weight=self.class_weight, ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing, weight=weight, reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        cw = None if self.class_weight is None else tuple(self.class_weight.shape)
        return (f"class_weight={cw}, ignore_index={self.ignore_index}, label_smoothing={self.label_smoothing}, "
                f"reduction={self.reduction!r}")


def _log_clipped_categorical(probs: torch.Tensor, eps: float) -> torch.Tensor:
    # Keras: renormalize each distribution to sum 1, clip to [eps, 1 - eps], take the log. (The sum is floored
    # at eps so an all-zero row gives log(eps), not 0/0.)
    p = probs / probs.sum(1, keepdim=True).clamp_min(eps)
    return p.clamp(eps, 1.0 - eps).log()


def categorical_cross_entropy(
    probs: torch.Tensor,
    target: torch.Tensor,
    *,
    eps: float = 1e-7,
    class_weight: torch.Tensor | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    weight: torch.Tensor | None = None,
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
        weight: Optional weights broadcastable to the unreduced loss ``(N, *)``.
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
    ignore_index = _check_ignore_index(ignore_index)
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
    return _reduce_categorical(loss, target_weight, mask, weight, reduction, probs.dtype)


class CategoricalCrossEntropyLoss(nn.Module):
    """Module form of :func:`categorical_cross_entropy` (``class_weight`` is a buffer)."""

    class_weight: torch.Tensor | None

    def __init__(
        self,
        *,
        eps: float = 1e-7,
        class_weight: torch.Tensor | None = None,
        ignore_index: int | None = None,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        check_reduction(reduction)
        self.eps = _check_eps(eps)
        self.register_buffer("class_weight", _check_class_weight(class_weight))
        self.ignore_index = _check_ignore_index(ignore_index)
        self.label_smoothing = check_label_smoothing(label_smoothing)
        self.reduction = reduction

    def forward(self, probs: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return categorical_cross_entropy(
            probs, target, eps=self.eps, class_weight=self.class_weight, ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing, weight=weight, reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        cw = None if self.class_weight is None else tuple(self.class_weight.shape)
        return (f"eps={self.eps}, class_weight={cw}, ignore_index={self.ignore_index}, "
                f"label_smoothing={self.label_smoothing}, reduction={self.reduction!r}")


# ---------------------------------------------------------------------------------------------------------------
# binary cross-entropy


def _check_binary_pair(x: torch.Tensor, target: torch.Tensor, name: str) -> None:
    check_floating(x, name)
    check_tensor(target, "target")
    if not target.is_floating_point():
        raise TypeError(
            f"target: expected a floating-point tensor of probabilities in [0, 1], got dtype {target.dtype}; "
            f"cast hard labels with target.float()"
        )
    check_same_shape(x, target, name, "target")
    check_in_range(target.detach(), "target", 0.0, 1.0)


def _check_pos_weight(pos_weight: torch.Tensor | float | None, shape: torch.Size | None = None) -> torch.Tensor | None:
    if pos_weight is None:
        return None
    if isinstance(pos_weight, (int, float)) and not isinstance(pos_weight, bool):
        return torch.tensor(check_scalar(pos_weight, "pos_weight", low=0.0))
    check_tensor(pos_weight, "pos_weight")
    if pos_weight.is_complex() or pos_weight.dtype == torch.bool:
        raise TypeError(f"pos_weight: expected a real tensor, got dtype {pos_weight.dtype}")
    if shape is not None:
        try:
            ok = torch.broadcast_shapes(pos_weight.shape, shape) == shape
        except RuntimeError:
            ok = False
        if not ok:
            raise ValueError(
                f"pos_weight: expected a shape broadcastable to logits {tuple(shape)} (e.g. one weight per class on "
                f"the last dim), got {tuple(pos_weight.shape)}"
            )
    check_in_range(pos_weight.detach(), "pos_weight", 0.0, math.inf)
    return pos_weight


def sigmoid_binary_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    pos_weight: torch.Tensor | float | None = None,
    label_smoothing: float = 0.0,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Sigmoid binary cross-entropy on logits, for binary and multi-label classification.

    Each element is an independent yes/no question whose probability is :math:`\sigma(x)`. Soft targets in
    :math:`[0, 1]` are allowed. With :math:`\tilde y = y(1-\varepsilon) + \varepsilon/2` and positive-class weight
    :math:`w_+` (default 1):

    .. math::
        \ell = -w_+\,\tilde y\log\sigma(x) - (1-\tilde y)\log(1-\sigma(x))
             = w_+\,\tilde y\,\mathrm{softplus}(-x) + (1-\tilde y)\,\mathrm{softplus}(x)

    Args:
        logits: Logits, any shape.
        target: Probabilities of the positive class in ``[0, 1]`` (hard 0/1 or soft), same shape, floating.
        pos_weight: Optional weight of the positive term, ``>= 0``: a number or a tensor broadcastable to
            ``logits`` (as in torch, broadcast from the right: shape ``(C,)`` weights the last dim; for
            ``(N, C, H, W)`` pass ``(C, 1, 1)``). ``n_neg / n_pos`` balances a rare positive class.
        label_smoothing: :math:`\varepsilon \in [0, 1]`; targets move toward 0.5 (Keras' formula).
        weight: Optional weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Element-wise loss of ``logits``' shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, ``target`` outside ``[0, 1]`` or not finite, a bad ``pos_weight`` or
            ``label_smoothing``.
        TypeError: a non-floating ``logits`` or ``target``.

    Note:
        Written with two softplus terms, which neither overflow nor cancel: logits of :math:`\pm 10^4` give a
        finite loss (:math:`10^4` for a confident mistake) and the gradient
        :math:`w_+\tilde y(\sigma(x) - 1) + (1-\tilde y)\sigma(x)`. With soft targets the minimum is the target's
        entropy, not 0 (see :func:`binary_kl_divergence`).

    Example:
        >>> import torch
        >>> sigmoid_binary_cross_entropy(torch.tensor([0.0, 3.0, -100.0]), torch.tensor([1.0, 0.0, 1.0]), reduction="none")
        tensor([  0.6931,   3.0486, 100.0000])

    References:
        torch ``BCEWithLogitsLoss`` (``pos_weight``); label smoothing toward 0.5 as in Keras ``BinaryCrossentropy``.
    """
    check_reduction(reduction)
    label_smoothing = check_label_smoothing(label_smoothing)
    _check_binary_pair(logits, target, "logits")
    pos_weight = _check_pos_weight(pos_weight, logits.shape)
    x, y = upcast(logits, target)
    y = smooth_binary(y.to(x.dtype), label_smoothing)
    pos = y * F.softplus(-x)
    if pos_weight is not None:
        pos = pos * pos_weight.to(device=x.device, dtype=x.dtype)
    loss = pos + (1.0 - y) * F.softplus(x)
    return reduce_loss(loss, reduction, weight, dtype=logits.dtype)


class SigmoidBinaryCrossEntropyLoss(nn.Module):
    """Module form of :func:`sigmoid_binary_cross_entropy` (``pos_weight`` is a buffer)."""

    pos_weight: torch.Tensor | None

    def __init__(
        self,
        *,
        pos_weight: torch.Tensor | float | None = None,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        check_reduction(reduction)
        self.register_buffer("pos_weight", _check_pos_weight(pos_weight))
        self.label_smoothing = check_label_smoothing(label_smoothing)
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return sigmoid_binary_cross_entropy(
            logits, target, pos_weight=self.pos_weight, label_smoothing=self.label_smoothing, weight=weight,
            reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        pw = None if self.pos_weight is None else tuple(self.pos_weight.shape)
        return f"pos_weight={pw}, label_smoothing={self.label_smoothing}, reduction={self.reduction!r}"


def _binary_xent(y: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """-(y log q + (1-y) log(1-q)) with 0 log 0 := 0 (``q`` already clipped)."""
    return -(torch.xlogy(y, q) + torch.xlogy(1.0 - y, 1.0 - q))


def binary_cross_entropy(
    probs: torch.Tensor,
    target: torch.Tensor,
    *,
    eps: float = 1e-7,
    label_smoothing: float = 0.0,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Binary cross-entropy on probabilities (sigmoid outputs), clipped as Keras does.

    The same loss as :func:`sigmoid_binary_cross_entropy` for a model whose last layer already applies sigmoid.
    With :math:`\hat p = \mathrm{clip}(p, \epsilon, 1-\epsilon)` and :math:`\tilde y = y(1-\varepsilon) + \varepsilon/2`:

    .. math::
        \ell = -\tilde y\log\hat p - (1-\tilde y)\log(1-\hat p)

    Args:
        probs: Probabilities of the positive class, any shape, values in ``[0, 1]``.
        target: Target probabilities in ``[0, 1]`` (hard or soft), same shape, floating.
        eps: Clipping bound, in ``(0, 0.5)``; Keras' default ``1e-7``.
        label_smoothing: :math:`\varepsilon \in [0, 1]`; targets move toward 0.5 (Keras' formula).
        weight: Optional weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Element-wise loss of ``probs``' shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, ``probs`` outside ``[0, 1]`` (the message points to
            :func:`sigmoid_binary_cross_entropy` for logits), ``target`` outside ``[0, 1]`` or not finite.
        TypeError: a non-floating tensor.

    Note:
        With soft targets the loss at ``probs == target`` is the target's entropy, not 0 (Keras gives 0.5805602
        for ``[0.5, 0.3, 0.5, 0.9]`` against itself); :func:`binary_entropy` returns that floor and
        :func:`binary_kl_divergence` the excess over it. Clipping caps a confident mistake at about 16.1 with a
        zero gradient; prefer :func:`sigmoid_binary_cross_entropy` on logits for training.

    Example:
        >>> import torch
        >>> y = torch.tensor([0.5, 0.3, 0.5, 0.9])
        >>> binary_cross_entropy(torch.tensor([0.1, 0.3, 0.5, 0.8]), y)
        tensor(0.7174)
        >>> binary_cross_entropy(y, y)
        tensor(0.5806)

    References:
        Keras 3, ``keras.losses.BinaryCrossentropy`` (clipping to ``[eps, 1 - eps]``, label smoothing toward 0.5).
    """
    eps = _check_eps(eps)
    check_reduction(reduction)
    label_smoothing = check_label_smoothing(label_smoothing)
    _check_binary_pair(probs, target, "probs")
    check_probabilities(probs.detach(), "probs", logits_variant=_PROBS_HINT_BINARY, loss="binary_cross_entropy")
    p, y = upcast(probs, target)
    y = smooth_binary(y.to(p.dtype), label_smoothing)
    loss = _binary_xent(y, p.clamp(eps, 1.0 - eps))
    return reduce_loss(loss, reduction, weight, dtype=probs.dtype)


class BinaryCrossEntropyLoss(nn.Module):
    """Module form of :func:`binary_cross_entropy`."""

    def __init__(self, *, eps: float = 1e-7, label_smoothing: float = 0.0, reduction: str = "mean") -> None:
        super().__init__()
        check_reduction(reduction)
        self.eps = _check_eps(eps)
        self.label_smoothing = check_label_smoothing(label_smoothing)
        self.reduction = reduction

    def forward(self, probs: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return binary_cross_entropy(
            probs, target, eps=self.eps, label_smoothing=self.label_smoothing, weight=weight, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return f"eps={self.eps}, label_smoothing={self.label_smoothing}, reduction={self.reduction!r}"


# ---------------------------------------------------------------------------------------------------------------
# hinge


def _hinge_margin(pred: torch.Tensor, target: torch.Tensor, loss: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``relu(1 - y * pred)`` in the compute dtype, with labels {0, 1} mapped to {-1, 1} element-wise."""
    check_floating(pred, "pred")
    check_tensor(target, "target")
    if target.is_complex() or target.dtype == torch.bool:
        raise TypeError(f"target: expected labels in {{-1, 1}} or {{0, 1}} as a real tensor, got dtype {target.dtype}")
    check_same_shape(pred, target, "pred", "target")
    if target.is_floating_point():
        check_finite(target, "target")
    check_values_in(
        target, "target", (-1.0, 0.0, 1.0),
        f"{loss} expects labels in {{-1, 1}} (or {{0, 1}}); for probabilities use a cross-entropy",
    )
    (p,) = upcast(pred)
    y = target.to(p.dtype)
    y = torch.where(y == 0, -torch.ones_like(y), y)
    return torch.relu(1.0 - y * p), p


def hinge_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Hinge loss, for maximum-margin binary decisions (each element a yes/no question).

    Zero once the score has the right sign with a margin of at least 1; linear in the shortfall otherwise. With
    labels :math:`y \in \{-1, 1\}`:

    .. math::
        \ell = \max(0,\ 1 - y\,\hat y)

    Args:
        pred: Real-valued scores (raw or tanh outputs), any shape.
        target: Labels in ``{-1, 1}``; ``{0, 1}`` labels are accepted, 0 meaning the negative class. Same shape as
            ``pred``; floating or integer dtype.
        weight: Optional weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Element-wise loss of ``pred``'s shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, or a label outside ``{-1, 0, 1}`` (or NaN).
        TypeError: a non-floating ``pred`` or a bool/complex ``target``.

    Note:
        Keras converts labels with :math:`2y - 1` when *every* label in the batch is 0 or 1, and leaves them as
        they are otherwise. Here 0 is mapped to -1 element by element; the values agree with Keras for
        ``{0, 1}`` and ``{-1, 1}`` labels, and a mixture of all three is no longer batch-dependent (Keras would
        keep a 0 label, giving a constant loss of 1 with no gradient).

    Example:
        >>> import torch
        >>> hinge_loss(torch.tensor([2.0, 0.3, -0.5]), torch.tensor([1.0, 1.0, 0.0]), reduction="none")
        tensor([0.0000, 0.7000, 0.5000])

    References:
        .. [Cortes1995] C. Cortes, V. Vapnik. "Support-Vector Networks." Machine Learning 20, 1995.
    """
    check_reduction(reduction)
    margin, _ = _hinge_margin(pred, target, "hinge_loss")
    return reduce_loss(margin, reduction, weight, dtype=pred.dtype)


class HingeLoss(nn.Module):
    """Module form of :func:`hinge_loss`."""

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        check_reduction(reduction)
        self.reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return hinge_loss(pred, target, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


def squared_hinge_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Squared hinge loss: the hinge's shortfall squared, smooth at the margin.

    Same decision rule as :func:`hinge_loss` (labels :math:`y \in \{-1, 1\}`, score :math:`\hat y`, usually a tanh
    or raw output), but differentiable everywhere and harsher on large violations:

    .. math::
        \ell = \max(0,\ 1 - y\,\hat y)^2

    Args:
        pred: Real-valued scores (raw or tanh outputs), any shape.
        target: Labels in ``{-1, 1}``; ``{0, 1}`` labels are accepted, 0 meaning the negative class.
        weight: Optional weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Element-wise loss of ``pred``'s shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, or a label outside ``{-1, 0, 1}`` (or NaN).
        TypeError: a non-floating ``pred`` or a bool/complex ``target``.

    Note:
        Label handling as in :func:`hinge_loss` (0 maps to -1 element-wise; same values as Keras' ``SquaredHinge``
        for ``{0, 1}`` and ``{-1, 1}`` labels).

    Example:
        >>> import torch
        >>> squared_hinge_loss(torch.tensor([2.0, 0.3, -0.5]), torch.tensor([1, 1, -1]), reduction="none")
        tensor([0.0000, 0.4900, 0.2500])

    References:
        .. [Tang2013] Y. Tang. "Deep Learning using Linear Support Vector Machines." ICML 2013 workshop
           (the L2-SVM, i.e. squared hinge, as a network's loss). https://arxiv.org/abs/1306.0239
    """
    check_reduction(reduction)
    margin, _ = _hinge_margin(pred, target, "squared_hinge_loss")
    return reduce_loss(margin.square(), reduction, weight, dtype=pred.dtype)


class SquaredHingeLoss(nn.Module):
    """Module form of :func:`squared_hinge_loss`."""

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        check_reduction(reduction)
        self.reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return squared_hinge_loss(pred, target, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


# ---------------------------------------------------------------------------------------------------------------
# the soft-target floor: entropies and KL divergences


def _check_entropy_eps(eps: float) -> float:
    return check_scalar(eps, "eps", low=0.0, high=0.5, high_inclusive=False)


def binary_entropy(
    target: torch.Tensor,
    *,
    eps: float = 1e-7,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Entropy of binary target probabilities: the smallest value binary cross-entropy can take.

    :func:`binary_cross_entropy` with soft targets is minimized at ``probs == target``, where it equals this
    entropy, not 0. With :math:`\hat y = \mathrm{clip}(y, \epsilon, 1-\epsilon)` (the clipping
    :func:`binary_cross_entropy` applies to its prediction) and :math:`0\log 0 = 0`:

    .. math::
        H(y) = -y\log\hat y - (1-y)\log(1-\hat y)

    Args:
        target: Probabilities in ``[0, 1]``, any shape, floating.
        eps: The clipping of :func:`binary_cross_entropy` (default ``1e-7``), so that
            ``binary_entropy(y) == binary_cross_entropy(y, y)``; ``0`` gives the exact entropy (0 for hard labels;
            with the default a hard label gets :math:`-\log(1-\epsilon) \approx 10^{-7}`). In ``[0, 0.5)``.
        weight: Optional weights broadcastable to the unreduced value.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``; pass the reduction of the cross-entropy it is compared with.

    Returns:
        Element-wise entropy for ``"none"``, otherwise a scalar (in nats).

    Raises:
        ValueError: ``target`` outside ``[0, 1]`` or not finite.
        TypeError: a non-floating ``target``.

    Example:
        >>> import torch
        >>> binary_entropy(torch.tensor([0.5, 0.3, 0.5, 0.9]))
        tensor(0.5806)
    """
    eps = _check_entropy_eps(eps)
    check_reduction(reduction)
    check_floating(target, "target")
    check_in_range(target.detach(), "target", 0.0, 1.0)
    (y,) = upcast(target)
    return reduce_loss(_binary_xent(y, y.clamp(eps, 1.0 - eps)), reduction, weight, dtype=target.dtype)


def binary_kl_divergence(
    probs: torch.Tensor,
    target: torch.Tensor,
    *,
    eps: float = 1e-7,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Binary KL divergence of the prediction from the target: binary cross-entropy minus the target's entropy.

    The part of :func:`binary_cross_entropy` that training can remove: 0 exactly when ``probs == target`` and
    positive otherwise, with the same gradient as the cross-entropy. With :math:`\hat p, \hat y` clipped to
    :math:`[\epsilon, 1-\epsilon]`:

    .. math::
        \mathrm{KL} = y\,(\log\hat y - \log\hat p) + (1-y)\,(\log(1-\hat y) - \log(1-\hat p))
        = \mathrm{BCE}(p, y) - H(y)

    Args:
        probs: Predicted probabilities in ``[0, 1]``, any shape.
        target: Target probabilities in ``[0, 1]``, same shape, floating.
        eps: Clipping bound, in ``(0, 0.5)``, shared with :func:`binary_cross_entropy` and :func:`binary_entropy`.
        weight: Optional weights broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Element-wise divergence for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: shapes differ, values outside ``[0, 1]``, ``target`` not finite.
        TypeError: a non-floating tensor.

    Note:
        The two logs of each term are subtracted before summing, so ``probs == target`` gives exactly 0 (not a
        rounding residue of BCE − H), and the result is clamped at 0 so rounding next to the minimum cannot make
        it negative. Two probabilities both below ``eps`` (or above ``1 - eps``) count as equal.

    Example:
        >>> import torch
        >>> y = torch.tensor([0.5, 0.3, 0.5, 0.9])
        >>> binary_kl_divergence(y, y)
        tensor(0.)
        >>> binary_kl_divergence(torch.tensor([0.1, 0.3, 0.5, 0.8]), y)
        tensor(0.1369)

    References:
        .. [Kullback1951] S. Kullback, R. A. Leibler. "On Information and Sufficiency." Ann. Math. Statist. 1951.
    """
    eps = _check_eps(eps)
    check_reduction(reduction)
    _check_binary_pair(probs, target, "probs")
    check_probabilities(probs.detach(), "probs", logits_variant=_PROBS_HINT_BINARY, loss="binary_kl_divergence")
    p, y = upcast(probs, target)
    y = y.to(p.dtype)
    p_hat, y_hat = p.clamp(eps, 1.0 - eps), y.clamp(eps, 1.0 - eps)
    loss = (torch.xlogy(y, y_hat) - torch.xlogy(y, p_hat)) + (torch.xlogy(1.0 - y, 1.0 - y_hat) - torch.xlogy(1.0 - y, 1.0 - p_hat))
    # >= 0 in exact arithmetic; rounding can leave -1e-17 next to the minimum, where the gradient is ~0 anyway
    return reduce_loss(loss.clamp_min(0.0), reduction, weight, dtype=probs.dtype)


class BinaryKLDivergenceLoss(nn.Module):
    """Module form of :func:`binary_kl_divergence`."""

    def __init__(self, *, eps: float = 1e-7, reduction: str = "mean") -> None:
        super().__init__()
        check_reduction(reduction)
        self.eps = _check_eps(eps)
        self.reduction = reduction

    def forward(self, probs: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return binary_kl_divergence(probs, target, eps=self.eps, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"eps={self.eps}, reduction={self.reduction!r}"


def categorical_entropy(
    target: torch.Tensor,
    *,
    eps: float = 1e-7,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Entropy of class distributions: the smallest value categorical cross-entropy can take.

    :func:`categorical_cross_entropy` with soft targets is minimized at ``probs == target``, where it equals
    this entropy, not 0. With :math:`\hat y` the target renormalized and clipped as
    :func:`categorical_cross_entropy` treats its prediction, and :math:`0\log 0 = 0`:

    .. math::
        H(y) = -\sum_{c=1}^{C} y_c \log \hat y_c

    Args:
        target: Class probabilities ``(N, C, *)``, values in ``[0, 1]``, floating.
        eps: The clipping of :func:`categorical_cross_entropy` (default ``1e-7``), so that
            ``categorical_entropy(y) == categorical_cross_entropy(y, y)``; ``0`` gives the exact entropy. In
            ``[0, 0.5)``.
        weight: Optional weights broadcastable to the per-sample value ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-sample entropy ``(N, *)`` for ``"none"``, otherwise a scalar (in nats).

    Raises:
        ValueError: fewer than 2 dims, ``target`` outside ``[0, 1]`` or not finite.
        TypeError: a non-floating ``target``.

    Note:
        With ``label_smoothing`` the cross-entropy's floor is the entropy of the *smoothed* target.

    Example:
        >>> import torch
        >>> categorical_entropy(torch.tensor([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]]), eps=0.0, reduction="none")
        tensor([0.6931, 0.0000])
    """
    eps = _check_entropy_eps(eps)
    check_reduction(reduction)
    check_floating(target, "target")
    if target.ndim < 2:
        raise ValueError(f"target: expected class probabilities of shape (N, C, *), got {tuple(target.shape)}")
    check_in_range(target.detach(), "target", 0.0, 1.0)
    (y,) = upcast(target)
    y_hat = (y / y.sum(1, keepdim=True).clamp_min(max(eps, torch.finfo(y.dtype).tiny))).clamp(eps, 1.0 - eps)
    return reduce_loss(-torch.xlogy(y, y_hat).sum(1), reduction, weight, dtype=target.dtype)


def categorical_kl_divergence(
    probs: torch.Tensor,
    target: torch.Tensor,
    *,
    eps: float = 1e-7,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""KL divergence of predicted class probabilities from the target: categorical cross-entropy minus entropy.

    The part of :func:`categorical_cross_entropy` that training can remove: 0 exactly when ``probs == target``,
    positive otherwise, with the same gradient as the cross-entropy. With :math:`\hat p, \hat y` renormalized
    and clipped to :math:`[\epsilon, 1-\epsilon]`:

    .. math::
        \mathrm{KL}(y \,\|\, p) = \sum_{c=1}^{C} y_c\,(\log\hat y_c - \log\hat p_c) = \mathrm{CCE}(p, y) - H(y)

    Args:
        probs: Class probabilities ``(N, C, *)`` in ``[0, 1]``, ``C >= 2``.
        target: Class indices ``(N, *)`` (then the divergence equals the cross-entropy, up to the clipping) or
            class probabilities ``(N, C, *)``.
        eps: Clipping bound, in ``(0, 0.5)``, shared with :func:`categorical_cross_entropy`.
        weight: Optional weights broadcastable to the per-sample loss ``(N, *)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-sample divergence ``(N, *)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: ``probs`` outside ``[0, 1]``, and the target errors of :func:`categorical_cross_entropy`.
        TypeError: wrong target dtype for its shape.

    Note:
        As in :func:`binary_kl_divergence`, ``probs == target`` gives exactly 0 and rounding cannot make the
        result negative. Keras' ``KLDivergence`` clips both arguments to ``[eps, 1]`` without renormalizing, so
        each class with target 0 adds :math:`\epsilon\log(\epsilon/p)`; the two differ by a few ``1e-6``.

    Example:
        >>> import torch
        >>> y = torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
        >>> categorical_kl_divergence(y, y, reduction="none")
        tensor([0., 0.])

    References:
        S. Kullback, R. A. Leibler. "On Information and Sufficiency." Ann. Math. Statist. 1951.
    """
    eps = _check_eps(eps)
    check_floating(probs, "probs")
    check_reduction(reduction)
    kind = check_class_target(probs, target, input_name="probs")
    _check_two_classes(probs, "probs", "categorical_kl_divergence")
    check_probabilities(probs.detach(), "probs", logits_variant=_PROBS_HINT_CATEGORICAL, loss="categorical_kl_divergence")
    (p,) = upcast(probs)
    y = one_hot(target, probs.shape[1], p.dtype) if kind == INDEX else upcast(target)[0].to(p.dtype)
    y_hat = (y / y.sum(1, keepdim=True).clamp_min(eps)).clamp(eps, 1.0 - eps)
    p_hat = (p / p.sum(1, keepdim=True).clamp_min(eps)).clamp(eps, 1.0 - eps)
    loss = (torch.xlogy(y, y_hat) - torch.xlogy(y, p_hat)).sum(1)
    # >= 0 in exact arithmetic; rounding can leave -1e-17 next to the minimum, where the gradient is ~0 anyway
    return reduce_loss(loss.clamp_min(0.0), reduction, weight, dtype=probs.dtype)


class CategoricalKLDivergenceLoss(nn.Module):
    """Module form of :func:`categorical_kl_divergence`."""

    def __init__(self, *, eps: float = 1e-7, reduction: str = "mean") -> None:
        super().__init__()
        check_reduction(reduction)
        self.eps = _check_eps(eps)
        self.reduction = reduction

    def forward(self, probs: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return categorical_kl_divergence(probs, target, eps=self.eps, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"eps={self.eps}, reduction={self.reduction!r}"
