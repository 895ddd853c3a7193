"""Catalogue entries for the relativistic GAN losses of :mod:`losslab.gan`.

Like the other discriminator losses they return a scalar (mean over pairs, or the sum of two batch means), so
they take no ``sample_weight``/``reduction``.
"""

from __future__ import annotations

from .. import gan as G
from . import LossSpec, register

_REF = (
    "A. Jolicoeur-Martineau, The Relativistic Discriminator: A Key Element Missing from Standard GAN, ICLR 2019, "
    "arXiv:1807.00734; R3GAN: Y. Huang et al., The GAN is Dead; Long Live the GAN!, NeurIPS 2024, arXiv:2501.05441"
)


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
        advice="R3GAN = paired + gamma/2 (r1_penalty + r2_penalty); stable without tricks.",
        family="gan",
        tasks=("gan",),
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
        family="gan",
        tasks=("gan",),
    )
)
