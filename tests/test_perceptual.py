"""Tests for losslab.perceptual: VGG16Features, feature reconstruction, Gram/style, total variation, PerceptualLoss.

Oracles are independent of the code under test: the losses are recomputed with explicit float64 loops / numpy from
the paper's formulas, and VGG-16 is re-run by a hand-written forward pass over torchvision's layer indices
(conv at ``features.{0,2,5,7,10,12,14,17,19,21,24,26,28}``, max-pool at ``{4,9,16,23,30}``), so a wrong index,
name or normalization cannot agree with itself.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import losslab
from losslab.perceptual import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    FeatureReconstructionLoss,
    PerceptualLoss,
    StyleLoss,
    TotalVariationLoss,
    VGG16Features,
    default_vgg16_weights_path,
    feature_reconstruction_loss,
    gram_matrix,
    perceptual_loss,
    style_loss,
    total_variation_loss,
)

# torchvision.models.vgg16().features: conv layers and pools by index (written out by hand from torchvision's
# cfg "D": 64, 64, M, 128, 128, M, 256 x3, M, 512 x3, M, 512 x3, M).
TV_CONV = {0: (3, 64), 2: (64, 64), 5: (64, 128), 7: (128, 128), 10: (128, 256), 12: (256, 256), 14: (256, 256),
           17: (256, 512), 19: (512, 512), 21: (512, 512), 24: (512, 512), 26: (512, 512), 28: (512, 512)}
TV_POOL = {4, 9, 16, 23, 30}
# The paper's names for the ReLU outputs (index of the ReLU that follows each conv).
TV_RELU = {"relu1_1": 1, "relu1_2": 3, "relu2_1": 6, "relu2_2": 8, "relu3_1": 11, "relu3_2": 13, "relu3_3": 15,
           "relu4_1": 18, "relu4_2": 20, "relu4_3": 22, "relu5_1": 25, "relu5_2": 27, "relu5_3": 29}


def torchvision_state_dict(seed: int = 0, with_classifier: bool = True) -> dict[str, torch.Tensor]:
    """A random state dict under torchvision's VGG-16 key names (what ``vgg16().state_dict()`` holds)."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for i, (cin, cout) in TV_CONV.items():
        sd[f"features.{i}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * (2.0 / (9 * cin)) ** 0.5
        sd[f"features.{i}.bias"] = torch.randn(cout, generator=g) * 0.05
    if with_classifier:
        for i, (a, b) in {0: (512 * 7 * 7, 8), 3: (8, 8), 6: (8, 10)}.items():  # shapes shrunk; never loaded
            sd[f"classifier.{i}.weight"] = torch.randn(b, a, generator=g)
            sd[f"classifier.{i}.bias"] = torch.randn(b, generator=g)
    return sd


def reference_vgg(sd: dict[str, torch.Tensor], x: torch.Tensor, upto: int) -> dict[int, torch.Tensor]:
    """Hand-written forward over torchvision's indices: output of every module index <= upto."""
    outs = {}
    for i in range(upto + 1):
        if i in TV_CONV:
            x = F.conv2d(x, sd[f"features.{i}.weight"].to(x.dtype), sd[f"features.{i}.bias"].to(x.dtype), padding=1)
        elif i in TV_POOL:
            x = F.max_pool2d(x, 2, 2)
        else:
            x = F.relu(x)
        outs[i] = x
    return outs


@pytest.fixture(scope="module")
def vgg_sd():
    return torchvision_state_dict(seed=3)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()


# ---------------------------------------------------------------------------------------------------------------
# hand-written float64 formulas


def ref_content(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """sum over (C, H, W) of the squared difference, divided by C*H*W, per sample."""
    size = np.prod(p.shape[1:])
    return ((p - t) ** 2).reshape(p.shape[0], -1).sum(axis=1) / size


def ref_gram(f: np.ndarray) -> np.ndarray:
    """G[n, c, d] = sum_{h,w} f[n,c,h,w] f[n,d,h,w] / (C H W)."""
    c, hw = f.shape[1], np.prod(f.shape[2:])
    flat = f.reshape(f.shape[0], c, -1)
    return np.einsum("nck,ndk->ncd", flat, flat) / (c * hw)


def ref_gram_loops(f: np.ndarray) -> np.ndarray:
    n, c = f.shape[:2]
    flat = f.reshape(n, c, -1)
    g = np.zeros((n, c, c))
    for i, a, b in itertools.product(range(n), range(c), range(c)):
        g[i, a, b] = sum(flat[i, a, k] * flat[i, b, k] for k in range(flat.shape[2])) / (c * flat.shape[2])
    return g


def ref_tv(x: np.ndarray) -> np.ndarray:
    n, c, h, w = x.shape
    out = np.zeros(n)
    for i in range(n):
        s = 0.0
        for ch, r, col in itertools.product(range(c), range(h), range(w)):
            if r + 1 < h:
                s += (x[i, ch, r + 1, col] - x[i, ch, r, col]) ** 2
            if col + 1 < w:
                s += (x[i, ch, r, col + 1] - x[i, ch, r, col]) ** 2
        out[i] = s / (c * h * w)
    return out


def test_feature_reconstruction_matches_formula_with_layer_weights():
    g = torch.Generator().manual_seed(1)
    p = {"a": torch.randn(3, 2, 4, 5, generator=g, dtype=torch.float64), "b": torch.randn(3, 4, 2, 2, generator=g, dtype=torch.float64)}
    t = {"b": torch.randn(3, 4, 2, 2, generator=g, dtype=torch.float64), "a": torch.randn(3, 2, 4, 5, generator=g, dtype=torch.float64)}
    expected = 0.3 * ref_content(_np(p["a"]), _np(t["a"])) + 2.0 * ref_content(_np(p["b"]), _np(t["b"]))
    got = feature_reconstruction_loss(p, t, layer_weights={"a": 0.3, "b": 2.0}, reduction="none")
    np.testing.assert_allclose(_np(got), expected, rtol=1e-12)
    # list form with positional weights, and the mean over the batch
    got_list = feature_reconstruction_loss([p["a"], p["b"]], [t["a"], t["b"]], layer_weights=[0.3, 2.0])
    np.testing.assert_allclose(float(got_list), expected.mean(), rtol=1e-12)
    # module
    torch.testing.assert_close(FeatureReconstructionLoss(layer_weights=[0.3, 2.0])([p["a"], p["b"]], [t["a"], t["b"]]), got_list)


def test_gram_matrix_matches_formula_and_is_symmetric():
    f = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    g = gram_matrix(f)
    np.testing.assert_allclose(_np(g), ref_gram_loops(_np(f)), rtol=1e-12)
    np.testing.assert_allclose(ref_gram(_np(f)), ref_gram_loops(_np(f)), rtol=1e-12)
    torch.testing.assert_close(g, g.transpose(1, 2))
    assert gram_matrix(f.to(torch.bfloat16)).dtype == torch.bfloat16


def test_style_loss_matches_formula_broadcast_and_other_size():
    g = torch.Generator().manual_seed(2)
    p = [torch.randn(3, 2, 4, 4, generator=g, dtype=torch.float64), torch.randn(3, 3, 2, 3, generator=g, dtype=torch.float64)]
    # one style image, larger than the prediction
    t = [torch.randn(1, 2, 6, 5, generator=g, dtype=torch.float64), torch.randn(1, 3, 5, 5, generator=g, dtype=torch.float64)]
    expected = np.zeros(3)
    for lam, a, b in zip([1.0, 0.5], p, t):
        ga, gb = ref_gram(_np(a)), ref_gram(_np(b))
        expected += lam * ((ga - gb) ** 2).sum(axis=(1, 2))
    got = style_loss(p, t, layer_weights=[1.0, 0.5], reduction="none")
    np.testing.assert_allclose(_np(got), expected, rtol=1e-12)
    torch.testing.assert_close(StyleLoss(layer_weights=[1.0, 0.5], reduction="sum")(p, t), got.sum())


def test_style_loss_ignores_spatial_arrangement():
    # The Gram matrix sums over positions, so shuffling the pixels of the target changes nothing.
    f = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    perm = torch.randperm(16)
    shuffled = f.flatten(2)[:, :, perm].reshape(2, 3, 4, 4)
    assert float(style_loss(f, shuffled)) < 1e-24
    assert float(feature_reconstruction_loss(f, shuffled)) > 0.1


def test_total_variation_matches_formula_and_constant_image():
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    np.testing.assert_allclose(_np(total_variation_loss(x, reduction="none")), ref_tv(_np(x)), rtol=1e-12)
    assert float(total_variation_loss(torch.full((1, 2, 6, 6), 0.7))) == 0.0
    torch.testing.assert_close(TotalVariationLoss()(x), total_variation_loss(x))


# ---------------------------------------------------------------------------------------------------------------
# VGG16Features


def test_vgg_layer_names_follow_torchvision_indices(vgg_sd):
    layers = list(TV_RELU)
    vgg = VGG16Features(layers, weights=vgg_sd).double()
    x = torch.randn(1, 3, 32, 32, dtype=torch.float64)
    got = vgg(x)
    ref = reference_vgg(vgg_sd, x, max(TV_RELU.values()))
    assert list(got) == layers
    for name, idx in TV_RELU.items():
        torch.testing.assert_close(got[name], ref[idx], rtol=1e-10, atol=1e-10)


def test_vgg_stops_at_deepest_requested_layer(vgg_sd):
    vgg = VGG16Features(["relu2_2", "relu1_1"], weights=vgg_sd)
    assert len(vgg.features) == TV_RELU["relu2_2"] + 1
    assert set(vgg.state_dict()) == {f"features.{i}.{p}" for i in (0, 2, 5, 7) for p in ("weight", "bias")}
    assert list(vgg(torch.randn(1, 3, 8, 8))) == ["relu2_2", "relu1_1"]


def test_vgg_state_dict_file_round_trip(tmp_path, vgg_sd):
    path = tmp_path / "vgg16_torchvision_format.pth"
    torch.save(vgg_sd, path)  # full model: features.* and classifier.*
    vgg = VGG16Features(["relu1_2", "relu3_3"], weights=str(path))
    x = torch.randn(2, 3, 16, 16)
    ref = reference_vgg(vgg_sd, x, TV_RELU["relu3_3"])
    out = vgg(x)
    torch.testing.assert_close(out["relu1_2"], ref[3])
    torch.testing.assert_close(out["relu3_3"], ref[15])
    # our own state dict is torchvision-format too: save it, load it back, same features
    path2 = tmp_path / "ours.pth"
    torch.save(vgg.state_dict(), path2)
    again = VGG16Features(["relu1_2", "relu3_3"], weights=path2)
    for k in out:
        torch.testing.assert_close(again(x)[k], out[k], rtol=0, atol=0)


def test_vgg_default_path_is_torch_hub_cache(tmp_path, monkeypatch, vgg_sd):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    expected = tmp_path / "checkpoints" / "vgg16-397923af.pth"
    assert default_vgg16_weights_path() == str(expected)
    with pytest.raises(FileNotFoundError, match=r"vgg16-397923af\.pth.*never downloads: put torchvision's") as info:
        VGG16Features(["relu2_2"])
    assert str(expected) in str(info.value)
    with pytest.raises(FileNotFoundError, match="vgg16-397923af"):
        PerceptualLoss()  # extractor=None builds VGG16Features from the cache
    expected.parent.mkdir()
    torch.save(vgg_sd, expected)
    vgg = VGG16Features(["relu2_2"])
    x = torch.randn(1, 3, 8, 8)
    torch.testing.assert_close(vgg(x)["relu2_2"], reference_vgg(vgg_sd, x, 8)[8])
    assert isinstance(PerceptualLoss().extractor, VGG16Features)


def test_vgg_rejects_bad_weights_and_layers(tmp_path, vgg_sd):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        VGG16Features(["relu1_2"], weights=tmp_path / "nope.pth")
    partial = {k: v for k, v in vgg_sd.items() if not k.startswith("features.7.")}
    with pytest.raises(ValueError, match=r"missing \['features.7.weight', 'features.7.bias'\]"):
        VGG16Features(["relu2_2"], weights=partial)
    vgg19_like = dict(vgg_sd, **{"features.16.weight": torch.zeros(256, 256, 3, 3)})
    with pytest.raises(ValueError, match="not VGG-16"):
        VGG16Features(["relu1_2"], weights=vgg19_like)
    bad_shape = dict(vgg_sd, **{"features.0.weight": torch.zeros(64, 1, 3, 3)})
    with pytest.raises(ValueError, match=r"features.0.weight expected shape \(64, 3, 3, 3\), got \(64, 1, 3, 3\)"):
        VGG16Features(["relu1_2"], weights=bad_shape)
    with pytest.raises(ValueError, match="layers: expected names from"):
        VGG16Features(["relu2_3"], weights=vgg_sd)
    vgg = VGG16Features(["relu1_1"], weights=vgg_sd)
    with pytest.raises(ValueError, match=r"x: expected an ImageNet-normalized RGB batch .* got \(2, 1, 8, 8\); repeat"):
        vgg(torch.rand(2, 1, 8, 8))


def test_vgg_is_frozen_and_stays_in_eval(vgg_sd):
    vgg = VGG16Features(["relu1_2"], weights=vgg_sd)
    assert not any(p.requires_grad for p in vgg.parameters())
    vgg.train()
    assert not vgg.training
    x = torch.randn(1, 3, 8, 8, requires_grad=True)
    vgg(x)["relu1_2"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in vgg.parameters())


# ---------------------------------------------------------------------------------------------------------------
# perceptual_loss / PerceptualLoss


def _imagenet(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean) / std


def test_perceptual_loss_with_vgg_matches_formula(vgg_sd):
    vgg = VGG16Features(["relu1_2", "relu2_2", "relu3_3"], weights=vgg_sd).double()
    g = torch.Generator().manual_seed(5)
    pred = torch.rand(2, 3, 16, 16, generator=g, dtype=torch.float64)
    target = torch.rand(2, 3, 16, 16, generator=g, dtype=torch.float64)
    fp = reference_vgg(vgg_sd, _imagenet(pred), 15)
    ft = reference_vgg(vgg_sd, _imagenet(target), 15)
    content = ref_content(_np(fp[8]), _np(ft[8]))
    style = sum(((ref_gram(_np(fp[i])) - ref_gram(_np(ft[i]))) ** 2).sum(axis=(1, 2)) for i in (3, 8, 15))
    tv = ref_tv(_np(pred))
    expected = 1.5 * content + 20.0 * style + 0.1 * tv
    loss = PerceptualLoss(vgg, content_layers=("relu2_2",), style_layers=("relu1_2", "relu2_2", "relu3_3"),
                          content_weight=1.5, style_weight=20.0, tv_weight=0.1, input_range=(0, 1), reduction="none")
    np.testing.assert_allclose(_np(loss(pred, target)), expected, rtol=1e-9)
    # the same images stated in [-1, 1] give the same loss (up to the TV term, which sees the pixel scale: x4)
    loss_pm = PerceptualLoss(vgg, content_layers=("relu2_2",), style_layers=("relu1_2", "relu2_2", "relu3_3"),
                             content_weight=1.5, style_weight=20.0, tv_weight=0.025, input_range=(-1, 1), reduction="none")
    np.testing.assert_allclose(_np(loss_pm(2 * pred - 1, 2 * target - 1)), expected, rtol=1e-9)


class TinyNet(nn.Module):
    """A tiny extractor returning a list (layers are positions)."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 3, 3, padding=1)
        self.c2 = nn.Conv2d(3, 2, 3, stride=2, padding=1)

    def forward(self, x):
        a = torch.tanh(self.c1(x))
        return [a, torch.tanh(self.c2(a))]


def test_perceptual_loss_with_list_extractor_and_no_normalization():
    net = TinyNet().double()
    pred = torch.rand(3, 1, 8, 8, dtype=torch.float64)
    target = torch.rand(3, 1, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        a_p, b_p = net(pred)
        a_t, b_t = net(target)
    expected = 0.5 * ref_content(_np(a_p), _np(a_t)) + 2.0 * ref_content(_np(b_p), _np(b_t))
    got = perceptual_loss(pred, target, extractor=net, content_layers=(0, 1), content_layer_weights=[0.5, 2.0],
                          normalization=None, reduction="none")
    np.testing.assert_allclose(_np(got), expected, rtol=1e-12)
    # a custom (mean, std) normalization is applied before the extractor
    got_norm = perceptual_loss(pred, target, extractor=net, content_layers=(1,), normalization=((0.5,), (0.25,)),
                               reduction="none")
    with torch.no_grad():
        expected_norm = ref_content(_np(net((pred - 0.5) / 0.25)[1]), _np(net((target - 0.5) / 0.25)[1]))
    np.testing.assert_allclose(_np(got_norm), expected_norm, rtol=1e-12)


def test_gradients_reach_pred_not_extractor_nor_target(vgg_sd):
    vgg = VGG16Features(["relu1_2", "relu2_2"], weights=vgg_sd)
    loss = PerceptualLoss(vgg, content_layers=("relu2_2",), style_layers=("relu1_2",), style_weight=1.0, tv_weight=0.1)
    assert list(loss.parameters()) == [] and loss.state_dict() == {}
    assert "VGG16Features" in repr(loss) and "input_range=(0.0, 1.0)" in repr(loss)
    pred = torch.rand(2, 3, 16, 16, requires_grad=True)
    target = torch.rand(2, 3, 16, 16, requires_grad=True)
    value = loss(pred, target)
    value.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    assert target.grad is None  # the target's features are computed under no_grad
    assert all(p.grad is None and not p.requires_grad for p in vgg.parameters())
    # a trainable nn.Module extractor is frozen by PerceptualLoss and follows .double()
    net = TinyNet()
    ploss = PerceptualLoss(net, content_layers=(0,), normalization=None)
    assert not any(p.requires_grad for p in net.parameters()) and not net.training
    ploss.double()
    assert net.c1.weight.dtype == torch.float64
    ploss(torch.rand(1, 1, 8, 8, dtype=torch.float64, requires_grad=True), torch.rand(1, 1, 8, 8, dtype=torch.float64))


def test_gradcheck_vgg_small():
    vgg = VGG16Features.random_init(["relu1_2", "relu2_1"], seed=1).double()
    pred = torch.rand(1, 3, 6, 6, dtype=torch.float64).clamp(0.05, 0.95).requires_grad_()
    target = torch.rand(1, 3, 6, 6, dtype=torch.float64)

    def fn(x):
        return perceptual_loss(x, target, extractor=vgg, content_layers=("relu2_1",), style_layers=("relu1_2",),
                               style_weight=0.5, tv_weight=0.2)

    assert torch.autograd.gradcheck(fn, (pred,), eps=1e-6, atol=1e-5)
    f = torch.randn(2, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(gram_matrix, (f,))


def test_bad_inputs_are_rejected_with_clear_messages(vgg_sd):
    vgg = VGG16Features(["relu2_2"], weights=vgg_sd)
    loss = PerceptualLoss(vgg)
    x = torch.rand(2, 3, 16, 16)
    # channel count: grayscale into an ImageNet-normalized loss
    with pytest.raises(ValueError, match=r"pred: expected 3 channels .* got 1 .*repeat a grayscale channel"):
        loss(torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16))
    # range: [-1, 1] images into a loss stated for [0, 1] (the LPIPS trap), and the reverse statement
    with pytest.raises(ValueError, match=r"pred: expected values in \[0, 1\], got values in \[-.*input_range=\(0.0, 1.0\) was stated"):
        loss(2 * x - 1, x)
    with pytest.raises(ValueError, match=r"target: expected values in \[0, 1\]"):
        loss(x, x * 255)
    with losslab.validation(False):  # value checks can be switched off
        assert torch.isfinite(loss(2 * x - 1, x))
    # mismatched spatial size for the content loss
    with pytest.raises(ValueError, match=r"target: expected the same shape as pred \(2, 3, 16, 16\), got \(2, 3, 8, 8\)"):
        loss(x, torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"target_features\['r'\]: expected the same shape as pred_features"):
        feature_reconstruction_loss({"r": torch.rand(1, 2, 4, 4)}, {"r": torch.rand(1, 2, 2, 2)})
    # ... while the style term alone accepts a style image of another size
    style_only = PerceptualLoss(vgg, style_layers=("relu2_2",), content_weight=0.0, style_weight=1.0)
    assert torch.isfinite(style_only(x, torch.rand(1, 3, 24, 24)))
    # arguments
    with pytest.raises(ValueError, match=r"input_range: expected finite low < high, got \(1, 0\)"):
        PerceptualLoss(vgg, input_range=(1, 0))
    with pytest.raises(ValueError, match=r"input_range: expected \(low, high\)"):
        PerceptualLoss(vgg, input_range="0-1")
    with pytest.raises(ValueError, match="normalization: expected one of"):
        perceptual_loss(x, x, extractor=vgg, normalization="lpips")
    with pytest.raises(ValueError, match=r"content_layers/style_layers: layer\(s\) \['relu3_3'\] not returned by the extractor"):
        perceptual_loss(x, x, extractor=vgg, content_layers=("relu3_3",))
    with pytest.raises(ValueError, match="content_weight: expected a value in"):
        PerceptualLoss(vgg, content_weight=-1.0)
    with pytest.raises(ValueError, match="expected at least one > 0"):
        perceptual_loss(x, x, extractor=vgg, content_weight=0.0)
    with pytest.raises(ValueError, match="expected at least one > 0"):
        PerceptualLoss(vgg, content_weight=0.0)
    with pytest.raises(TypeError, match="extractor: expected a callable"):
        PerceptualLoss(extractor=42)
    with pytest.raises(TypeError, match="extractor: expected it to return a dict or list"):
        perceptual_loss(x, x, extractor=lambda t: t)
    with pytest.raises(ValueError, match=r"target_features: expected the same layers as pred_features \['a'\], got \['b'\]"):
        feature_reconstruction_loss({"a": torch.rand(1, 2, 2)}, {"b": torch.rand(1, 2, 2)})
    with pytest.raises(ValueError, match="layer_weights: expected 2 weights"):
        style_loss([torch.rand(1, 2, 2, 2)] * 2, [torch.rand(1, 2, 2, 2)] * 2, layer_weights=[1.0])
    with pytest.raises(ValueError, match=r"target_features\[0\]: expected shape \(1 or 2, 2, \*\), got \(3, 2, 2, 2\)"):
        style_loss(torch.rand(2, 2, 2, 2), torch.rand(3, 2, 2, 2))
    with pytest.raises(ValueError, match=r"images: expected shape \(N, C, H, W\), got \(4, 4\)"):
        total_variation_loss(torch.rand(4, 4))
    with pytest.raises(TypeError, match="pred: expected a floating-point tensor"):
        loss(torch.ones(2, 3, 16, 16, dtype=torch.long), x)


def test_half_precision_is_computed_in_float32(vgg_sd):
    vgg = VGG16Features(["relu1_2"], weights=vgg_sd)
    x = torch.rand(2, 3, 8, 8)
    y = torch.rand(2, 3, 8, 8)
    ref = perceptual_loss(x, y, extractor=vgg, content_layers=("relu1_2",))
    half = perceptual_loss(x.bfloat16(), y.bfloat16(), extractor=vgg, content_layers=("relu1_2",))
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), ref, rtol=3e-2, atol=1e-3)


# ---------------------------------------------------------------------------------------------------------------
# issue 12: regressions


@pytest.mark.parametrize("loss_fn", [feature_reconstruction_loss, style_loss])
@pytest.mark.parametrize("shape", [(2, 3, 0, 4), (2, 3, 4, 0), (2, 0, 4, 4), (0, 3, 2, 2)])
def test_empty_feature_maps_give_zero_with_zero_gradient(loss_fn, shape):
    # Issue 12 item 7: mean over an empty layer was NaN (0/0); a mean over nothing is 0 with zero gradient.
    pred = torch.randn(shape, requires_grad=True)
    for reduction in ("mean", "sum", "none"):
        loss = loss_fn(pred, torch.randn(shape), reduction=reduction)
        assert torch.equal(loss, torch.zeros(shape[0]) if reduction == "none" else torch.tensor(0.0))
        (g,) = torch.autograd.grad(loss.sum(), pred)
        assert torch.equal(g, torch.zeros(shape))
    # an empty layer next to a non-empty one adds 0
    full_p, full_t = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    if shape[0] == 2:
        torch.testing.assert_close(
            loss_fn([full_p, pred.detach()], [full_t, torch.randn(shape)]), loss_fn(full_p, full_t)
        )
    assert gram_matrix(torch.randn(2, 3, 0, 5)).eq(0).all()
