"""Signed distance maps: the authors' one_hot2dist values, exact hand-worked distances, policies, backends."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from conftest import oracle_path
from losslab import SignedDistanceMap, edt_available, signed_distance_map

BACKENDS = ["scipy", "torch"] + (["edt"] if edt_available() else [])
R2, R5, R8 = math.sqrt(2), math.sqrt(5), math.sqrt(8)


def _square_5x5() -> torch.Tensor:
    labels = torch.zeros(1, 5, 5, dtype=torch.long)
    labels[0, 1:4, 1:4] = 1
    return labels


@pytest.mark.parametrize("backend", BACKENDS)
def test_5x5_square_exact_distances(backend):
    # 3x3 square in a 5x5 image. Foreground: outside = distance to the nearest square pixel; inside = -(distance
    # to the nearest background pixel - 1): the ring is 0, the centre (2 pixels from the background) is -1.
    fg = torch.tensor(
        [[R2, 1, 1, 1, R2], [1, 0, 0, 0, 1], [1, 0, -1, 0, 1], [1, 0, 0, 0, 1], [R2, 1, 1, 1, R2]],
        dtype=torch.float64,
    )
    # Background (the frame): outside it (the square) = distance to the frame: 1 on the ring, 2 at the centre;
    # inside it, every frame pixel touches... nothing but frame and square: 0 next to the square (distance 1),
    # the corners are sqrt(2) from the nearest square pixel -> -(sqrt2 - 1).
    bg = torch.tensor(
        [[-(R2 - 1), 0, 0, 0, -(R2 - 1)], [0, 1, 1, 1, 0], [0, 1, 2, 1, 0], [0, 1, 1, 1, 0], [-(R2 - 1), 0, 0, 0, -(R2 - 1)]],
        dtype=torch.float64,
    )
    out = signed_distance_map(_square_5x5(), num_classes=2, backend=backend, dtype=torch.float64)
    tol = 0 if backend in ("scipy", "torch") else 1e-6
    torch.testing.assert_close(out[0, 1], fg, atol=tol, rtol=0)
    torch.testing.assert_close(out[0, 0], bg, atol=tol, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_anisotropic_spacing_by_hand(backend):
    # one pixel at (2, 2) of a 5x5 image with spacing (1.0, 2.5): outside distances sqrt((dy)^2 + (2.5 dx)^2);
    # the pixel itself: -(EDT - 1) with EDT = 1 (nearest background one row away): 0. The -1 shift is not scaled.
    labels = torch.zeros(1, 5, 5, dtype=torch.long)
    labels[0, 2, 2] = 1
    dy = torch.arange(5.0, dtype=torch.float64).sub(2).abs().reshape(5, 1)
    dx = torch.arange(5.0, dtype=torch.float64).sub(2).abs().reshape(1, 5)
    expected = (dy**2 + (2.5 * dx) ** 2).sqrt()
    expected[2, 2] = 0.0
    out = signed_distance_map(labels, num_classes=2, spacing=(1.0, 2.5), backend=backend, dtype=torch.float64)
    torch.testing.assert_close(out[0, 1], expected, atol=1e-6, rtol=0)
    # a one-pixel-high bar: every pixel has background one row (1.0) away -> the whole bar is the 0 ring
    bar = torch.zeros(1, 5, 5, dtype=torch.long)
    bar[0, 2, 1:4] = 1
    out = signed_distance_map(bar, num_classes=2, spacing=(1.0, 2.5), backend=backend, dtype=torch.float64)
    torch.testing.assert_close(out[0, 1, 2, 1:4], torch.zeros(3, dtype=torch.float64), atol=1e-6, rtol=0)
    # a 3 x 5 block with spacing (2.5, 1.0): the top-middle pixel (1, 3) is 2.5 from the row above and 3 from the
    # side columns, so EDT = 2.5 and the map is 1 - 2.5 = -1.5 on the boundary ring (the unscaled shift)
    block = torch.zeros(1, 5, 7, dtype=torch.long)
    block[0, 1:4, 1:6] = 1
    out = signed_distance_map(block, num_classes=2, spacing=(2.5, 1.0), backend=backend, dtype=torch.float64)
    assert out[0, 1, 1, 3].item() == pytest.approx(-1.5, abs=1e-6)
    assert out[0, 1, 2, 1].item() == pytest.approx(0.0, abs=1e-6)  # side pixel: background 1.0 away
    assert out[0, 1, 2, 3].item() == pytest.approx(-2.0, abs=1e-6)  # centre: 3 columns to the side


def test_matches_authors_one_hot2dist_where_masks_are_not_full():
    with open(oracle_path("boundary.json")) as f:
        data = json.load(f)
    labels = torch.tensor(data["inputs"]["labels_BxHxW"])
    official = np.array(data["results"]["isotropic_resolution_None__real_valued_float64_map"]["dist_maps_BxKxHxW"])
    for backend in BACKENDS:
        ours = signed_distance_map(labels.numpy(), num_classes=2, backend=backend, dtype=np.float64)
        # sample 0: both classes present -> identical to the authors' maps
        np.testing.assert_allclose(ours[0], official[0], atol=1e-12 if backend != "edt" else 1e-5, rtol=0)
        # samples 1 and 2: the empty class is all zeros in both; the full class is the authors' SciPy artefact,
        # which our policy replaces by zeros
        for n, empty, full in ((1, 1, 0), (2, 0, 1)):
            assert np.all(official[n, empty] == 0) and np.all(ours[n, empty] == 0)
            assert official[n, full].min() < -20 and np.all(ours[n, full] == 0)
        # the official data loader truncates to int32: equal to truncating our real-valued maps
        np.testing.assert_array_equal(np.trunc(ours[0] + np.sign(ours[0]) * 1e-9).astype(np.int32),
                                      official[0].astype(np.int32))


def _naive_map(mask: np.ndarray, spacing) -> np.ndarray:
    """Brute force: distances between pixel centres, following the documented convention."""
    coords = np.stack(np.meshgrid(*[np.arange(s) for s in mask.shape], indexing="ij"), -1).reshape(-1, mask.ndim)
    scaled = coords * np.asarray(spacing)
    flat = mask.reshape(-1)
    d = np.sqrt(((scaled[:, None, :] - scaled[None, :, :]) ** 2).sum(-1))
    out = np.zeros(flat.shape)
    if flat.any() and not flat.all():
        to_fg = d[:, flat].min(1)
        to_bg = d[:, ~flat].min(1)
        out = np.where(flat, -(to_bg - 1), to_fg)
    return out.reshape(mask.shape)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape,spacing", [((9, 7), (1.0, 1.0)), ((8, 6), (0.5, 1.75)), ((5, 6, 4), (2.0, 1.0, 1.5))])
def test_random_masks_against_brute_force(backend, shape, spacing):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, (2, *shape))
    labels[1] = np.where(labels[1] == 2, 0, labels[1])  # class 2 empty in image 1
    out = signed_distance_map(labels, num_classes=3, spacing=spacing, backend=backend, dtype=np.float64)
    for n in range(2):
        for k in range(3):
            np.testing.assert_allclose(out[n, k], _naive_map(labels[n] == k, spacing), atol=1e-5, rtol=1e-6)
    # one-hot input gives the same maps
    onehot = np.moveaxis(np.eye(3, dtype=bool)[labels], -1, 1)
    np.testing.assert_allclose(signed_distance_map(onehot, spacing=spacing, backend=backend, dtype=np.float64), out,
                               atol=1e-5)


def test_backends_agree_and_default_prefers_edt():
    rng = np.random.default_rng(1)
    labels = torch.from_numpy(rng.integers(0, 2, (3, 12, 10)))
    scipy_map = signed_distance_map(labels, num_classes=2, backend="scipy")
    default = signed_distance_map(labels, num_classes=2)
    torch.testing.assert_close(default, scipy_map, atol=1e-5, rtol=0)
    assert SignedDistanceMap(2).backend == ("edt" if edt_available() else "scipy")


def test_empty_and_full_masks_give_zero_maps_and_types():
    labels = torch.zeros(2, 4, 4, dtype=torch.long)
    labels[1] = 1
    out = signed_distance_map(labels, num_classes=2)
    assert out.dtype == torch.float32 and out.shape == (2, 2, 4, 4)
    assert torch.count_nonzero(out) == 0 and torch.isfinite(out).all()
    soft = torch.zeros(1, 1, 4, 4)
    soft[0, 0, 1:3, 1:3] = 0.9  # float masks are thresholded at 0.5
    assert signed_distance_map(soft)[0, 0, 1, 1].item() == 0.0
    arr = signed_distance_map(labels.numpy(), num_classes=2)
    assert isinstance(arr, np.ndarray) and arr.dtype == np.float32


def test_transform_in_dataloader_workers_before_cropping():
    class Blobs(torch.utils.data.Dataset):
        def __init__(self):
            self.to_dist = SignedDistanceMap(num_classes=2)

        def __len__(self):
            return 4

        def __getitem__(self, i):
            labels = torch.zeros(12, 12, dtype=torch.long)
            labels[2 + i : 5 + i, 3:6] = 1
            dist = self.to_dist(labels[None])[0]  # one sample as a batch of one, whole image first
            return labels[:, 6:], dist[:, :, 6:]  # then crop both: the crop misses the blob but keeps its distances

    loader = torch.utils.data.DataLoader(Blobs(), batch_size=2, num_workers=2)
    labels, dist = next(iter(loader))
    assert dist.shape == (2, 2, 12, 6)
    assert torch.count_nonzero(labels) == 0 and dist[:, 1].min() >= 1.0  # still distances to the (cropped-out) blob
    assert "SignedDistanceMap(num_classes=2" in repr(SignedDistanceMap(2))


def test_bad_inputs_are_pinned():
    labels = _square_5x5()
    with pytest.raises(ValueError, match=r"spacing: expected 2 values \(one per spatial axis of a 2D image\), got 3"):
        signed_distance_map(labels, num_classes=2, spacing=(1.0, 1.0, 2.0))
    with pytest.raises(ValueError, match=r"spacing: expected positive numbers"):
        signed_distance_map(labels, num_classes=2, spacing=(1.0, 0.0))
    with pytest.raises(ValueError, match=r"target: expected class indices in \[0, 1\], got values in \[0, 3\]"):
        signed_distance_map(labels * 3, num_classes=2)
    with pytest.raises(TypeError, match=r"target: class indices \(num_classes=2\) must have an integer dtype"):
        signed_distance_map(labels.float(), num_classes=2)
    with pytest.raises(ValueError, match=r"backend: expected one of \('scipy', 'edt', 'torch'\) or None"):
        signed_distance_map(labels, num_classes=2, backend="cucim")
    with pytest.raises(ValueError, match=r"target: expected one-hot masks of shape \(N, C, \*spatial\)"):
        signed_distance_map(labels[0])
    with pytest.raises(TypeError, match=r"target: expected a torch.Tensor or numpy.ndarray, got list"):
        signed_distance_map([[0, 1]], num_classes=2)


# ---------------------------------------------------------------------------------------------------------------
# issue 19 item 4 and issue 14 item 4: one layout, 1-D inputs, index labels without num_classes, the torch backend


def test_function_and_transform_take_the_same_layout():
    rng = np.random.default_rng(3)
    labels = torch.from_numpy(rng.integers(0, 3, (4, 9, 7)))
    onehot = torch.nn.functional.one_hot(labels, 3).movedim(-1, 1).bool()
    for kwargs, x in (({"num_classes": 3}, labels), ({}, onehot)):
        expected = signed_distance_map(x, backend="scipy", **kwargs)
        torch.testing.assert_close(SignedDistanceMap(backend="scipy", **kwargs)(x), expected, atol=0, rtol=0)
        assert expected.shape == (4, 3, 9, 7)


@pytest.mark.parametrize("backend", [None, *BACKENDS])
def test_1d_inputs_work_with_every_backend(backend):
    labels = torch.tensor([[0, 1, 1, 1, 0, 0, 0, 1]])
    out = signed_distance_map(labels, num_classes=2, backend=backend, spacing=2.0, dtype=torch.float64)
    # class 1 outside: 2 * index distance; inside: 1 - 2 * (distance to the background in pixels)
    expected = torch.tensor([[2.0, -1.0, -3.0, -1.0, 2.0, 4.0, 2.0, -1.0]], dtype=torch.float64)
    torch.testing.assert_close(out[:, 1], expected, atol=1e-6, rtol=0)
    masks = torch.nn.functional.one_hot(labels, 2).movedim(-1, 1).bool()
    torch.testing.assert_close(signed_distance_map(masks, backend=backend, spacing=2.0, dtype=torch.float64), out,
                               atol=1e-6, rtol=0)


def test_index_labels_without_num_classes_say_to_pass_it():
    labels = torch.zeros(2, 6, 6, dtype=torch.long)
    labels[:, 2:4, 2:4] = 2
    with pytest.raises(ValueError, match=r"values up to 2 holds class indices.*pass num_classes \(e.g. num_classes=3\)"):
        signed_distance_map(labels)
    with pytest.raises(ValueError, match=r"pass num_classes=2"):
        signed_distance_map(labels.clamp(max=1))  # binary index labels (N, H, W) read as (N, C, L) masks
    with pytest.raises(ValueError, match=r"values up to 2 holds class indices"):
        SignedDistanceMap()(labels.numpy())
    # genuine one-hot 1-D masks (N, C, L) of integer dtype still work
    onehot = torch.nn.functional.one_hot(torch.tensor([[0, 1, 1, 0]]), 2).movedim(-1, 1)
    assert signed_distance_map(onehot).shape == (1, 2, 4)


def _blobs(rng, shape, classes):
    """Smooth label maps: a few discs/balls per class (distances of tens of pixels, not just 1-2)."""
    grids = np.meshgrid(*[np.arange(s) for s in shape[1:]], indexing="ij")
    labels = np.zeros(shape, dtype=np.int64)
    for n in range(shape[0]):
        for k in range(1, classes):
            for _ in range(2):
                centre = [rng.uniform(0, s) for s in shape[1:]]
                radius = rng.uniform(2, max(shape[1:]) / 4)
                inside = sum((g - c) ** 2 for g, c in zip(grids, centre)) < radius**2
                labels[n][inside] = k
    return labels


@pytest.mark.parametrize(
    ("shape", "spacing"),
    [((3, 70, 45), (1.0, 1.0)), ((2, 40, 33), (0.7, 2.3)), ((2, 20, 17, 12), (3.0, 1.0, 0.8)), ((2, 1, 30), (1.0, 0.5))],
)
def test_torch_backend_matches_scipy(shape, spacing):
    labels = _blobs(np.random.default_rng(len(shape) + int(10 * spacing[-1])), shape, 3)
    ref = signed_distance_map(labels, num_classes=3, spacing=spacing, backend="scipy", dtype=np.float64)
    ours = signed_distance_map(torch.from_numpy(labels), num_classes=3, spacing=spacing, backend="torch",
                               dtype=torch.float64)
    assert np.abs(ref).max() > 5  # real distances, not only the boundary ring
    torch.testing.assert_close(ours, torch.from_numpy(ref), atol=1e-5, rtol=0)
    np.testing.assert_allclose(signed_distance_map(labels, num_classes=3, spacing=spacing, backend="torch",
                                                   dtype=np.float64), ref, atol=1e-5, rtol=0)


def test_torch_backend_stays_on_the_device_and_is_the_accelerator_default():
    from losslab.distance import _resolve_backend, squared_edt

    assert _resolve_backend(None, torch.device("cuda")) == "torch"
    assert _resolve_backend(None, torch.device("cpu")) == ("edt" if edt_available() else "scipy")
    # the exact squared EDT of one pixel in a 5x5 grid with spacing (1, 2): (dy)^2 + (2 dx)^2
    feat = torch.zeros(1, 5, 5, dtype=torch.bool)
    feat[0, 2, 2] = True
    d = torch.arange(5.0, dtype=torch.float64) - 2
    torch.testing.assert_close(squared_edt(feat, (1.0, 2.0))[0], d[:, None] ** 2 + (2 * d[None, :]) ** 2)
    assert torch.isinf(squared_edt(torch.zeros(1, 3, 3, dtype=torch.bool), (1.0, 1.0))).all()
