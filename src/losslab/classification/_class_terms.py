"""Per-class loss terms taken in expectation over the target, shared by the noisy-label and imbalance losses.

Most robust classification losses are a function :math:`f(p_c)` of the probability of one class, evaluated at the
labelled class: :math:`\\ell = f(p_y)`. With dense (soft) targets the natural extension is the expectation over
the target distribution, :math:`\\ell = \\sum_c y_c f(p_c)` (as cross-entropy is), and per-class weights
:math:`w_c` enter the same way as in :func:`losslab.softmax_cross_entropy`: :math:`\\ell = \\sum_c w_c y_c f(p_c)`,
with ``"mean"`` dividing by the summed weights of the targets :math:`\\sum_i \\sum_c w_c y_{ic}` (torch's
convention; for index targets :math:`\\sum_i w_{y_i}`). :class:`ClassTarget` does that bookkeeping once.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .._checks import check_finite, check_floating, check_ignore_index, check_in_range, check_tensor
from .._numerics import upcast
from .._targets import INDEX, check_class_target, one_hot, safe_indices, smooth_categorical, valid_mask
from ._common import _check_class_weight, _check_two_classes, _class_view


class ClassTarget:
    """Checked class targets of a ``(N, C, *)`` score tensor, in the scores' compute dtype.

    Attributes:
        kind: ``"index"`` or ``"dense"``.
        index: Index targets with ignored positions replaced by class 0, ``(N, *)`` int64 (``None`` for dense).
        dense: Dense targets ``(N, C, *)`` in the compute dtype (``None`` for index targets).
        class_weight: Per-class weights ``(C,)`` in the compute dtype, or ``None``.
        mask: ``False`` at ignored positions ``(N, *)``, or ``None``.
    """

    def __init__(
        self,
        scores: torch.Tensor,
        target: torch.Tensor,
        *,
        class_weight: torch.Tensor | None,
        ignore_index: int | None,
        loss: str,
        input_name: str = "logits",
        label_smoothing: float = 0.0,
    ) -> None:
        check_floating(scores, input_name)
        check_finite(scores, input_name)
        ignore_index = check_ignore_index(ignore_index)
        self.kind = check_class_target(scores, target, ignore_index=ignore_index, input_name=input_name)
        _check_two_classes(scores, input_name, loss)
        class_weight = _check_class_weight(class_weight, scores.shape[1])
        dtype = upcast(scores)[0].dtype
        self.ndim = scores.ndim
        self.class_weight = None if class_weight is None else class_weight.to(dtype)
        self.index: torch.Tensor | None = None
        self.dense: torch.Tensor | None = None
        self.mask: torch.Tensor | None = None
        if self.kind == INDEX:
            self.index = safe_indices(target, ignore_index).long()
            self.mask = valid_mask(target, ignore_index)
        else:
            self.dense = target.to(dtype)
        # The mean's denominator uses the target's own class weight, before smoothing (torch's convention).
        self._target_weight = self._weight_of_target()
        if label_smoothing > 0.0:
            if self.index is not None:
                self.dense = one_hot(target, scores.shape[1], dtype, ignore_index)
                self.index = None
            assert self.dense is not None
            self.dense = smooth_categorical(self.dense, label_smoothing)

    def gather(self, per_class: torch.Tensor) -> torch.Tensor:
        """The labelled class's entry ``(N, *)`` of a per-class tensor ``(N, C, *)`` (index targets only)."""
        assert self.index is not None
        return per_class.gather(1, self.index.unsqueeze(1)).squeeze(1)

    def expect(self, f: Callable[..., torch.Tensor], *per_class: torch.Tensor) -> torch.Tensor:
        r""":math:`\sum_c w_c y_c f(\cdot_c)` per position ``(N, *)``.

        ``f`` maps per-class tensors element-wise; for index targets it is evaluated on the labelled class only
        (one value per position), for dense targets on every class and summed against the weighted target.
        """
        if self.index is not None:
            term = f(*(self.gather(t) for t in per_class))
            return term if self.class_weight is None else term * self.class_weight[self.index]
        assert self.dense is not None
        wy = self.dense if self.class_weight is None else self.dense * _class_view(self.class_weight, self.ndim)
        return (wy * f(*per_class)).sum(1)

    def target_weight(self) -> torch.Tensor | None:
        r"""The class weight of each position's target :math:`\sum_c w_c y_c` ``(N, *)`` (``None`` unweighted;
        the unsmoothed target's)."""
        return self._target_weight

    def _weight_of_target(self) -> torch.Tensor | None:
        if self.class_weight is None:
            return None
        if self.index is not None:
            return self.class_weight[self.index]
        assert self.dense is not None
        return (self.dense * _class_view(self.class_weight, self.ndim)).sum(1)


def out_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype a loss returns: its input's, or float32 under ``torch.autocast`` (as ``F.cross_entropy`` does)."""
    if x.device.type in ("cpu", "cuda") and torch.is_autocast_enabled(x.device.type):
        return torch.float32
    return x.dtype


def one_minus(log_p: torch.Tensor) -> torch.Tensor:
    """:math:`1 - p` from :math:`\\log p` without cancellation: ``-expm1(log p)``."""
    return -torch.expm1(log_p)


def check_class_vector(x: torch.Tensor, name: str, num_classes: int | None, *, positive: bool) -> torch.Tensor:
    """A per-class vector ``(C,)`` (``C = num_classes`` when given): real, finite, ``> 0`` (``positive``) or
    ``>= 0``."""
    check_tensor(x, name)
    if x.is_complex() or x.dtype == torch.bool:
        raise TypeError(f"{name}: expected a real tensor, got dtype {x.dtype}")
    if x.ndim != 1 or (num_classes is not None and x.shape[0] != num_classes):
        expected = "(C,)" if num_classes is None else f"({num_classes},), one value per class"
        raise ValueError(f"{name}: expected shape {expected}, got {tuple(x.shape)}")
    check_in_range(x.detach(), name, 0.0, math.inf, low_inclusive=not positive)
    return x
