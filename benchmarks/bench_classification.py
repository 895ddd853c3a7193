"""softmax_cross_entropy vs F.cross_entropy, forward + backward, one thread.

Run from the repo root: ``python -m benchmarks.bench_classification`` (``--quick`` for a small sanity run).

The goal (issue 3) is a ratio <= 1.05 at N=65536, C=1000 without smoothing or ignore_index: those calls go to
the same fused kernel, so the only extra cost is argument checking and the class-index range check (one pass
over N integers, not N x C floats). With label smoothing, class weights and ignore_index the fused kernel still
does the work; the ``"mean"`` is normalized here (one extra pass over N) so an all-ignored batch gives 0, not
NaN. Each index case also times F.cross_entropy a second time (an A/A pair) to show the noise of a shared
machine. The dense-target path (probability targets) is shown against torch's own dense-target cross-entropy, with
and without the value checks on the (N, C) target (finite, in [0, 1]).
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

import losslab
from losslab import softmax_cross_entropy

from ._timing import forward_backward, median_times, peak_memory, report


def _case(title: str, n: int, c: int, repeats: int, *, memory: bool, dense: bool = False, **kwargs) -> str:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(n, c, generator=g)
    if dense:
        target = torch.softmax(torch.randn(n, c, generator=g), dim=1)
    else:
        target = torch.randint(0, c, (n,), generator=g)
        if "ignore_index" in kwargs:
            target[::10] = kwargs["ignore_index"]
    torch_kwargs = dict(kwargs)
    if "class_weight" in torch_kwargs:
        torch_kwargs["weight"] = torch_kwargs.pop("class_weight")
    fns = {
        "losslab.softmax_cross_entropy": forward_backward(
            lambda x, t: softmax_cross_entropy(x, t, **kwargs), logits, target
        ),
        "F.cross_entropy": forward_backward(lambda x, t: F.cross_entropy(x, t, **torch_kwargs), logits, target),
    }
    if not dense:
        # The same call timed twice (an A/A pair): its ratio shows how much of a ratio is this machine's noise.
        fns["F.cross_entropy (again)"] = forward_backward(
            lambda x, t: F.cross_entropy(x, t, **torch_kwargs), logits, target
        )
    if dense:  # the value checks on an (N, C) target are a large part of the dense path's time
        unchecked = forward_backward(lambda x, t: softmax_cross_entropy(x, t, **kwargs), logits, target)

        def without_validation() -> None:
            with losslab.validation(False):
                unchecked()

        fns["losslab, set_validation(False)"] = without_validation
    times = median_times(fns, repeats=repeats, warmup=2)
    mem = {name: peak_memory(fn) for name, fn in fns.items()} if memory else None
    return report(f"{title}  (N={n}, C={c}, forward+backward)", times, mem, baseline="F.cross_entropy")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (sanity run)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    n, c, repeats = (4096, 100, 5) if args.quick else (65536, 1000, 9)
    memory = not args.quick
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}; medians of {repeats} interleaved runs\n")
    print(_case("index targets (goal: ratio <= 1.05)", n, c, repeats, memory=memory))
    print()
    print(_case("index targets, label_smoothing=0.1", n, c, repeats, memory=memory, label_smoothing=0.1))
    print()
    cw = torch.rand(c) + 0.5
    print(_case("index targets, class_weight + ignore_index + label_smoothing", n, c, repeats, memory=memory,
                class_weight=cw, ignore_index=-100, label_smoothing=0.1))
    print()
    print(_case("dense (probability) targets", n, c, 3, memory=False, dense=True))


if __name__ == "__main__":
    main()
