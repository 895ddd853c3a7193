"""Gradient penalties on the critic's input gradient: WGAN-GP, R1 and R2."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .._checks import check_finite, check_floating, check_in_range, check_same_shape, check_scalar
from .._compat import renamed_arguments
from .._numerics import safe_sqrt, upcast
from .._reduction import reduce_loss

# ---------------------------------------------------------------------------------------------------------------
# gradient penalties (Gulrajani et al. 2017; Mescheder et al. 2018)


def _check_critic(critic: object) -> Callable[[torch.Tensor], torch.Tensor]:
    if not callable(critic):
        raise TypeError(f"critic: expected a callable network (e.g. an nn.Module), got {type(critic).__name__}")
    return critic


def _input_gradient(critic: Callable, x: torch.Tensor, name: str) -> torch.Tensor:
    """Per-sample gradient of the critic's output(s) with respect to its input ``x``, with ``create_graph``."""
    if not x.requires_grad:
        x = x.detach().requires_grad_(True)
    out = critic(x)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"critic: expected it to return a torch.Tensor, got {type(out).__name__}")
    n = x.shape[0]
    if out.ndim == 0 or out.shape[0] != n:
        raise ValueError(
            f"critic: expected an output with one score per sample, shape ({n},) or ({n}, ...), for {name} of "
            f"shape {tuple(x.shape)}, got {tuple(out.shape)} (a critic that averages over the batch mixes the "
            "per-sample gradients)"
        )
    if not out.requires_grad:
        raise ValueError(f"critic: expected an output that depends on its input {name} (it has no gradient)")
    # Samples are independent, so the gradient of the batch sum gives each sample's own input gradient. A
    # critic with several outputs per sample (a patch discriminator) contributes the sum of its outputs.
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad


def _squared_norms(grad: torch.Tensor) -> torch.Tensor:
    # Per-sample squared L2 norm over every non-batch dimension, in float32 at least for half inputs.
    (g,) = upcast(grad)
    return g.reshape(g.shape[0], math.prod(g.shape[1:])).square().sum(dim=1)


@renamed_arguments(weight="sample_weight")
def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    target_norm: float = 1.0,
    alpha: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""WGAN-GP gradient penalty: the critic's input-gradient norm pulled to 1 between real and fake samples.

    A differentiable critic is 1-Lipschitz iff its gradient norm is at most 1 everywhere; WGAN-GP enforces it
    softly on random points :math:`\hat x` on the segments between real and fake samples [Gulrajani2017]_:

    .. math::
        \hat x_i = \alpha_i x_i + (1 - \alpha_i)\,\tilde x_i,\quad \alpha_i \sim U[0, 1], \qquad
        p_i = \big(\lVert \nabla_{\hat x} D(\hat x_i) \rVert_2 - K\big)^2

    with one :math:`\alpha_i` per sample and the norm taken per sample over all non-batch dimensions. This
    returns the bare penalty :math:`\mathbb{E}_i[p_i]`: **multiply it by λ yourself** (λ = 10 in the paper)
    and add it to :func:`wasserstein_critic_loss`.

    Args:
        critic: The critic network, mapping a batch ``(N, *)`` to scores ``(N,)`` or ``(N, ...)`` (a critic with
            several outputs per sample, e.g. a patch discriminator, is penalized on the sum of its outputs).
        real: Real samples, shape ``(N, *)``.
        fake: Generated samples, same shape as ``real`` (usually ``.detach()``-ed from the generator).
        target_norm: :math:`K`, the target gradient norm, ``> 0``.
        alpha: Optional interpolation coefficients, shape ``(N,)`` in ``[0, 1]``; drawn uniformly when ``None``.
        generator: Optional ``torch.Generator`` for drawing ``alpha``.
        sample_weight: Optional per-element weights broadcastable to the per-sample penalties ``(N,)``.
        reduction: ``"none"`` (per-sample penalties ``(N,)``) | ``"mean"`` | ``"sum"``.

    Returns:
        ``(N,)`` for ``"none"``, otherwise a scalar. The graph is kept (``create_graph=True``), so the penalty
        back-propagates into the critic's parameters.

    Raises:
        TypeError: ``critic`` not callable, a non-tensor or non-floating sample, or a critic returning a
            non-tensor.
        ValueError: ``real`` and ``fake`` shapes differ (e.g. different batch sizes), a critic output that does
            not have one score per sample (shape ``(N, ...)``), ``alpha`` of the wrong shape, ``target_norm <= 0``;
            with validation on, ``alpha`` outside [0, 1] or NaN/inf in ``real``, ``fake`` or ``alpha``.

    Note:
        The norm :math:`\sqrt{\sum g^2}` has an infinite derivative at :math:`g = 0`; it is computed with a
        double ``where`` so a critic with a flat spot gives a finite (zero) gradient there. Peers get the shape
        wrong in two ways this function avoids: one norm over the whole batch's gradient tensor, and one
        :math:`\alpha` for the whole batch (torchgan).

    Example:
        >>> import torch
        >>> critic = torch.nn.Linear(2, 1, bias=False)
        >>> with torch.no_grad():
        ...     _ = critic.weight.copy_(torch.tensor([[0.6, 0.8]]))  # unit norm: 1-Lipschitz with slope 1
        >>> gradient_penalty(critic, torch.randn(4, 2), torch.randn(4, 2)).item() < 1e-12
        True

    References:
        .. [Gulrajani2017] I. Gulrajani et al. "Improved Training of Wasserstein GANs." NeurIPS 2017.
           arXiv:1704.00028
    """
    critic = _check_critic(critic)
    k = check_scalar(target_norm, "target_norm", low=0.0, low_inclusive=False)
    check_floating(real, "real")
    check_floating(fake, "fake")
    check_same_shape(real, fake, "real", "fake")
    if real.ndim == 0:
        raise ValueError("real: expected a batch of shape (N, *), got a 0-d tensor")
    check_finite(real, "real", "gradient_penalty")
    check_finite(fake, "fake", "gradient_penalty")
    n = real.shape[0]
    if alpha is None:
        alpha = torch.rand(n, generator=generator, dtype=real.dtype, device=real.device)
    else:
        check_floating(alpha, "alpha")
        if alpha.shape != (n,):
            raise ValueError(f"alpha: expected one coefficient per sample, shape ({n},), got {tuple(alpha.shape)}")
        check_in_range(alpha, "alpha", 0.0, 1.0, "interpolation coefficients between fake (0) and real (1)")
        alpha = alpha.to(real.dtype)
    a = alpha.reshape(n, *([1] * (real.ndim - 1)))
    x_hat = a * real + (1 - a) * fake
    sq = _squared_norms(_input_gradient(critic, x_hat, "the interpolates"))
    penalty = (safe_sqrt(sq) - k).square()
    return reduce_loss(penalty, reduction, sample_weight, dtype=real.dtype)


@renamed_arguments(weight="sample_weight")
def r1_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    *,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""R1 regularizer: the squared input-gradient norm of the discriminator on real data.

    Penalizing the discriminator's gradient on the data makes the GAN game locally convergent [Mescheder2018]_:

    .. math::
        R_1 = \mathbb{E}_{x \sim p_{data}}\big[\lVert \nabla_x D(x) \rVert_2^2\big]

    with the norm per sample over all non-batch dimensions. This returns the bare :math:`R_1`: **multiply it by
    γ/2 yourself** (the paper's regularizer is :math:`\tfrac{\gamma}{2} R_1`) and add it to the discriminator
    loss.

    Args:
        critic: The discriminator, mapping ``(N, *)`` to logits ``(N,)`` or ``(N, ...)`` (the sum of a
            sample's outputs is differentiated).
        real: Real samples, shape ``(N, *)``.
        sample_weight: Optional per-element weights broadcastable to the per-sample penalties ``(N,)``.
        reduction: ``"none"`` (per-sample, ``(N,)``) | ``"mean"`` | ``"sum"``.

    Returns:
        ``(N,)`` for ``"none"``, otherwise a scalar, with the graph kept (``create_graph=True``).

    Raises:
        TypeError: ``critic`` not callable or a non-tensor/non-floating sample.
        ValueError: a critic output without one score per sample.

    Example:
        >>> import torch
        >>> critic = torch.nn.Linear(2, 1)
        >>> with torch.no_grad():
        ...     _ = critic.weight.copy_(torch.tensor([[3.0, 4.0]]))
        >>> r1_penalty(critic, torch.randn(5, 2)).item()  # ||w||^2 for a linear critic
        25.0

    References:
        .. [Mescheder2018] L. Mescheder, A. Geiger, S. Nowozin. "Which Training Methods for GANs do actually
           Converge?" ICML 2018. arXiv:1801.04406
    """
    return _squared_gradient_penalty(critic, real, "real", sample_weight, reduction, "r1_penalty")


@renamed_arguments(weight="sample_weight")
def r2_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    fake: torch.Tensor,
    *,
    sample_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""R2 regularizer: the squared input-gradient norm of the discriminator on generated data.

    The counterpart of :func:`r1_penalty` on the generator's distribution [Mescheder2018]_:

    .. math::
        R_2 = \mathbb{E}_{\tilde x \sim p_G}\big[\lVert \nabla_{\tilde x} D(\tilde x) \rVert_2^2\big]

    Returns the bare :math:`R_2`: **multiply it by γ/2 yourself**. Pass ``fake.detach()`` unless you mean the
    penalty to back-propagate into the generator.

    Args:
        critic: The discriminator, mapping ``(N, *)`` to logits ``(N,)`` or ``(N, ...)``.
        fake: Generated samples, shape ``(N, *)``.
        sample_weight: Optional per-element weights broadcastable to the per-sample penalties ``(N,)``.
        reduction: ``"none"`` (per-sample, ``(N,)``) | ``"mean"`` | ``"sum"``.

    Returns:
        ``(N,)`` for ``"none"``, otherwise a scalar, with the graph kept (``create_graph=True``).

    Raises:
        TypeError: ``critic`` not callable or a non-tensor/non-floating sample.
        ValueError: a critic output without one score per sample.

    Example:
        >>> import torch
        >>> critic = torch.nn.Linear(2, 1)
        >>> with torch.no_grad():
        ...     _ = critic.weight.copy_(torch.tensor([[1.0, 2.0]]))
        >>> r2_penalty(critic, torch.randn(3, 2)).item()
        5.0

    References:
        .. [Mescheder2018] L. Mescheder, A. Geiger, S. Nowozin. "Which Training Methods for GANs do actually
           Converge?" ICML 2018. arXiv:1801.04406
    """
    return _squared_gradient_penalty(critic, fake, "fake", sample_weight, reduction, "r2_penalty")


def _squared_gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    name: str,
    sample_weight: torch.Tensor | None,
    reduction: str,
    loss: str,
) -> torch.Tensor:
    """E[||grad_x D(x)||^2] over the batch ``x`` (R1 on real data, R2 on generated data)."""
    critic = _check_critic(critic)
    check_floating(x, name)
    if x.ndim == 0:
        raise ValueError(f"{name}: expected a batch of shape (N, *), got a 0-d tensor")
    check_finite(x, name, loss)
    sq = _squared_norms(_input_gradient(critic, x, name))
    return reduce_loss(sq, reduction, sample_weight, dtype=x.dtype)
