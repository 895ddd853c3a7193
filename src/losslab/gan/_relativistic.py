"""Relativistic GAN losses (Jolicoeur-Martineau 2019): paired (RpGAN) and average (RaGAN)."""

from __future__ import annotations

import torch

from .._checks import check_choice, check_finite, check_floating
from .._module import LossModule
from .._numerics import result_dtype, softplus, upcast
from .._reduction import reduce_loss

RELATIVISTIC_KINDS = ("paired", "average")


def _scores(x: torch.Tensor, name: str) -> torch.Tensor:
    check_floating(x, name)
    if x.ndim == 0:
        raise ValueError(f"{name}: expected a batch of critic outputs of shape (N, *), got a 0-d tensor")
    check_finite(x, name)
    return upcast(x)[0]


def _mean(term: torch.Tensor) -> torch.Tensor:
    return reduce_loss(term, "mean")


def _relativistic_terms(real: torch.Tensor, fake: torch.Tensor, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(C(x) - C(G(z)), C(G(z)) - C(x))`` paired, or each batch against the other's mean (average)."""
    if kind == "paired":
        if real.shape != fake.shape:
            raise ValueError(
                f"fake_logits: expected the same shape as real_logits {tuple(real.shape)} for kind='paired' (each "
                f"real sample is paired with one fake), got {tuple(fake.shape)}; kind='average' takes batches of "
                "different sizes"
            )
        return real - fake, fake - real
    return real - fake.mean(), fake - real.mean()


def relativistic_discriminator_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, *, kind: str = "paired"
) -> torch.Tensor:
    r"""Relativistic discriminator loss: the critic learns how much more real a real sample is than a fake one.

    Instead of scoring each sample alone, the discriminator scores the *difference* of critic values
    :math:`C(\cdot)` (raw logits) between real and fake data [JolicoeurMartineau2019]_. Paired (RpGAN) compares
    each real sample with one fake sample; average (RaGAN) compares each sample with the other batch's mean:

    .. math::
        L_D^{Rp} = \mathbb{E}_{(x, z)}\big[\mathrm{softplus}\big(-(C(x) - C(G(z)))\big)\big]

        L_D^{Ra} = \mathbb{E}_{x}\big[\mathrm{softplus}\big(-(C(x) - \mathbb{E}_z C(G(z)))\big)\big]
        + \mathbb{E}_{z}\big[\mathrm{softplus}\big(C(G(z)) - \mathbb{E}_x C(x)\big)\big]

    using :math:`-\log\sigma(t) = \mathrm{softplus}(-t)` (the non-saturating form, as in the paper and R3GAN).

    Args:
        real_logits: Critic outputs on real samples, shape ``(N, *)``.
        fake_logits: Critic outputs on generated samples: the same shape for ``"paired"`` (sample ``i`` of each
            is a pair), any ``(M, *)`` for ``"average"``.
        kind: ``"paired"`` (RpGAN) | ``"average"`` (RaGAN).

    Returns:
        A scalar: the mean over pairs (paired) or the sum of the two batch means (average), as the other
        discriminator losses of :mod:`losslab.gan` (no ``reduction``; see the module note).

    Raises:
        ValueError: unknown ``kind``, paired batches of different shapes, or non-finite logits.
        TypeError: a non-tensor or non-floating input.

    Note:
        A constant critic on the other batch gives the standard losses back: with :math:`C(G(z)) \equiv 0` the
        paired loss is :math:`\mathbb{E}_x[\mathrm{softplus}(-C(x))]` (the minimax discriminator's real term),
        and the average loss is the :func:`minimax_discriminator_loss` when the critic is 0 on one batch and
        the other batch has mean 0. Gradients flow into both arguments, including the batch means of RaGAN (as
        in the paper's code). R3GAN (Huang et al. 2024) is RpGAN plus the R1 and R2 penalties:

        .. code-block:: python

            d_loss = relativistic_discriminator_loss(D(x), D(G(z).detach())) \
                + gamma / 2 * (r1_penalty(D, x) + r2_penalty(D, G(z).detach()))
            g_loss = relativistic_generator_loss(D(x), D(G(z)))

    Example:
        >>> import torch
        >>> from losslab import r1_penalty, r2_penalty
        >>> critic = torch.nn.Linear(2, 1)
        >>> real, fake = torch.randn(4, 2), torch.randn(4, 2)
        >>> gamma = 10.0
        >>> d_loss = relativistic_discriminator_loss(critic(real), critic(fake)) + gamma / 2 * (
        ...     r1_penalty(critic, real) + r2_penalty(critic, fake))  # R3GAN's discriminator objective
        >>> d_loss.shape
        torch.Size([])
        >>> relativistic_discriminator_loss(torch.tensor([2.0, 0.0]), torch.tensor([0.0, 0.0]))  # softplus(-2), log 2
        tensor(0.4100)

    References:
        .. [JolicoeurMartineau2019] A. Jolicoeur-Martineau. "The Relativistic Discriminator: A Key Element Missing
           from Standard GAN." ICLR 2019. https://arxiv.org/abs/1807.00734
        .. [Huang2024] Y. Huang, A. Gokaslan, V. Kuleshov, J. Tompkin. "The GAN is Dead; Long Live the GAN! A
           Modern GAN Baseline." NeurIPS 2024. https://arxiv.org/abs/2501.05441
    """
    check_choice(kind, "kind", RELATIVISTIC_KINDS)
    r = _scores(real_logits, "real_logits")
    f = _scores(fake_logits, "fake_logits")
    real_vs_fake, fake_vs_real = _relativistic_terms(r, f, kind)
    if kind == "paired":
        loss = _mean(softplus(-real_vs_fake))
    else:
        loss = _mean(softplus(-real_vs_fake)) + _mean(softplus(fake_vs_real))
    return result_dtype(loss, real_logits)


def relativistic_generator_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, *, kind: str = "paired"
) -> torch.Tensor:
    r"""Relativistic generator loss: the generator makes its samples look more real than the real ones.

    The discriminator's objective with the roles of real and fake swapped [JolicoeurMartineau2019b]_, so unlike
    the standard generator losses it also takes the critic's outputs on real data (their gradient pushes the
    generator through the relative score):

    .. math::
        L_G^{Rp} = \mathbb{E}_{(x, z)}\big[\mathrm{softplus}\big(-(C(G(z)) - C(x))\big)\big]

        L_G^{Ra} = \mathbb{E}_{z}\big[\mathrm{softplus}\big(-(C(G(z)) - \mathbb{E}_x C(x))\big)\big]
        + \mathbb{E}_{x}\big[\mathrm{softplus}\big(C(x) - \mathbb{E}_z C(G(z))\big)\big]

    Args:
        real_logits: Critic outputs on real samples, shape ``(N, *)`` (they may be detached: the generator's
            gradient comes through ``fake_logits``).
        fake_logits: Critic outputs on generated samples: the same shape for ``"paired"``, any ``(M, *)`` for
            ``"average"``.
        kind: ``"paired"`` (RpGAN) | ``"average"`` (RaGAN).

    Returns:
        A scalar (mean over pairs, or the sum of the two batch means).

    Raises:
        ValueError: unknown ``kind``, paired batches of different shapes, or non-finite logits.
        TypeError: a non-tensor or non-floating input.

    Note:
        The argument order is ``(real_logits, fake_logits)`` for both relativistic losses, the discriminator's
        order, since both batches are needed. With :math:`C(x) \equiv 0` the paired loss is
        :func:`non_saturating_generator_loss` of ``fake_logits``.

    Example:
        >>> import torch
        >>> relativistic_generator_loss(torch.tensor([2.0, 0.0]), torch.tensor([0.0, 0.0]))  # softplus(2), log 2
        tensor(1.4100)

    References:
        .. [JolicoeurMartineau2019b] A. Jolicoeur-Martineau. "The Relativistic Discriminator: A Key Element
           Missing from Standard GAN." ICLR 2019. https://arxiv.org/abs/1807.00734
    """
    check_choice(kind, "kind", RELATIVISTIC_KINDS)
    r = _scores(real_logits, "real_logits")
    f = _scores(fake_logits, "fake_logits")
    real_vs_fake, fake_vs_real = _relativistic_terms(r, f, kind)
    if kind == "paired":
        loss = _mean(softplus(-fake_vs_real))
    else:
        loss = _mean(softplus(-fake_vs_real)) + _mean(softplus(real_vs_fake))
    return result_dtype(loss, real_logits)


class RelativisticDiscriminatorLoss(LossModule, function=relativistic_discriminator_loss):
    pass


class RelativisticGeneratorLoss(LossModule, function=relativistic_generator_loss):
    pass
