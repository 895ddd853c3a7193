"""Lovász-softmax and Lovász hinge losses (Berman et al. 2018): convex surrogates of the Jaccard loss."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .._checks import (
    check_choice,
    check_finite,
    check_floating,
    check_ignore_index,
    check_min_ndim,
    check_tensor,
    check_values_in,
)
from .._compat import renamed_arguments
from .._module import LossModule
from .._numerics import upcast
from .._reduction import reduce_loss
from .._targets import DENSE, check_class_target, safe_indices
from ._helpers import check_channel_target, out_dtype

CLASSES = ("present", "all")


def lovasz_extension(errors: torch.Tensor, fg: torch.Tensor) -> torch.Tensor:
    r"""Lovász extension of the Jaccard loss along the last dim: ``sum_i e_(i) (J(i) - J(i-1))``.

    ``errors`` and the 0/1 foreground ``fg`` have shape ``(..., L)``; with the errors sorted in decreasing order,
    :math:`J(i)` is the Jaccard loss :math:`1 - |G \setminus S_i| / |G \cup S_i|` of the set :math:`S_i` of the
    ``i`` largest errors against the foreground :math:`G` [Berman2018]_. Positions with ``fg = 0`` and error 0
    (ignored pixels) change nothing: they sort last among non-negative errors and weigh only zero errors.
    """
    errors_sorted, order = torch.sort(errors, dim=-1, descending=True)
    return lovasz_extension_sorted(errors_sorted, fg.gather(-1, order))


def lovasz_extension_sorted(errors_sorted: torch.Tensor, fg_sorted: torch.Tensor) -> torch.Tensor:
    """:func:`lovasz_extension` for errors already in the decreasing order of the sort key."""
    gts = fg_sorted.sum(-1, keepdim=True)
    intersection = gts - fg_sorted.cumsum(-1)
    union = gts + (1.0 - fg_sorted).cumsum(-1)  # >= 1 at every prefix
    jaccard = 1.0 - intersection / union
    grad = torch.cat([jaccard[..., :1], jaccard[..., 1:] - jaccard[..., :-1]], dim=-1)
    return (errors_sorted * grad).sum(-1)


@renamed_arguments(weight="sample_weight")
def lovasz_softmax_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    classes: str | Sequence[int] = "present",
    per_image: bool = False,
    ignore_index: int | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Lovász-softmax loss: a tight convex surrogate of the per-class Jaccard (IoU) loss, for segmentation.

    The Jaccard loss of a class is a submodular set function of the mispredicted pixels; its Lovász extension
    evaluated at the errors :math:`m_i(c) = |g_i(c) - p_i(c)|` of :math:`p = \operatorname{softmax}(x)` is a
    piecewise-linear surrogate that optimizes the IoU directly [Berman2018]_. With the errors sorted in
    decreasing order :math:`m_{\pi_1} \ge m_{\pi_2} \ge \dots`:

    .. math::
        \overline{\Delta_{J_c}}(m) = \sum_i m_{\pi_i}(c)\,\big(\Delta_{J_c}(\{\pi_1..\pi_i\})
            - \Delta_{J_c}(\{\pi_1..\pi_{i-1}\})\big), \qquad
        \ell = \frac{1}{|\mathcal C|}\sum_{c \in \mathcal C} \overline{\Delta_{J_c}}(m(c))

    Args:
        logits: Class scores ``(N, C, *spatial)`` with ``C >= 2`` (any number of spatial dims).
        target: Class indices ``(N, *spatial)`` (integer dtype); indices of shape ``(N, 1, *spatial)`` are
            rejected with a hint to squeeze the channel.
        classes: ``"present"`` (default, the authors'): average over the classes present in the target (of the
            image, or of the batch); ``"all"``: over all ``C`` classes (an absent class contributes its largest
            probability); or a sequence of class indices: over those classes, present or not (as the authors'
            code).
        per_image: ``False`` (default, the authors'): one loss over all pixels of the batch, as for the IoU of a
            dataset; ``True``: one loss per image, then the mean over the images.
        ignore_index: Label of pixels to leave out; must lie outside ``[0, C)``. An image (or batch) with no
            pixel left, or with no class present, gives 0 and is left out of the mean (the authors' code counts
            it as a 0 in the mean over images).
        sample_weight: Optional weights broadcastable to the unreduced loss (``(N,)`` with ``per_image=True``).
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        For ``"none"``: ``(N,)`` per image with ``per_image=True``, a 0-dim tensor otherwise; else a scalar.

    Raises:
        ValueError: a single channel, a dense target, target shape or class indices out of range, an unknown
            ``classes``, ``ignore_index`` in ``[0, C)``.
        TypeError: non-floating ``logits`` or floating ``target``.

    Note:
        kornia's ``lovasz_softmax_loss`` is ``per_image=True, classes="all"`` on 2D inputs, without
        ``ignore_index``. Sorting costs :math:`O(C\,L \log L)` per image; the sort itself is not
        differentiated (the loss is piecewise linear in the errors).

    Example:
        >>> import torch
        >>> logits = torch.tensor([[[[2.0, -1.0], [-2.0, 0.0]], [[0.0, 1.0], [1.0, 1.0]]]])
        >>> target = torch.tensor([[[0, 1], [1, 1]]])
        >>> lovasz_softmax_loss(logits, target)
        tensor(0.1726)

    References:
        .. [Berman2018] M. Berman, A. Rannen Triki, M. B. Blaschko. "The Lovász-Softmax loss: A tractable
           surrogate for the optimization of the intersection-over-union measure in neural networks."
           CVPR 2018. https://arxiv.org/abs/1705.08790
    """
    check_floating(logits, "logits")
    check_tensor(target, "target")
    check_min_ndim(logits, 3, "logits", "(N, C, *spatial)")
    n, c = logits.shape[:2]
    if c < 2:
        raise ValueError(
            f"logits: expected C >= 2 class channels, got shape {tuple(logits.shape)}; for binary segmentation use "
            f"lovasz_hinge_loss"
        )
    listed = _check_classes(classes, c)
    check_ignore_index(ignore_index, c)
    check_channel_target(logits, target)
    if check_class_target(logits, target, ignore_index=ignore_index, input_name="logits") == DENSE:
        raise ValueError(
            f"target: expected class indices of shape {tuple(logits.shape[:1] + logits.shape[2:])} (the Jaccard "
            f"loss needs hard labels), got a dense target of shape {tuple(target.shape)}; use target.argmax(1)"
        )
    check_finite(logits, "logits", "lovasz_softmax_loss")
    (x,) = upcast(logits)
    p = torch.softmax(x, dim=1).flatten(2)
    t = target.reshape(n, 1, p.shape[-1])
    fg = torch.zeros_like(p).scatter_(1, safe_indices(t, ignore_index).long(), 1.0)
    valid = torch.ones_like(t, dtype=torch.bool) if ignore_index is None else t != ignore_index
    if ignore_index is None:
        errors = (fg - p).abs()
    else:  # an ignored pixel: no foreground and error 0, which is the same as leaving it out
        fg = fg * valid
        errors = torch.where(valid, (fg - p).abs(), torch.zeros_like(p))
    if not per_image:  # one set of pixels: the whole batch
        fg, errors, valid = (a.transpose(0, 1).reshape(1, a.shape[1], -1) for a in (fg, errors, valid))
    per_class = lovasz_extension(errors, fg)  # (N, C) or (1, C)
    if classes == "present":
        chosen = fg.sum(-1) > 0
    else:
        chosen = valid.any(-1).expand_as(per_class)
        if listed is not None:
            chosen = chosen & torch.isin(torch.arange(c, device=chosen.device), listed.to(chosen.device))
    k = chosen.sum(-1)
    loss = torch.where(chosen, per_class, torch.zeros_like(per_class)).sum(-1) / k.clamp_min(1)
    mask = k > 0
    if not per_image:
        loss, mask = loss.squeeze(0), mask.squeeze(0)
    return reduce_loss(loss, reduction, sample_weight, mask=mask, dtype=out_dtype(logits))


def _check_classes(classes: str | Sequence[int], num_classes: int | None = None) -> torch.Tensor | None:
    """``None`` for ``"present"``/``"all"``, else the listed class indices as a tensor."""
    if isinstance(classes, str):
        check_choice(classes, "classes", CLASSES)
        return None
    values = [k for k in classes if isinstance(k, int) and not isinstance(k, bool)] if isinstance(classes, Sequence) else []
    if not values or len(values) != len(classes):
        raise TypeError(f"classes: expected 'present', 'all' or a non-empty sequence of class indices, got {classes!r}")
    if len(set(values)) != len(values) or min(values) < 0 or (num_classes is not None and max(values) >= num_classes):
        upper = "" if num_classes is None else f" in [0, {num_classes - 1}]"
        raise ValueError(f"classes: expected distinct class indices{upper}, got {values}")
    return torch.tensor(values)


def _check_module(classes: str | Sequence[int], **_: object) -> None:
    _check_classes(classes)


class LovaszSoftmaxLoss(LossModule, function=lovasz_softmax_loss, validate=_check_module):
    pass


@renamed_arguments(weight="sample_weight")
def lovasz_hinge_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    per_image: bool = True,
    ignore_index: int | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Lovász hinge loss: convex surrogate of the binary Jaccard (IoU) loss, on logits, for binary segmentation.

    The Lovász extension of the foreground Jaccard loss [Berman2018]_ evaluated at the hinge errors
    :math:`m_i = \max(0, 1 - x_i s_i)` of the logits :math:`x` with signs :math:`s_i = 2 g_i - 1`:

    .. math::
        \ell = \sum_i m_{\pi_i}\,\big(\Delta_J(\{\pi_1..\pi_i\}) - \Delta_J(\{\pi_1..\pi_{i-1}\})\big),
        \qquad m_{\pi_1} \ge m_{\pi_2} \ge \dots

    Args:
        logits: Foreground logits ``(N, *)``, e.g. ``(N, 1, H, W)`` or ``(N, H, W)`` (2D or 3D); every
            non-batch element of an image is a pixel of the one binary mask.
        target: 0/1 labels of the same shape (bool, integer or float), or ``(N, *spatial)`` for logits
            ``(N, 1, *spatial)``.
        per_image: ``True`` (default, the authors'): one loss per image, then the mean; ``False``: one loss over
            all pixels of the batch.
        ignore_index: Label of integer targets to leave out (e.g. 255); must not be 0 or 1. An image with no
            pixel left gives 0 and is left out of the mean (the authors' code counts it as a 0).
        sample_weight: Optional weights broadcastable to the unreduced loss (``(N,)`` with ``per_image=True``).
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        For ``"none"``: ``(N,)`` with ``per_image=True``, a 0-dim tensor otherwise; else a scalar.

    Raises:
        ValueError: target shape that fits neither form; labels other than 0/1 (and ``ignore_index``);
            ``ignore_index`` of 0 or 1 or with a float target.
        TypeError: non-floating ``logits``.

    Note:
        The loss is 0 only when every logit is on the right side with margin 1, and is not bounded by 1:
        logits of :math:`\pm 1` with the right signs on a predicted mask give :math:`2(1 - \mathrm{IoU})`.
        kornia's ``lovasz_hinge_loss`` is ``per_image=True`` on ``(N, 1, H, W)`` logits and ``(N, H, W)``
        labels, without ``ignore_index``.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[[3.0, -2.0], [1.0, -1.0]]])
        >>> target = torch.tensor([[[1, 0], [1, 1]]])
        >>> lovasz_hinge_loss(logits, target)
        tensor(0.6667)
    """
    check_floating(logits, "logits")
    check_tensor(target, "target")
    check_min_ndim(logits, 1, "logits", "(N, *)")
    if target.shape != logits.shape:
        if logits.ndim >= 2 and logits.shape[1] == 1 and target.shape == logits.shape[:1] + logits.shape[2:]:
            target = target.unsqueeze(1)
        else:
            raise ValueError(
                f"target: expected the shape of logits {tuple(logits.shape)} (or without its channel dim of "
                f"size 1), got {tuple(target.shape)}"
            )
    if ignore_index is not None:
        check_ignore_index(ignore_index)
        if ignore_index in (0, 1):
            raise ValueError(f"ignore_index: {ignore_index} is a label of the binary target; use e.g. 255 or -100")
        if target.is_floating_point():
            raise ValueError("ignore_index: only applies to integer targets; got a floating target")
    allowed = (0.0, 1.0) if ignore_index is None else (0.0, 1.0, float(ignore_index))
    check_values_in(target, "target", allowed, "expected binary labels (1 = foreground)")
    check_finite(logits, "logits", "lovasz_hinge_loss")
    (x,) = upcast(logits)
    n = x.shape[0]
    x = x.reshape(n, math.prod(x.shape[1:]))
    t = target.reshape(x.shape)
    valid = torch.ones_like(t, dtype=torch.bool) if ignore_index is None else t != ignore_index
    fg = (t == 1).to(x.dtype)
    signs = 2.0 * fg - 1.0
    errors = 1.0 - x * signs
    if ignore_index is not None:  # an ignored pixel: error 0 and no foreground, the same as leaving it out
        errors = torch.where(valid, errors, torch.zeros_like(x))
    if not per_image:
        errors, fg, valid = errors.reshape(1, -1), fg.reshape(1, -1), valid.reshape(1, -1)
    # sort by the raw errors; only the positive part counts (errors <= 0 are margins already met)
    errors_sorted, order = torch.sort(errors, dim=-1, descending=True)
    loss = lovasz_extension_sorted(errors_sorted.relu(), fg.gather(-1, order))
    mask = valid.any(-1)
    if not per_image:
        loss, mask = loss.squeeze(0), mask.squeeze(0)
    return reduce_loss(loss, reduction, sample_weight, mask=mask, dtype=out_dtype(logits))


class LovaszHingeLoss(LossModule, function=lovasz_hinge_loss):
    pass
