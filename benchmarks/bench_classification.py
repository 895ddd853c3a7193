"""softmax_cross_entropy vs F.cross_entropy, forward + backward, on any device (one thread on the CPU).

Run from the repo root: ``python -m benchmarks.bench_classification [--device cuda] [--quick] [--no-compile]``.

The goal (issue 3) is a ratio <= 1.05 at N=65536, C=1000 without smoothing or ignore_index: those calls go to
the same fused kernel, so the only extra cost is argument checking and the class-index range check (one pass
over N integers, not N x C floats). With label smoothing, class weights and ignore_index the fused kernel still
does the work; the ``"mean"`` is normalized here (one extra pass over N) so an all-ignored batch gives 0, not
NaN. Each index case also times F.cross_entropy a second time (an A/A pair) to show the noise of a shared
machine. The dense-target path (probability targets) is shown against torch's own dense-target cross-entropy, with
and without the value checks on the (N, C) target (finite, in [0, 1]). Both run under ``torch.compile`` too
(unless ``--no-compile``; not on a CPU ``--quick`` run). On CUDA the times are synchronized and the default
validation policy reads the data on the first 8 calls only (inside the warm-up).
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

import losslab
from losslab import softmax_cross_entropy

from ._timing import (
    add_common_arguments,
    forward_backward,
    median_times,
    peak_memories,
    report,
    setup,
    with_compiled,
)


def _case(title: str, n: int, c: int, repeats: int, *, memory: bool, device: torch.device, compile: bool,
          dense: bool = False, **kwargs) -> str:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(n, c, generator=g).to(device)
    if dense:
        target = torch.softmax(torch.randn(n, c, generator=g), dim=1).to(device)
    else:
        target = torch.randint(0, c, (n,), generator=g)
        if "ignore_index" in kwargs:
            target[::10] = kwargs["ignore_index"]
        target = target.to(device)
    kwargs = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
    torch_kwargs = dict(kwargs)
    if "class_weight" in torch_kwargs:
        torch_kwargs["weight"] = torch_kwargs.pop("class_weight")
    losses = with_compiled({
        "losslab": lambda x, t: softmax_cross_entropy(x, t, **kwargs),
        "F.cross_entropy": lambda x, t: F.cross_entropy(x, t, **torch_kwargs),
    }, ["losslab", "F.cross_entropy"], compile)
    fns = {name: forward_backward(fn, logits, target) for name, fn in losses.items()}
    if not dense:
        # The same call timed twice (an A/A pair): its ratio shows how much of a ratio is this machine's noise.
        fns["F.cross_entropy (again)"] = forward_backward(
            lambda x, t: F.cross_entropy(x, t, **torch_kwargs), logits, target
        )
    # The value checks on an (N, C) target are a large part of the dense path's time on the CPU. (On an
    # accelerator the default policy has stopped reading by the time we measure, and switching the policy inside
    # a timed call would restart its count, so there is no such row there.)
    if dense and device.type == "cpu":
        unchecked = forward_backward(lambda x, t: softmax_cross_entropy(x, t, **kwargs), logits, target)

        def without_validation() -> None:
            with losslab.validation(False):
                unchecked()

        fns["losslab, set_validation(False)"] = without_validation
    times = median_times(fns, repeats=repeats, warmup=2, device=device)
    mem = peak_memories(fns, device) if memory else None
    return report(f"{title}  (N={n}, C={c}, forward+backward)", times, mem, baseline="F.cross_entropy")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    device = setup(args)
    n, c, repeats = (4096, 100, 5) if args.quick else (65536, 1000, 9)
    memory = not args.quick or device.type != "cpu"  # the CPU meter forks per contender: slow
    common = {"memory": memory, "device": device, "compile": args.compile}
    print(f"medians of {repeats} interleaved runs\n")
    print(_case("index targets (goal: ratio <= 1.05)", n, c, repeats, **common))
    print()
    print(_case("index targets, label_smoothing=0.1", n, c, repeats, label_smoothing=0.1, **common))
    print()
    cw = torch.rand(c) + 0.5
    print(_case("index targets, class_weight + ignore_index + label_smoothing", n, c, repeats,
                class_weight=cw, ignore_index=-100, label_smoothing=0.1, **common))
    print()
    print(_case("dense (probability) targets", n, c, 3, dense=True, **(common | {"memory": False})))


if __name__ == "__main__":
    main()
