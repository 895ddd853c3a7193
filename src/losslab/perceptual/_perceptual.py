"""The combined perceptual loss on images: :func:`perceptual_loss` and :class:`PerceptualLoss`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

from .._checks import check_choice, check_floating, check_in_range, check_scalar
from .._compat import renamed_arguments
from .._numerics import upcast
from .._reduction import reduce_loss
from ._losses import LayerWeights, feature_reconstruction_loss, style_loss, total_variation_loss
from ._vgg import VGG16Features

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ---------------------------------------------------------------------------------------------------------------
# the combined loss on images

Extractor = Callable[[torch.Tensor], Mapping[object, torch.Tensor] | Sequence[torch.Tensor]]


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
        loss="perceptual_loss",
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
    # per-channel affine map with Python numbers (no tensor built from them: no host-to-device copy per call)
    channels = [(x01[:, c : c + 1] - m) / s for c, (m, s) in enumerate(zip(mean, std))]
    return torch.cat(channels, dim=1)


@renamed_arguments(weight="sample_weight")
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
    sample_weight: torch.Tensor | None = None,
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
        sample_weight: Optional per-sample weights broadcastable to ``(N,)``.
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
    return reduce_loss(total, reduction, sample_weight, dtype=pred.dtype)


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

    @renamed_arguments(weight="sample_weight")
    def forward(self, pred: torch.Tensor, target: torch.Tensor, sample_weight: torch.Tensor | None = None) -> torch.Tensor:
        return perceptual_loss(
            pred, target, extractor=self.extractor,
            content_layers=self.content_layers, style_layers=self.style_layers,
            content_weight=self.content_weight, style_weight=self.style_weight, tv_weight=self.tv_weight,
            input_range=self.input_range, normalization=self.normalization,
            content_layer_weights=self.content_layer_weights, style_layer_weights=self.style_layer_weights,
            sample_weight=sample_weight, reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        ext = type(self.extractor).__name__
        return (
            f"extractor={ext}, content_layers={self.content_layers}, style_layers={self.style_layers}, "
            f"content_weight={self.content_weight}, style_weight={self.style_weight}, tv_weight={self.tv_weight}, "
            f"input_range={self.input_range}, normalization={self.normalization!r}, reduction={self.reduction!r}"
        )
