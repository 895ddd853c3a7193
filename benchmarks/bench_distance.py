"""Signed distance maps by backend: which one is the default where.

The CPU default must be the fastest measured CPU backend (``edt`` when installed, else SciPy); the ``torch``
backend (exact separable EDT, :func:`losslab.distance.squared_edt`) exists to run where the labels already are, on
an accelerator, with no device-to-host copy. This script times every backend on the CPU and, with ``--device
cuda``, the torch backend on that device too (synchronized), and checks that each agrees with SciPy within 1e-5.
There are no compiled rows (a distance map is data preparation, not a differentiated loss; ``--compile`` is
ignored).

Cases: a batch of 8 label maps x 3 classes x 256x256, and two 64^3 volumes x 2 classes (``--quick``: 2 maps and
one 48^3 volume).

Run from the repo root: ``python -m benchmarks.bench_distance [--quick] [--device cuda]``. Single-threaded on the
CPU.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from benchmarks._timing import add_common_arguments, median_times, report, setup
from benchmarks.bench_segmentation import _blobs
from losslab import edt_available, signed_distance_map


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    args.compile = False
    device = setup(args)
    rng = np.random.default_rng(0)
    n, side = (2, 48) if args.quick else (8, 64)
    cases = {
        f"2D ({n}, 256, 256), 3 classes": (np.stack([_blobs(rng, (256, 256), 3, 3) for _ in range(n)]), 3),
        f"3D ({max(1, n // 4)}, {side}^3), 2 classes": (
            np.stack([_blobs(rng, (side,) * 3, 2, 2) for _ in range(max(1, n // 4))]), 2),
    }
    for title, (labels, classes) in cases.items():
        bench_case(title, torch.from_numpy(labels), classes, device, repeats=3 if args.quick else 5)


def bench_case(title: str, cpu: torch.Tensor, classes: int, device: torch.device, *, repeats: int) -> None:
    ref = signed_distance_map(cpu, num_classes=classes, backend="scipy", dtype=torch.float64)
    fns = {}
    for backend in ["scipy", "torch"] + (["edt"] if edt_available() else []):
        out = signed_distance_map(cpu, num_classes=classes, backend=backend, dtype=torch.float64)
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
        fns[f"{backend} (cpu)"] = lambda b=backend: signed_distance_map(cpu, num_classes=classes, backend=b)
    if device.type != "cpu":
        dev = cpu.to(device)
        out = signed_distance_map(dev, num_classes=classes, backend="torch", dtype=torch.float64)
        assert out.device == dev.device, out.device
        torch.testing.assert_close(out.cpu(), ref, atol=1e-5, rtol=0)
        fns[f"torch ({device})"] = lambda: signed_distance_map(dev, num_classes=classes, backend="torch")
    times = median_times(fns, repeats=repeats, warmup=1, device=device)
    print(report(title, times, baseline="scipy (cpu)"))
    fastest = min((t, name) for name, t in times.items() if name.endswith("(cpu)"))[1]
    default = "edt (cpu)" if edt_available() else "scipy (cpu)"
    print(f"fastest on the CPU: {fastest}; the CPU default: {default}\n")


if __name__ == "__main__":
    main()
