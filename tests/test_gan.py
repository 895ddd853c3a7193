"""Tests for losslab.gan: closed forms, extremes, saturation, gradient penalties, bad inputs.

Oracles: closed forms worked by hand (written in probability space with Python's ``math`` in float64), torch's
``binary_cross_entropy_with_logits``, and per-sample autograd loops for the penalties. Real and fake inputs always
differ (different values and batch sizes), so swapping them would fail the tests.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import losslab
from losslab import gan as G

REAL = [2.0, -0.5, 0.75]  # three real samples (away from the hinge kinks at +-1)
FAKE = [-1.5, 0.3]  # two fake samples: a different batch size


def t(values, dtype=torch.float64, grad=False):
    return torch.tensor(values, dtype=dtype, requires_grad=grad)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs)


# ---------------------------------------------------------------------------------------------------------------
# closed forms


def test_minimax_discriminator_closed_form():
    expected = mean(-math.log(sigmoid(r)) for r in REAL) + mean(-math.log(1 - sigmoid(f)) for f in FAKE)
    got = G.minimax_discriminator_loss(t(REAL), t(FAKE))
    torch.testing.assert_close(got, t(expected))
    # independent oracle: torch's BCE on logits, each term averaged over its own batch
    bce = F.binary_cross_entropy_with_logits
    ref = bce(t(REAL), torch.ones(3, dtype=torch.float64)) + bce(t(FAKE), torch.zeros(2, dtype=torch.float64))
    torch.testing.assert_close(got, ref)
    # the arguments are not interchangeable
    assert not torch.allclose(G.minimax_discriminator_loss(t(FAKE), t(REAL)), got)


def test_minimax_discriminator_one_sided_label_smoothing():
    s = 0.1
    real_term = mean(-(1 - s) * math.log(sigmoid(r)) - s * math.log(1 - sigmoid(r)) for r in REAL)
    fake_term = mean(-math.log(1 - sigmoid(f)) for f in FAKE)  # fakes keep the hard 0 target (one-sided)
    got = G.minimax_discriminator_loss(t(REAL), t(FAKE), label_smoothing=s)
    torch.testing.assert_close(got, t(real_term + fake_term))
    bce = F.binary_cross_entropy_with_logits
    ref = bce(t(REAL), torch.full((3,), 0.9, dtype=torch.float64)) + bce(t(FAKE), torch.zeros(2, dtype=torch.float64))
    torch.testing.assert_close(got, ref)


def test_generator_losses_closed_form():
    fake = t(FAKE)
    torch.testing.assert_close(
        G.minimax_generator_loss(fake, reduction="none"), t([math.log(1 - sigmoid(f)) for f in FAKE])
    )
    torch.testing.assert_close(
        G.non_saturating_generator_loss(fake, reduction="none"), t([-math.log(sigmoid(f)) for f in FAKE])
    )
    torch.testing.assert_close(G.least_squares_generator_loss(fake), t(mean(0.5 * (f - 1) ** 2 for f in FAKE)))
    torch.testing.assert_close(G.least_squares_generator_loss(fake, c=0.0), t(mean(0.5 * f**2 for f in FAKE)))
    torch.testing.assert_close(G.wasserstein_generator_loss(fake), t(-mean(FAKE)))
    torch.testing.assert_close(G.hinge_generator_loss(fake, reduction="sum"), t(-sum(FAKE)))
    # weighted mean sum(w l) / sum(w)
    w = t([3.0, 1.0])
    ns = [-math.log(sigmoid(f)) for f in FAKE]
    torch.testing.assert_close(G.non_saturating_generator_loss(fake, sample_weight=w), t((3 * ns[0] + ns[1]) / 4))


def test_least_squares_discriminator_closed_form():
    # paper's 0-1 coding: 0.5 E[(D(x) - 1)^2] + 0.5 E[D(G(z))^2]
    expected = 0.5 * mean((r - 1) ** 2 for r in REAL) + 0.5 * mean(f**2 for f in FAKE)
    torch.testing.assert_close(G.least_squares_discriminator_loss(t(REAL), t(FAKE)), t(expected))
    # the -1/1 coding (a=-1, b=1)
    expected = 0.5 * mean((r - 1) ** 2 for r in REAL) + 0.5 * mean((f + 1) ** 2 for f in FAKE)
    torch.testing.assert_close(G.least_squares_discriminator_loss(t(REAL), t(FAKE), a=-1.0, b=1.0), t(expected))


def test_wasserstein_and_hinge_discriminator_closed_form():
    torch.testing.assert_close(G.wasserstein_critic_loss(t(REAL), t(FAKE)), t(mean(FAKE) - mean(REAL)))
    expected = mean(max(0.0, 1 - r) for r in REAL) + mean(max(0.0, 1 + f) for f in FAKE)
    torch.testing.assert_close(G.hinge_discriminator_loss(t(REAL), t(FAKE)), t(expected))
    # by hand: real hinge terms (0, 1.5, 0.25) -> 1.75 / 3; fake terms (0, 1.3) -> 0.65
    torch.testing.assert_close(G.hinge_discriminator_loss(t(REAL), t(FAKE)), t(1.75 / 3 + 0.65))


def test_perfect_discriminator_limits():
    real, fake = t([30.0, 40.0]), t([-30.0, -50.0])
    assert G.minimax_discriminator_loss(real, fake).item() < 1e-12
    assert G.hinge_discriminator_loss(real, fake).item() == 0.0
    assert G.least_squares_discriminator_loss(t([1.0, 1.0]), t([0.0])).item() == 0.0


# ---------------------------------------------------------------------------------------------------------------
# extremes and saturation


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "fn",
    [
        G.minimax_generator_loss,
        G.non_saturating_generator_loss,
        G.least_squares_generator_loss,
        G.wasserstein_generator_loss,
        G.hinge_generator_loss,
    ],
)
def test_generator_losses_finite_at_1e4(fn, dtype):
    x = t([1e4, -1e4, 0.0], dtype, grad=True)
    loss = fn(x)
    (g,) = torch.autograd.grad(loss, x)
    assert torch.isfinite(loss) and torch.isfinite(g).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "fn",
    [
        G.minimax_discriminator_loss,
        G.least_squares_discriminator_loss,
        G.wasserstein_critic_loss,
        G.hinge_discriminator_loss,
    ],
)
def test_discriminator_losses_finite_at_1e4(fn, dtype):
    real, fake = t([1e4, -1e4], dtype, grad=True), t([-1e4, 1e4, 3.0], dtype, grad=True)
    loss = fn(real, fake)
    grads = torch.autograd.grad(loss, (real, fake))
    assert torch.isfinite(loss) and all(torch.isfinite(g).all() for g in grads)


def test_saturating_generator_values_and_gradient_at_extremes():
    x = t([1e4, -1e4], grad=True)
    loss = G.minimax_generator_loss(x, reduction="none")
    torch.testing.assert_close(loss.detach(), t([-1e4, 0.0]))
    (g,) = torch.autograd.grad(loss.sum(), x)
    torch.testing.assert_close(g, t([-1.0, 0.0]))  # d/dx log(1 - sigmoid(x)) = -sigmoid(x)
    x32 = t([-200.0], torch.float32, grad=True)  # log(sigmoid(-200)) is -inf in float32 probability space
    loss = G.non_saturating_generator_loss(x32)
    torch.testing.assert_close(loss, t(200.0, torch.float32))


def test_saturating_gradient_vanishes_as_discriminator_grows_confident():
    # D grows confident that the fakes are fake: its logit on them goes from 0 to -20.
    logits = t([0.0, -2.0, -5.0, -10.0, -20.0], grad=True)
    (g_sat,) = torch.autograd.grad(G.minimax_generator_loss(logits, reduction="sum"), logits)
    (g_ns,) = torch.autograd.grad(G.non_saturating_generator_loss(logits, reduction="sum"), logits)
    sat, ns = g_sat.abs(), g_ns.abs()
    assert (sat[1:] < sat[:-1]).all()  # shrinks monotonically ...
    assert sat[-1] < 1e-8  # ... to nothing: sigmoid(-20) = 2e-9
    assert (ns >= 0.5).all() and ns[-1] > 1 - 1e-8  # non-saturating: tends to 1, the reason it exists
    torch.testing.assert_close(g_sat, -torch.sigmoid(logits.detach()))
    torch.testing.assert_close(g_ns, -torch.sigmoid(-logits.detach()))


def test_gradcheck_losses():
    real, fake = t(REAL, grad=True), t(FAKE, grad=True)
    for fn, kw in [
        (G.minimax_discriminator_loss, dict(label_smoothing=0.2)),
        (G.least_squares_discriminator_loss, dict(a=-1.0, b=1.0)),
        (G.wasserstein_critic_loss, {}),
        (G.hinge_discriminator_loss, {}),
    ]:
        assert torch.autograd.gradcheck(lambda r, f: fn(r, f, **kw), (real, fake))
    for fn in (G.minimax_generator_loss, G.non_saturating_generator_loss, G.least_squares_generator_loss):
        assert torch.autograd.gradcheck(lambda f: fn(f, reduction="none"), (fake,))


def test_half_precision_computed_in_float32():
    x = t([-20.0, 3.0], torch.bfloat16)
    out = G.non_saturating_generator_loss(x, reduction="none")
    assert out.dtype == torch.bfloat16
    ref = G.non_saturating_generator_loss(x.float(), reduction="none")
    torch.testing.assert_close(out.float(), ref.bfloat16().float())
    assert G.minimax_discriminator_loss(x, x.flip(0)).dtype == torch.bfloat16


# ---------------------------------------------------------------------------------------------------------------
# penalties


def smooth_critic(dim: int = 6, out: int = 1) -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Flatten(), nn.Linear(dim, 8), nn.Tanh(), nn.Linear(8, out)).double()


def loop_gradient_penalty(critic, real, fake, alpha, k=1.0):
    """Reference: one sample at a time, norm of that sample's whole input gradient."""
    values = []
    for i in range(real.shape[0]):
        x = (alpha[i] * real[i] + (1 - alpha[i]) * fake[i]).detach().unsqueeze(0).requires_grad_()
        (g,) = torch.autograd.grad(critic(x).sum(), x)
        values.append((g.flatten().norm() - k) ** 2)
    return torch.stack(values)


def test_gradient_penalty_matches_per_sample_loop():
    critic = smooth_critic()
    real = torch.randn(5, 2, 3, dtype=torch.float64) + 1  # two non-batch dims: the norm spans both
    fake = torch.randn(5, 2, 3, dtype=torch.float64) - 1
    alpha = torch.rand(5, dtype=torch.float64)
    ref = loop_gradient_penalty(critic, real, fake, alpha)
    torch.testing.assert_close(G.gradient_penalty(critic, real, fake, alpha=alpha, reduction="none"), ref)
    torch.testing.assert_close(G.gradient_penalty(critic, real, fake, alpha=alpha), ref.mean())
    ref2 = loop_gradient_penalty(critic, real, fake, alpha, k=2.0)
    torch.testing.assert_close(G.gradient_penalty(critic, real, fake, alpha=alpha, target_norm=2.0), ref2.mean())
    # a batch-wide norm (the peer bug) gives a different number
    x = (alpha.view(-1, 1, 1) * real + (1 - alpha.view(-1, 1, 1)) * fake).requires_grad_()
    (g,) = torch.autograd.grad(critic(x).sum(), x)
    assert not torch.allclose((g.norm() - 1) ** 2, ref.mean())


def test_gradient_penalty_draws_one_coefficient_per_sample():
    critic = smooth_critic()
    real, fake = torch.randn(6, 2, 3, dtype=torch.float64), torch.randn(6, 2, 3, dtype=torch.float64)
    alpha = torch.rand(6, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    got = G.gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(7), reduction="none")
    torch.testing.assert_close(got, loop_gradient_penalty(critic, real, fake, alpha))


def test_gradient_penalty_patch_critic_sums_outputs_per_sample():
    critic = smooth_critic(out=4)  # four scores per sample
    real, fake = torch.randn(3, 6, dtype=torch.float64), torch.randn(3, 6, dtype=torch.float64)
    alpha = torch.rand(3, dtype=torch.float64)
    torch.testing.assert_close(
        G.gradient_penalty(critic, real, fake, alpha=alpha, reduction="none"),
        loop_gradient_penalty(critic, real, fake, alpha),
    )


def test_gradient_penalty_zero_for_unit_norm_linear_critic():
    critic = nn.Linear(4, 1).double()
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[0.5, -0.5, 0.5, 0.5]]))  # norm 1: gradient norm 1 everywhere
    real, fake = torch.randn(8, 4, dtype=torch.float64) * 3, torch.randn(8, 4, dtype=torch.float64)
    torch.testing.assert_close(G.gradient_penalty(critic, real, fake), t(0.0), atol=1e-15, rtol=0)
    # target_norm=2: (1 - 2)^2 = 1 everywhere
    torch.testing.assert_close(G.gradient_penalty(critic, real, fake, target_norm=2.0), t(1.0))


def test_gradient_penalty_backpropagates_into_critic():
    # linear critic w: penalty (|w| - 1)^2, d/dw = 2 (|w| - 1) w / |w|  (create_graph=True makes this exist)
    critic = nn.Linear(2, 1, bias=False).double()
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 4.0]]))
    penalty = G.gradient_penalty(critic, torch.randn(4, 2, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64))
    torch.testing.assert_close(penalty, t(16.0))
    (g,) = torch.autograd.grad(penalty, critic.weight)
    torch.testing.assert_close(g, t([[2 * 4 * 3 / 5, 2 * 4 * 4 / 5]]))


def test_gradient_penalty_flat_critic_has_finite_gradient():
    # gradient norm 0: sqrt'(0) is infinite; the double-where keeps the backward finite
    critic = nn.Linear(3, 1).double()
    with torch.no_grad():
        critic.weight.zero_()
    real = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    penalty = G.gradient_penalty(critic, real, torch.randn(4, 3, dtype=torch.float64))
    torch.testing.assert_close(penalty, t(1.0))
    (g,) = torch.autograd.grad(penalty, critic.weight)
    torch.testing.assert_close(g, torch.zeros_like(g))  # finite (0), not NaN from sqrt'(0)


def test_r1_r2_closed_forms():
    critic = nn.Linear(3, 1).double()
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[1.0, -2.0, 2.0]]))
    x = torch.randn(5, 3, dtype=torch.float64)
    torch.testing.assert_close(G.r1_penalty(critic, x), t(9.0))  # ||w||^2
    nine = torch.full((5,), 9.0, dtype=torch.float64)
    torch.testing.assert_close(G.r2_penalty(critic, x - 4, reduction="none"), nine)

    def quadratic(z):  # D(z) = sum z^2, gradient 2z: R1 = E[4 ||z||^2]
        return z.square().flatten(1).sum(1)

    x = torch.randn(4, 2, 3, dtype=torch.float64)
    expected = 4 * x.square().flatten(1).sum(1)
    torch.testing.assert_close(G.r1_penalty(quadratic, x, reduction="none"), expected)
    weighted = G.r1_penalty(quadratic, x, sample_weight=t([1.0, 0.0, 0.0, 1.0]))
    torch.testing.assert_close(weighted, (expected[0] + expected[3]) / 2)


def test_r1_backpropagates_into_critic_and_gradcheck():
    critic = nn.Linear(2, 1, bias=False).double()
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 4.0]]))
    (g,) = torch.autograd.grad(G.r1_penalty(critic, torch.randn(3, 2, dtype=torch.float64)), critic.weight)
    torch.testing.assert_close(g, t([[6.0, 8.0]]))  # d ||w||^2 / dw = 2w
    smooth = smooth_critic()
    real = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    fake = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    alpha = torch.rand(3, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda r: G.r1_penalty(smooth, r, reduction="none"), (real,))
    assert torch.autograd.gradcheck(lambda r, f: G.gradient_penalty(smooth, r, f, alpha=alpha), (real, fake))


# ---------------------------------------------------------------------------------------------------------------
# bad inputs


def test_penalty_rejects_mismatched_batches_and_bad_critics():
    critic = nn.Linear(3, 1).double()
    real = torch.randn(4, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"fake: expected the same shape as real \(4, 3\), got \(5, 3\)"):
        G.gradient_penalty(critic, real, torch.randn(5, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"critic: expected an output with one score per sample, shape \(4,\)"):
        G.gradient_penalty(lambda x: critic(x).mean(), real, real + 1)  # averages over the batch
    with pytest.raises(ValueError, match=r"critic: expected an output with one score per sample.*got \(1, 1\)"):
        G.r1_penalty(lambda x: critic(x[:1]), real)
    with pytest.raises(ValueError, match="critic: expected an output that depends on its input"):
        G.r1_penalty(lambda x: torch.zeros(x.shape[0]), real)
    with pytest.raises(TypeError, match="critic: expected it to return a torch.Tensor, got tuple"):
        G.r2_penalty(lambda x: (critic(x),), real)
    with pytest.raises(TypeError, match="critic: expected a callable network"):
        G.gradient_penalty("critic", real, real)
    with pytest.raises(ValueError, match=r"alpha: expected one coefficient per sample, shape \(4,\), got \(4, 1\)"):
        G.gradient_penalty(critic, real, real + 1, alpha=torch.rand(4, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"target_norm: expected a value in \(0, inf\), got 0"):
        G.gradient_penalty(critic, real, real + 1, target_norm=0)


def test_non_tensor_and_non_floating_inputs():
    critic = nn.Linear(1, 1)
    with pytest.raises(TypeError, match="real: expected a torch.Tensor, got list"):
        G.gradient_penalty(critic, [[1.0]], torch.ones(1, 1))
    with pytest.raises(TypeError, match="real: expected a torch.Tensor, got ndarray"):
        G.r1_penalty(critic, torch.ones(1, 1).numpy())
    with pytest.raises(TypeError, match="fake_logits: expected a torch.Tensor, got list"):
        G.non_saturating_generator_loss([0.5])
    with pytest.raises(TypeError, match="real_scores: expected a floating-point tensor, got dtype torch.int64"):
        G.hinge_discriminator_loss(torch.tensor([1, 2]), torch.tensor([0.5]))
    with pytest.raises(TypeError, match="fake_logits: expected a torch.Tensor, got float"):
        G.minimax_discriminator_loss(torch.ones(2), 0.5)


def test_bad_values_and_hyperparameters():
    with pytest.raises(ValueError, match="fake_logits: expected finite values, found NaN"):
        G.minimax_generator_loss(t([0.0, float("nan")]))
    with pytest.raises(ValueError, match=r"label_smoothing: expected a value in \[0, 1\), got 1"):
        G.minimax_discriminator_loss(t(REAL), t(FAKE), label_smoothing=1.0)
    with pytest.raises(ValueError, match="b: expected a real-data code different from the fake-data code a=1"):
        G.least_squares_discriminator_loss(t(REAL), t(FAKE), a=1.0, b=1.0)
    with pytest.raises(ValueError, match="reduction: expected one of"):
        G.hinge_generator_loss(t(FAKE), reduction="avg")
    with pytest.raises(ValueError, match="weight: expected a shape broadcastable to the unreduced loss"):
        G.wasserstein_generator_loss(t(FAKE), sample_weight=t([1.0, 2.0, 3.0]))
    with losslab.validation(False):  # value checks off: NaN passes through
        assert torch.isnan(G.minimax_generator_loss(t([float("nan")])))


# ---------------------------------------------------------------------------------------------------------------
# module


@pytest.mark.parametrize(
    "kind, d_fn, g_fn",
    [
        ("minimax", G.minimax_discriminator_loss, G.minimax_generator_loss),
        ("non-saturating", G.minimax_discriminator_loss, G.non_saturating_generator_loss),
        ("least-squares", G.least_squares_discriminator_loss, G.least_squares_generator_loss),
        ("wasserstein", G.wasserstein_critic_loss, G.wasserstein_generator_loss),
        ("hinge", G.hinge_discriminator_loss, G.hinge_generator_loss),
    ],
)
def test_ganloss_dispatches(kind, d_fn, g_fn):
    loss = G.GANLoss(kind)
    torch.testing.assert_close(loss.discriminator(t(REAL), t(FAKE)), d_fn(t(REAL), t(FAKE)))
    torch.testing.assert_close(loss.generator(t(FAKE)), g_fn(t(FAKE)))
    assert repr(loss).startswith("GANLoss(kind=")


def test_ganloss_options():
    loss = G.GANLoss("non-saturating", label_smoothing=0.1)
    torch.testing.assert_close(
        loss.discriminator(t(REAL), t(FAKE)), G.minimax_discriminator_loss(t(REAL), t(FAKE), label_smoothing=0.1)
    )
    assert "label_smoothing=0.1" in repr(loss)
    ls = G.GANLoss("least-squares", a=-1.0, b=1.0, c=0.0, reduction="none")
    torch.testing.assert_close(ls.generator(t(FAKE)), G.least_squares_generator_loss(t(FAKE), c=0.0, reduction="none"))
    torch.testing.assert_close(
        ls.discriminator(t(REAL), t(FAKE)), G.least_squares_discriminator_loss(t(REAL), t(FAKE), a=-1.0, b=1.0)
    )
    with pytest.raises(ValueError, match=r"kind: expected one of \('minimax', 'non-saturating'"):
        G.GANLoss("wgan")
    with pytest.raises(ValueError, match="label_smoothing: not used by kind='hinge'"):
        G.GANLoss("hinge", label_smoothing=0.1)
    with pytest.raises(ValueError, match="c: not used by kind='minimax'"):
        G.GANLoss("minimax", c=1.0)
    with pytest.raises(ValueError, match="b: expected a real-data code different from a=1"):
        G.GANLoss("least-squares", a=1.0)


def test_registry_curves_are_the_losses_per_score():
    """``losslab plot``'s GAN curves call the losses; here against the per-score formulas of the papers by hand
    (discriminator: a real score at target 1, a fake one at 0)."""
    from losslab import registry

    x = torch.linspace(-4.0, 4.0, 17, dtype=torch.float64)
    sp = F.softplus
    expected = {
        ("minimax_discriminator_loss", 1.0): sp(-x), ("minimax_discriminator_loss", 0.0): sp(x),
        ("least_squares_discriminator_loss", 1.0): 0.5 * (x - 1) ** 2,
        ("least_squares_discriminator_loss", 0.0): 0.5 * x**2,
        ("wasserstein_critic_loss", 1.0): -x, ("wasserstein_critic_loss", 0.0): x,
        ("hinge_discriminator_loss", 1.0): (1 - x).clamp_min(0), ("hinge_discriminator_loss", 0.0): (1 + x).clamp_min(0),
        ("minimax_generator_loss", 0.0): -sp(x), ("non_saturating_generator_loss", 0.0): sp(-x),
        ("least_squares_generator_loss", 0.0): 0.5 * (x - 1) ** 2,
        ("wasserstein_generator_loss", 0.0): -x, ("hinge_generator_loss", 0.0): -x,
    }
    for (name, y), want in expected.items():
        torch.testing.assert_close(registry.get(name).curve(x, y), want, msg=f"{name} at y={y}")
