"""Contract-test cases for the entries of ``src/losslab/registry/boxes.py``."""

from __future__ import annotations

import torch

from . import Case, add, rand, randint, randn


def box_pairs(same_aspect: bool = False, **kwargs):
    """Valid, non-degenerate ``(n, 4)`` xyxy box pairs: about half overlap, the rest lie apart.

    Corners and sizes are drawn on a continuous range, so no two coordinates tie (max/min and the overlap's
    relu are differentiable at the sampled points, as gradcheck needs). ``same_aspect`` gives each target the
    aspect ratio of its box: CIoU's alpha is a constant in backward (as in the paper and torchvision), so its
    gradient is the true gradient of the value only where the aspect term v is 0 (tests/test_boxes.py checks the
    general case against torchvision's gradients and a fixed-alpha gradcheck).
    """

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        xy = rand((n, 2), torch.float64, g, 0.0, 4.0)
        wh = rand((n, 2), torch.float64, g, 0.5, 3.0)
        shift = rand((n, 2), torch.float64, g, -3.0, 3.0)
        twh = rand((n, 2), torch.float64, g, 0.5, 3.0)
        if same_aspect:
            twh = wh * twh[:, :1] / 1.5
        boxes = torch.cat((xy, xy + wh), dim=-1)
        target = torch.cat((xy + shift, xy + shift + twh), dim=-1)
        return (boxes.to(dtype), target.to(dtype)), dict(kwargs)

    return sample


# The IoU-balanced samplers give every anchor the same IoU (0.7). The balanced weights IoU^eta * S are constants
# in backward (the paper's and the author's code), so the gradient is the gradient of the value only where they
# are equal: with one IoU the contract tests' gradcheck sees an exact gradient. tests/test_boxes.py covers
# varied IoUs (the renormalization, the weights in backward, no gradient into ious).
_IOU = 0.7


def _iou_balanced_cls(n: int, dtype: torch.dtype, g: torch.Generator, classes: int = 3, **kwargs):
    logits = randn((n, classes), dtype, g, 2.0)
    target = torch.zeros(n, classes, dtype=torch.float64)
    labels = randint((n,), classes + 1, g)  # classes == background
    rows = torch.arange(n)[labels < classes]
    target[rows, labels[labels < classes]] = 1.0
    ious = torch.full((n,), _IOU, dtype=dtype)
    return (logits, target.to(dtype), ious), dict(kwargs)


def iou_balanced_focal_sample(**kwargs):
    return lambda n, dtype, g: _iou_balanced_cls(n, dtype, g, **kwargs)


def iou_balanced_ce_sample(classes: int = 4, **kwargs):
    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        logits = randn((n, classes), dtype, g, 2.0)
        target = randint((n,), classes, g)
        ious = torch.full((n,), _IOU, dtype=dtype)
        return (logits, target, ious), dict(kwargs)

    return sample


def iou_balanced_loc_sample(**kwargs):
    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        pred = randn((n, 4), dtype, g, 0.5)
        target = randn((n, 4), dtype, g, 0.5)
        ious = rand((n,), dtype, g, 0.2, 1.0)  # weights depend on ious only: exact
        return (pred, target, ious), dict(kwargs)

    return sample


add(Case("iou_loss", sample=box_pairs(), grad_args=(0, 1)))
add(Case("generalized_box_iou_loss", sample=box_pairs(), grad_args=(0, 1)))
add(Case("distance_box_iou_loss", sample=box_pairs(), grad_args=(0, 1)))
add(Case("complete_box_iou_loss", sample=box_pairs(same_aspect=True), grad_args=(0, 1)))
add(Case("iou_balanced_sigmoid_focal_loss", sample=iou_balanced_focal_sample()))
add(Case("iou_balanced_softmax_cross_entropy", sample=iou_balanced_ce_sample()))
add(Case("iou_balanced_smooth_l1_loss", sample=iou_balanced_loc_sample()))
