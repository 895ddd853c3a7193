r"""Perceptual losses: feature reconstruction, style (Gram matrices) and total variation [Johnson2016]_.

A perceptual loss compares images through the activations :math:`\phi_j` of a fixed *loss network* (VGG-16 in
the paper) instead of pixel by pixel. This module provides

* :class:`VGG16Features`: the VGG-16 convolutional stack written here (no torchvision dependency), loading a
  torchvision-format VGG-16 state dict from disk (never downloading), frozen and in eval mode;
* :func:`feature_reconstruction_loss`, :func:`gram_matrix`, :func:`style_loss`, :func:`total_variation_loss`:
  pure functions of feature maps / images;
* :func:`perceptual_loss` and :class:`PerceptualLoss`: images in a *stated* value range, mapped to the loss
  network's normalization, passed through any extractor (VGG-16, or any ``nn.Module`` / callable returning a
  dict or list of feature maps), combining content, style and total-variation terms.

The input contract that peers leave implicit is explicit here: ``input_range`` says what the images hold
(``(0, 1)`` or ``(-1, 1)``; LPIPS expects [-1, 1], piq and torchvision [0, 1], and feeding one to the other is a
silent error), values outside it raise while validation is on, and the images are mapped to ImageNet mean/std
inside the loss.

References:
    .. [Johnson2016] J. Johnson, A. Alahi, L. Fei-Fei. "Perceptual Losses for Real-Time Style Transfer and
       Super-Resolution." ECCV 2016. https://arxiv.org/abs/1603.08155
    .. [Simonyan2015] K. Simonyan, A. Zisserman. "Very Deep Convolutional Networks for Large-Scale Image
       Recognition." ICLR 2015. https://arxiv.org/abs/1409.1556
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Union

import torch
from torch import nn

from ._checks import check_choice, check_floating, check_in_range, check_scalar
from ._numerics import upcast
from ._reduction import reduce_loss

__all__ = [
    "VGG16Features",
    "VGG16_LAYERS",
    "VGG16_WEIGHTS_FILENAME",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "default_vgg16_weights_path",
    "feature_reconstruction_loss",
    "FeatureReconstructionLoss",
    "gram_matrix",
    "style_loss",
    "StyleLoss",
    "total_variation_loss",
    "TotalVariationLoss",
    "perceptual_loss",
    "PerceptualLoss",
]

# Feature maps of one image batch: one tensor (one layer), a sequence of tensors, or a mapping layer -> tensor.
Features = Union[torch.Tensor, Sequence[torch.Tensor], Mapping[str, torch.Tensor]]
LayerWeights = Union[Sequence[float], Mapping[object, float], None]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# torchvision's file name for the ImageNet VGG-16 weights (``torchvision.models.VGG16_Weights.IMAGENET1K_V1``).
VGG16_WEIGHTS_FILENAME = "vgg16-397923af.pth"

# VGG-16 ("configuration D" of [Simonyan2015]): output channels of each 3x3 conv, "M" = 2x2 max-pool.
_VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def _layer_names() -> tuple[str, ...]:
    # One name per entry of torchvision's ``vgg16().features`` (conv, relu, ..., pool): index i of this tuple is
    # the index i of ``features.<i>.weight`` in a torchvision state dict.
    names: list[str] = []
    block, conv = 1, 1
    for v in _VGG16_CFG:
        if v == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            conv += 1
    return tuple(names)


VGG16_LAYERS = _layer_names()


def default_vgg16_weights_path() -> str:
    """Where :class:`VGG16Features` looks when ``weights=None``: ``<torch.hub.get_dir()>/checkpoints/vgg16-397923af.pth``.

    This is where ``torchvision.models.vgg16(weights="IMAGENET1K_V1")`` caches its download, so a machine that
    has used torchvision's VGG-16 already has the file.
    """
    return os.path.join(torch.hub.get_dir(), "checkpoints", VGG16_WEIGHTS_FILENAME)


class VGG16Features(nn.Module):
    r"""The convolutional stack of VGG-16 [Simonyan2015]_ as a frozen feature extractor for perceptual losses.

    ``features`` is an ``nn.Sequential`` laid out exactly like torchvision's ``vgg16().features``, so a
    torchvision-format state dict (``features.<i>.weight`` / ``features.<i>.bias``, with torchvision's indices)
    loads into it. Only the layers up to the deepest requested one are built and loaded. Layer names follow the
    paper: ``conv<b>_<k>``, ``relu<b>_<k>`` (block ``b`` in 1..5, conv ``k``) and ``pool<b>``; the paper's
    content layer is ``relu2_2`` and its style layers ``relu1_2, relu2_2, relu3_3, relu4_3``.

    The input is an ImageNet-normalized batch ``(N, 3, H, W)`` (:class:`PerceptualLoss` does that mapping); the
    output is a dict ``{layer: features}`` in the order of ``layers``.

    Args:
        layers: Names from :data:`VGG16_LAYERS` to return.
        weights: Path to a torchvision-format VGG-16 state dict (the full model's or only ``features.*``), or
            the state dict itself. ``None`` looks for :func:`default_vgg16_weights_path` (torch hub's checkpoint
            cache, torchvision's file name ``vgg16-397923af.pth``). Nothing is ever downloaded.

    Raises:
        FileNotFoundError: no weights given and none in the hub cache, or the given path does not exist; the
            message says where to put the file.
        ValueError: an unknown layer name, or a state dict that is not torchvision's VGG-16 layout.

    Note:
        The module is frozen: every parameter has ``requires_grad=False`` and it stays in eval mode
        (``train()`` is a no-op), so it never receives gradients nor changes when a training loop calls
        ``model.train()``. Gradients still flow *through* it to its input. :meth:`random_init` builds an
        untrained stack for tests and offline use.

    Example:
        >>> import torch
        >>> vgg = VGG16Features.random_init(["relu1_2", "relu2_2"], seed=0)
        >>> out = vgg(torch.randn(2, 3, 16, 16))
        >>> {k: tuple(v.shape) for k, v in out.items()}
        {'relu1_2': (2, 64, 16, 16), 'relu2_2': (2, 128, 8, 8)}
        >>> len(vgg.features), any(p.requires_grad for p in vgg.parameters())
        (9, False)
    """

    def __init__(
        self,
        layers: Sequence[str] = ("relu1_2", "relu2_2", "relu3_3", "relu4_3"),
        *,
        weights: str | os.PathLike | Mapping[str, torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.layers = _check_vgg_layers(layers)
        self._index = {name: VGG16_LAYERS.index(name) for name in self.layers}
        depth = max(self._index.values()) + 1
        modules: list[nn.Module] = []
        in_ch = 3
        for name in VGG16_LAYERS[:depth]:
            if name.startswith("conv"):
                out_ch = _VGG16_CFG[_cfg_position(len(modules))]
                modules.append(nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1))
                in_ch = out_ch
            elif name.startswith("relu"):
                modules.append(nn.ReLU(inplace=False))
            else:
                modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
        self.features = nn.Sequential(*modules)
        if weights is None:
            path = default_vgg16_weights_path()
            if not os.path.isfile(path):
                raise FileNotFoundError(
                    f"weights: no VGG-16 weights given and none found at {path} (torch hub's checkpoint cache). "
                    f"VGG16Features never downloads: put torchvision's ImageNet VGG-16 file {VGG16_WEIGHTS_FILENAME} "
                    f"(https://download.pytorch.org/models/{VGG16_WEIGHTS_FILENAME}) at that path, or pass "
                    "weights=<path to a torchvision-format VGG-16 state dict>; VGG16Features.random_init(...) gives "
                    "an untrained stack"
                )
            weights = path
        self._load(weights)
        self.requires_grad_(False)
        super().train(False)

    @classmethod
    def random_init(cls, layers: Sequence[str] = ("relu1_2", "relu2_2", "relu3_3", "relu4_3"), *, seed: int = 0) -> VGG16Features:
        """An untrained, frozen stack with He-normal conv weights and small random biases (seeded).

        Useful offline and in tests; its features are not meaningful for perception.
        """
        g = torch.Generator().manual_seed(seed)
        state: dict[str, torch.Tensor] = {}
        in_ch = 3
        for i, name in enumerate(VGG16_LAYERS):
            if name.startswith("conv"):
                out_ch = _VGG16_CFG[_cfg_position(i)]
                std = (2.0 / (9 * in_ch)) ** 0.5
                state[f"features.{i}.weight"] = torch.randn(out_ch, in_ch, 3, 3, generator=g) * std
                state[f"features.{i}.bias"] = (torch.rand(out_ch, generator=g) - 0.5) * 0.2
                in_ch = out_ch
        return cls(layers, weights=state)

    def _load(self, weights: str | os.PathLike | Mapping[str, torch.Tensor]) -> None:
        if isinstance(weights, (str, os.PathLike)):
            if not os.path.isfile(weights):
                raise FileNotFoundError(
                    f"weights: expected a torchvision-format VGG-16 state dict file, {os.fspath(weights)!r} does not exist"
                )
            state = torch.load(weights, map_location="cpu", weights_only=True)
        elif isinstance(weights, Mapping):
            state = weights
        else:
            raise TypeError(f"weights: expected a path, a state dict or None, got {type(weights).__name__}")
        if not isinstance(state, Mapping):
            raise ValueError(f"weights: expected the file to hold a state dict, got {type(state).__name__}")
        if "features.16.weight" in state:
            raise ValueError(
                "weights: features.16 is a convolution in this state dict, so it is not VGG-16 (VGG-19 has one there); "
                "expected torchvision's VGG-16 layout"
            )
        own = self.features.state_dict()
        missing = [f"features.{k}" for k in own if f"features.{k}" not in state]
        if missing:
            raise ValueError(
                f"weights: expected a torchvision-format VGG-16 state dict with keys like 'features.0.weight'; "
                f"missing {missing[:4]}{' ...' if len(missing) > 4 else ''}"
            )
        loaded = {}
        for k, v in own.items():
            w = state[f"features.{k}"]
            if tuple(w.shape) != tuple(v.shape):
                raise ValueError(f"weights: features.{k} expected shape {tuple(v.shape)}, got {tuple(w.shape)}")
            loaded[k] = w.to(v.dtype)
        self.features.load_state_dict(loaded)

    def train(self, mode: bool = True) -> VGG16Features:
        """Stays in eval mode whatever ``mode`` says (the loss network is fixed)."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        check_floating(x, "x")
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(
                f"x: expected an ImageNet-normalized RGB batch of shape (N, 3, H, W), got {tuple(x.shape)}"
                + ("; repeat a grayscale channel with x.expand(-1, 3, -1, -1)" if x.ndim == 4 and x.shape[1] == 1 else "")
            )
        wanted = {i: name for name, i in self._index.items()}
        out: dict[str, torch.Tensor] = {}
        for i, module in enumerate(self.features):
            x = module(x)
            if i in wanted:
                out[wanted[i]] = x
        return {name: out[name] for name in self.layers}

    def extra_repr(self) -> str:
        return f"layers={self.layers}"


def _cfg_position(module_index: int) -> int:
    # Position in _VGG16_CFG of the conv at ``features.<module_index>``.
    pos, i = 0, 0
    for v in _VGG16_CFG:
        if i == module_index:
            return pos
        i += 1 if v == "M" else 2
        pos += 1
    raise IndexError(module_index)


def _check_vgg_layers(layers: Sequence[str]) -> tuple[str, ...]:
    if isinstance(layers, str) or not isinstance(layers, Sequence) or len(layers) == 0:
        raise ValueError(f"layers: expected a non-empty sequence of VGG-16 layer names, got {layers!r}")
    for name in layers:
        if name not in VGG16_LAYERS:
            raise ValueError(f"layers: expected names from {VGG16_LAYERS}, got {name!r}")
    if len(set(layers)) != len(layers):
        raise ValueError(f"layers: expected distinct names, got {tuple(layers)}")
    return tuple(layers)


# ---------------------------------------------------------------------------------------------------------------
# feature containers


def _as_layers(features: Features, name: str) -> list[tuple[object, torch.Tensor]]:
    """``[(key, tensor), ...]``: dict keys, list positions, or ``0`` for a single tensor."""
    if isinstance(features, torch.Tensor):
        items: list[tuple[object, torch.Tensor]] = [(0, features)]
    elif isinstance(features, Mapping):
        items = list(features.items())
    elif isinstance(features, Sequence) and not isinstance(features, str):
        items = list(enumerate(features))
    else:
        raise TypeError(f"{name}: expected a tensor, a sequence or a mapping of feature tensors, got {type(features).__name__}")
    if not items:
        raise ValueError(f"{name}: expected at least one feature map, got none")
    for key, t in items:
        check_floating(t, f"{name}[{key!r}]")
        if t.ndim < 2:
            raise ValueError(f"{name}[{key!r}]: expected shape (N, C, *spatial), got {tuple(t.shape)}")
    return items


def _paired_layers(pred: Features, target: Features) -> list[tuple[object, torch.Tensor, torch.Tensor]]:
    p = _as_layers(pred, "pred_features")
    t = dict(_as_layers(target, "target_features"))
    if set(t) != {k for k, _ in p}:
        raise ValueError(
            f"target_features: expected the same layers as pred_features {[k for k, _ in p]}, got {list(t)}"
        )
    return [(k, v, t[k]) for k, v in p]


def _layer_weights(layer_weights: LayerWeights, keys: list[object]) -> list[float]:
    if layer_weights is None:
        return [1.0] * len(keys)
    if isinstance(layer_weights, Mapping):
        if set(layer_weights) != set(keys):
            raise ValueError(f"layer_weights: expected one weight per layer {keys}, got keys {list(layer_weights)}")
        values = [layer_weights[k] for k in keys]
    else:
        values = list(layer_weights)
        if len(values) != len(keys):
            raise ValueError(f"layer_weights: expected {len(keys)} weights (one per layer), got {len(values)}")
    return [check_scalar(v, "layer_weights", low=0.0) for v in values]


def _result_dtype(items: list[tuple[object, torch.Tensor, torch.Tensor]]) -> torch.dtype:
    return items[0][1].dtype


# ---------------------------------------------------------------------------------------------------------------
# losses on feature maps


def feature_reconstruction_loss(
    pred_features: Features,
    target_features: Features,
    *,
    layer_weights: LayerWeights = None,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Feature reconstruction (content) loss: normalized squared distance of feature maps [Johnson2016]_.

    For each layer :math:`j` with feature maps of shape :math:`C_j \times H_j \times W_j`, the paper's
    normalized squared Euclidean distance, summed over layers with weights :math:`\lambda_j` (default 1):

    .. math::
        \ell(\hat y, y) = \sum_j \lambda_j \,
            \frac{\lVert \phi_j(\hat y) - \phi_j(y) \rVert_2^2}{C_j H_j W_j}

    The loss is per sample (one value per image); ``reduction`` acts over the batch.

    Args:
        pred_features: Features of the prediction: one tensor ``(N, C, *)``, a sequence of them, or a mapping
            layer name -> tensor (what :class:`VGG16Features` returns).
        target_features: Features of the target, same layers and same shapes (detach them, or compute them under
            ``torch.no_grad()``, when the target is fixed).
        layer_weights: Optional non-negative weight per layer (a sequence in layer order, or a mapping keyed like
            the features).
        weight: Optional per-sample weights broadcastable to ``(N,)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        ``(N,)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: the layers differ, a layer's shapes differ (e.g. a different image size), or a bad weight.
        TypeError: a non-floating tensor or an unsupported container.

    Note:
        float16/bfloat16 features are compared in float32 and the result returned in the input dtype.

    Example:
        >>> import torch
        >>> a = {"relu2_2": torch.zeros(1, 2, 2, 2)}
        >>> b = {"relu2_2": torch.ones(1, 2, 2, 2)}
        >>> feature_reconstruction_loss(a, b)   # 8 squared unit errors / (2*2*2)
        tensor(1.)
    """
    items = _paired_layers(pred_features, target_features)
    lw = _layer_weights(layer_weights, [k for k, _, _ in items])
    total = None
    for (key, p, t), lam in zip(items, lw):
        if p.shape != t.shape:
            raise ValueError(
                f"target_features[{key!r}]: expected the same shape as pred_features {tuple(p.shape)}, got "
                f"{tuple(t.shape)} (content loss compares images of the same size)"
            )
        p32, t32 = upcast(p, t)
        per = (p32 - t32).square().flatten(1).mean(1)  # ||.||^2 / (C H W)
        total = lam * per if total is None else total + lam * per
    return reduce_loss(total, reduction, weight, dtype=_result_dtype(items))


class FeatureReconstructionLoss(nn.Module):
    """Module form of :func:`feature_reconstruction_loss`."""

    def __init__(self, *, layer_weights: LayerWeights = None, reduction: str = "mean") -> None:
        super().__init__()
        if layer_weights is not None:
            values = layer_weights.values() if isinstance(layer_weights, Mapping) else layer_weights
            for v in values:
                check_scalar(v, "layer_weights", low=0.0)
        self.layer_weights = layer_weights
        self.reduction = reduction

    def forward(self, pred_features: Features, target_features: Features, weight: torch.Tensor | None = None) -> torch.Tensor:
        return feature_reconstruction_loss(
            pred_features, target_features, layer_weights=self.layer_weights, weight=weight, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return f"layer_weights={self.layer_weights!r}, reduction={self.reduction!r}"


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    r"""Batched Gram matrix of feature maps, normalized by :math:`C H W` as in [Johnson2016]_.

    With :math:`\psi` the features reshaped to :math:`C \times HW`:

    .. math::
        G(x) = \frac{\psi \psi^\top}{C H W}, \qquad G_{c c'} = \frac{1}{CHW} \sum_{h,w} \phi_{c h w}\,\phi_{c' h w}

    Normalization differs between implementations (piq does not normalize, Gatys et al. use :math:`1/(HW)` with
    a further :math:`1/C^2` inside the loss); this one is Johnson et al.'s, so the loss's scale does not grow
    with the layer's size.

    Args:
        features: ``(N, C, *spatial)`` with at least one spatial dim.

    Returns:
        ``(N, C, C)``, in the input dtype (half precision is computed in float32).

    Example:
        >>> import torch
        >>> gram_matrix(torch.ones(1, 2, 2, 2))   # every entry: 4 products of 1 / (2*2*2)
        tensor([[[0.5000, 0.5000],
                 [0.5000, 0.5000]]])
    """
    check_floating(features, "features")
    if features.ndim < 3:
        raise ValueError(f"features: expected shape (N, C, *spatial), got {tuple(features.shape)}")
    (f,) = upcast(features)
    n, c = f.shape[:2]
    psi = f.flatten(2)
    gram = torch.bmm(psi, psi.transpose(1, 2)) / (c * psi.shape[2])
    return gram.to(features.dtype)


def style_loss(
    pred_features: Features,
    target_features: Features,
    *,
    layer_weights: LayerWeights = None,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Style reconstruction loss: squared Frobenius distance of Gram matrices, summed over layers [Johnson2016]_.

    With :math:`G_j` the :func:`gram_matrix` of layer :math:`j` (normalized by :math:`C_j H_j W_j`):

    .. math::
        \ell(\hat y, y) = \sum_j \lambda_j \, \lVert G_j(\hat y) - G_j(y) \rVert_F^2

    Gram matrices are :math:`C \times C`, so prediction and target may differ in size; a target batch of 1 (one
    style image) is broadcast over the prediction batch.

    Args:
        pred_features: Features of the prediction: a tensor ``(N, C, *)``, a sequence, or a mapping layer ->
            tensor.
        target_features: Features of the style target: the same layers and channels, batch ``N`` or 1.
        layer_weights: Optional non-negative weight per layer.
        weight: Optional per-sample weights broadcastable to ``(N,)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        ``(N,)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: layers, channel counts or batch sizes do not match.
        TypeError: a non-floating tensor or an unsupported container.

    Example:
        >>> import torch
        >>> style_loss(torch.ones(1, 2, 2, 2), torch.zeros(1, 2, 4, 4))   # 4 entries of 0.5^2
        tensor(1.)
    """
    items = _paired_layers(pred_features, target_features)
    lw = _layer_weights(layer_weights, [k for k, _, _ in items])
    total = None
    for (key, p, t), lam in zip(items, lw):
        if p.shape[1] != t.shape[1] or t.shape[0] not in (1, p.shape[0]):
            raise ValueError(
                f"target_features[{key!r}]: expected shape (1 or {p.shape[0]}, {p.shape[1]}, *), got {tuple(t.shape)}"
            )
        p32, t32 = upcast(p, t)
        per = (gram_matrix(p32) - gram_matrix(t32)).square().sum((1, 2))
        total = lam * per if total is None else total + lam * per
    return reduce_loss(total, reduction, weight, dtype=_result_dtype(items))


class StyleLoss(nn.Module):
    """Module form of :func:`style_loss`."""

    def __init__(self, *, layer_weights: LayerWeights = None, reduction: str = "mean") -> None:
        super().__init__()
        if layer_weights is not None:
            values = layer_weights.values() if isinstance(layer_weights, Mapping) else layer_weights
            for v in values:
                check_scalar(v, "layer_weights", low=0.0)
        self.layer_weights = layer_weights
        self.reduction = reduction

    def forward(self, pred_features: Features, target_features: Features, weight: torch.Tensor | None = None) -> torch.Tensor:
        return style_loss(pred_features, target_features, layer_weights=self.layer_weights, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"layer_weights={self.layer_weights!r}, reduction={self.reduction!r}"


def total_variation_loss(
    images: torch.Tensor,
    *,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Total variation regularizer: mean squared difference of neighbouring pixels, per image [Johnson2016]_.

    Encourages spatial smoothness of a generated image (the paper's :math:`\ell_{TV}`, after Mahendran & Vedaldi
    with :math:`\beta = 2`). For an image of shape :math:`C \times H \times W`:

    .. math::
        \ell_{TV}(x) = \frac{1}{CHW} \Big( \sum_{c,h<H-1,w} (x_{c,h+1,w} - x_{c,h,w})^2
                                        + \sum_{c,h,w<W-1} (x_{c,h,w+1} - x_{c,h,w})^2 \Big)

    Args:
        images: ``(N, C, H, W)``.
        weight: Optional per-sample weights broadcastable to ``(N,)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        ``(N,)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: ``images`` is not 4-D.
        TypeError: a non-floating tensor.

    Note:
        Squared (not absolute) differences keep the loss smooth (no kink where neighbours are equal); the sums run
        over every vertical and horizontal neighbour pair and are divided by :math:`CHW`, so the value does not
        depend on the image size. Johnson et al.'s code uses the same squared differences on the
        :math:`(H-1) \times (W-1)` grid without normalization.

    Example:
        >>> import torch
        >>> x = torch.tensor([[[[0.0, 1.0], [0.0, 1.0]]]])   # two horizontal steps of 1
        >>> total_variation_loss(x)
        tensor(0.5000)
    """
    check_floating(images, "images")
    if images.ndim != 4:
        raise ValueError(f"images: expected shape (N, C, H, W), got {tuple(images.shape)}")
    (x,) = upcast(images)
    n, c, h, w = x.shape
    dh = (x[:, :, 1:, :] - x[:, :, :-1, :]).square().sum((1, 2, 3))
    dw = (x[:, :, :, 1:] - x[:, :, :, :-1]).square().sum((1, 2, 3))
    loss = (dh + dw) / max(c * h * w, 1)
    return reduce_loss(loss, reduction, weight, dtype=images.dtype)


class TotalVariationLoss(nn.Module):
    """Module form of :func:`total_variation_loss`."""

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, images: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return total_variation_loss(images, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


# ---------------------------------------------------------------------------------------------------------------
# the combined loss on images

Extractor = Callable[[torch.Tensor], Union[Mapping[object, torch.Tensor], Sequence[torch.Tensor]]]


def _check_input_range(input_range: Sequence[float]) -> tuple[float, float]:
    if isinstance(input_range, str) or not isinstance(input_range, Sequence) or len(input_range) != 2:
        raise ValueError(f"input_range: expected (low, high), e.g. (0, 1) or (-1, 1), got {input_range!r}")
    low = check_scalar(input_range[0], "input_range[0]")
    high = check_scalar(input_range[1], "input_range[1]")
    if not (abs(low) < float("inf") and abs(high) < float("inf") and low < high):
        raise ValueError(f"input_range: expected finite low < high, got {tuple(input_range)!r}")
    return low, high


def _check_normalization(normalization) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    if normalization is None:
        return None
    if isinstance(normalization, str):
        check_choice(normalization, "normalization", ("imagenet",))
        return IMAGENET_MEAN, IMAGENET_STD
    if not isinstance(normalization, Sequence) or len(normalization) != 2:
        raise ValueError(f"normalization: expected 'imagenet', None or (mean, std), got {normalization!r}")
    mean, std = (tuple(float(v) for v in part) for part in normalization)
    if len(mean) != len(std) or not mean:
        raise ValueError(f"normalization: expected mean and std of the same non-zero length, got {normalization!r}")
    if any(s <= 0 for s in std):
        raise ValueError(f"normalization: expected std > 0, got {std}")
    return mean, std


def _check_layers(layers: Sequence, name: str) -> tuple:
    if isinstance(layers, (str, int)) or not isinstance(layers, Sequence):
        raise ValueError(f"{name}: expected a sequence of layer names (or indices), got {layers!r}")
    return tuple(layers)


def _select(features, layers: tuple, which: str) -> dict:
    if isinstance(features, Mapping):
        available = list(features)
        get = features.__getitem__
        has = features.__contains__
    elif isinstance(features, Sequence) and not isinstance(features, str):
        available = list(range(len(features)))
        get = features.__getitem__
        has = lambda k: isinstance(k, int) and -len(features) <= k < len(features)  # noqa: E731
    else:
        raise TypeError(f"extractor: expected it to return a dict or list of feature maps, got {type(features).__name__}")
    missing = [k for k in layers if not has(k)]
    if missing:
        raise ValueError(f"{which}: layer(s) {missing} not returned by the extractor; it returned {available}")
    return {k: get(k) for k in layers}


def _normalize_images(x: torch.Tensor, name: str, low: float, high: float, stats) -> torch.Tensor:
    check_floating(x, name)
    if x.ndim != 4:
        raise ValueError(f"{name}: expected images of shape (N, C, H, W), got {tuple(x.shape)}")
    check_in_range(
        x.detach(), name, low, high,
        hint=f"input_range={(low, high)} was stated; pass the range the images really use "
        "(e.g. input_range=(-1, 1) for tanh outputs)",
    )
    x01 = (x - low) / (high - low)
    if stats is None:
        return x01
    mean, std = stats
    if x.shape[1] != len(mean):
        hint = "; repeat a grayscale channel with x.expand(-1, 3, -1, -1)" if x.shape[1] == 1 and len(mean) == 3 else ""
        raise ValueError(
            f"{name}: expected {len(mean)} channels (the normalization's mean/std have {len(mean)}), got {x.shape[1]}"
            f" in shape {tuple(x.shape)}{hint}"
        )
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x01 - m) / s


def perceptual_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    extractor: Extractor,
    content_layers: Sequence = ("relu2_2",),
    style_layers: Sequence = (),
    content_weight: float = 1.0,
    style_weight: float = 0.0,
    tv_weight: float = 0.0,
    input_range: Sequence[float] = (0, 1),
    normalization: str | tuple | None = "imagenet",
    content_layer_weights: LayerWeights = None,
    style_layer_weights: LayerWeights = None,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Perceptual loss of images through a fixed loss network: content + style + total variation [Johnson2016]_.

    Both images are mapped from ``input_range`` to [0, 1] and then to the loss network's normalization
    (ImageNet mean/std by default), passed through ``extractor``, and compared:

    .. math::
        \ell = \lambda_c \,\ell_{feat}(\phi(\hat y), \phi(y)) + \lambda_s \,\ell_{style}(\phi(\hat y), \phi(y))
               + \lambda_{TV}\, \ell_{TV}(\hat y)

    with :func:`feature_reconstruction_loss` over ``content_layers``, :func:`style_loss` over ``style_layers``
    and :func:`total_variation_loss` on the prediction (in the range it is given). The target's features are
    computed under ``torch.no_grad()``: the target is a fixed image.

    Args:
        pred: Generated images ``(N, C, H, W)`` with values in ``input_range``.
        target: Target images, values in ``input_range``; ``(N, C, H, W)`` for the content term (same size), batch
            ``N`` or 1 and any size when only the style term is on.
        extractor: The loss network: a callable (e.g. :class:`VGG16Features`, any ``nn.Module``) mapping a
            normalized batch to a dict ``{layer: features}`` or a list of feature maps (then layers are list
            indices). It should be frozen: gradients flow through it to ``pred``, and :class:`PerceptualLoss`
            freezes an ``nn.Module`` extractor for you.
        content_layers: Layers of the feature reconstruction term (the paper: ``("relu2_2",)``).
        style_layers: Layers of the style term (the paper: ``relu1_2, relu2_2, relu3_3, relu4_3``).
        content_weight: :math:`\lambda_c \ge 0`.
        style_weight: :math:`\lambda_s \ge 0`.
        tv_weight: :math:`\lambda_{TV} \ge 0`.
        input_range: ``(low, high)``: the value range of the images, e.g. ``(0, 1)`` or ``(-1, 1)``. Values outside
            it raise while validation is on.
        normalization: ``"imagenet"`` (mean ``IMAGENET_MEAN``, std ``IMAGENET_STD``, for VGG), ``(mean, std)``
            per channel, or ``None`` to feed the [0, 1] images as they are.
        content_layer_weights: Optional weight per content layer.
        style_layer_weights: Optional weight per style layer.
        weight: Optional per-sample weights broadcastable to ``(N,)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        ``(N,)`` for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: values outside ``input_range``; a channel count that does not match the normalization;
            content images of different sizes; a layer the extractor does not return; a negative weight; all
            three weights zero.
        TypeError: a non-floating tensor, or an extractor output that is not a dict or list.

    Example:
        >>> import torch
        >>> net = VGG16Features.random_init(["relu2_2"], seed=0)
        >>> x = torch.rand(2, 3, 16, 16)
        >>> perceptual_loss(x, x, extractor=net)
        tensor(0.)
        >>> perceptual_loss(2 * x - 1, x, extractor=net)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: pred: expected values in [0, 1], got values in ...
    """
    low, high = _check_input_range(input_range)
    stats = _check_normalization(normalization)
    content_layers = _check_layers(content_layers, "content_layers")
    style_layers = _check_layers(style_layers, "style_layers")
    cw = check_scalar(content_weight, "content_weight", low=0.0)
    sw = check_scalar(style_weight, "style_weight", low=0.0)
    tw = check_scalar(tv_weight, "tv_weight", low=0.0)
    if cw == 0.0 and sw == 0.0 and tw == 0.0:
        raise ValueError("content_weight, style_weight, tv_weight: expected at least one > 0, got all 0")
    if cw > 0 and not content_layers:
        raise ValueError("content_layers: expected at least one layer when content_weight > 0, got ()")
    if sw > 0 and not style_layers:
        raise ValueError("style_layers: expected at least one layer when style_weight > 0, got ()")
    if not callable(extractor):
        raise TypeError(f"extractor: expected a callable returning feature maps, got {type(extractor).__name__}")
    check_floating(pred, "pred")
    check_floating(target, "target")
    if cw > 0 and pred.shape != target.shape:
        raise ValueError(
            f"target: expected the same shape as pred {tuple(pred.shape)}, got {tuple(target.shape)} "
            "(the content loss compares images of the same size)"
        )
    (p,) = upcast(pred)
    (t,) = upcast(target)
    xp = _normalize_images(p, "pred", low, high, stats)
    xt = _normalize_images(t, "target", low, high, stats)
    used = tuple(dict.fromkeys((content_layers if cw > 0 else ()) + (style_layers if sw > 0 else ())))

    total = torch.zeros(p.shape[0], dtype=p.dtype, device=p.device)
    if used:
        fp = _select(extractor(xp), used, "content_layers/style_layers")
        with torch.no_grad():
            ft = _select(extractor(xt), used, "content_layers/style_layers")
        if cw > 0:
            total = total + cw * feature_reconstruction_loss(
                {k: fp[k] for k in content_layers}, {k: ft[k] for k in content_layers},
                layer_weights=_keyed(content_layer_weights, content_layers), reduction="none",
            ).to(p.dtype)
        if sw > 0:
            total = total + sw * style_loss(
                {k: fp[k] for k in style_layers}, {k: ft[k] for k in style_layers},
                layer_weights=_keyed(style_layer_weights, style_layers), reduction="none",
            ).to(p.dtype)
    if tw > 0:
        total = total + tw * total_variation_loss(p, reduction="none")
    return reduce_loss(total, reduction, weight, dtype=pred.dtype)


def _keyed(layer_weights: LayerWeights, layers: tuple) -> LayerWeights:
    # Sequence weights are given in the order of ``layers``; key them so the feature dicts' order cannot matter.
    if layer_weights is None or isinstance(layer_weights, Mapping):
        return layer_weights
    values = list(layer_weights)
    if len(values) != len(layers):
        raise ValueError(f"layer_weights: expected {len(layers)} weights (one per layer), got {len(values)}")
    return dict(zip(layers, values))


class PerceptualLoss(nn.Module):
    r"""Module form of :func:`perceptual_loss`, holding the loss network.

    ``extractor=None`` builds ``VGG16Features`` over the requested layers with the weights found in torch hub's
    checkpoint cache (see :class:`VGG16Features`; nothing is downloaded).

    The extractor is deliberately **not** registered as a submodule: ``parameters()`` and ``state_dict()`` of
    the loss are empty, so ``optimizer(model.parameters() + loss.parameters())`` can never pick up the loss
    network, and a checkpoint of the loss does not carry 58 MB of VGG weights. An ``nn.Module`` extractor is
    frozen here (``requires_grad_(False)``, eval mode) and still follows the loss's ``.to(...)``, ``.double()``,
    ``.cuda()``.

    Example:
        >>> import torch
        >>> loss = PerceptualLoss(VGG16Features.random_init(["relu2_2"]), input_range=(-1, 1))
        >>> list(loss.parameters())
        []
        >>> x = torch.rand(2, 3, 16, 16) * 2 - 1
        >>> loss(x, x)
        tensor(0.)
    """

    def __init__(
        self,
        extractor: Extractor | None = None,
        *,
        content_layers: Sequence = ("relu2_2",),
        style_layers: Sequence = (),
        content_weight: float = 1.0,
        style_weight: float = 0.0,
        tv_weight: float = 0.0,
        input_range: Sequence[float] = (0, 1),
        normalization: str | tuple | None = "imagenet",
        content_layer_weights: LayerWeights = None,
        style_layer_weights: LayerWeights = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.input_range = _check_input_range(input_range)
        _check_normalization(normalization)
        self.normalization = normalization
        self.content_layers = _check_layers(content_layers, "content_layers")
        self.style_layers = _check_layers(style_layers, "style_layers")
        self.content_weight = check_scalar(content_weight, "content_weight", low=0.0)
        self.style_weight = check_scalar(style_weight, "style_weight", low=0.0)
        self.tv_weight = check_scalar(tv_weight, "tv_weight", low=0.0)
        if self.content_weight == 0.0 and self.style_weight == 0.0 and self.tv_weight == 0.0:
            raise ValueError("content_weight, style_weight, tv_weight: expected at least one > 0, got all 0")
        self.content_layer_weights = content_layer_weights
        self.style_layer_weights = style_layer_weights
        self.reduction = reduction
        if extractor is None:
            used = tuple(dict.fromkeys(
                (self.content_layers if self.content_weight > 0 else ()) + (self.style_layers if self.style_weight > 0 else ())
            ))
            extractor = VGG16Features(used or ("relu1_1",))
        if not callable(extractor):
            raise TypeError(f"extractor: expected a callable returning feature maps, got {type(extractor).__name__}")
        if isinstance(extractor, nn.Module):
            extractor.requires_grad_(False)
            extractor.eval()
        # A one-element tuple hides the extractor from nn.Module's registration (see the class docstring).
        self._extractor_box = (extractor,)

    @property
    def extractor(self) -> Extractor:
        """The loss network (frozen; not a registered submodule)."""
        return self._extractor_box[0]

    def _apply(self, fn, recurse=True):
        # Keep the hidden extractor on the loss's device/dtype (``.to``, ``.double``, ``.cuda`` go through here).
        if isinstance(self.extractor, nn.Module):
            self.extractor._apply(fn)
        return super()._apply(fn, recurse)

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return perceptual_loss(
            pred, target, extractor=self.extractor,
            content_layers=self.content_layers, style_layers=self.style_layers,
            content_weight=self.content_weight, style_weight=self.style_weight, tv_weight=self.tv_weight,
            input_range=self.input_range, normalization=self.normalization,
            content_layer_weights=self.content_layer_weights, style_layer_weights=self.style_layer_weights,
            weight=weight, reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        ext = type(self.extractor).__name__
        return (
            f"extractor={ext}, content_layers={self.content_layers}, style_layers={self.style_layers}, "
            f"content_weight={self.content_weight}, style_weight={self.style_weight}, tv_weight={self.tv_weight}, "
            f"input_range={self.input_range}, normalization={self.normalization!r}, reduction={self.reduction!r}"
        )
