"""Catalogue entries for :mod:`losslab.gan`.

Discriminator losses are the sum of two batch means (real and fake batches may differ in size), so they take no
``sample_weight``/``reduction``; the generator losses are element-wise and fully weighted. Every loss entry points
at :class:`~losslab.gan.GANLoss` as its module, which has ``.discriminator``/``.generator`` methods rather than a
``forward``. The penalties take the critic network as their first argument and have no module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .. import gan as G
from . import LossSpec, register

GAN_REFS = {
    "minimax": "I. Goodfellow et al., Generative Adversarial Nets, NeurIPS 2014, arXiv:1406.2661",
    "ls": "X. Mao et al., Least Squares Generative Adversarial Networks, ICCV 2017, arXiv:1611.04076",
    "wgan": "M. Arjovsky, S. Chintala, L. Bottou, Wasserstein GAN, ICML 2017, arXiv:1701.07875",
    "hinge": "J. H. Lim, J. C. Ye, Geometric GAN, 2017, arXiv:1705.02894; T. Miyato et al., SN-GAN, ICLR 2018, "
    "arXiv:1802.05957",
    "gp": "I. Gulrajani et al., Improved Training of Wasserstein GANs, NeurIPS 2017, arXiv:1704.00028",
    "r1": "L. Mescheder, A. Geiger, S. Nowozin, Which Training Methods for GANs do actually Converge?, ICML 2018, "
    "arXiv:1801.04406",
}


_LOSS: dict[str, Any] = dict(family="gan", tasks=("gan",), module=G.GANLoss)

def _discriminator_curve(loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
    """The curve of a discriminator loss: ``loss`` of each score alone, as a real sample's (target ``y = 1``) or a
    fake one's (``y = 0``; in between, the mix). The other batch is empty: its mean over no samples adds 0."""

    def curve(x: torch.Tensor, y: float) -> torch.Tensor:
        none = x.new_empty(0)
        return torch.stack([y * loss(s.reshape(1), none) + (1 - y) * loss(none, s.reshape(1)) for s in x])

    return curve


register(
    LossSpec(
        name="minimax_discriminator_loss",
        default_for=('gan',),
        function=G.minimax_discriminator_loss,
        input_kind="logits",
        target_kind="none: (real_logits, fake_logits), real labelled 1 (or 1 - label_smoothing), fake 0",
        activation="none (raw discriminator logits; sigmoid is implied)",
        value_range="[0, inf)",
        summary="Binary cross-entropy discriminator of the original GAN, with optional one-sided label smoothing.",
        formula="E_x[softplus(-D(x))] + E_z[softplus(D(G(z)))]",
        reference=GAN_REFS["minimax"],
        curve=_discriminator_curve(G.minimax_discriminator_loss),
        advice="Pair with non_saturating_generator_loss; label_smoothing=0.1 (target 0.9) tames an overconfident D.",
        **_LOSS,
    )
)

register(
    LossSpec(
        name="minimax_generator_loss",
        function=G.minimax_generator_loss,
        input_kind="logits",
        target_kind="none (discriminator logits on generated samples)",
        activation="none (raw discriminator logits)",
        value_range="(-inf, 0)",
        summary="Saturating generator loss log(1 - D(G(z))); its gradient vanishes when D rejects the fakes.",
        formula="-softplus(D(G(z)))",
        reference=GAN_REFS["minimax"],
        curve=lambda x, y: G.minimax_generator_loss(x, reduction="none"),
        advice="For comparison only: it learns slowly early in training; use non_saturating_generator_loss.",
        **_LOSS,
    )
)

register(
    LossSpec(
        name="non_saturating_generator_loss",
        default_for=('gan',),
        function=G.non_saturating_generator_loss,
        input_kind="logits",
        target_kind="none (discriminator logits on generated samples)",
        activation="none (raw discriminator logits)",
        value_range="(0, inf)",
        summary="Non-saturating generator loss -log D(G(z)): strong gradients while D rejects the fakes.",
        formula="softplus(-D(G(z)))",
        reference=GAN_REFS["minimax"],
        curve=lambda x, y: G.non_saturating_generator_loss(x, reduction="none"),
        advice="The default generator loss for a sigmoid cross-entropy discriminator.",
        **_LOSS,
    )
)

register(
    LossSpec(
        name="least_squares_discriminator_loss",
        function=G.least_squares_discriminator_loss,
        input_kind="critic scores",
        target_kind="none: (real_logits, fake_logits); codes b for real, a for fake",
        activation="none (linear output)",
        value_range="[0, inf)",
        summary="LSGAN discriminator: squared distance of the outputs to the real code b and the fake code a.",
        formula="0.5 E_x[(D(x) - b)^2] + 0.5 E_z[(D(G(z)) - a)^2]",
        reference=GAN_REFS["ls"],
        curve=_discriminator_curve(G.least_squares_discriminator_loss),
        advice="Pair with least_squares_generator_loss (a=0, b=1, c=1); no sigmoid on the discriminator.",
        **_LOSS,
    )
)

register(
    LossSpec(
        name="least_squares_generator_loss",
        function=G.least_squares_generator_loss,
        input_kind="critic scores",
        target_kind="none (discriminator outputs on generated samples)",
        activation="none (linear output)",
        value_range="[0, inf)",
        summary="LSGAN generator: pull the discriminator's output on fakes to the code c.",
        formula="0.5 (D(G(z)) - c)^2",
        reference=GAN_REFS["ls"],
        curve=lambda x, y: G.least_squares_generator_loss(x, reduction="none"),
        **_LOSS,
    )
)

register(
    LossSpec(
        name="wasserstein_critic_loss",
        function=G.wasserstein_critic_loss,
        input_kind="critic scores",
        target_kind="none: (real_scores, fake_scores)",
        activation="none (linear critic)",
        value_range="(-inf, inf)",
        summary="WGAN critic: negated Wasserstein-1 estimate; needs a Lipschitz constraint (gradient_penalty).",
        formula="E_z[D(G(z))] - E_x[D(x)]",
        reference=GAN_REFS["wgan"],
        curve=_discriminator_curve(G.wasserstein_critic_loss),
        advice="Add 10 * gradient_penalty(critic, real, fake) (WGAN-GP); without it the critic is unbounded.",
        **_LOSS,
    )
)

register(
    LossSpec(
        name="wasserstein_generator_loss",
        function=G.wasserstein_generator_loss,
        input_kind="critic scores",
        target_kind="none (critic scores on generated samples)",
        activation="none (linear critic)",
        value_range="(-inf, inf)",
        summary="WGAN generator: raise the critic's score of the fakes.",
        formula="-D(G(z))",
        reference=GAN_REFS["wgan"],
        curve=lambda x, y: G.wasserstein_generator_loss(x, reduction="none"),
        **_LOSS,
    )
)

register(
    LossSpec(
        name="hinge_discriminator_loss",
        function=G.hinge_discriminator_loss,
        input_kind="critic scores",
        target_kind="none: (real_scores, fake_scores)",
        activation="none (linear output)",
        value_range="[0, inf)",
        summary="Hinge discriminator (geometric GAN, SN-GAN, BigGAN): margin 1 on real and fake scores.",
        formula="E_x[relu(1 - D(x))] + E_z[relu(1 + D(G(z)))]",
        reference=GAN_REFS["hinge"],
        curve=_discriminator_curve(G.hinge_discriminator_loss),
        advice="Pair with hinge_generator_loss; common with spectral normalization.",
        **_LOSS,
    )
)

register(
    LossSpec(
        name="hinge_generator_loss",
        function=G.hinge_generator_loss,
        input_kind="critic scores",
        target_kind="none (discriminator scores on generated samples)",
        activation="none (linear output)",
        value_range="(-inf, inf)",
        summary="Hinge-GAN generator: -D(G(z)), no margin on the generator side.",
        formula="-D(G(z))",
        reference=GAN_REFS["hinge"],
        curve=lambda x, y: G.hinge_generator_loss(x, reduction="none"),
        **_LOSS,
    )
)

_PENALTY: dict[str, Any] = dict(
    family="gan", tasks=("gan",), module=None, input_kind="critic scores",
    activation="none (takes the critic network)",
)

register(
    LossSpec(
        name="gradient_penalty",
        function=G.gradient_penalty,
        target_kind="none: (critic, real, fake) samples of the same shape",
        value_range="[0, inf)",
        summary="WGAN-GP: (per-sample input-gradient norm - 1)^2 at random interpolates; multiply by lambda=10.",
        formula="E[(||grad_x D(a x + (1 - a) x~)||_2 - 1)^2], a ~ U[0, 1] per sample",
        reference=GAN_REFS["gp"],
        advice="Returns the bare penalty: add lam * gradient_penalty(...) (lam = 10) to wasserstein_critic_loss.",
        **_PENALTY,
    )
)

register(
    LossSpec(
        name="r1_penalty",
        function=G.r1_penalty,
        target_kind="none: (critic, real)",
        value_range="[0, inf)",
        summary="R1: squared input-gradient norm of D on real data; multiply by gamma/2.",
        formula="E_x[||grad_x D(x)||_2^2]",
        reference=GAN_REFS["r1"],
        advice="Returns the bare penalty: add gamma / 2 * r1_penalty(D, real) to the discriminator loss.",
        **_PENALTY,
    )
)

register(
    LossSpec(
        name="r2_penalty",
        function=G.r2_penalty,
        target_kind="none: (critic, fake)",
        value_range="[0, inf)",
        summary="R2: squared input-gradient norm of D on generated data; multiply by gamma/2.",
        formula="E_z[||grad D(G(z))||_2^2]",
        reference=GAN_REFS["r1"],
        advice="Returns the bare penalty: add gamma / 2 * r2_penalty(D, fake.detach()) to the discriminator loss.",
        **_PENALTY,
    )
)
