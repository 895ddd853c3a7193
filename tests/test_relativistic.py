"""Relativistic GAN losses: float64 references from Jolicoeur-Martineau (2019) in probability form, limit cases
(a constant critic on one batch gives the standard losses back), extreme logits and the R3GAN composition."""

from __future__ import annotations

import math

import pytest
import torch

import losslab
from losslab import (
    minimax_discriminator_loss,
    non_saturating_generator_loss,
    r1_penalty,
    r2_penalty,
    relativistic_discriminator_loss,
    relativistic_generator_loss,
)

D = torch.float64


def _sig(x):
    return 1 / (1 + torch.exp(-x))


def rp_reference(real, fake):
    """RpGAN (paper eq. for RSGAN): D: -E log sigmoid(C(x) - C(G(z))), G: -E log sigmoid(C(G(z)) - C(x))."""
    return -torch.log(_sig(real - fake)).mean(), -torch.log(_sig(fake - real)).mean()


def ra_reference(real, fake):
    """RaGAN (paper section 4.2): D_tilde(x) = sigmoid(C(x) - E C(G(z))), D_tilde(G(z)) = sigmoid(C(G(z)) - E C(x))."""
    d_real = _sig(real - fake.mean())
    d_fake = _sig(fake - real.mean())
    d_loss = -torch.log(d_real).mean() - torch.log(1 - d_fake).mean()
    g_loss = -torch.log(d_fake).mean() - torch.log(1 - d_real).mean()
    return d_loss, g_loss


def scores(shape_r, shape_f, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape_r, generator=g, dtype=D) * 2 + 1, torch.randn(shape_f, generator=g, dtype=D) * 2 - 1


def test_paired_matches_reference_values_and_gradients():
    real, fake = scores((8, 3), (8, 3))
    r1, f1 = real.clone().requires_grad_(), fake.clone().requires_grad_()
    r2, f2 = real.clone().requires_grad_(), fake.clone().requires_grad_()
    d_ref, g_ref = rp_reference(r2, f2)
    d = relativistic_discriminator_loss(r1, f1)
    torch.testing.assert_close(d, d_ref)
    torch.testing.assert_close(torch.autograd.grad(d, (r1, f1)), torch.autograd.grad(d_ref, (r2, f2)))
    torch.testing.assert_close(relativistic_generator_loss(real, fake), g_ref)


def test_average_matches_reference_with_batches_of_different_size():
    real, fake = scores((6,), (9,), seed=1)
    r1, f1 = real.clone().requires_grad_(), fake.clone().requires_grad_()
    r2, f2 = real.clone().requires_grad_(), fake.clone().requires_grad_()
    d_ref, g_ref = ra_reference(r2, f2)
    d = relativistic_discriminator_loss(r1, f1, kind="average")
    g = relativistic_generator_loss(r1, f1, kind="average")
    torch.testing.assert_close(d, d_ref)
    torch.testing.assert_close(g, g_ref)
    # gradients flow through the batch means too
    torch.testing.assert_close(torch.autograd.grad(d + 2 * g, (r1, f1)), torch.autograd.grad(d_ref + 2 * g_ref, (r2, f2)))


def test_hand_values():
    real = torch.tensor([2.0, 0.0], dtype=D)
    fake = torch.tensor([0.0, 0.0], dtype=D)
    sp = lambda t: math.log1p(math.exp(t))  # noqa: E731
    assert relativistic_discriminator_loss(real, fake).item() == pytest.approx((sp(-2) + math.log(2)) / 2, rel=1e-14)
    assert relativistic_generator_loss(real, fake).item() == pytest.approx((sp(2) + math.log(2)) / 2, rel=1e-14)
    # average: E C(G(z)) = 0, E C(x) = 1
    d_avg = (sp(-2) + sp(0)) / 2 + sp(0 - 1)
    assert relativistic_discriminator_loss(real, fake, kind="average").item() == pytest.approx(d_avg, rel=1e-14)


def test_constant_critic_on_the_other_batch_gives_the_standard_losses():
    real, fake = scores((7,), (7,), seed=2)
    zeros = torch.zeros(7, dtype=D)
    # paired, C(G(z)) = 0: the real term of the minimax discriminator, E softplus(-C(x))
    torch.testing.assert_close(relativistic_discriminator_loss(real, zeros), non_saturating_generator_loss(real))
    # paired generator, C(x) = 0: the non-saturating generator loss
    torch.testing.assert_close(relativistic_generator_loss(zeros, fake), non_saturating_generator_loss(fake))
    # average, C(G(z)) = 0 and real scores of mean 0: the minimax discriminator loss
    centred = real - real.mean()
    torch.testing.assert_close(
        relativistic_discriminator_loss(centred, zeros, kind="average"), minimax_discriminator_loss(centred, zeros)
    )
    # average, real scores 0 and fakes of mean 0: minimax discriminator loss with fakes as the fake batch
    fc = fake - fake.mean()
    torch.testing.assert_close(
        relativistic_discriminator_loss(zeros, fc, kind="average"), minimax_discriminator_loss(zeros, fc)
    )


def test_extreme_logits_are_finite():
    real = torch.tensor([1e4, -1e4, 0.0], dtype=D, requires_grad=True)
    fake = torch.tensor([-1e4, 1e4, 0.0], dtype=D, requires_grad=True)
    for kind in ("paired", "average"):
        for fn in (relativistic_discriminator_loss, relativistic_generator_loss):
            loss = fn(real, fake, kind=kind)
            grads = torch.autograd.grad(loss, (real, fake))
            assert torch.isfinite(loss) and all(torch.isfinite(g).all() for g in grads)


def test_rejected_arguments():
    real, fake = scores((4,), (5,))
    with pytest.raises(ValueError, match="fake_logits: expected the same shape as real_logits"):
        relativistic_discriminator_loss(real, fake)
    with pytest.raises(ValueError, match="kind: expected one of"):
        relativistic_generator_loss(real, fake, kind="relative")
    with pytest.raises(ValueError, match="real_logits: expected finite values"):
        relativistic_discriminator_loss(torch.tensor([float("nan")]), torch.tensor([0.0]))
    with pytest.raises(TypeError, match="fake_logits: expected a floating-point tensor"):
        relativistic_generator_loss(real, torch.ones(4, dtype=torch.long))


def test_r3gan_composition_trains_a_critic_step():
    torch.manual_seed(0)
    critic = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    real = torch.randn(16, 2) + 2
    fake = torch.randn(16, 2) - 2
    gamma = 1.0
    module = losslab.RelativisticDiscriminatorLoss()
    d_loss = module(critic(real), critic(fake)) + gamma / 2 * (r1_penalty(critic, real) + r2_penalty(critic, fake))
    d_loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in critic.parameters())
    assert "kind='paired'" in repr(module)
