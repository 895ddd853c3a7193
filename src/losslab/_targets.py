"""Class-target handling shared by every classification-style loss.

Targets come in two forms (DESIGN.md §3): class indices ``(N, *)`` of an integer dtype, or dense probabilities
``(N, C, *)`` of a floating dtype with the shape of the input. ``ignore_index`` is applied *before* any one-hot
or gather, so an ignore label outside ``[0, C)`` (such as -100 or 255) never reaches an indexing op.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._checks import check_class_indices, check_in_range, check_scalar

INDEX = "index"
DENSE = "dense"


def target_kind(input: torch.Tensor, target: torch.Tensor, *, input_name: str = "logits") -> str:
    """Tell index targets ``(N, *)`` from dense targets ``(N, C, *)`` and reject anything else.

    Raises:
        TypeError: a floating target with the index shape, or an integer target with the dense shape.
        ValueError: a target shape that fits neither form.
    """
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target: expected a torch.Tensor, got {type(target).__name__}")
    if input.ndim < 2:
        raise ValueError(f"{input_name}: expected shape (N, C, *) with classes on dim 1, got {tuple(input.shape)}")
    index_shape = input.shape[:1] + input.shape[2:]
    floating = target.is_floating_point()
    if target.shape == index_shape and target.shape != input.shape:
        if floating:
            raise TypeError(
                f"target: class indices of shape {tuple(index_shape)} must have an integer dtype, got {target.dtype}; "
                f"cast with target.long(), or pass dense probabilities of shape {tuple(input.shape)}"
            )
        if target.dtype == torch.bool:
            raise TypeError("target: expected integer class indices, got dtype torch.bool")
        return INDEX
    if target.shape == input.shape:
        if not floating:
            raise TypeError(
                f"target: dense targets of shape {tuple(input.shape)} must be floating point, got {target.dtype}; "
                f"for class indices pass shape {tuple(index_shape)}"
            )
        return DENSE
    raise ValueError(
        f"target: expected class indices of shape {tuple(index_shape)} or probabilities of shape "
        f"{tuple(input.shape)}, got {tuple(target.shape)}"
    )


def check_class_target(
    input: torch.Tensor, target: torch.Tensor, *, ignore_index: int | None = None, input_name: str = "logits"
) -> str:
    """:func:`target_kind` plus the value checks (indices in range, dense targets finite and in [0, 1])."""
    kind = target_kind(input, target, input_name=input_name)
    if kind == INDEX:
        check_class_indices(target, input.shape[1], "target", ignore_index)
    else:
        if ignore_index is not None:
            raise ValueError("ignore_index: only applies to class-index targets; mask dense targets with weight=")
        check_in_range(target, "target", 0.0, 1.0)  # also rejects NaN and inf
    return kind


def valid_mask(target: torch.Tensor, ignore_index: int | None) -> torch.Tensor | None:
    """Boolean mask of non-ignored index targets, or ``None`` when nothing can be ignored."""
    return None if ignore_index is None else target != ignore_index


def safe_indices(target: torch.Tensor, ignore_index: int | None) -> torch.Tensor:
    """Index targets with ignored positions replaced by class 0, so gathers and one-hots stay in range."""
    if ignore_index is None:
        return target
    return torch.where(target == ignore_index, torch.zeros_like(target), target)


def one_hot(target: torch.Tensor, num_classes: int, dtype: torch.dtype, ignore_index: int | None = None) -> torch.Tensor:
    """Channels-first one-hot ``(N, C, *)`` of index targets ``(N, *)``; ignored positions become all-zero rows."""
    idx = safe_indices(target, ignore_index)
    dense = F.one_hot(idx.long(), num_classes).movedim(-1, 1).to(dtype)
    if ignore_index is not None:
        dense = dense * (target != ignore_index).unsqueeze(1).to(dtype)
    return dense


def check_label_smoothing(label_smoothing: float) -> float:
    return check_scalar(label_smoothing, "label_smoothing", low=0.0, high=1.0)


def smooth_categorical(dense: torch.Tensor, label_smoothing: float, dim: int = 1) -> torch.Tensor:
    r"""Categorical label smoothing toward the uniform distribution: :math:`y(1-\varepsilon) + \varepsilon/K`.

    This is torch's and Keras' convention (a mixture with the uniform distribution over the K classes).
    """
    if label_smoothing == 0.0:
        return dense
    return dense * (1.0 - label_smoothing) + label_smoothing / dense.shape[dim]


def smooth_binary(target: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    r"""Binary label smoothing toward 0.5: :math:`y(1-\varepsilon) + \varepsilon/2` (Keras' formula)."""
    if label_smoothing == 0.0:
        return target
    return target * (1.0 - label_smoothing) + 0.5 * label_smoothing
