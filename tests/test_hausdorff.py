"""Hausdorff-DT loss: MONAI's HausdorffDTLoss as oracle (2-D, 3-D, sigmoid and softmax), the distance maps against
SciPy's EDT (spacing included), a float64 reference for ignore_index, limits, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import distance_transform_edt

from losslab import HausdorffDistanceLoss, hausdorff_distance_loss
from losslab.segmentation._hausdorff import unsigned_distance

monai_losses = pytest.importorskip("monai.losses")


def _blobs(n=2, c=1, spatial=(10, 9), seed=0):
    g = torch.Generator().manual_seed(seed)
    probs = torch.sigmoid(torch.randn(n, c, *spatial, generator=g, dtype=torch.float64) * 2)
    target = torch.zeros(n, c, *spatial, dtype=torch.float64)
    for i in range(n):
        for k in range(c):
            a = int(torch.randint(0, spatial[0] // 2, (1,), generator=g))
            target[(i, k, *[slice(a, a + spatial[0] // 2)] * len(spatial))] = 1
    return probs, target


def _scipy_distance(mask: np.ndarray, sampling=None) -> np.ndarray:
    if not mask.any() or mask.all():
        return np.zeros(mask.shape)
    return distance_transform_edt(mask, sampling=sampling) + distance_transform_edt(~mask, sampling=sampling)


def test_unsigned_distance_is_edt_inside_plus_outside():
    _, target = _blobs(n=2, c=2, spatial=(9, 11), seed=1)
    target[1, 1] = 0  # empty mask: zeros
    for spacing in (None, (1.0, 2.5)):
        ours = unsigned_distance(target > 0.5, spacing)
        for i in range(2):
            for k in range(2):
                ref = _scipy_distance(target[i, k].numpy() > 0.5, spacing)
                torch.testing.assert_close(ours[i, k], torch.from_numpy(ref))


@pytest.mark.parametrize("spatial", [(10, 9), (6, 7, 5)])
@pytest.mark.parametrize("alpha", [2.0, 1.0, 0.5])
def test_sigmoid_matches_monai(spatial, alpha):
    probs, target = _blobs(c=2, spatial=spatial)
    theirs = monai_losses.HausdorffDTLoss(alpha=alpha, include_background=True, reduction="none")(probs, target)
    ours = hausdorff_distance_loss(probs, target, alpha=alpha, reduction="none")
    torch.testing.assert_close(ours, theirs.reshape(ours.shape), rtol=1e-6, atol=1e-6)  # MONAI: float32 maps


@pytest.mark.parametrize("batch", [False, True])
def test_softmax_index_matches_monai(batch):
    g = torch.Generator().manual_seed(2)
    probs = torch.softmax(torch.randn(3, 3, 9, 8, generator=g, dtype=torch.float64) * 2, 1)
    target = torch.zeros(3, 9, 8, dtype=torch.long)
    target[:, 2:6, 1:4] = 1
    target[1:, 5:8, 4:8] = 2
    theirs = monai_losses.HausdorffDTLoss(softmax=False, to_onehot_y=True, include_background=False, batch=batch)(
        probs, target.unsqueeze(1)
    )
    ours = hausdorff_distance_loss(probs, target, include_background=False)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)


def test_perfect_prediction_is_zero_and_errors_far_from_the_boundary_cost_more():
    _, target = _blobs(n=1, spatial=(12, 12), seed=3)
    assert hausdorff_distance_loss(target.clone(), target).item() == 0.0
    near, far = target.clone(), target.clone()
    ys, xs = torch.nonzero(target[0, 0] == 0, as_tuple=True)
    d = unsigned_distance(target > 0.5)[0, 0]
    i_near, i_far = int(d[ys, xs].argmin()), int(d[ys, xs].argmax())
    near[0, 0, ys[i_near], xs[i_near]] = 1  # one false positive next to the object
    far[0, 0, ys[i_far], xs[i_far]] = 1  # one false positive in the far corner
    assert hausdorff_distance_loss(far, target) > 4 * hausdorff_distance_loss(near, target)


def test_ignore_index_float64_reference():
    g = torch.Generator().manual_seed(4)
    probs = torch.softmax(torch.randn(2, 2, 8, 8, generator=g, dtype=torch.float64), 1)
    target = torch.zeros(2, 8, 8, dtype=torch.long)
    target[:, 2:5, 3:7] = 1
    target[0, 0] = -1
    valid = (target != -1).numpy()
    ours = hausdorff_distance_loss(probs, target, ignore_index=-1, reduction="none")
    for i in range(2):
        for k in range(2):
            g_mask = (target[i] == k).numpy()
            p = probs[i, k].numpy()
            dist = _scipy_distance(g_mask) ** 2 + _scipy_distance(p > 0.5) ** 2
            ref = ((p - g_mask) ** 2 * dist)[valid[i]].mean()
            torch.testing.assert_close(ours[i, k], torch.tensor(ref, dtype=torch.float64))


@pytest.mark.parametrize("spatial", [(10, 9), (5, 6, 4)])
def test_torch_backend_gives_the_same_loss(spatial):
    probs, target = _blobs(c=2, spatial=spatial, seed=5)
    for spacing in (None, 1.5):
        torch.testing.assert_close(
            hausdorff_distance_loss(probs, target, spacing=spacing, backend="torch", reduction="none"),
            hausdorff_distance_loss(probs, target, spacing=spacing, backend="scipy", reduction="none"),
        )
    with pytest.raises(ValueError, match="backend: expected one of"):
        HausdorffDistanceLoss(backend="cuda")


def test_spacing_and_errors():
    probs, target = _blobs(spatial=(8, 8))
    a = hausdorff_distance_loss(probs, target, spacing=2.0, alpha=2.0)
    torch.testing.assert_close(a, 4 * hausdorff_distance_loss(probs, target, alpha=2.0))  # distances scale by 2
    with pytest.raises(ValueError, match="spacing: expected 2 values"):
        hausdorff_distance_loss(probs, target, spacing=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="alpha: expected"):
        HausdorffDistanceLoss(alpha=-1.0)
    with pytest.raises(ValueError, match="include_background: False needs at least 2 channels"):
        hausdorff_distance_loss(probs, target, include_background=False)
