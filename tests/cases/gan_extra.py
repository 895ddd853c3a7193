"""Contract-test cases for the entries of ``src/losslab/registry/gan_extra.py``.

The relativistic losses return a scalar (``weighted=False``). The sampler gives real scores centred at +1 and fake
scores centred at -1 of the same shape (``kind="paired"`` pairs sample ``i`` with sample ``i``).
"""

from __future__ import annotations

import torch

from . import Case, add, randn


def _pairs(**kwargs):
    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        real = (randn((n, 2), torch.float64, g) + 1.0).to(dtype)
        fake = (randn((n, 2), torch.float64, g) - 1.0).to(dtype)
        return (real, fake), dict(kwargs)

    return sample


add(
    Case(
        "relativistic_discriminator_loss",
        sample=_pairs(kind="paired"),
        grad_args=(0, 1),
        per_sample=False,
        weighted=False,
        empty_batch=False,
    )
)
add(
    Case(
        "relativistic_generator_loss",
        sample=_pairs(kind="paired"),
        grad_args=(0, 1),
        per_sample=False,
        weighted=False,
        empty_batch=False,
    )
)
