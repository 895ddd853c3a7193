r"""GAN losses on raw discriminator outputs, and the gradient penalties that make them train.

Every loss takes the discriminator's (critic's) raw outputs — logits for the minimax family, unbounded scores
for the Wasserstein and hinge families — with no hidden activation. Discriminator losses take
``(real_logits, fake_logits)`` and generator losses ``(fake_logits)`` (STYLE.md rule 3).

Reductions. A discriminator loss is the **sum of two means**, each term averaged over its own batch:

.. math::
    L_D = \mathbb{E}_{x}[f(D(x))] + \mathbb{E}_{z}[g(D(G(z)))]

The real and fake batches may differ in size, so a per-element ``reduction="none"`` has no single meaning
(concatenate? pair up?) and a ``"mean"`` over the concatenation would be half the papers' value. The
discriminator losses therefore take neither ``reduction`` nor ``sample_weight``: they always return the scalar above.
For per-sample terms or weights, build the loss from its terms — e.g. the minimax real term
:math:`\mathrm{softplus}(-D(x))` is :func:`non_saturating_generator_loss` applied to ``real_logits``. The
generator losses and the penalties have one batch, so they take ``sample_weight=`` and ``reduction=`` as every other
losslab loss (``"none"`` keeps the input's shape for the generator losses and gives one value per sample for the
penalties).

The penalties take the critic network itself, because they need its input gradient; each returns the bare
penalty, and the caller multiplies it by its coefficient (λ = 10 for WGAN-GP, γ/2 for R1/R2).
"""

from __future__ import annotations

from ._losses import (
    GAN_KINDS,
    GANLoss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    least_squares_discriminator_loss,
    least_squares_generator_loss,
    minimax_discriminator_loss,
    minimax_generator_loss,
    non_saturating_generator_loss,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)
from ._penalties import gradient_penalty, r1_penalty, r2_penalty
from ._relativistic import (
    RELATIVISTIC_KINDS,
    RelativisticDiscriminatorLoss,
    RelativisticGeneratorLoss,
    relativistic_discriminator_loss,
    relativistic_generator_loss,
)

__all__ = [
    "minimax_discriminator_loss",
    "minimax_generator_loss",
    "non_saturating_generator_loss",
    "least_squares_discriminator_loss",
    "least_squares_generator_loss",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "gradient_penalty",
    "r1_penalty",
    "r2_penalty",
    "GANLoss",
    "GAN_KINDS",
    "relativistic_discriminator_loss",
    "RelativisticDiscriminatorLoss",
    "relativistic_generator_loss",
    "RelativisticGeneratorLoss",
    "RELATIVISTIC_KINDS",
]
