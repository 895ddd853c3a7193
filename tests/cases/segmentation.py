"""Contract-test cases for the entries of ``src/losslab/registry/segmentation.py``."""

from __future__ import annotations

import torch

from . import Case, add, probs_index, rand, randn


def _softmax_dist(classes: int = 2, spatial: tuple[int, ...] = (5, 5), **kwargs):
    """Softmax probabilities and signed-distance-like maps (real values) of the same shape."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        probs = torch.softmax(randn((n, classes, *spatial), torch.float64, g, 1.5), dim=1).to(dtype)
        return (probs, randn((n, classes, *spatial), dtype, g, 3.0)), dict(kwargs)

    return sample


def _mask_image(spatial: tuple[int, int] = (6, 6)):
    """Sigmoid mask probabilities ``(n, 1, H, W)`` and RGB images ``(n, 3, H, W)`` in [0, 1]."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        return (rand((n, 1, *spatial), dtype, g, 0.05, 0.95), rand((n, 3, *spatial), dtype, g)), {}

    return sample


def _pair(spatial: tuple[int, ...] = (5, 5), channels: int = 2, **kwargs):
    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        shape = (n, channels, *spatial)
        return (randn(shape, dtype, g), randn(shape, dtype, g)), dict(kwargs)

    return sample


add(Case("dice_loss", sample=probs_index(classes=3, spatial=(5, 5), scale=1.5)))
add(Case("generalized_dice_loss", sample=probs_index(classes=4, spatial=(5, 5), scale=1.5)))
add(Case("boundary_loss", sample=_softmax_dist()))
add(Case("image_gradient_loss", sample=_mask_image()))
add(Case("gradient_difference_loss", sample=_pair()))
