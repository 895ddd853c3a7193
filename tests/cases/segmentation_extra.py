"""Contract-test cases for the entries of ``src/losslab/registry/segmentation_extra.py``."""

from __future__ import annotations

import torch

from . import Case, add, logits_index, probs_index, randint, randn


def _logits_mask(channels: int = 2, spatial: tuple[int, ...] = (5, 5), **kwargs):
    """Logits ``(n, C, *spatial)`` and 0/1 float masks of the same shape (independent channels)."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        shape = (n, channels, *spatial)
        return (randn(shape, dtype, g, 2.0), randint(shape, 2, g).to(dtype)), dict(kwargs)

    return sample


def _probs_blobs(channels: int = 1, spatial: tuple[int, ...] = (8, 8), **kwargs):
    """Sigmoid probabilities ``(n, C, *spatial)`` and 0/1 masks holding a random box (a boundary to measure)."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        shape = (n, channels, *spatial)
        probs = torch.sigmoid(randn(shape, torch.float64, g, 2.0)).to(dtype)
        target = torch.zeros(shape, dtype=dtype)
        lo = torch.randint(0, spatial[0] // 2, (n, channels), generator=g)
        for i in range(n):
            for c in range(channels):
                a = int(lo[i, c])
                target[i, c][tuple(slice(a, a + spatial[0] // 2) for _ in spatial)] = 1.0
        return (probs, target), dict(kwargs)

    return sample


def _logits_binary(spatial: tuple[int, ...] = (5, 5), **kwargs):
    """Foreground logits ``(n, 1, *spatial)`` and 0/1 integer labels of the same shape."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        shape = (n, 1, *spatial)
        return (randn(shape, dtype, g, 2.0), randint(shape, 2, g)), dict(kwargs)

    return sample


add(Case("tversky_loss", sample=probs_index(classes=3, spatial=(5, 5), scale=1.5)))
add(Case("focal_tversky_loss", sample=probs_index(classes=3, spatial=(5, 5), scale=1.5)))
add(Case("softmax_dice_loss", sample=logits_index(classes=3, spatial=(5, 5))))
add(Case("sigmoid_dice_loss", sample=_logits_mask()))
add(Case("softmax_generalized_dice_loss", sample=logits_index(classes=4, spatial=(5, 5))))
add(Case("softmax_tversky_loss", sample=logits_index(classes=3, spatial=(5, 5))))
add(Case("sigmoid_tversky_loss", sample=_logits_mask()))
add(Case("lovasz_softmax_loss", sample=logits_index(classes=3, spatial=(5, 5), per_image=True)))
add(Case("lovasz_hinge_loss", sample=_logits_binary()))
add(Case("dice_cross_entropy_loss", sample=logits_index(classes=3, spatial=(5, 5))))
add(Case("dice_focal_loss", sample=logits_index(classes=3, spatial=(5, 5))))
add(Case("soft_cldice_loss", sample=_probs_blobs(spatial=(7, 7))))
add(
    Case(
        "hausdorff_distance_loss",
        sample=_probs_blobs(backend="torch"),  # the accelerator path (device maps); tests cover SciPy/edt
    )
)
