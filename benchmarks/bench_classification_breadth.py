"""Benchmarks for the issue-15 classification losses against their peers and floors (CPU, forward+backward).

1. Generalized cross-entropy and active-passive NCE+RCE on logits ``(4096, 100)`` with class indices, vs
   Keras' formula written in torch (softmax, gather, ``(1 - p^q)/q``); floor ``F.cross_entropy``.
2. Asymmetric loss on multi-label logits ``(1024, 80)`` vs the official code's probability-space formula written in
   torch; floor ``F.binary_cross_entropy_with_logits``.
3. Multi-class hinge on scores ``(4096, 100)`` vs ``F.multi_margin_loss``.
4. Poly-1 on logits ``(4096, 100)``; floor ``F.cross_entropy``.

Each pair is checked to agree before it is timed. On a shared machine the medians swing with the allocator and
other processes (a loss with more temporaries suffers more); compare several runs. Run from the repo root:
``python -m benchmarks.bench_classification_breadth [--quick]``.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from benchmarks._timing import forward_backward, median_times, report
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


def _run(title: str, fns: dict, baseline: str, repeats: int) -> None:
    print(report(title, median_times(fns, repeats=repeats, warmup=2), baseline=baseline))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    repeats = 5 if args.quick else 15
    g = torch.Generator().manual_seed(0)
    n, c = (512, 100) if args.quick else (4096, 100)
    logits = torch.randn(n, c, generator=g) * 2
    index = torch.randint(0, c, (n,), generator=g)

    torch.testing.assert_close(generalized_cross_entropy(logits, index), _keras_gce(logits, index))
    _run(f"GCE / APL forward+backward {(n, c)}", {
        "losslab gce": forward_backward(generalized_cross_entropy, logits, index),
        "keras-formula gce": forward_backward(_keras_gce, logits, index),
        "losslab apl nce+rce": forward_backward(active_passive_loss, logits, index),
        "floor: F.cross_entropy": forward_backward(F.cross_entropy, logits, index),
    }, "keras-formula gce", repeats)

    torch.testing.assert_close(poly1_cross_entropy(logits, index, epsilon=0.0), F.cross_entropy(logits, index))
    _run(f"poly-1 forward+backward {(n, c)}", {
        "losslab poly1": forward_backward(poly1_cross_entropy, logits, index),
        "floor: F.cross_entropy": forward_backward(F.cross_entropy, logits, index),
    }, "floor: F.cross_entropy", repeats)

    scores = torch.randn(n, c, generator=g)
    torch.testing.assert_close(multiclass_hinge_loss(scores, index), F.multi_margin_loss(scores, index))
    _run(f"multi-class hinge forward+backward {(n, c)}", {
        "losslab multiclass_hinge": forward_backward(multiclass_hinge_loss, scores, index),
        "torch multi_margin_loss": forward_backward(F.multi_margin_loss, scores, index),
    }, "torch multi_margin_loss", repeats)

    m = (256, 80) if args.quick else (1024, 80)
    ml_logits = torch.randn(m, generator=g) * 3
    ml_target = (torch.rand(m, generator=g) < 0.05).float()
    torch.testing.assert_close(asymmetric_loss(ml_logits, ml_target), _official_asl(ml_logits, ml_target))
    _run(f"asymmetric loss forward+backward {m}", {
        "losslab asymmetric_loss": forward_backward(asymmetric_loss, ml_logits, ml_target),
        "official-formula asl": forward_backward(_official_asl, ml_logits, ml_target),
        "floor: F.bce_with_logits": forward_backward(F.binary_cross_entropy_with_logits, ml_logits, ml_target),
    }, "official-formula asl", repeats)


if __name__ == "__main__":
    main()
