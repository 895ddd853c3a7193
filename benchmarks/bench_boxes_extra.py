"""Forward+backward of the EIoU, SIoU and alpha-IoU (DIoU kind) losses next to losslab's CIoU, on box pairs.

Baseline is losslab's ``complete_box_iou_loss`` (the CIoU row of ``bench_boxes``, itself 0.37x torchvision's
eager time there); the L1 loss on the same boxes is the floor (one read of each tensor and a mean). Every
contender also runs under ``torch.compile`` (unless ``--no-compile``; not on a CPU ``--quick`` run). Times are
interleaved medians (one CPU thread; synchronized on CUDA), with validation off (as in a training loop that
validated its data once).

    python -m benchmarks.bench_boxes_extra                  # 1,000,000 pairs
    python -m benchmarks.bench_boxes_extra --quick          # 100,000 pairs, fewer repeats
    python -m benchmarks.bench_boxes_extra --device cuda    # on a GPU
"""

from __future__ import annotations

import argparse
import functools

import torch.nn.functional as F

import losslab
from benchmarks._timing import add_common_arguments, forward_backward, median_times, report, setup, with_compiled
from benchmarks.bench_boxes import make_boxes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--n", type=int, default=None, help="box pairs (default 1,000,000; --quick 100,000)")
    args = parser.parse_args(argv)
    device = setup(args)
    n = args.n or (100_000 if args.quick else 1_000_000)
    repeats = 5 if args.quick else 15
    boxes, target = (b.to(device) for b in make_boxes(n))
    print(f"{n:,} float32 box pairs; validation off")
    losslab.set_validation(False)
    fns = {
        "CIoU (losslab)": losslab.complete_box_iou_loss,
        "EIoU": losslab.efficient_iou_loss,
        "SIoU": losslab.scylla_iou_loss,
        "alpha-IoU (diou, a=3)": functools.partial(losslab.alpha_iou_loss, kind="diou"),
        "DIoU (losslab)": losslab.distance_box_iou_loss,
        "l1 floor": lambda b, t: F.l1_loss(b, t),
    }
    fns = with_compiled(fns, list(fns), args.compile)
    runs = {name: forward_backward(fn, boxes, target, grad_inputs=(0,)) for name, fn in fns.items()}
    times = median_times(runs, repeats=repeats, warmup=2, device=device)
    print(report("\nforward+backward (gradient w.r.t. the predicted boxes)", times, baseline="CIoU (losslab)"))
    losslab.set_validation(True)


if __name__ == "__main__":
    main()
