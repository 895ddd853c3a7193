"""Sigmoid (logits) and probability binary cross-entropy, element-wise, with soft targets."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._checks import check_finite, check_probabilities, check_reduction
from .._compat import renamed_arguments
from .._module import LossModule
from .._numerics import upcast
from .._reduction import reduce_loss
from .._targets import check_label_smoothing, smooth_binary
from ._common import _PROBS_HINT_BINARY, _binary_xent, _check_binary_pair, _check_eps, _check_pos_weight, _validate

__all__ = ["sigmoid_binary_cross_entropy", "SigmoidBinaryCrossEntropyLoss", "binary_cross_entropy", "BinaryCrossEntropyLoss"]

# ---------------------------------------------------------------------------------------------------------------
# binary cross-entropy


@renamed_arguments(weight="sample_weight")
def sigmoid_binary_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    pos_weight: torch.Tensor | float | None = None,
    label_smoothing: float = 0.0,
    sample_weight: torch.Tensor | None = None,
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
        sample_weight: Optional per-element weights broadcastable to the unreduced loss.
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
    check_finite(logits, "logits", "sigmoid_binary_cross_entropy")
    pos_weight = _check_pos_weight(pos_weight, logits.shape)
    x, y = upcast(logits, target)
    y = smooth_binary(y.to(x.dtype), label_smoothing)
    # softplus returns x itself above its threshold (20 by default), dropping log1p(exp(-x)) ~ 2e-9 relative:
    # below float32's eps but 1e-12 in float64; at 40 the dropped term is under float64's eps as well
    pos = y * F.softplus(-x, threshold=40.0)
    if pos_weight is not None:
        pos = pos * pos_weight.to(device=x.device, dtype=x.dtype)
    loss = pos + (1.0 - y) * F.softplus(x, threshold=40.0)
    return reduce_loss(loss, reduction, sample_weight, dtype=logits.dtype)


class SigmoidBinaryCrossEntropyLoss(LossModule, function=sigmoid_binary_cross_entropy, validate=_validate):
    pass


@renamed_arguments(weight="sample_weight")
def binary_cross_entropy(
    probs: torch.Tensor,
    target: torch.Tensor,
    *,
    eps: float = 1e-7,
    label_smoothing: float = 0.0,
    sample_weight: torch.Tensor | None = None,
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
        sample_weight: Optional per-element weights broadcastable to the unreduced loss.
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
    return reduce_loss(loss, reduction, sample_weight, dtype=probs.dtype)


class BinaryCrossEntropyLoss(LossModule, function=binary_cross_entropy, validate=_validate):
    pass
