"""Contract-test cases for the entries of ``src/losslab/registry/image_quality.py``.

SSIM gets ``(n, 2, 9, 9)`` images in [0, 1] with a 5-pixel window; MS-SSIM ``(n, 2, 11, 11)`` (odd, so the padded
pooling runs) with a 3-pixel window and three scales; both compare an image with a slightly noisy copy, so every
SSIM and contrast term is positive (the fractional powers are smooth there). LPIPS gets RGB images in (-0.9, 0.9)
and a tiny fixed two-layer tanh network (VGG-16 needs its weights on disk and is tested in tests/test_lpips.py),
built in the sample's compute dtype.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from losslab import perceptual as P
from losslab._numerics import compute_dtype

from . import Case, add, elementwise, rand, randn


def noisy_pairs(channels: int = 2, size: int = 9, noise: float = 0.05, **kwargs):
    """Images ``(n, C, size, size)`` in [0, 1] and a copy with small Gaussian noise (clipped to [0, 1])."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        x = rand((n, channels, size, size), torch.float64, g)
        y = (x + noise * randn((n, channels, size, size), torch.float64, g)).clamp(0.0, 1.0)
        return (x.to(dtype), y.to(dtype)), dict(kwargs)

    return sample


_G = torch.Generator().manual_seed(4321)


_W1 = torch.randn(4, 3, 3, 3, generator=_G, dtype=torch.float64) * 0.5


_W2 = torch.randn(5, 4, 3, 3, generator=_G, dtype=torch.float64) * 0.3


_LIN = (torch.rand(4, generator=_G, dtype=torch.float64) + 0.1, torch.rand(5, generator=_G, dtype=torch.float64) + 0.1)


def tiny_lpips_features(x: torch.Tensor) -> list[torch.Tensor]:
    """Two feature maps ``(n, 4, H, W)`` and ``(n, 5, H/2, W/2)`` of a fixed tanh conv net, in ``x``'s dtype."""
    a = torch.tanh(F.conv2d(x, _W1.to(x.dtype), padding=1))
    b = torch.tanh(F.conv2d(F.avg_pool2d(a, 2), _W2.to(x.dtype), padding=1))
    return [a, b]


def lpips_images(size: int = 8, **kwargs):
    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        network = P.LPIPSNetwork(tiny_lpips_features, [w.float() for w in _LIN]).to(compute_dtype(dtype))
        x = rand((n, 3, size, size), dtype, g, -0.9, 0.9)
        y = rand((n, 3, size, size), dtype, g, -0.9, 0.9)
        return (x, y), dict(kwargs, network=network)

    return sample


add(Case("ssim_loss", sample=noisy_pairs(data_range=1.0, win_size=5)))
add(Case("ms_ssim_loss", sample=noisy_pairs(size=11, data_range=1.0, win_size=3, weights=(0.3, 0.4, 0.3))))
add(Case("charbonnier_loss", sample=elementwise(eps=0.1)))
add(Case("lpips_distance", sample=lpips_images()))
