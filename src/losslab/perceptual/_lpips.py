"""LPIPS (Zhang et al. 2018): the learned perceptual image patch similarity, VGG-16 variant, from local weights."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext

import torch
from torch import nn

from .._checks import check_floating, check_in_range, check_same_shape, check_scalar
from .._compat import renamed_arguments
from .._module import LossModule
from .._numerics import safe_sqrt, upcast
from .._reduction import reduce_loss
from ._perceptual import _check_input_range
from ._vgg import VGG16_WEIGHTS_FILENAME, VGG16Features, default_vgg16_weights_path

# The five VGG-16 layers LPIPS reads (the last ReLU of each block) and their channels.
LPIPS_VGG16_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
_VGG16_CHANNELS = (64, 128, 256, 512, 512)
# lpips' ScalingLayer: images in [-1, 1] are mapped to (x - shift) / scale before the backbone.
LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)
# The linear-layer file of the lpips package (``lpips/weights/v0.1/vgg.pth``) and the name it is looked for under
# in torch hub's checkpoint directory.
LPIPS_LINEAR_FILENAME = "vgg.pth"
LPIPS_LINEAR_HUB_FILENAME = "lpips_vgg_v0.1.pth"


def default_lpips_linear_weights_path() -> str:
    """Where :meth:`LPIPSNetwork.vgg16` looks for the linear layers when ``linear_weights=None``.

    The file bundled with an installed ``lpips`` package (``lpips/weights/v0.1/vgg.pth``, found without importing
    it), else ``<torch.hub.get_dir()>/checkpoints/lpips_vgg_v0.1.pth``.
    """
    try:
        spec = importlib.util.find_spec("lpips")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        bundled = os.path.join(os.path.dirname(spec.origin), "weights", "v0.1", LPIPS_LINEAR_FILENAME)
        if os.path.isfile(bundled):
            return bundled
    return os.path.join(torch.hub.get_dir(), "checkpoints", LPIPS_LINEAR_HUB_FILENAME)


def _load_state(source: str | os.PathLike | Mapping[str, torch.Tensor], name: str) -> Mapping[str, torch.Tensor]:
    if isinstance(source, Mapping):
        return source
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a path, a state dict or None, got {type(source).__name__}")
    if not os.path.isfile(source):
        raise FileNotFoundError(f"{name}: expected a state dict file, {os.fspath(source)!r} does not exist")
    state = torch.load(source, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping):
        raise ValueError(f"{name}: expected the file to hold a state dict, got {type(state).__name__}")
    return state


class LPIPSNetwork(nn.Module):
    r"""The network of an LPIPS distance: a frozen feature extractor and one non-negative weight per channel.

    ``forward`` maps images in [-1, 1] through lpips' scaling layer (:math:`(x - \text{shift}) / \text{scale}`)
    and the extractor, and returns the list of feature maps; ``linear_weights[k]`` (shape ``(C_k,)``) weighs the
    channels of map ``k``. :meth:`vgg16` builds the paper's VGG-16 variant from two local files; the constructor
    takes any extractor (useful for tests and other backbones).

    Args:
        extractor: Callable mapping scaled images ``(N, 3, H, W)`` to a list or dict of feature maps
            ``(N, C_k, H_k, W_k)``.
        linear_weights: One ``(C_k,)`` (or lpips' ``(1, C_k, 1, 1)``) tensor per feature map.
        shift: Per-channel shift of the scaling layer (lpips' values by default).
        scale: Per-channel scale of the scaling layer.

    Raises:
        ValueError: no linear weights, or a weight that is not one value per channel.
        TypeError: ``extractor`` not callable.

    Note:
        Frozen: parameters have ``requires_grad=False`` and the module stays in eval mode. The linear weights are
        buffers (``.to``/``.double()`` move them with the extractor).

    Example:
        >>> import torch
        >>> net = LPIPSNetwork(lambda x: [x.tanh()], [torch.ones(3)])
        >>> [tuple(f.shape) for f in net(torch.zeros(1, 3, 4, 4))]
        [(1, 3, 4, 4)]
    """

    shift: torch.Tensor
    scale: torch.Tensor

    def __init__(
        self,
        extractor: Callable[[torch.Tensor], Sequence[torch.Tensor] | Mapping[object, torch.Tensor]],
        linear_weights: Sequence[torch.Tensor],
        *,
        shift: Sequence[float] = LPIPS_SHIFT,
        scale: Sequence[float] = LPIPS_SCALE,
    ) -> None:
        super().__init__()
        if not callable(extractor):
            raise TypeError(f"extractor: expected a callable returning feature maps, got {type(extractor).__name__}")
        if isinstance(linear_weights, torch.Tensor) or len(linear_weights) == 0:
            raise ValueError("linear_weights: expected a non-empty sequence of per-channel weight tensors")
        self.extractor = extractor
        self.num_layers = len(linear_weights)
        for k, w in enumerate(linear_weights):
            if not isinstance(w, torch.Tensor) or w.numel() == 0 or w.numel() != w.shape[1 if w.ndim == 4 else 0]:
                shape = tuple(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
                raise ValueError(f"linear_weights[{k}]: expected shape (C,) or (1, C, 1, 1), got {shape}")
            self.register_buffer(f"lin{k}", w.detach().reshape(-1).clone())
        # float64, cast to the images' dtype in forward (a float64 network gets lpips' constants unrounded)
        self.register_buffer("shift", torch.tensor([float(v) for v in shift], dtype=torch.float64).view(1, -1, 1, 1))
        self.register_buffer("scale", torch.tensor([float(v) for v in scale], dtype=torch.float64).view(1, -1, 1, 1))
        self.requires_grad_(False)
        super().train(False)

    @classmethod
    def vgg16(
        cls,
        *,
        backbone_weights: str | os.PathLike | Mapping[str, torch.Tensor] | None = None,
        linear_weights: str | os.PathLike | Mapping[str, torch.Tensor] | None = None,
    ) -> LPIPSNetwork:
        """LPIPS v0.1's VGG-16 network, loaded from local files; nothing is downloaded.

        Args:
            backbone_weights: torchvision-format VGG-16 state dict (path or dict), as :class:`VGG16Features`;
                ``None`` looks for ``vgg16-397923af.pth`` in torch hub's checkpoint cache.
            linear_weights: The lpips package's ``weights/v0.1/vgg.pth`` (keys ``lin0.model.1.weight`` ...
                ``lin4.model.1.weight``), path or dict; ``None`` looks where
                :func:`default_lpips_linear_weights_path` says.

        Raises:
            FileNotFoundError: a file is missing; the message names both expected files and where to put them.
            ValueError: a state dict with missing keys or wrong shapes.
        """
        missing = []
        if backbone_weights is None:
            backbone_weights = default_vgg16_weights_path()
            if not os.path.isfile(backbone_weights):
                missing.append(
                    f"backbone_weights: torchvision's ImageNet VGG-16 file {VGG16_WEIGHTS_FILENAME} (not at "
                    f"{backbone_weights}; https://download.pytorch.org/models/{VGG16_WEIGHTS_FILENAME})"
                )
        if linear_weights is None:
            linear_weights = default_lpips_linear_weights_path()
            if not os.path.isfile(linear_weights):
                missing.append(
                    f"linear_weights: the LPIPS v0.1 linear layers {LPIPS_LINEAR_FILENAME} of the lpips package "
                    f"(lpips/weights/v0.1/{LPIPS_LINEAR_FILENAME}; not at {linear_weights})"
                )
        if missing:
            raise FileNotFoundError(
                "LPIPSNetwork.vgg16 never downloads and needs two local files; missing " + "; ".join(missing)
                + ". Pass their paths as backbone_weights= and linear_weights=, or put them at those paths"
            )
        state = _load_state(linear_weights, "linear_weights")
        weights = []
        for k, channels in enumerate(_VGG16_CHANNELS):
            key = f"lin{k}.model.1.weight"
            if key not in state:
                raise ValueError(
                    f"linear_weights: expected lpips' layout with keys lin0.model.1.weight ... lin4.model.1.weight, "
                    f"missing {key!r} (got keys {sorted(state)[:6]})"
                )
            w = state[key]
            if tuple(w.shape) != (1, channels, 1, 1):
                raise ValueError(f"linear_weights: {key} expected shape (1, {channels}, 1, 1), got {tuple(w.shape)}")
            weights.append(w.float())
        backbone = VGG16Features(LPIPS_VGG16_LAYERS, weights=backbone_weights)
        return cls(backbone, weights)

    @property
    def linear_weights(self) -> list[torch.Tensor]:
        """The per-channel weights of each feature map, ``(C_k,)``."""
        return [self.get_buffer(f"lin{k}") for k in range(self.num_layers)]

    def train(self, mode: bool = True) -> LPIPSNetwork:
        """Stays in eval mode whatever ``mode`` says (the network is fixed)."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = self.extractor((x - self.shift.to(x.dtype)) / self.scale.to(x.dtype))
        maps = list(out.values()) if isinstance(out, Mapping) else list(out)
        if len(maps) != self.num_layers:
            raise ValueError(f"extractor: expected {self.num_layers} feature maps (one per linear weight), got {len(maps)}")
        return maps


@renamed_arguments(weight="sample_weight")
def lpips_distance(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    network: LPIPSNetwork | None = None,
    input_range: Sequence[float] = (-1.0, 1.0),
    eps: float = 1e-10,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""LPIPS: the distance of deep features, unit-normalized per position and weighted per channel by a trained
    linear layer, averaged over space and summed over layers [Zhang2018]_.

    With :math:`\hat f^k_{hw} = f^k_{hw} / (\lVert f^k_{hw} \rVert_2 + \epsilon)` the channel vector of layer
    :math:`k` at position :math:`(h, w)` scaled to unit length and :math:`w_k \ge 0` the learned channel weights:

    .. math::
        d(x, y) = \sum_k \frac{1}{H_k W_k} \sum_{h, w}
        \big\lVert w_k \odot (\hat f^k_{hw}(x) - \hat f^k_{hw}(y)) \big\rVert_2^2

    (as in the official code, :math:`w_k` multiplies the *squared* difference: :math:`\sum_c w_{kc}
    (\Delta \hat f_c)^2`).

    Args:
        pred: Images ``(N, 3, H, W)`` in ``input_range``.
        target: Reference images, same shape.
        network: The :class:`LPIPSNetwork`, e.g. ``LPIPSNetwork.vgg16(backbone_weights=..., linear_weights=...)``
            (VGG-16 needs ``H, W >= 16``). Required; it is a keyword with a default only so that the module form
            can be declared, and ``None`` raises (loading the weights on every call would be slow).
        input_range: The images' value range, mapped to lpips' [-1, 1]; ``(0, 1)`` is lpips' ``normalize=True``.
            While validation is on, values outside it raise.
        eps: Added to the feature norms, ``>= 0`` (``1e-10``, lpips').
        sample_weight: Optional weights broadcastable to the per-image distance ``(N,)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        Per-image distance ``(N,)`` for ``"none"`` (lpips returns ``(N, 1, 1, 1)``), otherwise a scalar.

    Raises:
        ValueError: images not ``(N, 3, H, W)`` or of different shapes, or values outside ``input_range``
            (validation on).
        TypeError: ``network`` not an :class:`LPIPSNetwork`, or non-floating images.

    Note:
        The VGG-16 variant of LPIPS v0.1 (the ``lpips`` package's default ``net="vgg"`` for a loss): lpips'
        scaling layer, the five ``relu*_*`` block outputs, the 1x1 linear layers without bias, the spatial mean.
        The norm's square root has a zero gradient where a feature vector is all zero (ReLU features often are),
        instead of NaN. The network runs in its own dtype (the images are cast to it: a half-precision network
        gets half inputs), with autocast off (a float32 network runs in float32); the normalization and the
        distance are computed in the images' dtype, float32 for half images; under autocast the result is float32. Both images go through the network with gradients (detach the target
        yourself if it is fixed). The module form :class:`LPIPSDistance` holds the network as a submodule: its
        ``parameters()`` are the frozen backbone's (``requires_grad=False``).

    Example:
        >>> import torch
        >>> net = LPIPSNetwork(lambda x: [x.tanh(), x[:, :, ::2, ::2].tanh()], [torch.ones(3), torch.ones(3)])
        >>> x = torch.zeros(2, 3, 8, 8)
        >>> y = torch.full((2, 3, 8, 8), 0.5)
        >>> lpips_distance(x, x, network=net), lpips_distance(x, y, network=net, reduction="none")
        (tensor(0.), tensor([0.5173, 0.5173]))

    References:
        .. [Zhang2018] R. Zhang, P. Isola, A. A. Efros, E. Shechtman, O. Wang. "The Unreasonable Effectiveness of
           Deep Features as a Perceptual Metric." CVPR 2018. https://arxiv.org/abs/1801.03924
    """
    if not isinstance(network, LPIPSNetwork):
        raise TypeError(
            "network: expected an LPIPSNetwork, e.g. LPIPSNetwork.vgg16(backbone_weights=<vgg16-397923af.pth>, "
            f"linear_weights=<lpips' weights/v0.1/vgg.pth>), got {type(network).__name__}"
        )
    low, high = _check_input_range(input_range)
    eps = check_scalar(eps, "eps", low=0.0)
    check_floating(pred, "pred")
    check_floating(target, "target")
    check_same_shape(pred, target, "pred", "target")
    if pred.ndim != 4 or pred.shape[1] != 3:
        raise ValueError(f"pred: expected RGB images of shape (N, 3, H, W), got {tuple(pred.shape)}")
    hint = f"input_range={(low, high)} was stated; pass the range the images really use"
    check_in_range(pred.detach(), "pred", low, high, hint)
    check_in_range(target.detach(), "target", low, high, hint)
    device = pred.device.type
    has_autocast = device in ("cpu", "cuda", "xpu", "mps", "hpu")  # e.g. not "meta"
    out_dtype = torch.float32 if has_autocast and torch.is_autocast_enabled(device) else pred.dtype
    x, y = upcast(pred, target)
    y = y.to(x.dtype)
    # the network runs in its own dtype (a half-precision network gets half inputs); the distance is computed
    # in the images' compute dtype (float32 for half images)
    lin = network.linear_weights
    net_dtype = next((p.dtype for p in network.parameters() if p.is_floating_point()), lin[0].dtype)
    with torch.autocast(device_type=device, enabled=False) if has_autocast else nullcontext():
        # images to lpips' [-1, 1]
        x = (x - low) * (2.0 / (high - low)) - 1.0
        y = (y - low) * (2.0 / (high - low)) - 1.0
        layers = []
        for fx, fy, w in zip(network(x.to(net_dtype)), network(y.to(net_dtype)), lin):
            fx, fy = fx.to(x.dtype), fy.to(x.dtype)
            nx = fx / (safe_sqrt(fx.square().sum(1, keepdim=True)) + eps)
            ny = fy / (safe_sqrt(fy.square().sum(1, keepdim=True)) + eps)
            layers.append(((nx - ny).square() * w.to(x.dtype).view(1, -1, 1, 1)).sum(1).mean((1, 2)))
        total = torch.stack(layers).sum(0)
    return reduce_loss(total, reduction, sample_weight, dtype=out_dtype)


class LPIPSDistance(LossModule, function=lpips_distance):
    pass
