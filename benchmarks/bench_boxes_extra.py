"""Forward+backward of the EIoU, SIoU and alpha-IoU (DIoU kind) losses next to losslab's CIoU, on box pairs.

Baseline is losslab's ``complete_box_iou_loss`` (the CIoU row of ``bench_boxes``, itself 0.37x torchvision's
eager time there); the L1 loss on the same boxes is the floor (one read of each tensor and a mean). Times are
interleaved medians on one thread, with validation off (as in a training loop that validated its data once).

    python -m benchmarks.bench_boxes_extra            # 1,000,000 pairs
    python -m benchmarks.bench_boxes_extra --quick    # 100,000 pairs, fewer repeats
"""

from __future__ import annotations

import argparse
import functools

import torch
import torch.nn.functional as F

import losslab
from benchmarks._timing import forward_backward, median_times, report
from benchmarks.bench_boxes import make_boxes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 pairs, few repeats")
    parser.add_argument("--n", type=int, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    n = args.n or (100_000 if args.quick else 1_000_000)
    repeats = 5 if args.quick else 15
    boxes, target = make_boxes(n)
    print(f"{n:,} float32 box pairs; single thread; validation off")
    losslab.set_validation(False)
    fns = {
        "CIoU (losslab)": losslab.complete_box_iou_loss,
        "EIoU": losslab.efficient_iou_loss,
        "SIoU": losslab.scylla_iou_loss,
        "alpha-IoU (diou, a=3)": functools.partial(losslab.alpha_iou_loss, kind="diou"),
        "DIoU (losslab)": losslab.distance_box_iou_loss,
        "l1 floor": lambda b, t: F.l1_loss(b, t),
    }
    runs = {name: forward_backward(fn, boxes, target, grad_inputs=(0,)) for name, fn in fns.items()}
    times = median_times(runs, repeats=repeats, warmup=2)
    print(report("\nforward+backward (gradient w.r.t. the predicted boxes)", times, baseline="CIoU (losslab)"))
    losslab.set_validation(True)


if __name__ == "__main__":
    main()
