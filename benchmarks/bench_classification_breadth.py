"""Benchmarks for the issue-15 classification losses against their peers and floors (forward+backward).

1. Generalized cross-entropy and active-passive NCE+RCE on logits ``(4096, 100)`` with class indices, vs
   Keras' formula written in torch (softmax, gather, ``(1 - p^q)/q``); floor ``F.cross_entropy``.
2. Asymmetric loss on multi-label logits ``(1024, 80)`` vs the official code's probability-space formula written in
   torch; floor ``F.binary_cross_entropy_with_logits``.
3. Multi-class hinge on scores ``(4096, 100)`` vs ``F.multi_margin_loss``.
4. Poly-1 on logits ``(4096, 100)``; floor ``F.cross_entropy``.

Every contender also runs under ``torch.compile`` (unless ``--no-compile``; not on a CPU ``--quick`` run). Each
pair is checked to agree before it is timed. On a shared machine the medians swing with the allocator and
other processes (a loss with more temporaries suffers more); compare several runs. Run from the repo root:
``python -m benchmarks.bench_classification_breadth [--device cuda] [--quick] [--no-compile]``.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from benchmarks._timing import add_common_arguments, forward_backward, median_times, report, setup, with_compiled
from losslab import (
    active_passive_loss,
    asymmetric_loss,
    generalized_cross_entropy,
    multiclass_hinge_loss,
    poly1_cross_entropy,
)


def _keras_gce(logits: torch.Tensor, index: torch.Tensor, q: float = 0.7) -> torch.Tensor:
    p = torch.softmax(logits, 1).gather(1, index[:, None]).squeeze(1)
    return ((1 - p**q) / q).mean()


def _official_asl(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    xs_pos = torch.sigmoid(logits)
    xs_neg = (1 - xs_pos + 0.05).clamp(max=1)
    loss = y * torch.log(xs_pos.clamp(min=1e-8)) + (1 - y) * torch.log(xs_neg.clamp(min=1e-8))
    pt = xs_pos * y + xs_neg * (1 - y)
    return -(loss * torch.pow(1 - pt, 4 * (1 - y))).mean()


def _run(title: str, losses: dict, inputs: tuple[torch.Tensor, ...], baseline: str, args, device) -> None:
    """Time forward+backward of each loss, eager and (losslab, peer and floor alike) compiled."""
    fns = {name: forward_backward(fn, *inputs) for name, fn in with_compiled(losses, list(losses), args.compile).items()}
    times = median_times(fns, repeats=5 if args.quick else 15, warmup=2, device=device)
    print(report(f"{title}, {device}", times, baseline=baseline))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    device = setup(args)
    g = torch.Generator().manual_seed(0)
    n, c = (512, 100) if args.quick else (4096, 100)
    logits = (torch.randn(n, c, generator=g) * 2).to(device)
    index = torch.randint(0, c, (n,), generator=g).to(device)

    torch.testing.assert_close(generalized_cross_entropy(logits, index), _keras_gce(logits, index))
    _run(f"GCE / APL forward+backward {(n, c)}", {
        "losslab gce": generalized_cross_entropy,
        "keras-formula gce": _keras_gce,
        "losslab apl nce+rce": active_passive_loss,
        "floor: F.cross_entropy": F.cross_entropy,
    }, (logits, index), "keras-formula gce", args, device)

    torch.testing.assert_close(poly1_cross_entropy(logits, index, epsilon=0.0), F.cross_entropy(logits, index))
    _run(f"poly-1 forward+backward {(n, c)}", {
        "losslab poly1": poly1_cross_entropy,
        "floor: F.cross_entropy": F.cross_entropy,
    }, (logits, index), "floor: F.cross_entropy", args, device)

    scores = torch.randn(n, c, generator=g).to(device)
    torch.testing.assert_close(multiclass_hinge_loss(scores, index), F.multi_margin_loss(scores, index))
    _run(f"multi-class hinge forward+backward {(n, c)}", {
        "losslab multiclass_hinge": multiclass_hinge_loss,
        "torch multi_margin_loss": F.multi_margin_loss,
    }, (scores, index), "torch multi_margin_loss", args, device)

    m = (256, 80) if args.quick else (1024, 80)
    ml_logits = (torch.randn(m, generator=g) * 3).to(device)
    ml_target = (torch.rand(m, generator=g) < 0.05).float().to(device)
    torch.testing.assert_close(asymmetric_loss(ml_logits, ml_target), _official_asl(ml_logits, ml_target))
    _run(f"asymmetric loss forward+backward {m}", {
        "losslab asymmetric_loss": asymmetric_loss,
        "official-formula asl": _official_asl,
        "floor: F.bce_with_logits": F.binary_cross_entropy_with_logits,
    }, (ml_logits, ml_target), "official-formula asl", args, device)


if __name__ == "__main__":
    main()
