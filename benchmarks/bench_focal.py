"""Focal losses: forward + backward time and peak memory against the peer formula and the floor, on any device.

* ``sigmoid_focal_loss`` on logits (100000, 80) and (2**20,) against torchvision's ``sigmoid_focal_loss`` (its
  formula written out as the same op composition, since torchvision is not a dependency) and against
  ``F.binary_cross_entropy_with_logits`` (the floor: the cheapest loss over the same tensors).
* ``softmax_focal_loss`` on logits (65536, 1000) with class-index targets against the common formula
  ``(1 - exp(-ce))**gamma * ce`` and ``F.cross_entropy`` (the floor).

Each contender runs eager and, unless ``--no-compile``, under ``torch.compile`` (Inductor). On the CPU losslab
runs twice eager: ``losslab`` is a default call (the CPU fast path, :mod:`losslab._kernels`) and ``losslab
reference`` the same call under ``losslab.fast_paths(False)`` (the formula, as every other device runs it), so the
fast path's win is measured side by side. On CUDA there is no fast path, and the issue's GPU goals are printed as
PASS/FAIL lines: eager sigmoid focal <= 1.0x torchvision's formula time at <= 0.5x its peak memory, compiled
<= 1.2x compiled BCE.

Run from the repository root: ``python -m benchmarks.bench_focal [--device cuda] [--quick] [--no-compile]``.
Single-threaded on the CPU; medians of interleaved repeats (synchronized on CUDA); ratios are what to quote. Peak
memory is what one step allocates, gradient buffer included. Value checks run as in a default call
(``--no-validation`` switches them off; on CUDA the default policy reads the data on the first 8 calls only, which
the warm-up absorbs). Each pair is checked to agree before it is timed. ``--quick`` shrinks the shapes on the CPU
only; on CUDA it keeps the goals' shapes and takes fewer repeats.
"""

from __future__ import annotations

import argparse
import contextlib

import torch
import torch.nn.functional as F

import losslab
from losslab.focal import sigmoid_focal_loss, softmax_focal_loss

from ._timing import add_common_arguments, forward_backward, median_times, peak_memories, report, setup, with_compiled


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


def common_softmax_focal_loss(logits, target, gamma: float = 2.0):
    """The softmax focal loss as it is usually written: cross-entropy per sample, p_t = exp(-ce)."""
    ce = F.cross_entropy(logits, target, reduction="none")
    return ((1 - torch.exp(-ce)) ** gamma * ce).mean()


def _bce(x, y):
    return F.binary_cross_entropy_with_logits(x, y)


def _reference(fn):
    """``fn`` run with losslab's fast paths switched off (the reference formula)."""

    def run(*args):
        with losslab.fast_paths(False):
            return fn(*args)

    return run


def goal(name: str, value: float, limit: float) -> str:
    """A PASS/FAIL line for a ratio that must be at most ``limit``."""
    return f"  GOAL {name} <= {limit:.1f}x: {'PASS' if value <= limit else 'FAIL'} ({value:.2f}x)"


def _contenders(ours, peer_name, peer, floor_name, floor, device, compile):
    losses = {"losslab": ours}
    if device.type == "cpu":
        losses["losslab reference"] = _reference(ours)
    losses |= {peer_name: peer, floor_name: floor}
    return with_compiled(losses, ["losslab", peer_name, floor_name], compile)


def bench_sigmoid(shape: tuple[int, ...], repeats: int, device: torch.device, compile: bool) -> None:
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(shape, generator=g) * 3).to(device)
    y = (torch.rand(shape, generator=g) < 0.1).float().to(device)
    torch.testing.assert_close(sigmoid_focal_loss(x, y), torchvision_sigmoid_focal_loss(x, y), rtol=1e-4, atol=1e-6)
    losses = _contenders(sigmoid_focal_loss, "torchvision formula", torchvision_sigmoid_focal_loss,
                         "bce_with_logits", _bce, device, compile)
    # gradients w.r.t. the logits only (the targets are data), as in training
    fns = {name: forward_backward(fn, x, y) for name, fn in losses.items()}
    times = median_times(fns, repeats=repeats, device=device)
    memory = peak_memories(fns, device)
    print(report(f"sigmoid_focal_loss forward+backward, logits {shape}, gamma=2, alpha=0.25, {device}", times,
                 memory, baseline="bce_with_logits"))
    tv, ours = "torchvision formula", "losslab"
    print(f"  eager: losslab / torchvision = {times[ours] / times[tv]:.2f}x time, "
          f"{memory[ours] / memory[tv]:.2f}x peak memory")
    if device.type == "cpu":
        ref = "losslab reference"
        print(f"  eager: fast path / reference = {times[ours] / times[ref]:.2f}x time, "
              f"{memory[ours] / memory[ref]:.2f}x peak memory; "
              f"reference / torchvision = {times[ref] / times[tv]:.2f}x time, {memory[ref] / memory[tv]:.2f}x memory")
    if compile:
        c = "losslab compiled"
        print(f"  compiled: losslab / bce compiled = {times[c] / times['bce_with_logits compiled']:.2f}x time, "
              f"{memory[c] / memory['bce_with_logits compiled']:.2f}x memory; "
              f"/ torchvision compiled = {times[c] / times['torchvision formula compiled']:.2f}x time")
    if device.type == "cuda":
        print(goal("eager losslab / torchvision formula, time", times[ours] / times[tv], 1.0))
        print(goal("eager losslab / torchvision formula, peak memory", memory[ours] / memory[tv], 0.5))
        if compile:
            print(goal("compiled losslab / compiled bce_with_logits, time",
                       times["losslab compiled"] / times["bce_with_logits compiled"], 1.2))
        else:
            print("  GOAL compiled losslab / compiled bce_with_logits: not measured (--no-compile)")
    print()


def bench_softmax(n: int, c: int, repeats: int, device: torch.device, compile: bool) -> None:
    g = torch.Generator().manual_seed(0)
    x = (torch.randn((n, c), generator=g) * 2).to(device)
    t = torch.randint(0, c, (n,), generator=g).to(device)
    torch.testing.assert_close(softmax_focal_loss(x, t), common_softmax_focal_loss(x, t), rtol=1e-4, atol=1e-6)
    losses = _contenders(softmax_focal_loss, "common formula", common_softmax_focal_loss,
                         "cross_entropy", F.cross_entropy, device, compile)
    fns = {name: forward_backward(fn, x, t) for name, fn in losses.items()}
    times = median_times(fns, repeats=repeats, device=device)
    memory = peak_memories(fns, device)
    print(report(f"softmax_focal_loss forward+backward, logits ({n}, {c}), index targets, gamma=2, {device}", times,
                 memory, baseline="cross_entropy"))
    print(f"  eager: losslab / cross_entropy = {times['losslab'] / times['cross_entropy']:.2f}x time, "
          f"{memory['losslab'] / memory['cross_entropy']:.2f}x peak memory; "
          f"/ common formula = {times['losslab'] / times['common formula']:.2f}x time")
    if device.type == "cpu":
        print(f"  eager: fast path / reference = {times['losslab'] / times['losslab reference']:.2f}x time, "
              f"{memory['losslab'] / memory['losslab reference']:.2f}x peak memory")
    if compile:
        print(f"  compiled: losslab / cross_entropy compiled = "
              f"{times['losslab compiled'] / times['cross_entropy compiled']:.2f}x time")
    print()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--no-validation", action="store_true", help="switch off losslab's value checks")
    args = parser.parse_args(argv)
    device = setup(args)
    with contextlib.ExitStack() as stack:
        if args.no_validation:
            stack.enter_context(losslab.validation(False))
        if args.quick and device.type == "cpu":
            repeats = 5
            bench_sigmoid((10000, 80), repeats, device, args.compile)
            bench_sigmoid((2**17,), repeats, device, args.compile)
            bench_softmax(4096, 1000, repeats, device, args.compile)
        else:  # on an accelerator --quick keeps the goals' shapes (compilation is the slow part), fewer repeats
            repeats = 5 if args.quick else 15
            bench_sigmoid((100000, 80), repeats, device, args.compile)
            bench_sigmoid((2**20,), repeats, device, args.compile)
            bench_softmax(65536, 1000, repeats, device, args.compile)


if __name__ == "__main__":
    main()
