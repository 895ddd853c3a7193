"""Argument handling and small numerical pieces shared by the classification losses."""

from __future__ import annotations

import math

import torch

from .._checks import check_floating, check_ignore_index, check_in_range, check_same_shape, check_scalar, check_tensor
from .._targets import INDEX, check_label_smoothing, safe_indices, smooth_categorical, valid_mask

_PROBS_HINT_CATEGORICAL = "softmax_cross_entropy"
_PROBS_HINT_BINARY = "sigmoid_binary_cross_entropy"

# ---------------------------------------------------------------------------------------------------------------
# shared argument handling


def _check_eps(eps: float) -> float:
    return check_scalar(eps, "eps", low=0.0, high=0.5, low_inclusive=False, high_inclusive=False)


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
    # A plain product: guarding 0 * log(0) with a where would cost two more full-size passes (and their
    # backward); log-probabilities are finite for finite logits, and clipped for probability inputs.
    loss = -(wy * logp).sum(1)
    target_weight = None if cw is None else (target.to(logp.dtype) * cw).sum(1)
    return loss, target_weight, None


def _log_clipped_categorical(probs: torch.Tensor, eps: float) -> torch.Tensor:
    # Keras: renormalize each distribution to sum 1, clip to [eps, 1 - eps], take the log. (The sum is floored
    # at eps so an all-zero row gives log(eps), not 0/0.)
    p = probs / probs.sum(1, keepdim=True).clamp_min(eps)
    return p.clamp(eps, 1.0 - eps).log()


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
    pos_weight = check_tensor(pos_weight, "pos_weight")
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


def _binary_xent(y: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """-(y log q + (1-y) log(1-q)) with 0 log 0 := 0 (``q`` already clipped).

    ``log1p(-q)`` rather than ``log(1 - q)``: for small ``q`` the subtraction ``1 - q`` rounds (in float32,
    ``-log(1 - 1e-7)`` would come out as 1.19e-7 instead of 1.0e-7).
    """
    return -(torch.xlogy(y, q) + torch.special.xlog1py(1.0 - y, -q))


def _check_entropy_eps(eps: float) -> float:
    return check_scalar(eps, "eps", low=0.0, high=0.5, high_inclusive=False)


def _validate(
    *,
    eps: float | None = None,
    label_smoothing: float | None = None,
    class_weight: torch.Tensor | None = None,
    ignore_index: int | None = None,
    pos_weight: torch.Tensor | float | None = None,
    **_: object,
) -> None:
    """The construction-time check of a cross-entropy module: each hyperparameter by its function's own check."""
    if eps is not None:
        _check_eps(eps)
    if label_smoothing is not None:
        check_label_smoothing(label_smoothing)
    _check_class_weight(class_weight)
    check_ignore_index(ignore_index)
    _check_pos_weight(pos_weight)
