"""SSIM, MS-SSIM and Charbonnier: live peers (pytorch-msssim, torchmetrics, kornia), limit cases, the data-range
contract, autocast and half precision, gradients."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import losslab
from losslab import charbonnier_loss, ms_ssim_loss, ssim_loss

pytorch_msssim = pytest.importorskip("pytorch_msssim")
kornia = pytest.importorskip("kornia")
tm_image = pytest.importorskip("torchmetrics.functional.image")

D = torch.float64


def noisy(shape, scale=1.0, noise=0.1, seed=0, dtype=D):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g, dtype=D)
    y = (x + noise * torch.randn(shape, generator=g, dtype=D)).clamp(0, 1)
    return (x * scale).to(dtype), (y * scale).to(dtype)


def peer_window(win, sigma, shape):
    """pytorch-msssim's window argument ``(C, 1, ..., 1, win)``, built in float64 (its own is float32, which alone
    moves SSIM by ~1e-7)."""
    c = torch.arange(win, dtype=D) - (win - 1) / 2
    g = torch.exp(-(c**2) / (2 * sigma**2))
    nd = len(shape)
    return (g / g.sum()).reshape(*([1] * (nd - 1)), win).repeat(shape[1], *([1] * (nd - 1)))


@pytest.mark.parametrize(
    "shape,win,sigma,data_range",
    [
        ((2, 3, 23, 29), 11, 1.5, 1.0),
        ((2, 3, 23, 29), 7, 1.5, 255.0),
        ((3, 1, 17, 15), 5, 0.8, 1.0),
        ((2, 2, 13, 12, 15), 5, 1.0, 1.0),  # 3-D
        ((1, 2, 9, 11, 13), 3, 1.5, 255.0),  # 3-D, odd sizes
    ],
)
def test_ssim_equals_pytorch_msssim(shape, win, sigma, data_range):
    x, y = noisy(shape, data_range)
    ours = ssim_loss(x, y, data_range=data_range, win_size=win, win_sigma=sigma, reduction="none")
    w = peer_window(win, sigma, shape)
    peer = 1 - pytorch_msssim.ssim(x, y, data_range=data_range, win=w, size_average=False)
    torch.testing.assert_close(ours, peer, rtol=0, atol=1e-12)
    # with pytorch-msssim's own float32 window: ~1e-8
    peer32 = 1 - pytorch_msssim.ssim(x, y, data_range=data_range, win_size=win, win_sigma=sigma, size_average=False)
    torch.testing.assert_close(ours, peer32, rtol=0, atol=1e-6)


@pytest.mark.parametrize("sigma,data_range", [(1.5, 1.0), (1.0, 255.0), (0.5, 1.0)])
def test_ssim_equals_torchmetrics_on_reflection_padded_images(sigma, data_range):
    # torchmetrics 1.9 pads by reflection and averages over every pixel, window size 2 * int(3.5 sigma + 0.5) + 1:
    # our 'valid' SSIM of the reflection-padded images is the same number.
    win = 2 * int(3.5 * sigma + 0.5) + 1
    x, y = noisy((2, 3, 25, 21), data_range, seed=1)
    p = (win - 1) // 2
    xp, yp = (F.pad(v, (p, p, p, p), mode="reflect") for v in (x, y))
    ours = ssim_loss(xp, yp, data_range=data_range, win_size=win, win_sigma=sigma, reduction="none")
    peer = 1 - tm_image.structural_similarity_index_measure(x, y, sigma=sigma, data_range=data_range, reduction="none")
    torch.testing.assert_close(ours, peer, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    "shape,win,sigma,weights",
    [
        ((2, 3, 35, 41), 3, 1.5, None),  # odd sizes: pytorch-msssim's padded pooling
        ((2, 1, 67, 70), 5, 1.0, None),
        ((1, 3, 40, 33), 3, 0.8, (0.2, 0.3, 0.5)),
        ((2, 2, 34, 35, 33), 3, 1.5, None),  # 3-D
    ],
)
def test_ms_ssim_equals_pytorch_msssim(shape, win, sigma, weights):
    x, y = noisy(shape, 255.0, seed=2)
    kw = {} if weights is None else {"weights": weights}
    ours = ms_ssim_loss(x, y, data_range=255.0, win_size=win, win_sigma=sigma, reduction="none", **kw)
    peer = 1 - pytorch_msssim.ms_ssim(
        x, y, data_range=255.0, win_size=win, win=peer_window(win, sigma, shape), size_average=False,
        weights=None if weights is None else list(weights),
    )
    torch.testing.assert_close(ours, peer, rtol=0, atol=1e-12)


def test_ms_ssim_with_one_scale_is_ssim():
    x, y = noisy((2, 3, 20, 19), seed=3)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    a = ms_ssim_loss(xa, y, data_range=1.0, win_size=7, weights=(1.0,), reduction="none")
    b = ssim_loss(xb, y, data_range=1.0, win_size=7, reduction="none")
    torch.testing.assert_close(a, b, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(torch.autograd.grad(a.sum(), xa)[0], torch.autograd.grad(b.sum(), xb)[0])


def test_ssim_hand_values_and_identity():
    x, _ = noisy((2, 3, 12, 12), seed=4)
    torch.testing.assert_close(ssim_loss(x, x, data_range=1.0, win_size=5, reduction="none"), torch.zeros(2, dtype=D))
    # constant images a, b: SSIM = (2ab + C1) / (a^2 + b^2 + C1) (variances 0, contrast term 1)
    a, b = 0.2, 0.6
    c1 = (0.01 * 1.0) ** 2
    got = ssim_loss(torch.full((1, 1, 11, 11), a, dtype=D), torch.full((1, 1, 11, 11), b, dtype=D), data_range=1.0)
    assert got.item() == pytest.approx(1 - (2 * a * b + c1) / (a * a + b * b + c1), rel=1e-12)
    # perfectly anti-correlated zero-mean-shifted images: SSIM close to -1, loss close to 2
    z = x - x.mean()
    assert ssim_loss(0.5 + z, 0.5 - z, data_range=1.0, win_size=5, k1=0.0, k2=0.0).item() > 1.9


def test_data_range_is_explicit_and_validated():
    x, y = noisy((1, 1, 16, 16), seed=5)
    with pytest.raises(ValueError, match="data_range: expected the images' value range"):
        ssim_loss(x, y)
    with pytest.raises(ValueError, match="data_range: expected a value in"):
        ssim_loss(x, y, data_range=0.0)
    with pytest.raises(ValueError, match=r"data_range: expected the target's values to span at most data_range=1"):
        ssim_loss(x * 255, y * 255, data_range=1.0)
    with pytest.raises(ValueError, match="data_range"):
        losslab.SSIMLoss()
    with losslab.validation(False):
        ssim_loss(x * 255, y * 255, data_range=1.0)  # value checks off: no error (and no sync)


def test_rejected_shapes_and_windows():
    x, y = noisy((1, 1, 30, 30), seed=6)
    with pytest.raises(ValueError, match="win_size: expected an odd int"):
        ssim_loss(x, y, data_range=1.0, win_size=4)
    with pytest.raises(ValueError, match=r"pred: expected every spatial size >= win_size=11 at scale"):
        ms_ssim_loss(x, y, data_range=1.0)
    with pytest.raises(ValueError, match="pred: expected images"):
        ssim_loss(x[0], y[0], data_range=1.0)
    with pytest.raises(ValueError, match=r"weights\[1\]: expected a value in"):
        ms_ssim_loss(x, y, data_range=1.0, win_size=3, weights=(0.5, -0.5))


def test_gradients_float64_2d_and_3d_and_clipped_terms():
    x, y = noisy((1, 2, 7, 8, 9), seed=7)
    assert torch.autograd.gradcheck(lambda z: ssim_loss(z, y, data_range=1.0, win_size=3), (x.requires_grad_(),))
    x2, y2 = noisy((1, 1, 13, 12), seed=8)
    assert torch.autograd.gradcheck(
        lambda z: ms_ssim_loss(z, y2, data_range=1.0, win_size=3, weights=(0.5, 0.5)), (x2.requires_grad_(),)
    )
    # uncorrelated images: some contrast-structure terms are <= 0 and clipped; gradients stay finite
    g = torch.Generator().manual_seed(9)
    a = torch.rand(3, 3, 40, 40, generator=g, dtype=D).requires_grad_()
    b = torch.rand(3, 3, 40, 40, generator=g, dtype=D)
    loss = ms_ssim_loss(a, 1 - b, data_range=1.0, win_size=3)
    (grad,) = torch.autograd.grad(loss, a)
    assert torch.isfinite(loss) and torch.isfinite(grad).all()


@pytest.mark.parametrize("fn", [ssim_loss, ms_ssim_loss])
def test_autocast_runs_the_filter_in_float32(fn):
    x, y = noisy((2, 3, 40, 40), seed=10, dtype=torch.float32)
    kw = dict(data_range=1.0, win_size=3)
    plain = fn(x, y, **kw)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        auto = fn(x, y, **kw)
    assert auto.dtype == torch.float32
    torch.testing.assert_close(auto, plain, rtol=0, atol=0)
    # half inputs outside autocast: computed in float32, returned in their dtype
    half = fn(x.bfloat16(), y.bfloat16(), **kw)
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), fn(x.bfloat16().float(), y.bfloat16().float(), **kw), rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize("eps", [1e-3, 0.1, 1.0])
def test_charbonnier_equals_kornia_rescaled(eps):
    # kornia: sqrt(d^2 + 1) - 1 at scale 1, so sqrt(d^2 + eps^2) = eps * (kornia(d / eps) + 1)
    g = torch.Generator().manual_seed(11)
    x = torch.randn(4, 3, 5, 5, generator=g, dtype=D)
    y = torch.randn(4, 3, 5, 5, generator=g, dtype=D)
    peer = eps * (kornia.losses.charbonnier_loss(x / eps, y / eps, reduction="none") + 1)
    torch.testing.assert_close(charbonnier_loss(x, y, eps=eps, reduction="none"), peer, rtol=1e-12, atol=1e-15)


def test_charbonnier_limits_and_gradient():
    d = torch.tensor([0.0, 1e-6, 0.5, -3.0, 1e4], dtype=D, requires_grad=True)
    loss = charbonnier_loss(d, torch.zeros(5, dtype=D), reduction="none")
    torch.testing.assert_close(loss[0], torch.tensor(1e-3, dtype=D))
    torch.testing.assert_close(loss[2:], d[2:].detach().abs(), rtol=1e-5, atol=0)  # ~|d| far from 0
    (g,) = torch.autograd.grad(loss.sum(), d)
    assert g[0].item() == 0.0 and torch.isfinite(g).all()
    torch.testing.assert_close(g[3:], torch.tensor([-1.0, 1.0], dtype=D), rtol=1e-6, atol=0)
    with pytest.raises(ValueError, match="eps: expected a value in"):
        charbonnier_loss(d, d, eps=0.0)


def test_ms_ssim_zero_weight_on_an_anticorrelated_scale_equals_pytorch_msssim():
    """A scale of weight 0 contributes ``relu(cs) ** 0 = 1`` even where its contrast term is <= 0 (an inverted
    image), as in pytorch-msssim; the value stays finite and differentiable."""
    # a smooth pattern shared by both images plus a pixel-level checkerboard of opposite signs: the first scale
    # sees the checkerboard (cs < 0), the coarser ones the shared pattern (cs > 0)
    i = torch.arange(40, dtype=D)
    smooth = 0.5 + 0.3 * torch.sin(2 * math.pi * i / 20)[:, None] * torch.cos(2 * math.pi * i / 20)[None, :]
    checker = 0.15 * (-1.0) ** (i[:, None] + i[None, :])
    x, y = (smooth + checker)[None, None], (smooth - checker)[None, None]
    weights = (0.0, 0.4, 0.6)
    ours = ms_ssim_loss(x, y, data_range=1.0, win_size=3, win_sigma=1.5, weights=weights, reduction="none")
    peer = 1 - pytorch_msssim.ms_ssim(x, y, data_range=1.0, win_size=3, win=peer_window(3, 1.5, x.shape),
                                      size_average=False, weights=list(weights))
    torch.testing.assert_close(ours, peer, rtol=0, atol=1e-12)
    assert float(ours) != 1.0  # the zero-weight scale did not zero the product
