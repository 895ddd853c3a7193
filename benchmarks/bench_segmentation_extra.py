"""Benchmarks for the Lovász losses (a sort per class) and soft clDice (iterated pooling) against their peers.

1. Lovász-softmax forward+backward on logits ``(8, 6, 128, 128)`` with class indices, ``per_image=True,
   classes="all"`` (kornia's convention), vs ``kornia.losses.lovasz_softmax_loss``; floor ``F.cross_entropy``.
2. Lovász hinge forward+backward on logits ``(8, 1, 256, 256)`` vs ``kornia.losses.lovasz_hinge_loss``; floor
   ``F.binary_cross_entropy_with_logits``.
3. Soft clDice forward+backward (3 skeleton iterations) on sigmoid probabilities ``(8, 2, 128, 128)`` and
   ``(2, 1, 48, 48, 48)`` vs MONAI's ``SoftclDiceLoss``; floor ``probs.sum()``.

losslab and the floor also run under ``torch.compile`` (unless ``--no-compile``; not on a CPU ``--quick`` run).
Each pair is checked to agree before it is timed. Run from the repo root:
``python -m benchmarks.bench_segmentation_extra [--device cuda] [--quick] [--no-compile]``.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from benchmarks._timing import (
    add_common_arguments,
    forward_backward,
    median_times,
    peak_memories,
    report,
    setup,
    with_compiled,
)
from losslab import lovasz_hinge_loss, lovasz_softmax_loss, soft_cldice_loss


def _measure(title: str, losses: dict, inputs: tuple, baseline: str, quick: bool, device, compile: bool) -> None:
    """Forward+backward time and peak memory of each loss; losslab (the first) and the floor (the last) compiled
    too."""
    names = list(losses)
    fns = {name: forward_backward(fn, *inputs)
           for name, fn in with_compiled(losses, [names[0], names[-1]], compile).items()}
    times = median_times(fns, repeats=3 if quick else 7, warmup=1, device=device)
    memory = peak_memories(fns, device)
    print(report(f"{title}, {device}", times, memory, baseline=baseline))


def bench_lovasz(quick: bool, device: torch.device, compile: bool) -> None:
    from kornia.losses import lovasz_hinge_loss as kornia_hinge
    from kornia.losses import lovasz_softmax_loss as kornia_softmax

    g = torch.Generator().manual_seed(0)
    shape = (2, 4, 64, 64) if quick else (8, 6, 128, 128)
    logits = torch.randn(shape, generator=g).to(device)
    labels = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=g).to(device)
    ours = lambda x, t: lovasz_softmax_loss(x, t, per_image=True, classes="all")  # noqa: E731
    torch.testing.assert_close(ours(logits, labels), kornia_softmax(logits, labels), rtol=1e-5, atol=1e-6)
    _measure(f"Lovasz-softmax forward+backward {shape}", {
        "losslab lovasz_softmax": ours,
        "kornia lovasz_softmax": kornia_softmax,
        "floor: F.cross_entropy": F.cross_entropy,
    }, (logits, labels), "kornia lovasz_softmax", quick, device, compile)

    shape = (2, 1, 128, 128) if quick else (8, 1, 256, 256)
    logits = torch.randn(shape, generator=g).to(device)
    labels = torch.randint(0, 2, (shape[0], *shape[2:]), generator=g).to(device)
    torch.testing.assert_close(lovasz_hinge_loss(logits, labels), kornia_hinge(logits, labels), rtol=1e-5, atol=1e-6)
    _measure(f"Lovasz hinge forward+backward {shape}", {
        "losslab lovasz_hinge": lovasz_hinge_loss,
        "kornia lovasz_hinge": kornia_hinge,
        "floor: BCE with logits": lambda x, t: F.binary_cross_entropy_with_logits(x, t.unsqueeze(1).float()),
    }, (logits, labels), "kornia lovasz_hinge", quick, device, compile)


def bench_cldice(quick: bool, device: torch.device, compile: bool) -> None:
    from monai.losses import SoftclDiceLoss

    g = torch.Generator().manual_seed(1)
    shapes = [(2, 2, 64, 64), (1, 1, 24, 24, 24)] if quick else [(8, 2, 128, 128), (2, 1, 48, 48, 48)]
    monai = SoftclDiceLoss(iter_=3, smooth=1e-12)
    for shape in shapes:
        probs = torch.sigmoid(torch.randn(shape, generator=g) * 2).to(device)
        target = (torch.rand(shape, generator=g) > 0.7).float().to(device)
        torch.testing.assert_close(soft_cldice_loss(probs, target), monai(probs, target), rtol=1e-4, atol=1e-5)
        _measure(f"soft clDice forward+backward {shape}", {
            "losslab soft_cldice": soft_cldice_loss,
            "monai SoftclDiceLoss": monai,
            "floor: probs.sum()": lambda p, t: p.sum(),
        }, (probs, target), "monai SoftclDiceLoss", quick, device, compile)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    device = setup(args)
    bench_lovasz(args.quick, device, args.compile)
    bench_cldice(args.quick, device, args.compile)


if __name__ == "__main__":
    main()
