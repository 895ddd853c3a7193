"""Forward+backward of SSIM and MS-SSIM: losslab vs pytorch-msssim, and the L1 loss as the floor.

Images are ``N x 3 x S x S`` float32 in [0, 1] (default 16 x 3 x 256 x 256, the issue's size), data_range 1,
the paper's 11-pixel Gaussian window (sigma 1.5) and, for MS-SSIM, its five scale weights. Both libraries filter
with separable 'valid' Gaussian convolutions; losslab runs the five local moments through one batched convolution
per axis, pytorch-msssim one grouped convolution per moment and axis. losslab and the floor also run under
``torch.compile`` (unless ``--no-compile``; not on a CPU ``--quick`` run). Times are interleaved medians over
repeats (``benchmarks/_timing.py``; synchronized on CUDA); the gradient is taken w.r.t. the prediction only.

    python -m benchmarks.bench_image                       # 16 x 3 x 256 x 256
    python -m benchmarks.bench_image --quick               # 4 x 3 x 192 x 192, fewer repeats
    python -m benchmarks.bench_image --device cuda         # on a GPU
    python -m benchmarks.bench_image --batch 8 --size 256 --threads 2
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

import losslab
from benchmarks._timing import add_common_arguments, forward_backward, median_times, report, setup, with_compiled


def main(argv: list[str] | None = None) -> None:
    import pytorch_msssim  # dev extra (a peer, not a dependency)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--batch", type=int, default=None, help="images per batch (16; --quick 4)")
    parser.add_argument("--size", type=int, default=None, help="image side (256; --quick 192)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    device = setup(args, threads=args.threads)
    n = args.batch or (4 if args.quick else 16)
    size = args.size or (192 if args.quick else 256)
    repeats = args.repeats or (3 if args.quick else 7)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, size, size, generator=g)
    y = (x + 0.05 * torch.randn(n, 3, size, size, generator=g)).clamp(0, 1)
    x, y = x.to(device), y.to(device)
    print(f"{n} x 3 x {size} x {size} float32 images; validation off")
    losslab.set_validation(False)
    summary = []
    for title, ours, peer in (
        ("SSIM", lambda a, b: losslab.ssim_loss(a, b, data_range=1.0),
         lambda a, b: 1 - pytorch_msssim.ssim(a, b, data_range=1.0)),
        ("MS-SSIM", lambda a, b: losslab.ms_ssim_loss(a, b, data_range=1.0),
         lambda a, b: 1 - pytorch_msssim.ms_ssim(a, b, data_range=1.0)),
    ):
        fns = with_compiled({"losslab": ours, "pytorch-msssim": peer, "l1 floor": lambda a, b: F.l1_loss(a, b)},
                            ["losslab", "l1 floor"], args.compile)
        runs = {name: forward_backward(fn, x, y) for name, fn in fns.items()}
        times = median_times(runs, repeats=repeats, warmup=1, device=device)
        print(report(f"\n{title} loss, forward+backward, {device}", times, baseline="pytorch-msssim"))
        summary.append(f"{title}: losslab {times['losslab'] / times['pytorch-msssim']:.2f}x pytorch-msssim")
    losslab.set_validation(True)
    print("\nSummary: " + "; ".join(summary))


if __name__ == "__main__":
    main()
