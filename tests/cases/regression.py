"""Contract-test cases for the entries of ``src/losslab/registry/regression.py``."""

from __future__ import annotations

from . import Case, add, elementwise

add(Case("mse_loss", sample=elementwise()))
add(Case("mae_loss", sample=elementwise()))
add(Case("huber_loss", sample=elementwise(delta=0.7)))
add(Case("smooth_l1_loss", sample=elementwise(beta=0.5)))
add(Case("msle_loss", sample=elementwise(low=0.0, high=3.0)))
add(Case("log_cosh_loss", sample=elementwise()))
add(Case("poisson_loss", sample=elementwise(low=0.1, high=3.0, target_low=0.0, target_high=4.0)))
