"""Benchmarks for the segmentation family.

1. Signed distance maps: a batch of 16 label maps x 3 classes x 256x256, and one 128^3 volume with 2 classes,
   ``losslab.signed_distance_map`` (default backend, and SciPy forced) vs the boundary-loss authors' per-class SciPy
   loop (``one_hot2dist``: for every image and class, two ``distance_transform_edt`` calls), written out here.
   Goals: >= 3x (2D batch) and >= 10x (3D volume) with the default backend. With ``--device cuda`` the torch
   backend also runs on the GPU (labels already there), synchronized. ``--quick`` on CUDA skips this section
   (CPU work, and ``bench_distance`` times the GPU backend).
2. Generalized Dice forward+backward on (8, 4, 128, 128, 64) softmax probabilities with class-index targets, vs
   MONAI's ``GeneralizedDiceLoss`` (fed the one-hot target it needs, made inside the timed call, as
   ``to_onehot_y=True`` would), with the floor ``probs.sum().backward()``. Goal: <= 0.85x MONAI's time at no more
   peak memory. losslab and the floor also run under ``torch.compile`` (unless ``--no-compile``; not on a CPU
   ``--quick`` run).

Run from the repo root: ``python -m benchmarks.bench_segmentation [--device cuda] [--quick] [--no-compile]``.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from scipy.ndimage import distance_transform_edt

from benchmarks._timing import (
    add_common_arguments,
    forward_backward,
    median_times,
    peak_memories,
    report,
    setup,
    with_compiled,
)
from losslab import generalized_dice_loss, signed_distance_map


def authors_one_hot2dist(seg: np.ndarray, resolution=None) -> np.ndarray:
    """The authors' loop: per class, EDT of the outside and of the inside (one-hot ``(K, *spatial)`` input)."""
    res = np.zeros_like(seg, dtype=np.float32)
    for k in range(len(seg)):
        posmask = seg[k].astype(bool)
        if posmask.any():
            negmask = ~posmask
            res[k] = distance_transform_edt(negmask, sampling=resolution) * negmask - (
                distance_transform_edt(posmask, sampling=resolution) - 1
            ) * posmask
    return res


def _blobs(rng: np.random.Generator, shape: tuple[int, ...], num_classes: int, count: int) -> np.ndarray:
    """Label map with ``count`` random balls per foreground class."""
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1)
    labels = np.zeros(shape, dtype=np.int64)
    for k in range(1, num_classes):
        for _ in range(count):
            centre = rng.uniform(0, shape)
            radius = rng.uniform(0.05, 0.15) * min(shape)
            labels[((grid - centre) ** 2).sum(-1) < radius**2] = k
    return labels


def bench_distance(quick: bool, device: torch.device) -> None:
    rng = np.random.default_rng(0)
    n = 4 if quick else 16
    labels2d = np.stack([_blobs(rng, (256, 256), 3, 3) for _ in range(n)])
    onehot2d = np.moveaxis(np.eye(3, dtype=np.int32)[labels2d], -1, 1)
    side = 64 if quick else 128
    labels3d = _blobs(rng, (side, side, side), 2, 2)[None]
    onehot3d = np.moveaxis(np.eye(2, dtype=np.int32)[labels3d], -1, 1)
    # the results agree before we time them
    ours = signed_distance_map(labels2d, num_classes=3)
    ref = np.stack([authors_one_hot2dist(o) for o in onehot2d])
    assert np.abs(ours - ref).max() < 1e-3, np.abs(ours - ref).max()
    repeats = 3 if quick else 7
    fns = {
        "authors one_hot2dist loop": lambda: [authors_one_hot2dist(o) for o in onehot2d],
        "losslab default (edt)": lambda: signed_distance_map(labels2d, num_classes=3),
        "losslab scipy": lambda: signed_distance_map(labels2d, num_classes=3, backend="scipy"),
    }
    if device.type != "cpu":
        on_device2d = torch.from_numpy(labels2d).to(device)
        fns[f"losslab torch ({device})"] = lambda: signed_distance_map(on_device2d, num_classes=3, backend="torch")
    times = median_times(fns, repeats=repeats, warmup=1, device=device)
    print(report(f"signed distance maps, {n} x 3 classes x 256x256", times, baseline="authors one_hot2dist loop"))
    fns = {
        "authors one_hot2dist loop": lambda: authors_one_hot2dist(onehot3d[0]),
        "losslab default (edt)": lambda: signed_distance_map(labels3d, num_classes=2),
        "losslab scipy": lambda: signed_distance_map(labels3d, num_classes=2, backend="scipy"),
    }
    if device.type != "cpu":
        on_device3d = torch.from_numpy(labels3d).to(device)
        fns[f"losslab torch ({device})"] = lambda: signed_distance_map(on_device3d, num_classes=2, backend="torch")
    times = median_times(fns, repeats=3 if quick else 5, warmup=1, device=device)
    print(report(f"signed distance maps, one {side}^3 volume x 2 classes", times, baseline="authors one_hot2dist loop"))


def bench_gdl(quick: bool, device: torch.device, compile: bool) -> None:
    from monai.losses import GeneralizedDiceLoss

    shape = (2, 4, 64, 64, 32) if quick else (8, 4, 128, 128, 64)
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(shape, generator=g), 1).to(device)
    labels = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=g).to(device)
    monai_loss = GeneralizedDiceLoss()

    def monai_call(p, t):
        onehot = torch.nn.functional.one_hot(t, shape[1]).movedim(-1, 1).to(p.dtype)
        return monai_loss(p, onehot)

    torch.testing.assert_close(generalized_dice_loss(probs, labels), monai_call(probs, labels), atol=1e-5, rtol=0)

    losses = with_compiled({
        "losslab generalized_dice": lambda p, t: generalized_dice_loss(p, t),
        "monai GeneralizedDiceLoss": monai_call,
        "floor: probs.sum()": lambda p, t: p.sum(),
    }, ["losslab generalized_dice", "floor: probs.sum()"], compile)
    fns = {name: forward_backward(fn, probs, labels) for name, fn in losses.items()}
    times = median_times(fns, repeats=3 if quick else 7, warmup=1, device=device)
    memory = peak_memories(fns, device)
    print(report(f"generalized Dice forward+backward {shape}, {device}", times, memory,
                 baseline="monai GeneralizedDiceLoss"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    device = setup(args)
    if device.type == "cpu" or not args.quick:
        bench_distance(args.quick, device)
    bench_gdl(args.quick, device, args.compile)


if __name__ == "__main__":
    main()
