"""Catalogue entries for the relativistic GAN losses of :mod:`losslab.gan`.

Like the other discriminator losses they return a scalar (mean over pairs, or the sum of two batch means), so
they take no ``sample_weight``/``reduction`` (``weighted=False``). The sampler gives real scores centred at +1 and
fake scores centred at -1 of the same shape (``kind="paired"`` pairs sample ``i`` with sample ``i``).
"""

from __future__ import annotations

import torch

from .. import gan as G
from . import LossSpec, register
from ._samplers import randn

_REF = (
    "A. Jolicoeur-Martineau, The Relativistic Discriminator: A Key Element Missing from Standard GAN, ICLR 2019, "
    "arXiv:1807.00734; R3GAN: Y. Huang et al., The GAN is Dead; Long Live the GAN!, NeurIPS 2024, arXiv:2501.05441"
)


def _pairs(**kwargs):
    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        real = (randn((n, 2), torch.float64, g) + 1.0).to(dtype)
        fake = (randn((n, 2), torch.float64, g) - 1.0).to(dtype)
        return (real, fake), dict(kwargs)

    return sample


register(
    LossSpec(
        name="relativistic_discriminator_loss",
        function=G.relativistic_discriminator_loss,
        module=G.RelativisticDiscriminatorLoss,
        input_kind="critic scores",
        target_kind="none: (real_logits, fake_logits); paired needs equal shapes",
        activation="linear",
        activation_note="raw critic outputs; sigmoid of the difference is implied",
        value_range="[0, inf)",
        summary="Relativistic discriminator (RpGAN/RaGAN): real samples should score higher than fake ones.",
        formula="paired: E[softplus(C(G(z)) - C(x))];  average: E_x[softplus(-(C(x) - E C(G(z))))] + E_z[softplus(C(G(z)) - E C(x))]",
        reference=_REF,
        sample=_pairs(kind="paired"),
        advice="R3GAN = paired + gamma/2 (r1_penalty + r2_penalty); stable without tricks.",
        family="gan",
        tasks=("gan",),
        weighted=False,
        per_sample=False,
        empty_batch=False,
        grad_args=(0, 1),
    )
)

register(
    LossSpec(
        name="relativistic_generator_loss",
        function=G.relativistic_generator_loss,
        module=G.RelativisticGeneratorLoss,
        input_kind="critic scores",
        target_kind="none: (real_logits, fake_logits); paired needs equal shapes",
        activation="linear",
        activation_note="raw critic outputs",
        value_range="[0, inf)",
        summary="Relativistic generator loss: the discriminator's objective with real and fake swapped.",
        formula="paired: E[softplus(C(x) - C(G(z)))];  average: E_z[softplus(-(C(G(z)) - E C(x)))] + E_x[softplus(C(x) - E C(G(z)))]",
        reference=_REF,
        sample=_pairs(kind="paired"),
        family="gan",
        tasks=("gan",),
        weighted=False,
        per_sample=False,
        empty_batch=False,
        grad_args=(0, 1),
    )
)
