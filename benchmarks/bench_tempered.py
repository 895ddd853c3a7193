"""Bi-tempered logistic loss: forward+backward time and peak memory.

Contenders, measured interleaved in one process (``benchmarks/_timing.py``):

* ``cross_entropy (floor)``: ``F.cross_entropy``, the logistic loss the bi-tempered loss generalizes;
* ``losslab``: :func:`losslab.bi_tempered_logistic_loss` (log space; the normalizer solved without a graph and
  differentiated implicitly);
* ``unrolled autograd (peer)``: the same loss written as the public ports write it, autograd through the
  paper's fixed-point iterations and real ``pow``;
* ``losslab compiled`` / ``cross_entropy (floor) compiled``: ``torch.compile`` (inductor) of each (unless
  ``--no-compile``; not on a CPU ``--quick`` run).

Run ``python -m benchmarks.bench_tempered [--device cuda] [--quick] [--no-compile]`` from the repo root (one thread
on the CPU; synchronized on CUDA).
"""

from __future__ import annotations

import argparse

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

SHAPES = [(4096, 1000), (65536, 10)]
TEMPS = [(0.8, 1.2), (0.5, 4.0)]
NUM_ITERS = 5


def unrolled(a: torch.Tensor, labels: torch.Tensor, t1: float, t2: float, num_iters: int = NUM_ITERS) -> torch.Tensor:
    """The loss as public PyTorch ports compute it: dense one-hot, real pow, autograd through the iterations."""

    def exp_t(u, t):
        return torch.relu(1.0 + (1.0 - t) * u) ** (1.0 / (1.0 - t))

    def log_t(u, t):
        return (u ** (1.0 - t) - 1.0) / (1.0 - t)

    y = F.one_hot(labels, a.shape[1]).to(a.dtype)
    mu = a.amax(1, keepdim=True)
    a0 = a - mu
    a_ = a0
    for _ in range(num_iters):
        z = exp_t(a_, t2).sum(1, keepdim=True)
        a_ = a0 * z ** (1.0 - t2)
    z = exp_t(a_, t2).sum(1, keepdim=True)
    lam = -log_t(1.0 / z, t2)
    p = exp_t(a0 - lam, t2)
    loss = (y * log_t(y + 1e-10, t1) - y * log_t(p, t1) - (y ** (2.0 - t1) - p ** (2.0 - t1)) / (2.0 - t1)).sum(1)
    return loss.mean()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    device = setup(args)
    losslab.set_validation(False)  # F.cross_entropy does not read the data to validate it either
    shapes = [(512, 1000), (8192, 10)] if args.quick else SHAPES
    repeats = 5 if args.quick else 11
    g = torch.Generator().manual_seed(0)
    for n, c in shapes:
        a = (torch.randn(n, c, generator=g) * 3).to(device)
        labels = torch.randint(0, c, (n,), generator=g).to(device)
        logits_bytes = a.numel() * a.element_size()
        for t1, t2 in TEMPS:

            def ours(x, y, t1=t1, t2=t2):
                return losslab.bi_tempered_logistic_loss(x, y, t1=t1, t2=t2, num_iters=NUM_ITERS)

            def peer(x, y, t1=t1, t2=t2):
                return unrolled(x, y, t1, t2)

            losses = with_compiled({
                "cross_entropy (floor)": F.cross_entropy,
                "losslab": ours,
                "unrolled autograd (peer)": peer,
            }, ["losslab", "cross_entropy (floor)"], args.compile)
            fns = {name: forward_backward(fn, a, labels) for name, fn in losses.items()}
            times = median_times(fns, repeats=repeats, warmup=2, device=device)
            memory = peak_memories(fns, device)
            title = f"(N, C) = ({n}, {c}), (t1, t2) = ({t1}, {t2}), num_iters = {NUM_ITERS}, {device}"
            print(report(title, times, memory, baseline="cross_entropy (floor)"))
            for name in fns:
                print(f"    {name:<32} peak memory = {memory[name] / logits_bytes:5.2f} x one logits tensor")
            print()


if __name__ == "__main__":
    main()
