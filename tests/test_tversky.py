"""Tversky and focal Tversky losses (probabilities and logits): MONAI, Keras 3 and kornia as oracles, a float64
reference from Salehi et al.'s formula, limit cases (Dice, Jaccard, gamma = 1), ignore_index and errors."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from losslab import (
    FocalTverskyLoss,
    SoftmaxTverskyLoss,
    TverskyLoss,
    dice_loss,
    focal_tversky_loss,
    sigmoid_tversky_loss,
    softmax_tversky_loss,
    tversky_loss,
)

monai_losses = pytest.importorskip("monai.losses")


def _reference(p, g, alpha, beta, smooth, batch=False, valid=None):
    """Salehi et al.'s index from the definitions, float64: TP, FP, FN summed over space (and batch)."""
    p, g = p.double(), g.double()
    if valid is not None:
        p, g = p * valid, g * valid
    dims = tuple(range(2, p.ndim)) if not batch else (0, *range(2, p.ndim))
    tp = (p * g).sum(dims)
    fp = (p * (1 - g) * (1 if valid is None else valid)).sum(dims)
    fn = ((1 - p) * g).sum(dims)
    return 1 - (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)


def _case(n=3, c=3, spatial=(6, 5), seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, *spatial, generator=g, dtype=torch.float64) * 2
    target = torch.randint(0, c, (n, *spatial), generator=g)
    return logits, target


# ---------------------------------------------------------------------------------------------------------------
# oracles


@pytest.mark.parametrize("spatial", [(6, 5), (3, 4, 5)])
@pytest.mark.parametrize(
    "alpha,beta,include_background,batch",
    [(0.3, 0.7, True, False), (0.5, 0.5, False, False), (0.7, 0.3, True, True), (1.0, 1.0, False, True)],
)
def test_tversky_matches_monai(spatial, alpha, beta, include_background, batch):
    logits, target = _case(spatial=spatial)
    monai = monai_losses.TverskyLoss(
        softmax=True, to_onehot_y=True, alpha=alpha, beta=beta, include_background=include_background, batch=batch,
        reduction="none",
    )(logits, target.unsqueeze(1))
    kw = dict(alpha=alpha, beta=beta, include_background=include_background, batch=batch, reduction="none")
    ours = softmax_tversky_loss(logits, target, **kw)
    torch.testing.assert_close(ours, monai.reshape(ours.shape), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(tversky_loss(logits.softmax(1), target, **kw), ours, rtol=1e-12, atol=1e-14)
    # the mean is MONAI's mean over the (sample,) class entries
    torch.testing.assert_close(softmax_tversky_loss(logits, target, **{**kw, "reduction": "mean"}), monai.mean())


@pytest.mark.parametrize("alpha,beta", [(0.3, 0.7), (0.8, 0.2)])
def test_sigmoid_tversky_matches_monai(alpha, beta):
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 3, 7, 6, generator=g, dtype=torch.float64)
    target = torch.rand(2, 3, 7, 6, generator=g, dtype=torch.float64).round()
    monai = monai_losses.TverskyLoss(sigmoid=True, alpha=alpha, beta=beta, reduction="none")(logits, target)
    ours = sigmoid_tversky_loss(logits, target, alpha=alpha, beta=beta, reduction="none")
    torch.testing.assert_close(ours, monai.reshape(ours.shape), rtol=1e-10, atol=1e-12)


def test_tversky_matches_keras_with_alpha_and_beta_swapped():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("Keras runs on another backend (set KERAS_BACKEND=torch)")
    logits, target = _case(n=2, c=3, spatial=(5, 5), seed=3)
    probs = logits.softmax(1).float()
    onehot = F.one_hot(target, 3).movedim(-1, 1).float()
    for a, b in [(0.3, 0.7), (0.9, 0.1)]:
        # keras.losses.tversky(y_true, y_pred, alpha, beta): its "fp" is sum (1 - y_pred) y_true, i.e. FN
        theirs = keras.losses.tversky(onehot, probs, alpha=a, beta=b, axis=(2, 3))
        ours = tversky_loss(probs, target, alpha=b, beta=a, smooth=0.0, reduction="none")
        torch.testing.assert_close(ours, torch.as_tensor(theirs).cpu(), rtol=1e-5, atol=1e-6)


def test_softmax_tversky_matches_kornia_when_every_class_is_present():
    kornia_losses = pytest.importorskip("kornia.losses")
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(3, 3, 6, 6, generator=g, dtype=torch.float64)
    target = torch.arange(36).reshape(6, 6).remainder(3).expand(3, 6, 6).clone()  # all classes in every image
    for a, b in [(0.5, 0.5), (0.3, 0.7)]:
        theirs = kornia_losses.tversky_loss(logits, target, alpha=a, beta=b, eps=0.0)
        ours = softmax_tversky_loss(logits, target, alpha=a, beta=b, smooth=0.0)
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("batch", [False, True])
def test_tversky_matches_float64_reference_with_soft_targets(batch):
    g = torch.Generator().manual_seed(5)
    probs = torch.softmax(torch.randn(3, 4, 5, 5, generator=g, dtype=torch.float64), 1)
    soft = torch.softmax(torch.randn(3, 4, 5, 5, generator=g, dtype=torch.float64) * 3, 1)
    for alpha, beta, smooth in itertools.product([0.0, 0.3, 2.0], [0.7, 1.5], [0.0, 1.0]):
        ref = _reference(probs, soft, alpha, beta, smooth, batch=batch)
        ours = tversky_loss(probs, soft, alpha=alpha, beta=beta, smooth=smooth, batch=batch, reduction="none")
        torch.testing.assert_close(ours, ref.reshape(ours.shape), rtol=1e-12, atol=1e-12)


def test_ignore_index_removes_the_pixels_from_every_sum():
    logits, target = _case(seed=6)
    target[0, :2] = 255
    target[1, 0, 0] = 255
    valid = (target != 255).unsqueeze(1).double()
    onehot = F.one_hot(target.clamp_max(2), 3).movedim(-1, 1).double()
    for batch in (False, True):
        ref = _reference(logits.softmax(1), onehot, 0.3, 0.7, 1e-5, batch=batch, valid=valid)
        ours = softmax_tversky_loss(logits, target, ignore_index=255, batch=batch, reduction="none")
        torch.testing.assert_close(ours, ref.reshape(ours.shape), rtol=1e-12, atol=1e-12)


def test_a_fully_ignored_sample_is_left_out_of_the_mean():
    logits, target = _case(seed=7)
    target[1] = -100
    none = softmax_tversky_loss(logits, target, ignore_index=-100, reduction="none")
    assert (none[1] == 0).all()
    torch.testing.assert_close(softmax_tversky_loss(logits, target, ignore_index=-100), none[[0, 2]].mean())


# ---------------------------------------------------------------------------------------------------------------
# limit cases


def test_tversky_half_half_is_dice_without_smoothing():
    logits, target = _case(seed=8)
    probs = logits.softmax(1)
    torch.testing.assert_close(
        tversky_loss(probs, target, alpha=0.5, beta=0.5, smooth=0.0, reduction="none"),
        dice_loss(probs, target, smooth=0.0, reduction="none"),
    )


def test_tversky_one_one_is_jaccard():
    logits, target = _case(seed=9)
    probs = logits.softmax(1)
    onehot = F.one_hot(target, 3).movedim(-1, 1).double()
    inter = (probs * onehot).sum((2, 3))
    jaccard = 1 - inter / (probs.sum((2, 3)) + onehot.sum((2, 3)) - inter)
    torch.testing.assert_close(tversky_loss(probs, target, alpha=1.0, beta=1.0, smooth=0.0, reduction="none"), jaccard)


def test_focal_tversky_gamma_one_is_tversky_and_follows_the_power():
    logits, target = _case(seed=10)
    probs = logits.softmax(1)
    tv = tversky_loss(probs, target, reduction="none")
    torch.testing.assert_close(focal_tversky_loss(probs, target, gamma=1.0, reduction="none"), tv)
    for gamma in (0.5, 0.75, 2.0):
        torch.testing.assert_close(focal_tversky_loss(probs, target, gamma=gamma, reduction="none"), tv**gamma)


def test_empty_class_policy():
    """Absent and not predicted: 0; absent but predicted: about 1 (as dice_loss)."""
    target = torch.zeros(1, 1, 4, 4)
    assert tversky_loss(torch.zeros(1, 1, 4, 4), target, smooth=0.0).item() == 0.0
    assert tversky_loss(torch.full((1, 1, 4, 4), 0.5), target).item() == pytest.approx(1.0, abs=1e-4)


def test_focal_tversky_gradient_is_finite_at_a_perfect_prediction():
    target = torch.zeros(1, 1, 4, 4)
    target[0, 0, 1:3, 1:3] = 1
    probs = target.clone().requires_grad_()
    loss = focal_tversky_loss(probs, target, smooth=0.0)
    (grad,) = torch.autograd.grad(loss, probs)
    assert loss.item() == 0.0 and torch.isfinite(grad).all()


def test_gradcheck_focal_tversky_small_gamma():
    logits, target = _case(n=2, spatial=(3, 3), seed=11)
    probs = logits.softmax(1).requires_grad_()
    assert torch.autograd.gradcheck(lambda p: focal_tversky_loss(p, target, gamma=0.4, batch=True), (probs,))


# ---------------------------------------------------------------------------------------------------------------
# errors and modules


def test_index_target_with_a_channel_dim_is_told_to_squeeze():
    logits, target = _case()
    with pytest.raises(ValueError, match=r"target: class indices of shape \(3, 1, 6, 5\).*target.squeeze\(1\)"):
        softmax_tversky_loss(logits, target.unsqueeze(1))


def test_softmax_over_one_channel_is_rejected():
    with pytest.raises(ValueError, match="logits: softmax over a single channel.*sigmoid_tversky_loss"):
        softmax_tversky_loss(torch.randn(2, 1, 4, 4), torch.rand(2, 1, 4, 4).round())


@pytest.mark.parametrize("bad", [{"alpha": -0.1}, {"beta": float("nan")}, {"smooth": float("inf")}])
def test_bad_hyperparameters_are_rejected(bad):
    logits, target = _case()
    name = next(iter(bad))
    with pytest.raises(ValueError, match=f"{name}: expected"):
        tversky_loss(logits.softmax(1), target, **bad)
    with pytest.raises(ValueError, match=f"{name}: expected"):
        TverskyLoss(**bad)
    with pytest.raises(ValueError, match="gamma: expected"):
        FocalTverskyLoss(gamma=0.0)


def test_module_holds_the_hyperparameters():
    logits, target = _case()
    module = SoftmaxTverskyLoss(alpha=0.2, beta=0.8, batch=True)
    assert "alpha=0.2" in repr(module)
    torch.testing.assert_close(module(logits, target), softmax_tversky_loss(logits, target, alpha=0.2, beta=0.8, batch=True))
