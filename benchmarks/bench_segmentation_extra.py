"""Benchmarks for the Lovász losses (a sort per class) and soft clDice (iterated pooling) against their peers.

1. Lovász-softmax forward+backward on logits ``(8, 6, 128, 128)`` with class indices, ``per_image=True,
   classes="all"`` (kornia's convention), vs ``kornia.losses.lovasz_softmax_loss``; floor ``F.cross_entropy``.
2. Lovász hinge forward+backward on logits ``(8, 1, 256, 256)`` vs ``kornia.losses.lovasz_hinge_loss``; floor
   ``F.binary_cross_entropy_with_logits``.
3. Soft clDice forward+backward (3 skeleton iterations) on sigmoid probabilities ``(8, 2, 128, 128)`` and
   ``(2, 1, 48, 48, 48)`` vs MONAI's ``SoftclDiceLoss``; floor ``probs.sum()``.

Each pair is checked to agree before it is timed. Run from the repo root:
``python -m benchmarks.bench_segmentation_extra [--quick]``.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from benchmarks._timing import forward_backward, median_times, peak_memory, report
from losslab import lovasz_hinge_loss, lovasz_softmax_loss, soft_cldice_loss


def bench_lovasz(quick: bool) -> None:
    from kornia.losses import lovasz_hinge_loss as kornia_hinge
    from kornia.losses import lovasz_softmax_loss as kornia_softmax

    g = torch.Generator().manual_seed(0)
    shape = (2, 4, 64, 64) if quick else (8, 6, 128, 128)
    logits = torch.randn(shape, generator=g)
    labels = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=g)
    ours = lambda x, t: lovasz_softmax_loss(x, t, per_image=True, classes="all")  # noqa: E731
    torch.testing.assert_close(ours(logits, labels), kornia_softmax(logits, labels), rtol=1e-5, atol=1e-6)
    fns = {
        "losslab lovasz_softmax": forward_backward(ours, logits, labels),
        "kornia lovasz_softmax": forward_backward(kornia_softmax, logits, labels),
        "floor: F.cross_entropy": forward_backward(F.cross_entropy, logits, labels),
    }
    repeats = 3 if quick else 7
    times = median_times(fns, repeats=repeats, warmup=1)
    memory = {name: peak_memory(fn) for name, fn in fns.items()}
    print(report(f"Lovasz-softmax forward+backward {shape}", times, memory, baseline="kornia lovasz_softmax"))

    shape = (2, 1, 128, 128) if quick else (8, 1, 256, 256)
    logits = torch.randn(shape, generator=g)
    labels = torch.randint(0, 2, (shape[0], *shape[2:]), generator=g)
    torch.testing.assert_close(lovasz_hinge_loss(logits, labels), kornia_hinge(logits, labels), rtol=1e-5, atol=1e-6)
    fns = {
        "losslab lovasz_hinge": forward_backward(lovasz_hinge_loss, logits, labels),
        "kornia lovasz_hinge": forward_backward(kornia_hinge, logits, labels),
        "floor: BCE with logits": forward_backward(
            lambda x, t: F.binary_cross_entropy_with_logits(x, t.unsqueeze(1).float()), logits, labels
        ),
    }
    times = median_times(fns, repeats=repeats, warmup=1)
    memory = {name: peak_memory(fn) for name, fn in fns.items()}
    print(report(f"Lovasz hinge forward+backward {shape}", times, memory, baseline="kornia lovasz_hinge"))


def bench_cldice(quick: bool) -> None:
    from monai.losses import SoftclDiceLoss

    g = torch.Generator().manual_seed(1)
    shapes = [(2, 2, 64, 64), (1, 1, 24, 24, 24)] if quick else [(8, 2, 128, 128), (2, 1, 48, 48, 48)]
    monai = SoftclDiceLoss(iter_=3, smooth=1e-12)
    for shape in shapes:
        probs = torch.sigmoid(torch.randn(shape, generator=g) * 2)
        target = (torch.rand(shape, generator=g) > 0.7).float()
        torch.testing.assert_close(soft_cldice_loss(probs, target), monai(probs, target), rtol=1e-4, atol=1e-5)
        fns = {
            "losslab soft_cldice": forward_backward(soft_cldice_loss, probs, target),
            "monai SoftclDiceLoss": forward_backward(monai, probs, target),
            "floor: probs.sum()": forward_backward(lambda p, t: p.sum(), probs, target),
        }
        times = median_times(fns, repeats=3 if quick else 7, warmup=1)
        memory = {name: peak_memory(fn) for name, fn in fns.items()}
        print(report(f"soft clDice forward+backward {shape}", times, memory, baseline="monai SoftclDiceLoss"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats (a sanity run)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    bench_lovasz(args.quick)
    bench_cldice(args.quick)


if __name__ == "__main__":
    main()
