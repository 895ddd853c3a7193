"""Contract-test cases for the entries of ``src/losslab/registry/gan.py``.

Discriminator losses return the sum of two batch means (the real and the fake batch differ in size here), so they
take no ``sample_weight``/``reduction`` (``weighted=False``) and an empty batch is not meaningful. Their module,
:class:`losslab.GANLoss`, has ``.discriminator``/``.generator`` methods rather than a ``forward``
(``module_call=False``). The penalties take a small critic network as their first argument: no ``torch.compile``
case (they call ``torch.autograd.grad`` inside), and not ``per_sample`` (``args[0]`` is a network, not a batch),
though their ``reduction="none"`` is per sample.
"""

from __future__ import annotations

import torch
from torch import nn

from . import Case, add, rand, randn


def _two_batches(**kwargs):
    """Real scores ``(n,)`` centred at +1 and fake scores ``(n + 2,)`` centred at -1 (batches of different size)."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        real = (randn((n,), torch.float64, g) + 1.0).to(dtype)
        fake = (randn((n + 2,), torch.float64, g) - 1.0).to(dtype)
        return (real, fake), dict(kwargs)

    return sample


def _fake_scores(features: int = 3, **kwargs):
    """Discriminator outputs on fakes ``(n, features)`` (e.g. a patch discriminator's scores)."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        return (randn((n, features), dtype, g, 2.0),), dict(kwargs)

    return sample


def _critic(dim: int, dtype: torch.dtype, g: torch.Generator) -> nn.Module:
    """A small smooth (tanh) critic ``(N, dim) -> (N, 1)`` with weights drawn from ``g``."""
    net = nn.Sequential(nn.Linear(dim, 5), nn.Tanh(), nn.Linear(5, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(randn(tuple(p.shape), torch.float64, g))
    return net.to(dtype)


def _penalty_inputs(with_fake: bool = True, with_alpha: bool = False, dim: int = 3):
    """``(critic, real[, fake])`` with a fixed ``alpha`` for the gradient penalty so repeated calls agree."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        critic = _critic(dim, dtype, g)
        real = (randn((n, dim), torch.float64, g) + 1.0).to(dtype)
        if not with_fake:
            return (critic, real), {}
        fake = (randn((n, dim), torch.float64, g) - 1.0).to(dtype)
        kwargs = {"alpha": rand((n,), dtype, g)} if with_alpha else {}
        return (critic, real, fake), kwargs

    return sample


def _discriminator(name: str, sample) -> Case:
    """A discriminator loss: the sum of two batch means (no per-sample weights, no empty batch), both batches
    differentiable, used through ``GANLoss.discriminator`` rather than a module call."""
    return Case(name, sample=sample, grad_args=(0, 1), per_sample=False, weighted=False, empty_batch=False,
                module_call=False)


add(_discriminator("minimax_discriminator_loss", _two_batches(label_smoothing=0.1)))
add(Case("minimax_generator_loss", sample=_fake_scores(), module_call=False))
add(Case("non_saturating_generator_loss", sample=_fake_scores(), module_call=False))
add(_discriminator("least_squares_discriminator_loss", _two_batches(a=0.0, b=1.0)))
add(Case("least_squares_generator_loss", sample=_fake_scores(c=1.0), module_call=False))
add(_discriminator("wasserstein_critic_loss", _two_batches()))
add(Case("wasserstein_generator_loss", sample=_fake_scores(), module_call=False))
add(_discriminator("hinge_discriminator_loss", _two_batches()))
add(Case("hinge_generator_loss", sample=_fake_scores(), module_call=False))
add(
    Case(
        "gradient_penalty",
        sample=_penalty_inputs(with_fake=True, with_alpha=True),
        grad_args=(1, 2),
        per_sample=False,
        compile=False,
    )
)
add(Case("r1_penalty", sample=_penalty_inputs(with_fake=False), grad_args=(1,), per_sample=False, compile=False))
add(Case("r2_penalty", sample=_penalty_inputs(with_fake=False), grad_args=(1,), per_sample=False, compile=False))
