"""Feature-map losses: feature reconstruction, Gram matrix / style, and total variation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Union

import torch

from .._checks import check_all_finite, check_finite, check_floating, check_scalar
from .._compat import renamed_arguments
from .._module import LossModule
from .._numerics import upcast
from .._reduction import reduce_loss

# Feature maps of one image batch: one tensor (one layer), a sequence of tensors, or a mapping layer -> tensor.
Features = Union[torch.Tensor, Sequence[torch.Tensor], Mapping[str, torch.Tensor]]
LayerWeights = Union[Sequence[float], Mapping[object, float], None]


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


def _paired_layers(pred: Features, target: Features, loss: str = "") -> list[tuple[object, torch.Tensor, torch.Tensor]]:
    p = _as_layers(pred, "pred_features")
    t = dict(_as_layers(target, "target_features"))
    if set(t) != {k for k, _ in p}:
        raise ValueError(
            f"target_features: expected the same layers as pred_features {[k for k, _ in p]}, got {list(t)}"
        )
    # value check: every layer of both finite, one host sync for all of them
    named = [(f"pred_features[{k!r}]", v) for k, v in p] + [(f"target_features[{k!r}]", t[k]) for k, _ in p]
    check_all_finite(named, loss)
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


def _check_layer_weight_values(layer_weights: LayerWeights, **_: object) -> None:
    """Module-time check that every given layer weight is a number ``>= 0`` (the layers are known at call time)."""
    if layer_weights is not None:
        values = layer_weights.values() if isinstance(layer_weights, Mapping) else layer_weights
        for v in values:
            check_scalar(v, "layer_weights", low=0.0)


def _result_dtype(items: list[tuple[object, torch.Tensor, torch.Tensor]]) -> torch.dtype:
    return items[0][1].dtype


# ---------------------------------------------------------------------------------------------------------------
# losses on feature maps


@renamed_arguments(weight="sample_weight")
def feature_reconstruction_loss(
    pred_features: Features,
    target_features: Features,
    *,
    layer_weights: LayerWeights = None,
    sample_weight: torch.Tensor | None = None,
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
        sample_weight: Optional per-sample weights broadcastable to ``(N,)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        ``(N,)`` for ``"none"``, otherwise a scalar. A layer with no elements (an empty spatial dim) adds 0, with
        zero gradient (a mean over nothing is 0).

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
    items = _paired_layers(pred_features, target_features, "feature_reconstruction_loss")
    lw = _layer_weights(layer_weights, [k for k, _, _ in items])
    total = None
    for (key, p, t), lam in zip(items, lw):
        if p.shape != t.shape:
            raise ValueError(
                f"target_features[{key!r}]: expected the same shape as pred_features {tuple(p.shape)}, got "
                f"{tuple(t.shape)} (content loss compares images of the same size)"
            )
        p32, t32 = upcast(p, t)
        # ||.||^2 / (C H W); a layer with no elements (an empty spatial dim) gives 0, not mean() of nothing = NaN
        per = (p32 - t32).square().flatten(1).sum(1) / max(p32.shape[1:].numel(), 1)
        total = lam * per if total is None else total + lam * per
    assert total is not None  # _paired_layers returns at least one layer
    return reduce_loss(total, reduction, sample_weight, dtype=_result_dtype(items))


class FeatureReconstructionLoss(LossModule, function=feature_reconstruction_loss, validate=_check_layer_weight_values):
    pass


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
    gram = torch.bmm(psi, psi.transpose(1, 2)) / max(c * psi.shape[2], 1)  # no elements: 0, not 0/0
    return gram.to(features.dtype)


@renamed_arguments(weight="sample_weight")
def style_loss(
    pred_features: Features,
    target_features: Features,
    *,
    layer_weights: LayerWeights = None,
    sample_weight: torch.Tensor | None = None,
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
        sample_weight: Optional per-sample weights broadcastable to ``(N,)``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        ``(N,)`` for ``"none"``, otherwise a scalar. A layer with no elements (an empty spatial dim) adds 0, with
        zero gradient (a mean over nothing is 0).

    Raises:
        ValueError: layers, channel counts or batch sizes do not match.
        TypeError: a non-floating tensor or an unsupported container.

    Example:
        >>> import torch
        >>> style_loss(torch.ones(1, 2, 2, 2), torch.zeros(1, 2, 4, 4))   # 4 entries of 0.5^2
        tensor(1.)
    """
    items = _paired_layers(pred_features, target_features, "style_loss")
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
    assert total is not None  # _paired_layers returns at least one layer
    return reduce_loss(total, reduction, sample_weight, dtype=_result_dtype(items))


class StyleLoss(LossModule, function=style_loss, validate=_check_layer_weight_values):
    pass


@renamed_arguments(weight="sample_weight")
def total_variation_loss(
    images: torch.Tensor,
    *,
    sample_weight: torch.Tensor | None = None,
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
        sample_weight: Optional per-sample weights broadcastable to ``(N,)``.
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
    check_finite(images, "images", "total_variation_loss")
    (x,) = upcast(images)
    n, c, h, w = x.shape
    dh = (x[:, :, 1:, :] - x[:, :, :-1, :]).square().sum((1, 2, 3))
    dw = (x[:, :, :, 1:] - x[:, :, :, :-1]).square().sum((1, 2, 3))
    loss = (dh + dw) / max(c * h * w, 1)
    return reduce_loss(loss, reduction, sample_weight, dtype=images.dtype)


class TotalVariationLoss(LossModule, function=total_variation_loss):
    pass
