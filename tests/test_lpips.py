"""LPIPS (VGG-16 variant): a float64 reference written from the paper and the lpips code's layout, on random
weights saved to files in the official layouts (torchvision's VGG-16 state dict; lpips' ``vgg.pth`` with keys
``lin{k}.model.1.weight``). The ``lpips`` package itself needs torchvision, which is not installable here."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import losslab
from losslab import LPIPSDistance, LPIPSNetwork, lpips_distance
from losslab.perceptual import _lpips

D = torch.float64
# VGG-16 "D": conv channels, "M" = max-pool; torchvision's features indices follow (conv, relu) pairs and pools.
CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
TAPS = (3, 8, 15, 22, 29)  # torchvision indices of relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
CHANNELS = (64, 128, 256, 512, 512)


@pytest.fixture(scope="module")
def weight_files(tmp_path_factory):
    g = torch.Generator().manual_seed(0)
    vgg, i, cin = {}, 0, 3
    for v in CFG:
        if v == "M":
            i += 1
            continue
        vgg[f"features.{i}.weight"] = torch.randn(v, cin, 3, 3, generator=g) * math.sqrt(2.0 / (9 * cin))
        vgg[f"features.{i}.bias"] = (torch.rand(v, generator=g) - 0.5) * 0.2
        cin, i = v, i + 2
    # a torchvision checkpoint also holds the classifier; it must be ignored
    vgg["classifier.0.weight"] = torch.zeros(2, 2)
    lin = {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1, generator=g) for k, c in enumerate(CHANNELS)}
    d = tmp_path_factory.mktemp("lpips")
    torch.save(vgg, d / "vgg16-397923af.pth")
    torch.save(lin, d / "vgg.pth")
    return d / "vgg16-397923af.pth", d / "vgg.pth", vgg, lin


def lpips_reference(x, y, vgg, lin, eps=1e-10):
    """Zhang et al. 2018, eq. (1), with lpips v0.1's scaling layer and VGG-16 taps, in float64."""
    shift = torch.tensor([-0.030, -0.088, -0.188], dtype=D).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450], dtype=D).view(1, 3, 1, 1)

    def features(z):
        z = (z - shift) / scale
        out, i = [], 0
        for v in CFG:
            if v == "M":
                z = F.max_pool2d(z, 2)
                i += 1
                continue
            z = F.relu(F.conv2d(z, vgg[f"features.{i}.weight"].to(D), vgg[f"features.{i}.bias"].to(D), padding=1))
            if i + 1 in TAPS:
                out.append(z)
            i += 2
        return out

    total = 0
    for k, (a, b) in enumerate(zip(features(x), features(y))):
        a = a / (torch.sqrt((a**2).sum(1, keepdim=True)) + eps)
        b = b / (torch.sqrt((b**2).sum(1, keepdim=True)) + eps)
        w = lin[f"lin{k}.model.1.weight"].to(D)
        total = total + F.conv2d((a - b) ** 2, w).mean((2, 3))[:, 0]
    return total


def test_lpips_vgg16_matches_float64_reference(weight_files):
    vgg_path, lin_path, vgg, lin = weight_files
    net = LPIPSNetwork.vgg16(backbone_weights=vgg_path, linear_weights=lin_path).double()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 32, 36, generator=g, dtype=D) * 2 - 1
    y = (x + 0.3 * torch.randn(2, 3, 32, 36, generator=g, dtype=D)).clamp(-1, 1)
    ours = lpips_distance(x, y, network=net, reduction="none")
    ref = lpips_reference(x, y, vgg, lin)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-14)
    assert (ours > 0).all()
    torch.testing.assert_close(lpips_distance(x, x, network=net, reduction="none"), torch.zeros(2, dtype=D))
    # input_range=(0, 1) is lpips' normalize=True: the images are mapped to [-1, 1] first
    torch.testing.assert_close(
        lpips_distance((x + 1) / 2, (y + 1) / 2, network=net, input_range=(0, 1), reduction="none"), ref,
        rtol=1e-12, atol=1e-14,
    )


def test_lpips_float32_network_and_module_form(weight_files):
    vgg_path, lin_path, vgg, lin = weight_files
    net = LPIPSNetwork.vgg16(backbone_weights=vgg_path, linear_weights=lin_path)
    assert not any(p.requires_grad for p in net.parameters()) and not net.training
    net.train()
    assert not net.training
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    y = torch.rand(3, 3, 16, 16) * 2 - 1
    module = LPIPSDistance(network=net, reduction="sum")
    torch.testing.assert_close(module(x, y), lpips_distance(x, y, network=net, reduction="sum"))
    torch.testing.assert_close(
        lpips_distance(x, y, network=net, reduction="none"), lpips_reference(x.double(), y.double(), vgg, lin).float(),
        rtol=1e-4, atol=1e-6,
    )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        auto = lpips_distance(x, y, network=net)
    assert auto.dtype == torch.float32
    torch.testing.assert_close(auto, lpips_distance(x, y, network=net))
    # images in another dtype than the network are cast to it; the distance is computed in the images' dtype
    out64 = lpips_distance(x.double(), y.double(), network=net)
    assert out64.dtype == D
    torch.testing.assert_close(out64, lpips_distance(x, y, network=net).double(), rtol=1e-5, atol=1e-7)
    half_net = LPIPSNetwork.vgg16(backbone_weights=vgg_path, linear_weights=lin_path).bfloat16()
    out_half = lpips_distance(x, y, network=half_net)
    assert out_half.dtype == torch.float32 and torch.isfinite(out_half)
    torch.testing.assert_close(out_half, lpips_distance(x, y, network=net), rtol=5e-2, atol=1e-3)


def test_missing_files_name_both_expected_files(tmp_path, monkeypatch):
    hub = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    try:
        monkeypatch.setattr(_lpips, "default_lpips_linear_weights_path", lambda: str(tmp_path / "nothing.pth"))
        with pytest.raises(FileNotFoundError, match=r"vgg16-397923af\.pth.*weights/v0\.1/vgg\.pth"):
            LPIPSNetwork.vgg16()
    finally:
        torch.hub.set_dir(hub)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LPIPSNetwork.vgg16(backbone_weights=tmp_path / "a.pth", linear_weights=tmp_path / "b.pth")


def test_wrong_layouts_are_rejected(weight_files, tmp_path):
    vgg_path, lin_path, vgg, lin = weight_files
    bad = {k.replace("model.1", "model.0"): v for k, v in lin.items()}
    with pytest.raises(ValueError, match=r"linear_weights: expected lpips' layout .* missing 'lin0.model.1.weight'"):
        LPIPSNetwork.vgg16(backbone_weights=vgg_path, linear_weights=bad)
    short = dict(lin, **{"lin2.model.1.weight": torch.rand(1, 128, 1, 1)})
    with pytest.raises(ValueError, match=r"lin2.model.1.weight expected shape \(1, 256, 1, 1\)"):
        LPIPSNetwork.vgg16(backbone_weights=vgg_path, linear_weights=short)
    with pytest.raises(ValueError, match="weights: expected a torchvision-format VGG-16"):
        LPIPSNetwork.vgg16(backbone_weights={"x": torch.zeros(1)}, linear_weights=lin_path)


def test_arguments_checked():
    net = LPIPSNetwork(lambda z: [z], [torch.ones(3)])
    x = torch.zeros(1, 3, 4, 4)
    with pytest.raises(TypeError, match="network: expected an LPIPSNetwork"):
        lpips_distance(x, x)
    with pytest.raises(ValueError, match=r"pred: expected values in \[-1, 1\]"):
        lpips_distance(x + 2, x, network=net)
    with pytest.raises(ValueError, match="pred: expected RGB images"):
        lpips_distance(x[:, :1], x[:, :1], network=net)
    with pytest.raises(ValueError, match=r"linear_weights\[0\]: expected shape"):
        LPIPSNetwork(lambda z: [z], [torch.ones(2, 3)])


def test_all_zero_feature_vectors_have_finite_gradients():
    # ReLU features are often zero in every channel at a position: the norm's sqrt must not give NaN gradients
    net = LPIPSNetwork(lambda z: [F.relu(z)], [torch.ones(3, dtype=D)]).double()
    x = torch.full((1, 3, 4, 4), -0.9, dtype=D)
    x[..., :2] = 0.5
    x.requires_grad_()
    y = torch.full((1, 3, 4, 4), 0.2, dtype=D)
    (g,) = torch.autograd.grad(lpips_distance(x, y, network=net), x)
    assert torch.isfinite(g).all()
    assert torch.autograd.gradcheck(lambda z: lpips_distance(z, y, network=net), (x,))


def test_default_linear_path_prefers_the_lpips_package(monkeypatch, tmp_path):
    pkg = tmp_path / "lpips"
    (pkg / "weights" / "v0.1").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "weights" / "v0.1" / "vgg.pth").write_bytes(b"")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _lpips.default_lpips_linear_weights_path() == str(pkg / "weights" / "v0.1" / "vgg.pth")
    assert losslab.LPIPS_VGG16_LAYERS == ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
