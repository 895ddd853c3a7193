"""Shared pieces of the regional losses: checks, class sums and per-class weights."""

from __future__ import annotations

import math

import torch

from .._checks import (
    check_floating,
    check_ignore_index,
    check_in_range,
    check_min_ndim,
    check_tensor,
    finite_extremes,
    validation_enabled,
)
from .._kernels import use_fast_path
from .._numerics import upcast
from .._reduction import _check_broadcast
from .._targets import DENSE, INDEX, check_class_target, safe_indices
from ..distributed import all_reduce_sum

# ---------------------------------------------------------------------------------------------------------------
# shared pieces of the regional losses


def _simplex_tolerance(dtype: torch.dtype, num_classes: int) -> float:
    return max(1e-4, 8.0 * num_classes * torch.finfo(dtype).eps)


def _check_probs(probs: torch.Tensor, name: str, *, simplex: bool, loss: str) -> None:
    """Value checks: probabilities in [0, 1]; summing to 1 over dim 1 when softmax outputs are expected.

    One ``aminmax`` pass covers the range and finiteness (NaN propagates into it), and one sum over dim 1 the
    simplex: the checks cost about two reads of ``probs`` and one host sync.
    """
    if probs.numel() == 0 or not validation_enabled(probs):
        return
    x = probs.detach()
    c = probs.shape[1]
    sums = x.sum(1) if simplex and c > 1 else None
    lo, hi, *sum_range = finite_extremes(x, name, loss, () if sums is None else tuple(torch.aminmax(sums)))
    if not (lo >= 0.0 and hi <= 1.0):
        raise ValueError(
            f"{name}: expected values in [0, 1], got values in [{lo:.4g}, {hi:.4g}]; {loss} expects probabilities "
            f"(apply softmax or sigmoid to the logits)"
        )
    if c == 1:
        if x.numel() > 1 and lo == 1.0:
            raise ValueError(
                f"{name}: a single channel equal to 1 everywhere looks like softmax over one channel (always 1); "
                f"for binary segmentation apply sigmoid to the logits (or use 2 channels with softmax)"
            )
    elif simplex:
        smin, smax = sum_range
        if max(1.0 - smin, smax - 1.0) > _simplex_tolerance(probs.dtype, c):
            raise ValueError(
                f"{name}: expected probabilities summing to 1 over the {c} classes of dim 1 (softmax outputs), got "
                f"sums in [{smin:.4g}, {smax:.4g}]; apply softmax over dim 1 "
                f"(sigmoid outputs of overlapping classes need one-hot/soft targets of shape {tuple(probs.shape)})"
            )


def _prepare(
    probs: torch.Tensor, target: torch.Tensor, ignore_index: int | None, loss: str
) -> tuple[torch.Tensor, torch.Tensor, str]:
    check_floating(probs, "probs")
    check_tensor(target, "target")
    check_min_ndim(probs, 3, "probs", "(N, C, *spatial)")
    c = probs.shape[1]
    if c == 0:
        raise ValueError(f"probs: expected at least one class on dim 1, got shape {tuple(probs.shape)}")
    check_ignore_index(ignore_index, c)
    kind = check_class_target(probs, target, ignore_index=ignore_index, input_name="probs")
    if kind == INDEX and c == 1:
        raise ValueError(
            f"target: class indices with a single-channel probs {tuple(probs.shape)} are ambiguous; for binary "
            f"segmentation pass sigmoid probabilities with a float 0/1 target of shape {tuple(probs.shape)}, "
            f"or use 2 channels with softmax"
        )
    _check_probs(probs, "probs", simplex=kind == INDEX, loss=loss)
    (p,) = upcast(probs)
    return p, target, kind


def _class_sums(
    p: torch.Tensor, target: torch.Tensor, kind: str, ignore_index: int | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample, per-class sums ``(tp, p_sum, g_sum)`` of shape ``(N, C)``, and the valid count ``(N,)``.

    ``tp = sum p*g``, ``p_sum = sum p``, ``g_sum = sum g`` over the non-ignored positions. Index targets are
    handled one-hot free: ``tp`` scatters the gathered probability of the true class into its class slot.
    """
    n, c = p.shape[:2]
    length = math.prod(p.shape[2:])
    flat = p.reshape(n, c, length)
    if kind == DENSE:
        g = target.to(p.dtype).reshape(n, c, length)
        count = torch.full((n,), float(flat.shape[-1]), dtype=p.dtype, device=p.device)
        return (flat * g).sum(-1), flat.sum(-1), g.sum(-1), count
    t = target.reshape(n, 1, length)
    idx = safe_indices(t, ignore_index).long()
    picked = flat.gather(1, idx)  # probability of the true class, (N, 1, L)
    if ignore_index is None:
        ones = torch.ones_like(picked)
        p_sum = flat.sum(-1)
    else:
        ones = (t != ignore_index).to(p.dtype)
        picked = picked * ones
        p_sum = (flat * ones).sum(-1)
    if use_fast_path(p):
        # CPU: scatter the gathered values into their class slots (no (N, C, L) one-hot; deterministic on CPU)
        zeros = torch.zeros((n, c), dtype=p.dtype, device=p.device)
        tp = zeros.scatter_add(1, idx.squeeze(1), picked.squeeze(1))
        g_sum = zeros.scatter_add(1, idx.squeeze(1), ones.squeeze(1))
    else:
        # elsewhere compare-and-reduce: a floating scatter_add is atomic (nondeterministic) on CUDA and raises under
        # torch.use_deterministic_algorithms(True); one fused comparison and two sums are not
        g = (idx == torch.arange(c, device=p.device).reshape(1, c, 1)).to(p.dtype) * ones
        tp, g_sum = (flat * g).sum(-1), g.sum(-1)
    return tp, p_sum, g_sum, ones.sum((1, 2))


def _batch_sums(
    tp: torch.Tensor, p_sum: torch.Tensor, g_sum: torch.Tensor, count: torch.Tensor, distributed: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sums over the batch (and, with ``distributed``, over every process) of the class statistics."""
    tp, p_sum = tp.sum(0, keepdim=True), p_sum.sum(0, keepdim=True)
    g_sum, count = g_sum.sum(0, keepdim=True), count.sum(0, keepdim=True)
    tp = all_reduce_sum(tp, enabled=distributed, differentiable=True)
    p_sum = all_reduce_sum(p_sum, enabled=distributed, differentiable=True)
    g_sum = all_reduce_sum(g_sum, enabled=distributed)
    count = all_reduce_sum(count, enabled=distributed)
    return tp, p_sum, g_sum, count


def _with_class_weight(
    sample_weight: torch.Tensor | None, class_weight: torch.Tensor | None, loss: torch.Tensor
) -> torch.Tensor | None:
    """``sample_weight`` times the per-class weights ``(C,)`` over the last (class) dim of a per-class loss."""
    if class_weight is None:
        return sample_weight
    check_tensor(class_weight, "class_weight")
    c = loss.shape[-1] if loss.ndim else 0
    if class_weight.ndim != 1 or class_weight.shape[0] != c:
        raise ValueError(
            f"class_weight: expected shape ({c},), one weight per class kept in the loss (C, or C-1 with "
            f"include_background=False), got {tuple(class_weight.shape)}"
        )
    if not class_weight.is_floating_point():
        raise TypeError(f"class_weight: expected a floating-point tensor, got dtype {class_weight.dtype}")
    check_in_range(class_weight.detach(), "class_weight", 0.0, math.inf, "weights must be non-negative")
    if sample_weight is not None:
        _check_broadcast(sample_weight, loss, "sample_weight")
        return sample_weight * class_weight.to(loss.dtype)
    return class_weight.to(loss.dtype)


def _drop_background(include_background: bool, c: int, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    if include_background:
        return tensors
    if c == 1:
        raise ValueError(
            "include_background: False needs at least 2 channels; a single channel (binary sigmoid output) "
            "is the foreground already"
        )
    return tuple(t[:, 1:] for t in tensors)
