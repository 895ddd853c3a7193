"""Contract-test cases for the entries of ``src/losslab/registry/tempered.py``."""

from __future__ import annotations

from . import Case, add, logits_binary, logits_index

add(Case("bi_tempered_logistic_loss", sample=logits_index(classes=5, t1=0.8, t2=1.2, num_iters=10)))
add(Case("bi_tempered_binary_logistic_loss", sample=logits_binary(features=4, t1=0.7, t2=1.5, num_iters=None)))
