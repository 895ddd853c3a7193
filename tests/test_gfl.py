"""Quality focal, distribution focal and varifocal losses: float64 references written from the papers (GFL, Li et al.
2020; VarifocalNet, Zhang et al. 2021), hand-worked values, limit cases and the reference code's conventions."""

from __future__ import annotations

import math

import pytest
import torch

import losslab
from losslab import distribution_focal_loss, quality_focal_loss, sigmoid_focal_loss, varifocal_loss

D = torch.float64


def _sig(x):
    return 1.0 / (1.0 + torch.exp(-x))


def qfl_reference(x, y, beta):
    """GFL eq. (5): -|y - s|^beta ((1 - y) log(1 - s) + y log s), s = sigmoid(x), written directly."""
    s = _sig(x)
    return -(y - s).abs() ** beta * ((1 - y) * torch.log(1 - s) + y * torch.log(s))


def vfl_reference(x, q, alpha, gamma):
    """VarifocalNet eq. (2), written directly."""
    p = _sig(x)
    pos = -q * (q * torch.log(p) + (1 - q) * torch.log(1 - p))
    neg = -alpha * p**gamma * torch.log(1 - p)
    return torch.where(q > 0, pos, neg)


def dfl_reference(x, y):
    """GFL eq. (6), one position at a time: -((y_{i+1} - y) log S_i + (y - y_i) log S_{i+1})."""
    out = torch.empty(y.shape, dtype=D)
    n = x.shape[1] - 1
    for idx in range(y.shape[0]):
        s = torch.softmax(x[idx], 0)
        i = min(int(math.floor(float(y[idx]))), n - 1)
        out[idx] = -((i + 1 - y[idx]) * torch.log(s[i]) + (y[idx] - i) * torch.log(s[i + 1]))
    return out


def _quality_batch(n=7, classes=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, classes, generator=g, dtype=D) * 2
    labels = torch.randint(0, classes + 1, (n,), generator=g)
    q = torch.rand(n, generator=g, dtype=D) * 0.9 + 0.05
    t = torch.zeros(n, classes + 1, dtype=D)
    t[torch.arange(n), labels] = q
    return x, t[:, :classes], labels, q


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.0, 3.0])
def test_qfl_matches_paper_formula(beta):
    x, t, _, _ = _quality_batch()
    x.requires_grad_()
    ours = quality_focal_loss(x, t, beta=beta, reduction="none")
    ref = qfl_reference(x, t, beta)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-14)
    # the modulating factor is differentiated (not detached), as in the official code
    (g1,) = torch.autograd.grad(ours.sum(), x)
    (g2,) = torch.autograd.grad(ref.sum(), x)
    torch.testing.assert_close(g1, g2, rtol=1e-10, atol=1e-12)


def test_qfl_hand_values():
    x = torch.tensor([0.0, 0.0, 0.0], dtype=D)
    y = torch.tensor([0.5, 1.0, 0.0], dtype=D)
    # |0.5 - 0.5|^2 = 0; |1 - 0.5|^2 log 2; |0 - 0.5|^2 log 2
    expected = torch.tensor([0.0, 0.25 * math.log(2), 0.25 * math.log(2)], dtype=D)
    torch.testing.assert_close(quality_focal_loss(x, y, reduction="none"), expected)


@pytest.mark.parametrize("beta", [0.0, 0.5, 2.0, 3.5])
def test_qfl_one_hot_equals_sigmoid_focal_without_alpha(beta):
    x, _, labels, _ = _quality_batch(seed=1)
    onehot = torch.nn.functional.one_hot(labels, 5)[:, :4].to(D)
    xa = x.clone().requires_grad_()
    xb = x.clone().requires_grad_()
    a = quality_focal_loss(xa, onehot, beta=beta, reduction="sum")
    b = sigmoid_focal_loss(xb, onehot, gamma=beta, alpha=None, reduction="sum")
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(torch.autograd.grad(a, xa)[0], torch.autograd.grad(b, xb)[0], rtol=1e-9, atol=1e-12)


def test_qfl_mmdetection_convention_label_score_pair_and_avg_factor():
    # mmdetection's call: (labels, scores) with background = num_classes, per-anchor sum over classes, then the sum
    # divided by avg_factor = number of positives. Here: the pair scattered into a dense target, normalizer=num_pos.
    x, t, labels, q = _quality_batch(n=9, seed=2)
    per_anchor = []
    for i in range(9):
        row = _sig(x[i]) ** 2 * -torch.log(1 - _sig(x[i]))
        if labels[i] < 4:
            c = labels[i]
            s = _sig(x[i, c])
            row = row.clone()
            row[c] = -(q[i] - s).abs() ** 2 * (q[i] * torch.log(s) + (1 - q[i]) * torch.log(1 - s))
        per_anchor.append(row.sum())
    num_pos = int((labels < 4).sum())
    expected = torch.stack(per_anchor).sum() / num_pos
    torch.testing.assert_close(quality_focal_loss(x, t, normalizer=num_pos), expected)
    torch.testing.assert_close(quality_focal_loss(x, t, normalizer=torch.tensor(float(num_pos), dtype=D)), expected)


def test_qfl_finite_at_extreme_logits_and_beta_below_one():
    x = torch.tensor([1e4, -1e4, 0.0, 1e4, -1e4], dtype=D, requires_grad=True)
    y = torch.tensor([1.0, 0.0, 0.5, 0.0, 1.0], dtype=D)
    for beta in (0.3, 2.0):
        loss = quality_focal_loss(x, y, beta=beta, reduction="sum")
        (g,) = torch.autograd.grad(loss, x)
        assert torch.isfinite(loss) and torch.isfinite(g).all()
    # y == sigmoid(x) exactly: loss 0, gradient 0 even for beta < 1 (|d|^beta has an infinite slope at 0)
    x0 = torch.tensor([0.0], dtype=D, requires_grad=True)
    (g,) = torch.autograd.grad(quality_focal_loss(x0, torch.tensor([0.5], dtype=D), beta=0.5), x0)
    assert g.item() == 0.0


def test_qfl_gradcheck_beta_half():
    x, t, _, _ = _quality_batch(n=3, seed=3)
    assert torch.autograd.gradcheck(lambda z: quality_focal_loss(z, t, beta=0.5), (x.requires_grad_(),))


@pytest.mark.parametrize("alpha,gamma", [(0.75, 2.0), (0.5, 0.0), (1.0, 1.5), (0.25, 0.5)])
def test_vfl_matches_paper_formula(alpha, gamma):
    x, t, _, _ = _quality_batch(seed=4)
    x.requires_grad_()
    ours = varifocal_loss(x, t, alpha=alpha, gamma=gamma, reduction="none")
    ref = vfl_reference(x, t, alpha, gamma)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(
        torch.autograd.grad(ours.sum(), x)[0], torch.autograd.grad(ref.sum(), x)[0], rtol=1e-10, atol=1e-12
    )


def test_vfl_hand_values():
    x = torch.zeros(3, dtype=D)
    q = torch.tensor([1.0, 0.5, 0.0], dtype=D)
    # q=1: 1 * log 2; q=0.5: 0.5 * log 2 (BCE at p = q = 0.5); q=0: 0.75 * 0.5^2 * log 2
    expected = torch.tensor([1.0, 0.5, 0.75 * 0.25], dtype=D) * math.log(2)
    torch.testing.assert_close(varifocal_loss(x, q, reduction="none"), expected)


@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0, 2.5])
def test_vfl_negatives_equal_focal_negatives(gamma):
    x = torch.randn(6, 5, dtype=D) * 3
    zeros = torch.zeros_like(x)
    torch.testing.assert_close(
        varifocal_loss(x, zeros, alpha=0.75, gamma=gamma, reduction="none"),
        sigmoid_focal_loss(x, zeros, gamma=gamma, alpha=0.25, reduction="none"),
        rtol=1e-12,
        atol=1e-14,
    )


def test_vfl_positives_are_not_focal_down_weighted():
    # a confident correct positive keeps its full q * BCE (no (1 - p)^gamma factor), unlike focal loss
    x = torch.tensor([4.0], dtype=D)
    q = torch.tensor([1.0], dtype=D)
    torch.testing.assert_close(varifocal_loss(x, q, gamma=5.0), torch.nn.functional.softplus(-x)[0])


def test_vfl_finite_at_extreme_logits():
    x = torch.tensor([1e4, -1e4, 1e4, -1e4], dtype=D, requires_grad=True)
    q = torch.tensor([0.9, 0.9, 0.0, 0.0], dtype=D)
    loss = varifocal_loss(x, q, gamma=0.5, reduction="sum")
    (g,) = torch.autograd.grad(loss, x)
    assert torch.isfinite(loss) and torch.isfinite(g).all()


def test_dfl_matches_paper_formula_and_hand_value():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(10, 9, generator=g, dtype=D)
    y = torch.rand(10, generator=g, dtype=D) * 8
    y[0], y[1], y[2] = 0.0, 8.0, 3.0  # both ends of the range and an integer
    torch.testing.assert_close(distribution_focal_loss(x, y, reduction="none"), dfl_reference(x, y))
    # hand: logits [0, 2, 1, -1], y = 1.25 -> 0.75 * -log S_1 + 0.25 * -log S_2
    lse = math.log(1 + math.exp(2) + math.exp(1) + math.exp(-1))
    expected = 0.75 * (lse - 2) + 0.25 * (lse - 1)
    got = distribution_focal_loss(torch.tensor([[0.0, 2.0, 1.0, -1.0]], dtype=D), torch.tensor([1.25], dtype=D))
    assert got.item() == pytest.approx(expected, rel=1e-12)


def test_dfl_channels_first_with_trailing_dims_and_minimum():
    g = torch.Generator().manual_seed(6)
    x = torch.randn(3, 8, 4, generator=g, dtype=D)
    y = torch.rand(3, 4, generator=g, dtype=D) * 7
    flat = distribution_focal_loss(x.permute(0, 2, 1).reshape(12, 8), y.reshape(12), reduction="none")
    torch.testing.assert_close(distribution_focal_loss(x, y, reduction="none"), flat.reshape(3, 4))
    # the minimum: all mass on the two neighbours, S_l = y_r - y -> zero gradient
    z = torch.full((1, 5), -60.0, dtype=D)
    z[0, 2], z[0, 3] = math.log(0.7), math.log(0.3)
    z.requires_grad_()
    (grad,) = torch.autograd.grad(distribution_focal_loss(z, torch.tensor([2.3], dtype=D)), z)
    torch.testing.assert_close(grad, torch.zeros_like(grad), atol=1e-12, rtol=0)


def test_dfl_rejects_targets_outside_bins():
    x = torch.zeros(2, 5)
    with pytest.raises(ValueError, match=r"target: expected values in \[0, 4\]"):
        distribution_focal_loss(x, torch.tensor([1.0, 4.5]))
    with pytest.raises(ValueError, match="target: expected shape"):
        distribution_focal_loss(x, torch.zeros(3))


def test_rejected_arguments():
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"target: expected values in \[0, 1\]"):
        quality_focal_loss(x, torch.full((2, 3), 1.5))
    with pytest.raises(ValueError, match="beta: expected a value in"):
        quality_focal_loss(x, torch.zeros(2, 3), beta=-1.0)
    with pytest.raises(ValueError, match="alpha: expected .*got nan"):
        varifocal_loss(x, torch.zeros(2, 3), alpha=float("nan"))
    with pytest.raises(ValueError, match="target: expected the same shape"):
        varifocal_loss(x, torch.zeros(3, 2))


def test_modules_bind_hyperparameters():
    x, t, _, _ = _quality_batch(seed=7)
    m = losslab.VarifocalLoss(alpha=0.5, gamma=1.0)
    torch.testing.assert_close(m(x, t, normalizer=3.0), varifocal_loss(x, t, alpha=0.5, gamma=1.0, normalizer=3.0))
    assert "alpha=0.5" in repr(m)
    with pytest.raises(ValueError, match="beta"):
        losslab.QualityFocalLoss(beta=-2.0)(x, t)
