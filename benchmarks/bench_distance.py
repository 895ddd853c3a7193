"""Signed distance maps by backend: which one is the default where.

The CPU default must be the fastest measured CPU backend (``edt`` when installed, else SciPy); the ``torch``
backend (exact separable EDT, :func:`losslab.distance.squared_edt`) exists to run where the labels already are, on
an accelerator, with no device-to-host copy. This script times every backend on the CPU and, with ``--device``,
the torch backend on that device (synchronized), and checks that each agrees with SciPy within 1e-5.

Cases: a batch of 8 label maps x 3 classes x 256x256, and two 64^3 volumes x 2 classes (``--quick``: 2 maps and
one 48^3 volume).

Run from the repo root: ``python -m benchmarks.bench_distance [--quick] [--device cuda]``.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from benchmarks._timing import median_times, report
from benchmarks.bench_segmentation import _blobs
from losslab import edt_available, signed_distance_map


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default=None, help="also time the torch backend on this device (e.g. cuda)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    n, side = (2, 48) if args.quick else (8, 64)
    cases = {
        f"2D ({n}, 256, 256), 3 classes": (np.stack([_blobs(rng, (256, 256), 3, 3) for _ in range(n)]), 3),
        f"3D ({max(1, n // 4)}, {side}^3), 2 classes": (
            np.stack([_blobs(rng, (side,) * 3, 2, 2) for _ in range(max(1, n // 4))]), 2),
    }
    for title, (labels, classes) in cases.items():
        bench_case(title, torch.from_numpy(labels), classes, args.device, repeats=3 if args.quick else 5)


def bench_case(title: str, cpu: torch.Tensor, classes: int, device: str | None, *, repeats: int) -> None:
    ref = signed_distance_map(cpu, num_classes=classes, backend="scipy", dtype=torch.float64)
    fns = {}
    for backend in ["scipy", "torch"] + (["edt"] if edt_available() else []):
        out = signed_distance_map(cpu, num_classes=classes, backend=backend, dtype=torch.float64)
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
        fns[f"{backend} (cpu)"] = lambda b=backend: signed_distance_map(cpu, num_classes=classes, backend=b)
    if device:
        dev = cpu.to(device)
        out = signed_distance_map(dev, num_classes=classes, backend="torch", dtype=torch.float64)
        torch.testing.assert_close(out.cpu(), ref, atol=1e-5, rtol=0)

        def on_device() -> None:
            signed_distance_map(dev, num_classes=classes, backend="torch")
            if dev.is_cuda:
                torch.cuda.synchronize()

        fns[f"torch ({device})"] = on_device
    times = median_times(fns, repeats=repeats, warmup=1)
    print(report(title, times, baseline="scipy (cpu)"))
    fastest = min((t, name) for name, t in times.items() if name.endswith("(cpu)"))[1]
    default = "edt (cpu)" if edt_available() else "scipy (cpu)"
    print(f"fastest on the CPU: {fastest}; the CPU default: {default}\n")

if __name__ == "__main__":
    main()
