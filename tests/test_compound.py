"""Dice on logits and the compound losses (Dice + CE, Dice + focal): MONAI as oracle over its option combinations,
float64 references for ignore_index, the gamma = 0 limit, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from losslab import (
    DiceCrossEntropyLoss,
    dice_cross_entropy_loss,
    dice_focal_loss,
    dice_loss,
    generalized_dice_loss,
    sigmoid_dice_loss,
    softmax_dice_loss,
    softmax_generalized_dice_loss,
)

monai_losses = pytest.importorskip("monai.losses")


def _case(n=3, c=3, spatial=(6, 5), seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, c, *spatial, generator=g, dtype=torch.float64) * 2,
            torch.randint(0, c, (n, *spatial), generator=g))


def _binary(n=3, spatial=(6, 5), seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 1, *spatial, generator=g, dtype=torch.float64) * 2,
            torch.randint(0, 2, (n, 1, *spatial), generator=g).double())


# ---------------------------------------------------------------------------------------------------------------
# Dice and generalized Dice on logits


@pytest.mark.parametrize("spatial", [(6, 5), (3, 4, 4)])
@pytest.mark.parametrize("include_background,batch", [(True, False), (False, True)])
def test_softmax_dice_matches_monai_and_dice_of_softmax(spatial, include_background, batch):
    logits, target = _case(spatial=spatial)
    kw = dict(include_background=include_background, batch=batch, reduction="none")
    monai = monai_losses.DiceLoss(softmax=True, to_onehot_y=True, **kw)(logits, target.unsqueeze(1))
    ours = softmax_dice_loss(logits, target, **kw)
    torch.testing.assert_close(ours, monai.reshape(ours.shape), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(ours, dice_loss(logits.softmax(1), target, **kw))


def test_sigmoid_dice_matches_monai_multilabel_and_binary():
    for c in (1, 3):
        g = torch.Generator().manual_seed(c)
        logits = torch.randn(2, c, 5, 6, generator=g, dtype=torch.float64)
        target = torch.rand(2, c, 5, 6, generator=g, dtype=torch.float64).round()
        monai = monai_losses.DiceLoss(sigmoid=True, reduction="none")(logits, target)
        ours = sigmoid_dice_loss(logits, target, reduction="none")
        torch.testing.assert_close(ours, monai.reshape(ours.shape), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("w_type", ["square", "simple", "uniform"])
def test_softmax_generalized_dice_matches_monai(w_type):
    logits, target = _case(c=4, seed=2)
    target[0][target[0] == 2] = 1  # an absent class
    monai = monai_losses.GeneralizedDiceLoss(softmax=True, to_onehot_y=True, w_type=w_type, reduction="none")(
        logits, target.unsqueeze(1)
    )
    ours = softmax_generalized_dice_loss(logits, target, weight_type=w_type, reduction="none")
    torch.testing.assert_close(ours, monai.reshape(ours.shape), rtol=1e-6, atol=1e-7)  # MONAI: float32 weights
    torch.testing.assert_close(
        ours, generalized_dice_loss(logits.softmax(1), target, weight_type=w_type, reduction="none")
    )


def test_dice_on_logits_rejects_index_targets_with_a_channel():
    logits, target = _case()
    for fn in (softmax_dice_loss, sigmoid_dice_loss, softmax_generalized_dice_loss, dice_cross_entropy_loss):
        with pytest.raises(ValueError, match=r"target: class indices of shape \(3, 1, 6, 5\).*squeeze"):
            fn(logits, target.unsqueeze(1))


def test_sigmoid_dice_rejects_index_targets_with_one_channel():
    logits, target = _binary()
    with pytest.raises(ValueError, match="target: class indices with single-channel logits"):
        sigmoid_dice_loss(logits, target[:, 0].long())


# ---------------------------------------------------------------------------------------------------------------
# Dice + cross-entropy


@pytest.mark.parametrize("spatial", [(6, 5), (3, 4, 4)])
@pytest.mark.parametrize(
    "lambda_dice,lambda_ce,include_background,batch,smooth",
    [(1.0, 1.0, True, False, 1e-5), (0.3, 2.0, False, False, 1.0), (1.0, 0.5, True, True, 0.0)],
)
def test_dice_ce_matches_monai_softmax(spatial, lambda_dice, lambda_ce, include_background, batch, smooth):
    logits, target = _case(spatial=spatial, seed=3)
    monai = monai_losses.DiceCELoss(
        softmax=True, to_onehot_y=True, lambda_dice=lambda_dice, lambda_ce=lambda_ce,
        include_background=include_background, batch=batch, smooth_nr=smooth, smooth_dr=smooth,
    )(logits, target.unsqueeze(1))
    ours = dice_cross_entropy_loss(
        logits, target, lambda_dice=lambda_dice, lambda_ce=lambda_ce, include_background=include_background,
        batch=batch, smooth=smooth,
    )
    torch.testing.assert_close(ours, monai, rtol=1e-10, atol=1e-12)
    # one-hot float targets give the same value
    onehot = F.one_hot(target, 3).movedim(-1, 1).double()
    torch.testing.assert_close(
        dice_cross_entropy_loss(logits, onehot, lambda_dice=lambda_dice, lambda_ce=lambda_ce,
                                include_background=include_background, batch=batch, smooth=smooth),
        ours,
    )


def test_dice_ce_matches_monai_sigmoid_binary():
    logits, target = _binary(seed=4)
    monai = monai_losses.DiceCELoss(sigmoid=True, lambda_ce=0.7)(logits, target)
    torch.testing.assert_close(dice_cross_entropy_loss(logits, target, lambda_ce=0.7), monai, rtol=1e-10, atol=1e-12)


def test_dice_ce_ignore_index_float64_reference():
    logits, target = _case(seed=5)
    target[0, :3] = -1
    target[2, 2, 2] = -1
    valid = target != -1
    probs = logits.softmax(1)
    onehot = F.one_hot(target.clamp_min(0), 3).movedim(-1, 1).double() * valid.unsqueeze(1)
    pv = probs * valid.unsqueeze(1)
    dice = 1 - (2 * (pv * onehot).sum((2, 3)) + 1e-5) / (pv.sum((2, 3)) + onehot.sum((2, 3)) + 1e-5)
    ce_pixel = -(onehot * probs.log()).sum(1)
    ce = ce_pixel.sum((1, 2)) / valid.sum((1, 2))
    ref = dice.mean(1) + 2.0 * ce
    ours = dice_cross_entropy_loss(logits, target, lambda_ce=2.0, ignore_index=-1, reduction="none")
    torch.testing.assert_close(ours, ref)
    # batch: the cross-entropy over all valid pixels, as F.cross_entropy(ignore_index=...)
    batch = dice_cross_entropy_loss(logits, target, lambda_dice=0.0, ignore_index=-1, batch=True)
    torch.testing.assert_close(batch, F.cross_entropy(logits, target, ignore_index=-1))


# ---------------------------------------------------------------------------------------------------------------
# Dice + focal


def test_dice_focal_matches_monai_sigmoid_binary():
    logits, target = _binary(seed=6)
    for gamma in (0.0, 2.0, 0.5):
        monai = monai_losses.DiceFocalLoss(sigmoid=True, gamma=gamma, lambda_focal=1.5)(logits, target)
        ours = dice_focal_loss(logits, target, gamma=gamma, lambda_focal=1.5)
        torch.testing.assert_close(ours, monai, rtol=1e-6, atol=1e-7)  # MONAI's FocalLoss computes in float32


@pytest.mark.parametrize("include_background,batch", [(True, False), (False, True)])
def test_dice_focal_softmax_is_monai_dice_plus_c_times_softmax_focal(include_background, batch):
    logits, target = _case(c=4, seed=7)
    t1 = target.unsqueeze(1)
    dice = monai_losses.DiceLoss(softmax=True, to_onehot_y=True, include_background=include_background, batch=batch)
    focal = monai_losses.FocalLoss(to_onehot_y=True, use_softmax=True, gamma=2.0)
    expected = dice(logits, t1) + 0.5 * 4 * focal(logits, t1)
    ours = dice_focal_loss(logits, target, lambda_focal=0.5, include_background=include_background, batch=batch)
    torch.testing.assert_close(ours, expected, rtol=1e-6, atol=1e-7)  # MONAI's FocalLoss computes in float32


def test_dice_focal_gamma_zero_is_dice_ce():
    logits, target = _case(seed=8)
    target[1, 0] = 255
    kw = dict(ignore_index=255, reduction="none")
    torch.testing.assert_close(dice_focal_loss(logits, target, gamma=0.0, **kw), dice_cross_entropy_loss(logits, target, **kw))


def test_compound_errors_and_module():
    logits, target = _case()
    with pytest.raises(ValueError, match="lambda_ce: expected"):
        dice_cross_entropy_loss(logits, target, lambda_ce=-1.0)
    with pytest.raises(ValueError, match="gamma: expected"):
        dice_focal_loss(logits, target, gamma=float("nan"))
    with pytest.raises(ValueError, match="lambda_dice: expected"):
        DiceCrossEntropyLoss(lambda_dice=float("inf"))
    module = DiceCrossEntropyLoss(lambda_ce=0.5, batch=True)
    torch.testing.assert_close(module(logits, target), dice_cross_entropy_loss(logits, target, lambda_ce=0.5, batch=True))


# ---------------------------------------------------------------------------------------------------------------
# every loss of this part under autocast


_NEW = ["tversky_loss", "focal_tversky_loss", "softmax_dice_loss", "sigmoid_dice_loss", "softmax_generalized_dice_loss",
        "softmax_tversky_loss", "sigmoid_tversky_loss", "lovasz_softmax_loss", "lovasz_hinge_loss",
        "dice_cross_entropy_loss", "dice_focal_loss", "soft_cldice_loss", "hausdorff_distance_loss"]


@pytest.mark.parametrize("name", _NEW)
def test_autocast_returns_float32(name):
    from cases import case
    from losslab import registry

    spec = registry.get(name)
    args, kwargs = case(name).sample(3, torch.bfloat16, torch.Generator().manual_seed(0))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = spec.function(*args, **kwargs)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, spec.function(*args, **kwargs).float(), rtol=0.02, atol=0.02)
