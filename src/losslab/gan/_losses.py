"""Adversarial losses on raw discriminator outputs (minimax, least-squares, Wasserstein, hinge) and :class:`GANLoss`."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice, check_finite, check_floating, check_scalar
from .._compat import renamed_arguments
from .._numerics import result_dtype, softplus, upcast
from .._reduction import reduce_loss

GAN_KINDS = ("minimax", "non-saturating", "least-squares", "wasserstein", "hinge")


def _scores(x: torch.Tensor, name: str, loss: str = "") -> torch.Tensor:
    check_floating(x, name)
    check_finite(x, name, loss)
    (x,) = upcast(x)
    return x


def _mean(term: torch.Tensor) -> torch.Tensor:
    return reduce_loss(term, "mean")


# ---------------------------------------------------------------------------------------------------------------
# minimax (Goodfellow et al. 2014)


def minimax_discriminator_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, *, label_smoothing: float = 0.0
) -> torch.Tensor:
    r"""Discriminator loss of the original minimax GAN: binary cross-entropy, real = 1, fake = 0.

    The discriminator :math:`D = \sigma(\ell)` is trained to tell real from generated samples [Goodfellow2014]_.
    On logits :math:`\ell`, with the real target :math:`t = 1 - s` (one-sided label smoothing :math:`s`,
    [Salimans2016]_; only the real side is smoothed):

    .. math::
        L_D = \mathbb{E}_x\big[t\,\mathrm{softplus}(-\ell(x)) + (1-t)\,\mathrm{softplus}(\ell(x))\big]
              + \mathbb{E}_z\big[\mathrm{softplus}(\ell(G(z)))\big]

    since :math:`-\log\sigma(\ell) = \mathrm{softplus}(-\ell)` and :math:`-\log(1-\sigma(\ell)) =
    \mathrm{softplus}(\ell)`. Each expectation is a mean over its own batch.

    Args:
        real_logits: Discriminator logits on real samples, shape ``(N, *)``.
        fake_logits: Discriminator logits on generated samples, shape ``(M, *)`` (``M`` may differ from ``N``).
        label_smoothing: One-sided smoothing ``s`` of the real target, in ``[0, 1)``; ``0.1`` gives the 0.9
            target of Salimans et al.

    Returns:
        A scalar (the sum of the two batch means; see the module note on why there is no ``reduction``).

    Raises:
        ValueError: ``label_smoothing`` outside ``[0, 1)``, or non-finite logits.
        TypeError: a non-tensor or non-floating input.

    Note:
        Computed with ``softplus`` on logits, never ``log(sigmoid(x))``: finite for logits of ±1e4.

    Example:
        >>> import torch
        >>> minimax_discriminator_loss(torch.tensor([0.0]), torch.tensor([0.0]))  # 2 log 2
        tensor(1.3863)

    References:
        .. [Goodfellow2014] I. Goodfellow et al. "Generative Adversarial Nets." NeurIPS 2014. arXiv:1406.2661
        .. [Salimans2016] T. Salimans et al. "Improved Techniques for Training GANs." NeurIPS 2016.
           arXiv:1606.03498
    """
    s = check_scalar(label_smoothing, "label_smoothing", low=0.0, high=1.0, high_inclusive=False)
    r = _scores(real_logits, "real_logits", "minimax_discriminator_loss")
    f = _scores(fake_logits, "fake_logits", "minimax_discriminator_loss")
    real_term = softplus(-r) if s == 0.0 else (1.0 - s) * softplus(-r) + s * softplus(r)
    loss = _mean(real_term) + _mean(softplus(f))
    return result_dtype(loss, real_logits)


@renamed_arguments(weight="sample_weight")
def minimax_generator_loss(
    fake_logits: torch.Tensor, *, sample_weight: torch.Tensor | None = None, reduction: str = "mean"
) -> torch.Tensor:
    r"""Saturating generator loss of the minimax GAN: minimize :math:`\log(1 - D(G(z)))`.

    The generator's side of the zero-sum game [Goodfellow2014]_. With :math:`D = \sigma(\ell)`:

    .. math::
        \ell_G = \log\big(1 - \sigma(\ell)\big) = -\mathrm{softplus}(\ell),
        \qquad \frac{\partial \ell_G}{\partial \ell} = -\sigma(\ell).

    When the discriminator confidently rejects the fakes (:math:`\ell \to -\infty`), the gradient
    :math:`-\sigma(\ell)` vanishes, which is why it learns slowly early in training; the paper itself
    recommends :func:`non_saturating_generator_loss` in practice. Kept for comparison (the lab's ``gan``
    experiment shows the effect).

    Args:
        fake_logits: Discriminator logits on generated samples, shape ``(N, *)``.
        sample_weight: Optional per-element weights broadcastable to ``fake_logits``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        ``fake_logits``' shape for ``"none"``, otherwise a scalar. Values lie in ``(-inf, 0)``.

    Raises:
        ValueError: non-finite logits, bad ``reduction`` or ``sample_weight`` shape.
        TypeError: a non-tensor or non-floating input.

    Note:
        ``log(1 - sigmoid(x))`` is computed as ``-softplus(x)``: at ``x = 1e4`` the loss is ``-1e4`` with gradient
        ``-1``; at ``x = -1e4`` the loss and gradient underflow to 0 (the saturation itself), never NaN.

    Example:
        >>> import torch
        >>> minimax_generator_loss(torch.tensor([0.0, -2.0]), reduction="none")
        tensor([-0.6931, -0.1269])

    References:
        .. [Goodfellow2014] I. Goodfellow et al. "Generative Adversarial Nets." NeurIPS 2014. arXiv:1406.2661
    """
    f = _scores(fake_logits, "fake_logits", "minimax_generator_loss")
    return reduce_loss(-softplus(f), reduction, sample_weight, dtype=fake_logits.dtype)


@renamed_arguments(weight="sample_weight")
def non_saturating_generator_loss(
    fake_logits: torch.Tensor, *, sample_weight: torch.Tensor | None = None, reduction: str = "mean"
) -> torch.Tensor:
    r"""Non-saturating generator loss: maximize :math:`\log D(G(z))` instead of minimizing :math:`\log(1-D(G(z)))`.

    Same fixed point as the minimax game but strong gradients early in training, when the discriminator rejects
    the fakes easily [Goodfellow2014]_ (Section 3). With :math:`D = \sigma(\ell)`:

    .. math::
        \ell_G = -\log\sigma(\ell) = \mathrm{softplus}(-\ell),
        \qquad \frac{\partial \ell_G}{\partial \ell} = -\sigma(-\ell) \to -1 \text{ as } \ell \to -\infty.

    Args:
        fake_logits: Discriminator logits on generated samples, shape ``(N, *)``.
        sample_weight: Optional per-element weights broadcastable to ``fake_logits``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        ``fake_logits``' shape for ``"none"``, otherwise a scalar. Values lie in ``(0, inf)``.

    Raises:
        ValueError: non-finite logits, bad ``reduction`` or ``sample_weight`` shape.
        TypeError: a non-tensor or non-floating input.

    Note:
        Log space (``softplus``), not ``-log(sigmoid(x))`` in probability space, which is ``inf`` at ``x = -200``
        in float32.

    Example:
        >>> import torch
        >>> non_saturating_generator_loss(torch.tensor([0.0, -2.0]), reduction="none")
        tensor([0.6931, 2.1269])

    References:
        .. [Goodfellow2014] I. Goodfellow et al. "Generative Adversarial Nets." NeurIPS 2014. arXiv:1406.2661
    """
    f = _scores(fake_logits, "fake_logits", "non_saturating_generator_loss")
    return reduce_loss(softplus(-f), reduction, sample_weight, dtype=fake_logits.dtype)


# ---------------------------------------------------------------------------------------------------------------
# least squares (Mao et al. 2017)


def least_squares_discriminator_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, *, a: float = 0.0, b: float = 1.0
) -> torch.Tensor:
    r"""LSGAN discriminator loss: squared distance of the raw outputs to the fake and real codes.

    Least squares instead of the sigmoid cross-entropy penalizes fakes that lie on the right side of the
    decision boundary but far from the real data, so they keep receiving gradient [Mao2017]_ (eq. 2):

    .. math::
        L_D = \tfrac12\,\mathbb{E}_x\big[(D(x) - b)^2\big] + \tfrac12\,\mathbb{E}_z\big[(D(G(z)) - a)^2\big]

    Args:
        real_logits: Raw (linear) discriminator outputs on real samples, shape ``(N, *)``.
        fake_logits: Raw outputs on generated samples, shape ``(M, *)``.
        a: Code of fake data (paper's 0-1 coding: ``a=0``).
        b: Code of real data (``b=1``). The paper's alternative coding is ``a=-1, b=1`` with ``c=0`` in the
            generator.

    Returns:
        A scalar (the sum of the two halved batch means).

    Raises:
        ValueError: ``a == b`` (no margin to learn), or non-finite outputs.
        TypeError: a non-tensor or non-floating input.

    Example:
        >>> import torch
        >>> least_squares_discriminator_loss(torch.tensor([1.0, 0.0]), torch.tensor([2.0]))  # 0.5*0.5 + 0.5*4
        tensor(2.2500)

    References:
        .. [Mao2017] X. Mao et al. "Least Squares Generative Adversarial Networks." ICCV 2017. arXiv:1611.04076
    """
    a = check_scalar(a, "a")
    b = check_scalar(b, "b")
    if a == b:
        raise ValueError(f"b: expected a real-data code different from the fake-data code a={a:g}, got b={b:g}")
    r = _scores(real_logits, "real_logits", "least_squares_discriminator_loss")
    f = _scores(fake_logits, "fake_logits", "least_squares_discriminator_loss")
    loss = 0.5 * _mean((r - b).square()) + 0.5 * _mean((f - a).square())
    return result_dtype(loss, real_logits)


@renamed_arguments(weight="sample_weight")
def least_squares_generator_loss(
    fake_logits: torch.Tensor, *, c: float = 1.0, sample_weight: torch.Tensor | None = None, reduction: str = "mean"
) -> torch.Tensor:
    r"""LSGAN generator loss: pull the discriminator's outputs on fakes toward the code ``c``.

    [Mao2017]_ (eq. 2):

    .. math::
        \ell_G = \tfrac12\,(D(G(z)) - c)^2

    Args:
        fake_logits: Raw (linear) discriminator outputs on generated samples, shape ``(N, *)``.
        c: The value the generator wants the discriminator to believe for fake data (``c=1``, the real code, in
            the paper's 0-1 coding).
        sample_weight: Optional per-element weights broadcastable to ``fake_logits``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        ``fake_logits``' shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: non-finite outputs, bad ``reduction`` or ``sample_weight`` shape.
        TypeError: a non-tensor or non-floating input.

    Example:
        >>> import torch
        >>> least_squares_generator_loss(torch.tensor([1.0, -1.0]), reduction="none")
        tensor([0., 2.])

    References:
        .. [Mao2017] X. Mao et al. "Least Squares Generative Adversarial Networks." ICCV 2017. arXiv:1611.04076
    """
    c = check_scalar(c, "c")
    f = _scores(fake_logits, "fake_logits", "least_squares_generator_loss")
    return reduce_loss(0.5 * (f - c).square(), reduction, sample_weight, dtype=fake_logits.dtype)


# ---------------------------------------------------------------------------------------------------------------
# Wasserstein (Arjovsky et al. 2017) and hinge (Lim & Ye 2017; Miyato et al. 2018)


def wasserstein_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    r"""WGAN critic loss: the negated estimate of the Wasserstein-1 distance.

    A 1-Lipschitz critic :math:`D` maximizes :math:`\mathbb{E}_x[D(x)] - \mathbb{E}_z[D(G(z))]`, which is the
    Kantorovich–Rubinstein dual of :math:`W_1` [Arjovsky2017]_; minimized, that is

    .. math::
        L_D = \mathbb{E}_z[D(G(z))] - \mathbb{E}_x[D(x)]

    The Lipschitz constraint is not part of this loss: add :func:`gradient_penalty` times λ (WGAN-GP, λ = 10
    [Gulrajani2017]_) or clip the weights.

    Args:
        real_scores: Critic scores on real samples, shape ``(N, *)``.
        fake_scores: Critic scores on generated samples, shape ``(M, *)``.

    Returns:
        A scalar (difference of the two batch means), unbounded.

    Raises:
        ValueError: non-finite scores.
        TypeError: a non-tensor or non-floating input.

    Example:
        >>> import torch
        >>> wasserstein_critic_loss(torch.tensor([3.0, 1.0]), torch.tensor([-1.0]))  # -1 - 2
        tensor(-3.)

    References:
        .. [Arjovsky2017] M. Arjovsky, S. Chintala, L. Bottou. "Wasserstein GAN." ICML 2017. arXiv:1701.07875
        .. [Gulrajani2017] I. Gulrajani et al. "Improved Training of Wasserstein GANs." NeurIPS 2017.
           arXiv:1704.00028
    """
    r = _scores(real_scores, "real_scores", "wasserstein_critic_loss")
    f = _scores(fake_scores, "fake_scores", "wasserstein_critic_loss")
    return result_dtype(_mean(f) - _mean(r), real_scores)


@renamed_arguments(weight="sample_weight")
def wasserstein_generator_loss(
    fake_scores: torch.Tensor, *, sample_weight: torch.Tensor | None = None, reduction: str = "mean"
) -> torch.Tensor:
    r"""WGAN generator loss: raise the critic's score of the fakes, :math:`\ell_G = -D(G(z))`.

    [Arjovsky2017]_. Identical in value to :func:`hinge_generator_loss`.

    Args:
        fake_scores: Critic scores on generated samples, shape ``(N, *)``.
        sample_weight: Optional per-element weights broadcastable to ``fake_scores``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        ``fake_scores``' shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: non-finite scores, bad ``reduction`` or ``sample_weight`` shape.
        TypeError: a non-tensor or non-floating input.

    Example:
        >>> import torch
        >>> wasserstein_generator_loss(torch.tensor([1.0, -3.0]))
        tensor(1.)

    References:
        .. [Arjovsky2017] M. Arjovsky, S. Chintala, L. Bottou. "Wasserstein GAN." ICML 2017. arXiv:1701.07875
    """
    f = _scores(fake_scores, "fake_scores", "wasserstein_generator_loss")
    return reduce_loss(-f, reduction, sample_weight, dtype=fake_scores.dtype)


def hinge_discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    r"""Hinge discriminator loss (geometric GAN / SN-GAN): a margin of 1 on each side.

    Scores of real samples are pushed above +1 and scores of fakes below -1; samples beyond the margin cost
    nothing [Lim2017]_ [Miyato2018]_:

    .. math::
        L_D = \mathbb{E}_x\big[\max(0, 1 - D(x))\big] + \mathbb{E}_z\big[\max(0, 1 + D(G(z)))\big]

    Args:
        real_scores: Raw discriminator scores on real samples, shape ``(N, *)``.
        fake_scores: Raw scores on generated samples, shape ``(M, *)``.

    Returns:
        A scalar (the sum of the two batch means), in ``[0, inf)``.

    Raises:
        ValueError: non-finite scores.
        TypeError: a non-tensor or non-floating input.

    Note:
        No ``tanh`` or other squashing is applied (MONAI's ``PatchAdversarialLoss`` applies ``tanh`` first).

    Example:
        >>> import torch
        >>> hinge_discriminator_loss(torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0]))  # 0.25 + 0.5
        tensor(0.7500)

    References:
        .. [Lim2017] J. H. Lim, J. C. Ye. "Geometric GAN." 2017. arXiv:1705.02894
        .. [Miyato2018] T. Miyato et al. "Spectral Normalization for Generative Adversarial Networks." ICLR 2018.
           arXiv:1802.05957
    """
    r = _scores(real_scores, "real_scores", "hinge_discriminator_loss")
    f = _scores(fake_scores, "fake_scores", "hinge_discriminator_loss")
    return result_dtype(_mean(F.relu(1.0 - r)) + _mean(F.relu(1.0 + f)), real_scores)


@renamed_arguments(weight="sample_weight")
def hinge_generator_loss(
    fake_scores: torch.Tensor, *, sample_weight: torch.Tensor | None = None, reduction: str = "mean"
) -> torch.Tensor:
    r"""Hinge-GAN generator loss: :math:`\ell_G = -D(G(z))` (no margin on the generator side).

    [Lim2017]_ [Miyato2018]_. Equal in value to :func:`wasserstein_generator_loss`; it is a separate name so
    that each discriminator loss has its matching generator loss.

    Args:
        fake_scores: Raw discriminator scores on generated samples, shape ``(N, *)``.
        sample_weight: Optional per-element weights broadcastable to ``fake_scores``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Returns:
        ``fake_scores``' shape for ``"none"``, otherwise a scalar.

    Raises:
        ValueError: non-finite scores, bad ``reduction`` or ``sample_weight`` shape.
        TypeError: a non-tensor or non-floating input.

    Note:
        Some code applies the margin to the generator too (``relu(1 - D(G(z)))``, e.g. MONAI); that stops the
        generator once its fakes pass the margin. The papers use the linear form here.

    Example:
        >>> import torch
        >>> hinge_generator_loss(torch.tensor([2.0, -1.0]), reduction="none")
        tensor([-2.,  1.])

    References:
        .. [Lim2017] J. H. Lim, J. C. Ye. "Geometric GAN." 2017. arXiv:1705.02894
        .. [Miyato2018] T. Miyato et al. "Spectral Normalization for Generative Adversarial Networks." ICLR 2018.
           arXiv:1802.05957
    """
    f = _scores(fake_scores, "fake_scores", "hinge_generator_loss")
    return reduce_loss(-f, reduction, sample_weight, dtype=fake_scores.dtype)


# ---------------------------------------------------------------------------------------------------------------
# module


class GANLoss(nn.Module):
    r"""Module form of a matched pair of GAN losses: ``.discriminator(real, fake)`` and ``.generator(fake)``.

    ========================  ==========================================  ==========================================
    ``kind``                  ``.discriminator``                          ``.generator``
    ========================  ==========================================  ==========================================
    ``"minimax"``             :func:`minimax_discriminator_loss`          :func:`minimax_generator_loss` (saturating)
    ``"non-saturating"``      :func:`minimax_discriminator_loss`          :func:`non_saturating_generator_loss`
    ``"least-squares"``       :func:`least_squares_discriminator_loss`    :func:`least_squares_generator_loss`
    ``"wasserstein"``         :func:`wasserstein_critic_loss`             :func:`wasserstein_generator_loss`
    ``"hinge"``               :func:`hinge_discriminator_loss`            :func:`hinge_generator_loss`
    ========================  ==========================================  ==========================================

    Penalties take the network, so they are not part of this module: add ``λ * gradient_penalty(...)`` (or
    ``γ/2 * r1_penalty(...)``) to the discriminator loss yourself. There is no ``forward``: call the method
    for the player you are training.

    Args:
        kind: One of :data:`GAN_KINDS`.
        label_smoothing: One-sided real-label smoothing (``"minimax"`` and ``"non-saturating"`` only).
        a, b, c: LSGAN codes (``"least-squares"`` only); defaults 0, 1, 1.
        reduction: Reduction of the generator loss (the discriminator losses always return the sum of the two
            batch means).

    Raises:
        ValueError: an unknown ``kind``, or a hyperparameter that ``kind`` does not use (it would be ignored).

    Example:
        >>> import torch
        >>> loss = GANLoss("hinge")
        >>> loss.discriminator(torch.tensor([2.0]), torch.tensor([0.0])), loss.generator(torch.tensor([0.5]))
        (tensor(1.), tensor(-0.5000))
    """

    def __init__(
        self,
        kind: str = "non-saturating",
        *,
        label_smoothing: float | None = None,
        a: float | None = None,
        b: float | None = None,
        c: float | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.kind = check_choice(kind, "kind", GAN_KINDS)
        given = {k: v for k, v in dict(label_smoothing=label_smoothing, a=a, b=b, c=c).items() if v is not None}
        allowed = {"minimax": {"label_smoothing"}, "non-saturating": {"label_smoothing"},
                   "least-squares": {"a", "b", "c"}}.get(kind, set())
        unused = sorted(set(given) - allowed)
        if unused:
            raise ValueError(f"{unused[0]}: not used by kind={kind!r} (it takes {sorted(allowed) or 'no options'})")
        self.d_kwargs: dict[str, float] = {}
        self.g_kwargs: dict[str, float] = {}
        if "label_smoothing" in given:
            self.d_kwargs["label_smoothing"] = check_scalar(
                0.0 if label_smoothing is None else label_smoothing, "label_smoothing", low=0.0, high=1.0, high_inclusive=False
            )
        if kind == "least-squares":
            a_, b_ = check_scalar(0.0 if a is None else a, "a"), check_scalar(1.0 if b is None else b, "b")
            if a_ == b_:
                raise ValueError(f"b: expected a real-data code different from a={a_:g}, got {b_:g}")
            self.d_kwargs.update(a=a_, b=b_)
            self.g_kwargs["c"] = check_scalar(1.0 if c is None else c, "c")
        self.reduction = check_choice(reduction, "reduction", ("none", "mean", "sum"))
        pairs: dict[str, tuple[Callable[..., torch.Tensor], Callable[..., torch.Tensor]]] = {
            "minimax": (minimax_discriminator_loss, minimax_generator_loss),
            "non-saturating": (minimax_discriminator_loss, non_saturating_generator_loss),
            "least-squares": (least_squares_discriminator_loss, least_squares_generator_loss),
            "wasserstein": (wasserstein_critic_loss, wasserstein_generator_loss),
            "hinge": (hinge_discriminator_loss, hinge_generator_loss),
        }
        self._d, self._g = pairs[kind]

    def discriminator(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """The discriminator's (critic's) loss on its outputs for real and generated samples."""
        return self._d(real_logits, fake_logits, **self.d_kwargs)

    @renamed_arguments(weight="sample_weight")
    def generator(self, fake_logits: torch.Tensor, sample_weight: torch.Tensor | None = None) -> torch.Tensor:
        """The generator's loss on the discriminator's outputs for generated samples."""
        return self._g(fake_logits, **self.g_kwargs, sample_weight=sample_weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        opts = "".join(f", {k}={v:g}" for k, v in {**self.d_kwargs, **self.g_kwargs}.items())
        return f"kind={self.kind!r}{opts}, reduction={self.reduction!r}"
