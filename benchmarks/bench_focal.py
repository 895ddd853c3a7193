"""Focal losses: forward + backward time and peak memory against the peer formula and the floor.

* ``sigmoid_focal_loss`` on logits (100000, 80) and (2**20,) against torchvision's ``sigmoid_focal_loss`` (its
  formula written out as the same op composition, since torchvision is not a dependency) and against
  ``F.binary_cross_entropy_with_logits`` (the floor: the cheapest loss over the same tensors), eager and compiled
  (``torch.compile`` with Inductor; ours compiles through its autograd Function).
* ``softmax_focal_loss`` on logits (65536, 1000) with class-index targets against ``F.cross_entropy``.

Run from the repository root: ``python -m benchmarks.bench_focal`` (``--quick`` for a small sanity run,
``--no-compile`` to skip the compiled rows). Single-threaded; medians of interleaved repeats; ratios are what to
quote. Peak memory is the resident high-water mark during one step, gradient buffer included. Value checks run as
in a default call (``--no-validation`` switches them off).
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

import losslab
from losslab.focal import sigmoid_focal_loss, softmax_focal_loss

from ._timing import median_times, peak_memory, report


def torchvision_sigmoid_focal_loss(inputs, targets, alpha: float = 0.25, gamma: float = 2.0, reduction="mean"):
    """torchvision.ops.sigmoid_focal_loss's formula, op for op (torchvision is not installed here)."""
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    return loss


def forward_backward(loss_fn, x: torch.Tensor):
    """One training step's loss part: ``loss_fn(x).backward()``, then the gradient is dropped, so the peak memory
    of a call counts the gradient buffer too (for every contender alike)."""
    leaf = x.detach().clone().requires_grad_()

    def run() -> None:
        loss_fn(leaf).backward()
        leaf.grad = None

    return run


def _bce(x, y):
    return F.binary_cross_entropy_with_logits(x, y)


def _ours(x, y):
    return sigmoid_focal_loss(x, y)


def _compiled(fn, target):
    compiled = torch.compile(fn)
    return lambda a: compiled(a, target)


def bench_sigmoid(shape: tuple[int, ...], repeats: int, compile: bool) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g) * 3
    y = (torch.rand(shape, generator=g) < 0.1).float()
    # gradients w.r.t. the logits only (the targets are data), as in training
    fns = {
        "losslab eager": forward_backward(lambda a: _ours(a, y), x),
        "torchvision formula eager": forward_backward(lambda a: torchvision_sigmoid_focal_loss(a, y), x),
        "bce_with_logits eager": forward_backward(lambda a: _bce(a, y), x),
    }
    if compile:
        fns["losslab compiled"] = forward_backward(_compiled(_ours, y), x)
        fns["torchvision compiled"] = forward_backward(_compiled(torchvision_sigmoid_focal_loss, y), x)
        fns["bce_with_logits compiled"] = forward_backward(_compiled(_bce, y), x)
    times = median_times(fns, repeats=repeats)
    memory = {name: peak_memory(fn) for name, fn in fns.items()}
    print(report(f"sigmoid_focal_loss forward+backward, logits {shape}, gamma=2, alpha=0.25", times, memory,
                 baseline="bce_with_logits eager"))
    tv, ours = "torchvision formula eager", "losslab eager"
    print(f"  eager: losslab / torchvision = {times[ours] / times[tv]:.2f}x time, "
          f"{memory[ours] / memory[tv]:.2f}x peak memory")
    if compile:
        c = "losslab compiled"
        print(f"  compiled: losslab / bce floor (eager) = {times[c] / times['bce_with_logits eager']:.2f}x time, "
              f"{memory[c] / memory['bce_with_logits eager']:.2f}x memory; "
              f"/ bce compiled = {times[c] / times['bce_with_logits compiled']:.2f}x time")
    print()


def bench_softmax(n: int, c: int, repeats: int, compile: bool) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn((n, c), generator=g) * 2
    t = torch.randint(0, c, (n,), generator=g)

    def ours(a, b):
        return softmax_focal_loss(a, b)

    def ce(a, b):
        return F.cross_entropy(a, b)

    fns = {
        "losslab eager": forward_backward(lambda a: ours(a, t), x),
        "cross_entropy eager": forward_backward(lambda a: ce(a, t), x),
    }
    if compile:
        fns["losslab compiled"] = forward_backward(_compiled(ours, t), x)
        fns["cross_entropy compiled"] = forward_backward(_compiled(ce, t), x)
    times = median_times(fns, repeats=repeats)
    memory = {name: peak_memory(fn) for name, fn in fns.items()}
    print(report(f"softmax_focal_loss forward+backward, logits ({n}, {c}), index targets, gamma=2", times, memory,
                 baseline="cross_entropy eager"))
    print(f"  eager: losslab / cross_entropy = {times['losslab eager'] / times['cross_entropy eager']:.2f}x time, "
          f"{memory['losslab eager'] / memory['cross_entropy eager']:.2f}x peak memory")
    print()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes and few repeats (sanity run)")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    parser.add_argument("--no-validation", action="store_true", help="switch off losslab's value checks")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    losslab.set_validation(not args.no_validation)
    compile = not args.no_compile
    if args.quick:
        repeats = 5
        bench_sigmoid((10000, 80), repeats, compile)
        bench_sigmoid((2**17,), repeats, compile)
        bench_softmax(4096, 1000, repeats, compile)
    else:
        repeats = 15
        bench_sigmoid((100000, 80), repeats, compile)
        bench_sigmoid((2**20,), repeats, compile)
        bench_softmax(65536, 1000, repeats, compile)


if __name__ == "__main__":
    main()
