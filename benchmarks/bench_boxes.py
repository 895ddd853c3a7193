"""Forward+backward of the GIoU and CIoU losses on 1,000,000 box pairs: losslab vs torchvision vs the L1 floor.

The peer is torchvision.ops' ``generalized_box_iou_loss`` / ``complete_box_iou_loss``; torchvision is not
installed here, so its formulas are written below as the same op composition (boolean-mask intersection,
``atan(w / h)``, alpha under ``no_grad``). The floor is ``F.l1_loss`` on the same boxes: one read of each tensor
and a mean. losslab and the floor also run under ``torch.compile`` (inductor; torchvision's boolean-mask
assignment graph-breaks there). Times are interleaved medians (synchronized on CUDA); peak memory is the resident high-water mark of one
forward+backward above the starting point. The starting point already holds the previous call's gradients, which
are freed and reallocated, so the peak counts the memory a loss needs beyond its inputs and their gradients
(intermediates saved for backward and temporaries); it is quoted in units of one ``(N, 4)`` box tensor.

    python -m benchmarks.bench_boxes                  # 1,000,000 pairs
    python -m benchmarks.bench_boxes --quick          # 100,000 pairs, fewer repeats (no compile on the CPU)
    python -m benchmarks.bench_boxes --device cuda    # on a GPU, eager and compiled
"""

from __future__ import annotations

import argparse
import math

import torch
import torch.nn.functional as F

import losslab
from benchmarks._timing import (
    add_common_arguments,
    forward_backward,
    median_times,
    peak_memories,
    report,
    setup,
    with_compiled,
)

# --- the peer: torchvision.ops formulas (torchvision 0.2x), same op composition --------------------------------


def _tv_inter_union(boxes1, boxes2):
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    xkis1 = torch.max(x1, x1g)
    ykis1 = torch.max(y1, y1g)
    xkis2 = torch.min(x2, x2g)
    ykis2 = torch.min(y2, y2g)
    intsctk = torch.zeros_like(x1)
    mask = (ykis2 > ykis1) & (xkis2 > xkis1)
    intsctk[mask] = (xkis2[mask] - xkis1[mask]) * (ykis2[mask] - ykis1[mask])
    unionk = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - intsctk
    return intsctk, unionk


def tv_generalized_box_iou_loss(boxes1, boxes2, reduction="mean", eps=1e-7):
    intsctk, unionk = _tv_inter_union(boxes1, boxes2)
    iouk = intsctk / (unionk + eps)
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    xc1 = torch.min(x1, x1g)
    yc1 = torch.min(y1, y1g)
    xc2 = torch.max(x2, x2g)
    yc2 = torch.max(y2, y2g)
    area_c = (xc2 - xc1) * (yc2 - yc1)
    miouk = iouk - ((area_c - unionk) / (area_c + eps))
    loss = 1 - miouk
    return loss.mean() if reduction == "mean" else loss


def _tv_diou_iou_loss(boxes1, boxes2, eps=1e-7):
    intsct, union = _tv_inter_union(boxes1, boxes2)
    iou = intsct / (union + eps)
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    xc1 = torch.min(x1, x1g)
    yc1 = torch.min(y1, y1g)
    xc2 = torch.max(x2, x2g)
    yc2 = torch.max(y2, y2g)
    diagonal_distance_squared = ((xc2 - xc1) ** 2) + ((yc2 - yc1) ** 2) + eps
    x_p = (x2 + x1) / 2
    y_p = (y2 + y1) / 2
    x_g = (x1g + x2g) / 2
    y_g = (y1g + y2g) / 2
    centers_distance_squared = ((x_p - x_g) ** 2) + ((y_p - y_g) ** 2)
    loss = 1 - iou + (centers_distance_squared / diagonal_distance_squared)
    return loss, iou


def tv_complete_box_iou_loss(boxes1, boxes2, reduction="mean", eps=1e-7):
    diou_loss, iou = _tv_diou_iou_loss(boxes1, boxes2)
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    w_pred = x2 - x1
    h_pred = y2 - y1
    w_gt = x2g - x1g
    h_gt = y2g - y1g
    v = (4 / (math.pi**2)) * torch.pow((torch.atan(w_gt / h_gt) - torch.atan(w_pred / h_pred)), 2)
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    loss = diou_loss + alpha * v
    return loss.mean() if reduction == "mean" else loss


# ----------------------------------------------------------------------------------------------------------------


def make_boxes(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 100
    wh = 1 + torch.rand(n, 2, generator=g) * 30
    shift = (torch.rand(n, 2, generator=g) - 0.5) * 40
    twh = 1 + torch.rand(n, 2, generator=g) * 30
    return torch.cat((xy, xy + wh), -1), torch.cat((xy + shift, xy + shift + twh), -1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--n", type=int, default=None, help="box pairs (default 1,000,000; --quick 100,000)")
    args = parser.parse_args(argv)
    device = setup(args)
    n = args.n or (100_000 if args.quick else 1_000_000)
    repeats = 5 if args.quick else 15
    boxes, target = (b.to(device) for b in make_boxes(n))
    box_bytes = boxes.numel() * boxes.element_size()
    print(f"{n:,} float32 box pairs; one box tensor = {box_bytes / 2**20:.1f} MiB")

    # the losses run with validation off (as in a training loop that has validated its data once); the
    # value checks are measured separately below
    losslab.set_validation(False)
    floor = lambda b, t: F.l1_loss(b, t)  # noqa: E731
    families = {
        "GIoU": (losslab.generalized_box_iou_loss, tv_generalized_box_iou_loss),
        "CIoU": (losslab.complete_box_iou_loss, tv_complete_box_iou_loss),
    }
    summary = []
    for title, (ours, peer) in families.items():
        # torchvision's boolean-mask assignment graph-breaks under inductor (data-dependent nonzero), so
        # only losslab and the floor are compiled
        fns = with_compiled({"losslab": ours, "torchvision": peer, "l1 floor": floor}, ["losslab", "l1 floor"],
                            args.compile)
        runs = {name: forward_backward(fn, boxes, target) for name, fn in fns.items()}
        times = median_times(runs, repeats=repeats, warmup=2, device=device)
        memory = peak_memories(runs, device)
        print(report(f"\n{title} loss, forward+backward", times, memory, baseline="l1 floor"))
        extra = (memory["losslab"] - memory["l1 floor"]) / box_bytes
        print(f"  losslab / torchvision (eager): {times['losslab'] / times['torchvision']:.2f}x time, "
              f"{memory['losslab'] / max(memory['torchvision'], 1):.2f}x peak memory; "
              f"losslab peak = {memory['losslab'] / box_bytes:.2f} box tensors ({extra:.2f} beyond the floor's)")
        line = f"{title}: eager {times['losslab'] / times['torchvision']:.2f}x torchvision"
        if args.compile:
            extra_c = (memory["losslab compiled"] - memory["l1 floor compiled"]) / box_bytes
            print(f"  losslab compiled / torchvision eager: {times['losslab compiled'] / times['torchvision']:.2f}x; "
                  f"compiled peak = {memory['losslab compiled'] / box_bytes:.2f} box tensors "
                  f"({extra_c:.2f} beyond the compiled floor's)")
            line += (f", compiled {times['losslab compiled'] / times['torchvision']:.2f}x torchvision eager, "
                     f"peak {extra_c:+.2f} box tensors beyond the compiled floor")
        summary.append(line)

    losslab.set_validation(True)
    runs = {
        "GIoU, validation on": forward_backward(losslab.generalized_box_iou_loss, boxes, target),
        "l1 floor": forward_backward(floor, boxes, target),
    }
    times = median_times(runs, repeats=repeats, warmup=1, device=device)
    print(report("\nCost of the eager value checks (finite, x2 >= x1)", times, baseline="l1 floor"))
    if device.type != "cpu":
        # the default policy reads accelerator tensors on the first 8 calls only (the warm-up above); "always"
        # reads on every call. Set once around the whole measurement: switching it per call restarts the count.
        with losslab.validation("always"):
            times = median_times(runs, repeats=repeats, warmup=1, device=device)
        print(report("Cost of the value checks with set_validation('always'), read on every call", times,
                     baseline="l1 floor"))
    print("\nSummary: " + "; ".join(summary))


if __name__ == "__main__":
    main()
