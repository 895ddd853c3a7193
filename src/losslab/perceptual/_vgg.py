"""The VGG-16 loss network: :class:`VGG16Features` and its layer names and weights file."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from .._checks import check_floating

# torchvision's file name for the ImageNet VGG-16 weights (``torchvision.models.VGG16_Weights.IMAGENET1K_V1``).
VGG16_WEIGHTS_FILENAME = "vgg16-397923af.pth"

# VGG-16 ("configuration D" of [Simonyan2015]): output channels of each 3x3 conv, "M" = 2x2 max-pool.
_VGG16_CFG: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


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
                out_ch = int(_VGG16_CFG[_cfg_position(len(modules))])
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
                out_ch = int(_VGG16_CFG[_cfg_position(i)])
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
