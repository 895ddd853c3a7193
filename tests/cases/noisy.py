"""Contract-test cases for the entries of ``src/losslab/registry/noisy.py``."""

from __future__ import annotations

from . import Case, add, logits_dense, logits_index

add(Case("generalized_cross_entropy", sample=logits_index(classes=5, spatial=(3,), q=0.7)))
add(Case("symmetric_cross_entropy", sample=logits_index(classes=5, spatial=(3,), alpha=0.5, beta=1.0)))
add(
    Case(
        "active_passive_loss",
        sample=logits_index(classes=5, spatial=(3,), active="nfl", passive="rce", alpha=1.0, beta=0.5),
    )
)
add(Case("taylor_cross_entropy", sample=logits_index(classes=5, spatial=(3,), order=3)))
add(Case("bootstrapped_cross_entropy", sample=logits_index(classes=5, spatial=(3,), beta=0.8, mode="soft")))
add(Case("normalized_cross_entropy", sample=logits_dense(classes=5, spatial=(3,))))
add(Case("reverse_cross_entropy", sample=logits_dense(classes=5, spatial=(3,))))
