"""Shared pieces of the Tversky, Lovász, compound, clDice and Hausdorff losses (beside ``_common.py``)."""

from __future__ import annotations

import torch

from .._checks import check_finite, check_floating, check_ignore_index, check_min_ndim, check_tensor
from .._numerics import upcast
from .._targets import INDEX, check_class_target, target_kind
from ._common import _batch_sums, _class_sums

LINKS = ("softmax", "sigmoid")


def out_dtype(x: torch.Tensor) -> torch.dtype:
    """The result dtype: the input's, or float32 under ``torch.autocast`` (as ``F.cross_entropy``)."""
    if x.device.type in ("cpu", "cuda") and torch.is_autocast_enabled(x.device.type):
        return torch.float32
    return x.dtype


def check_channel_target(logits: torch.Tensor, target: torch.Tensor, name: str = "logits") -> None:
    """Reject integer class indices that kept a channel dim ``(N, 1, *spatial)`` with a clear fix."""
    c = logits.shape[1]
    if (
        isinstance(target, torch.Tensor)
        and not target.is_floating_point()
        and target.dtype != torch.bool
        and target.ndim == logits.ndim
        and target.shape[1] == 1
        and target.shape[2:] == logits.shape[2:]
        and c > 1
    ):
        raise ValueError(
            f"target: class indices of shape {tuple(target.shape)} have a channel dim of size 1; expected "
            f"{tuple(logits.shape[:1] + logits.shape[2:])}: squeeze the channel with target.squeeze(1) "
            f"(or pass one-hot float targets of shape {tuple(logits.shape)})"
        )


def prepare_logits(
    logits: torch.Tensor, target: torch.Tensor, ignore_index: int | None, link: str, loss: str
) -> tuple[torch.Tensor, str]:
    """Checks of a regional loss on logits; returns the probabilities (softmax or sigmoid over dim 1) and the kind."""
    check_floating(logits, "logits")
    check_tensor(target, "target")
    check_min_ndim(logits, 3, "logits", "(N, C, *spatial)")
    c = logits.shape[1]
    if c == 0:
        raise ValueError(f"logits: expected at least one class on dim 1, got shape {tuple(logits.shape)}")
    check_ignore_index(ignore_index, c)
    check_channel_target(logits, target)
    if link == "softmax" and c == 1:
        raise ValueError(
            f"logits: softmax over a single channel is 1 everywhere, got shape {tuple(logits.shape)}; for binary "
            f"segmentation use {loss.replace('softmax_', 'sigmoid_')} (or 2 channels)"
        )
    if c == 1 and target_kind(logits, target, input_name="logits") == INDEX:
        raise ValueError(
            f"target: class indices with single-channel logits {tuple(logits.shape)} are ambiguous; pass a float "
            f"0/1 target of shape {tuple(logits.shape)}"
        )
    kind = check_class_target(logits, target, ignore_index=ignore_index, input_name="logits")
    check_finite(logits, "logits", loss)
    (x,) = upcast(logits)
    p = torch.softmax(x, dim=1) if link == "softmax" else torch.sigmoid(x)
    return p, kind


def region_sums(
    p: torch.Tensor, target: torch.Tensor, kind: str, ignore_index: int | None, batch: bool, distributed: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(tp, fp, fn)`` per sample and class ``(N, C)`` (per class ``(1, C)`` with ``batch``) and the valid mask.

    ``fp = sum p (1 - g) = sum p - tp`` and ``fn = sum (1 - p) g = sum g - tp`` over the non-ignored positions.
    The mask ``(N, 1)`` (``(1, 1)``) is false where nothing is left to measure (everything ignored). With
    ``batch`` and ``distributed`` the sums are all-reduced over the processes (differentiably).
    """
    tp, p_sum, g_sum, count = _class_sums(p, target, kind, ignore_index)
    if batch:
        tp, p_sum, g_sum, count = _batch_sums(tp, p_sum, g_sum, count, distributed)
    return tp, p_sum - tp, g_sum - tp, (count > 0).unsqueeze(-1)


def keep_classes(include_background: bool, c: int, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Drop channel 0 (dim 1) unless ``include_background``; a single channel is rejected (it is the foreground)."""
    if include_background:
        return tensors
    if c == 1:
        raise ValueError(
            "include_background: False needs at least 2 channels; a single channel (binary sigmoid output) "
            "is the foreground already"
        )
    return tuple(t[:, 1:] for t in tensors)
