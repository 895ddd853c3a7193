"""Kervadec et al.'s boundary loss and the regional/boundary rebalancing module."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from .._checks import (
    check_floating,
    check_min_ndim,
    check_same_shape,
    check_scalar,
    finite_extremes,
    validation_enabled,
)
from .._compat import renamed_arguments
from .._module import LossModule
from .._numerics import upcast
from .._reduction import reduce_loss
from ._common import _check_probs

# ---------------------------------------------------------------------------------------------------------------
# boundary loss


def _check_classes(classes: Sequence[int] | None, c: int) -> list[int]:
    if classes is None:
        return list(range(1, c)) if c > 1 else [0]
    if isinstance(classes, int) or not all(isinstance(k, int) and not isinstance(k, bool) for k in classes):
        raise TypeError(f"classes: expected a sequence of class indices, got {classes!r}")
    out = list(classes)
    if not out or len(set(out)) != len(out) or min(out) < 0 or max(out) >= c:
        raise ValueError(f"classes: expected distinct class indices in [0, {c - 1}], got {out}")
    return out


@renamed_arguments(weight="sample_weight")
def boundary_loss(
    probs: torch.Tensor,
    dist_map: torch.Tensor,
    *,
    classes: Sequence[int] | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Boundary (surface) loss of Kervadec et al.: probabilities integrated against a signed distance map.

    A distance on the space of contours written as a regional integral, so it uses the whole image and stays
    well-defined when the foreground is tiny [Kervadec2019]_. With :math:`\phi_c` the signed distance map of
    class :math:`c` (negative inside, positive outside, from :func:`losslab.signed_distance_map`):

    .. math::
        \ell = \frac{1}{|K|\,N\,|\Omega|}\sum_{n}\sum_{c \in K}\sum_{x \in \Omega} \phi_c(x)\, p_c(x)

    Args:
        probs: Class probabilities ``(N, C, *spatial)``: softmax outputs (summing to 1 over dim 1) when
            ``C > 1``, or one sigmoid channel.
        dist_map: Signed distance maps of the target, same shape as ``probs``, floating dtype.
        classes: Class indices :math:`K` to include; default the foreground ``1..C-1`` (``[0]`` when ``C = 1``),
            the authors' ``idc=[1]`` for binary problems.
        sample_weight: Optional per-element weights broadcastable to the unreduced loss ``(N, |K|, *spatial)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        For ``"none"``: ``(N, |K|, *spatial)`` values :math:`\phi\,p`; otherwise a scalar.

    Raises:
        ValueError: shapes differ; probabilities outside [0, 1] or not summing to 1 over dim 1 (``C > 1``);
            a distance map that looks like a 0/1 mask (the target passed instead of its distance map);
            non-finite maps; bad ``classes``.
        TypeError: non-floating tensors.

    Note:
        The minimum is negative by design: a perfect prediction puts all its mass where :math:`\phi \le 0`, so
        it scores :math:`-\text{mean}(\max(-\phi, 0))`, not 0. The value is therefore a training signal, not a
        distance to report. Alone it can collapse to an empty prediction (whose value is 0 when all the
        selected classes' maps are 0 there), which is why it is mixed with a regional loss
        (:class:`RebalancedLoss`). The mean runs over every selected element, like the authors' ``SurfaceLoss``.

    Example:
        >>> import torch
        >>> from losslab import signed_distance_map
        >>> labels = torch.tensor([[[0, 1, 1, 1, 0]]])
        >>> dist = signed_distance_map(labels, num_classes=2, backend="scipy")
        >>> dist[0, 1]
        tensor([[ 1.,  0., -1.,  0.,  1.]])
        >>> fg = torch.tensor([[[0.1, 0.6, 0.9, 0.7, 0.2]]])
        >>> boundary_loss(torch.stack([1 - fg, fg], 1), dist)
        tensor(-0.1200)
        >>> perfect = torch.nn.functional.one_hot(labels, 2).movedim(-1, 1).float()
        >>> boundary_loss(perfect, dist)  # the minimum is negative
        tensor(-0.2000)

    References:
        .. [Kervadec2019] H. Kervadec, J. Bouchtiba, C. Desrosiers, E. Granger, J. Dolz, I. Ben Ayed.
           "Boundary loss for highly unbalanced segmentation." MIDL 2019 / MedIA 2021.
           https://arxiv.org/abs/1812.07032
    """
    check_floating(probs, "probs")
    check_floating(dist_map, "dist_map")
    check_min_ndim(probs, 3, "probs", "(N, C, *spatial)")
    check_same_shape(probs, dist_map, "probs", "dist_map")
    if probs.shape[1] == 0:
        raise ValueError(f"probs: expected at least one class on dim 1, got shape {tuple(probs.shape)}")
    idc = _check_classes(classes, probs.shape[1])
    _check_probs(probs, "probs", simplex=True, loss="boundary_loss")
    if dist_map.numel() and validation_enabled(dist_map):
        # one read: finiteness, and whether the map is a 0/1 mask (the one-hot target passed by mistake)
        dm = dist_map.detach()
        looks_like_mask = ((dm == 0) | (dm == 1)).all() & (dm == 1).any()
        if finite_extremes(dm, "dist_map", "boundary_loss", (looks_like_mask,))[2]:
            raise ValueError(
                "dist_map: expected signed distance maps, got a 0/1 mask; pass signed_distance_map(target) rather "
                "than the one-hot target"
            )
    p, d = upcast(probs, dist_map)
    if idc != list(range(idc[0], idc[0] + len(idc))):
        index = torch.tensor(idc, device=p.device)
        p, d = p.index_select(1, index), d.index_select(1, index)
    else:
        p, d = p[:, idc[0] : idc[0] + len(idc)], d[:, idc[0] : idc[0] + len(idc)]
    return reduce_loss(p * d.to(p.dtype), reduction, sample_weight, dtype=probs.dtype)


def _check_boundary(classes: Sequence[int] | None, **_: object) -> None:
    """``classes`` without the number of channels (known at the call): distinct non-negative indices."""
    if classes is not None:
        _check_classes(classes, max(classes) + 1 if len(classes) else 1)


class BoundaryLoss(LossModule, function=boundary_loss, validate=_check_boundary):
    pass


class RebalancedLoss(nn.Module):
    r"""A regional loss and the boundary loss mixed with Kervadec et al.'s rebalancing schedule.

    .. math::
        \mathcal{L} = \alpha\,\mathcal{L}_R(p, g) + (1 - \alpha)\,\mathcal{L}_B(p, \phi)

    :math:`\alpha` starts at ``alpha`` (1: regional only) and :meth:`step` (call it once per epoch) lowers it by
    ``decrement`` down to ``min_alpha``; the paper uses 1, 0.01 and 0.01, moving the weight from the regional
    to the boundary term as training progresses. :math:`\alpha` lives in a buffer, so it is saved in the
    ``state_dict`` and restored with the model; ``forward`` never changes it.

    Args:
        regional: ``(probs, target) -> loss``, e.g. a :class:`GeneralizedDiceLoss`.
        boundary: ``(probs, dist_map) -> loss``, e.g. a :class:`BoundaryLoss`.
        alpha: Initial weight of the regional term, in [0, 1].
        decrement: Amount :meth:`step` subtracts from :math:`\alpha`, ``>= 0``.
        min_alpha: Floor of :math:`\alpha`, in [0, ``alpha``].

    Note:
        The authors' code (``scheduler.StealWeight``) moves weights ``(a, b) -> (max(0.1, a - 0.01), b + 0.01)``
        without keeping ``a + b = 1``; this class follows the paper's convex form.

    Example:
        >>> import torch
        >>> from losslab.segmentation import GeneralizedDiceLoss
        >>> loss = RebalancedLoss(GeneralizedDiceLoss(), BoundaryLoss(), decrement=0.25)
        >>> loss.step(), loss.step(), loss.step(), loss.step()
        (0.75, 0.5, 0.25, 0.01)
        >>> loss.state_dict()["alpha"]
        tensor(0.0100, dtype=torch.float64)

    References:
        H. Kervadec et al. "Boundary loss for highly unbalanced segmentation." MIDL 2019, section 3.
        https://arxiv.org/abs/1812.07032
    """

    alpha: torch.Tensor

    def __init__(
        self,
        regional: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        boundary: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        *,
        alpha: float = 1.0,
        decrement: float = 0.01,
        min_alpha: float = 0.01,
    ) -> None:
        super().__init__()
        if not callable(regional) or not callable(boundary):
            raise TypeError("regional, boundary: expected callables (loss modules or functions)")
        alpha = check_scalar(alpha, "alpha", low=0.0, high=1.0)
        self.decrement = check_scalar(decrement, "decrement", low=0.0)
        self.min_alpha = check_scalar(min_alpha, "min_alpha", low=0.0, high=alpha)
        self.regional = regional
        self.boundary = boundary
        self.register_buffer("alpha", torch.tensor(alpha, dtype=torch.float64))

    def step(self) -> float:
        """Advance the schedule by one epoch; returns the new :math:`\\alpha`."""
        new = max(self.min_alpha, float(self.alpha) - self.decrement)
        self.alpha.fill_(round(new, 12))
        return float(self.alpha)

    def forward(self, probs: torch.Tensor, target: torch.Tensor, dist_map: torch.Tensor) -> torch.Tensor:
        a = float(self.alpha)
        regional = self.regional(probs, target)
        if a == 1.0:
            return regional
        return a * regional + (1.0 - a) * self.boundary(probs, dist_map)

    def extra_repr(self) -> str:
        return f"alpha={float(self.alpha):g}, decrement={self.decrement:g}, min_alpha={self.min_alpha:g}"
