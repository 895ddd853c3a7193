"""Contract-test cases for the entries of ``src/losslab/registry/perceptual.py``.

The feature-map losses get one feature tensor ``(n, C, H, W)`` per side (a single layer); ``perceptual_loss`` gets
small RGB images in (0.05, 0.95) and a tiny fixed two-layer convolutional extractor (a plain function, so it
follows the input's dtype; VGG-16 would need weights on disk and is tested in ``tests/test_perceptual.py``).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from . import Case, add, rand, randn


def _tiny_weights() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1234)
    w1 = torch.randn(4, 3, 3, 3, generator=g, dtype=torch.float64) * 0.5
    b1 = torch.randn(4, generator=g, dtype=torch.float64) * 0.1
    w2 = torch.randn(5, 4, 3, 3, generator=g, dtype=torch.float64) * 0.3
    b2 = torch.randn(5, generator=g, dtype=torch.float64) * 0.1
    return w1, b1, w2, b2


_TINY = _tiny_weights()


def tiny_extractor(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """A fixed 2-layer conv feature extractor ``{"a": (n, 4, H, W), "b": (n, 5, H/2, W/2)}`` in ``x``'s dtype.

    softplus keeps it smooth (gradcheck); the second layer is strided so the two layers differ in size.
    """
    w1, b1, w2, b2 = (t.to(x.dtype) for t in _TINY)
    a = F.softplus(F.conv2d(x, w1, b1, padding=1))
    b = F.softplus(F.conv2d(a, w2, b2, padding=1, stride=2))
    return {"a": a, "b": b}


def _features(channels: int = 3, size: int = 4, **kwargs):
    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        return (randn((n, channels, size, size), dtype, g), randn((n, channels, size, size), dtype, g)), dict(kwargs)

    return sample


def _images(**kwargs):
    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        return (rand((n, 3, 6, 6), dtype, g, 0.05, 0.95), rand((n, 3, 6, 6), dtype, g, 0.05, 0.95)), dict(kwargs)

    return sample


def _single_image(**kwargs):
    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        return (randn((n, 2, 5, 4), dtype, g),), dict(kwargs)

    return sample


add(Case("feature_reconstruction_loss", sample=_features()))
add(Case("style_loss", sample=_features()))
add(Case("total_variation_loss", sample=_single_image()))
add(
    Case(
        "perceptual_loss",
        sample=_images(
            extractor=tiny_extractor,
            content_layers=("a", "b"),
            style_layers=("b",),
            content_weight=1.0,
            style_weight=0.5,
            tv_weight=0.1,
            input_range=(0, 1),
        ),
    )
)
