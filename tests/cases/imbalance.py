"""Contract-test cases for the entries of ``src/losslab/registry/imbalance.py``."""

from __future__ import annotations

import torch

from . import Case, add, logits_binary, logits_dense, logits_index

add(Case("asymmetric_loss", sample=logits_binary(features=4, soft=True, gamma_pos=1.0, gamma_neg=3.0, clip=0.05)))
add(
    Case(
        "logit_adjusted_cross_entropy",
        sample=logits_index(
            classes=5, spatial=(3,), class_prior=torch.tensor([0.5, 0.25, 0.12, 0.08, 0.05]), tau=1.0
        ),
    )
)
add(Case("poly1_cross_entropy", sample=logits_dense(classes=5, spatial=(3,), epsilon=2.0)))
