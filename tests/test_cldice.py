"""Soft clDice: MONAI's SoftclDiceLoss and soft_skel as oracles (2-D and 3-D), the authors' batch-pooled form,
a perfect prediction, the topology claim on a broken line, ignore_index, errors."""

from __future__ import annotations

import pytest
import torch

from losslab import SoftClDiceLoss, dice_loss, soft_cldice_loss
from losslab.segmentation._cldice import soft_skeleton

monai_cldice = pytest.importorskip("monai.losses.cldice")


def _case(c=1, spatial=(12, 11), n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    probs = torch.sigmoid(torch.randn(n, c, *spatial, generator=g, dtype=torch.float64) * 2)
    target = (torch.rand(n, c, *spatial, generator=g, dtype=torch.float64) > 0.6).double()
    return probs, target


@pytest.mark.parametrize("spatial", [(12, 11), (6, 7, 5)])
@pytest.mark.parametrize("iterations,smooth", [(3, 1.0), (0, 0.5), (5, 1e-3)])
def test_soft_skeleton_and_loss_match_monai(spatial, iterations, smooth):
    probs, target = _case(c=2, spatial=spatial)
    torch.testing.assert_close(soft_skeleton(probs, iterations), monai_cldice.soft_skel(probs, iterations))
    # MONAI adds `smooth` (> 0 required) to the harmonic mean's denominator; 1e-12 makes that negligible here
    theirs = monai_cldice.SoftclDiceLoss(iter_=iterations, smooth_nr=smooth, smooth_dr=smooth, smooth=1e-12,
                                         reduction="none")(probs, target)
    ours = soft_cldice_loss(probs, target, iterations=iterations, smooth=smooth, reduction="none")
    torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-10)


def test_softmax_without_background_matches_monai():
    g = torch.Generator().manual_seed(1)
    probs = torch.softmax(torch.randn(2, 3, 10, 9, generator=g, dtype=torch.float64), 1)
    target = torch.randint(0, 3, (2, 10, 9), generator=g)
    theirs = monai_cldice.SoftclDiceLoss(to_onehot_y=True, include_background=False, smooth=1e-12)(
        probs, target.unsqueeze(1)
    )
    torch.testing.assert_close(soft_cldice_loss(probs, target, include_background=False), theirs, rtol=1e-9, atol=1e-10)


def test_batch_pools_the_sums_as_the_authors_code():
    probs, target = _case(seed=2)
    sp, sg = monai_cldice.soft_skel(probs, 3), monai_cldice.soft_skel(target, 3)
    tprec = ((sp * target).sum() + 1) / (sp.sum() + 1)
    tsens = ((sg * probs).sum() + 1) / (sg.sum() + 1)
    ref = 1 - 2 * tprec * tsens / (tprec + tsens)
    torch.testing.assert_close(soft_cldice_loss(probs, target, batch=True), ref)


def test_perfect_prediction_is_zero():
    target = torch.zeros(1, 1, 9, 9, dtype=torch.float64)
    target[0, 0, 4, 1:8] = 1
    target[0, 0, 1:8, 2] = 1
    assert soft_cldice_loss(target.clone(), target, smooth=0.0).item() == pytest.approx(0.0, abs=1e-12)


def test_a_broken_line_costs_more_than_a_thickened_one():
    """The topology claim: at the same Dice error, clDice punishes the break."""
    target = torch.zeros(1, 1, 9, 15, dtype=torch.float64)
    target[0, 0, 3:6, 1:14] = 1  # a bar 3 pixels wide
    broken = target.clone()
    broken[0, 0, 3:6, 7] = 0  # cut through: 3 pixels missing
    thick = target.clone()
    thick[0, 0, 6, 5:8] = 1  # 3 extra pixels on the side
    d_broken, d_thick = dice_loss(broken, target, smooth=0.0), dice_loss(thick, target, smooth=0.0)
    assert abs(d_broken - d_thick) < 0.01
    assert soft_cldice_loss(broken, target, smooth=0.0) > soft_cldice_loss(thick, target, smooth=0.0) + 0.01


def test_ignore_index_removes_pixels_from_the_sums():
    g = torch.Generator().manual_seed(3)
    probs = torch.softmax(torch.randn(2, 2, 8, 8, generator=g, dtype=torch.float64), 1)
    target = torch.randint(0, 2, (2, 8, 8), generator=g)
    target[0, :2] = 255
    valid = (target != 255).unsqueeze(1).double()
    onehot = torch.nn.functional.one_hot(target.clamp_max(1), 2).movedim(-1, 1).double() * valid
    sp, sg = soft_skeleton(probs, 3), soft_skeleton(onehot, 3)
    tprec = ((sp * onehot * valid).sum((1, 2, 3)) + 1) / ((sp * valid).sum((1, 2, 3)) + 1)
    tsens = ((sg * probs * valid).sum((1, 2, 3)) + 1) / ((sg * valid).sum((1, 2, 3)) + 1)
    ref = 1 - 2 * tprec * tsens / (tprec + tsens)
    torch.testing.assert_close(soft_cldice_loss(probs, target, ignore_index=255, reduction="none"), ref)


def test_errors():
    probs, target = _case()
    with pytest.raises(ValueError, match="probs: expected shape .N, C, H, W. or"):
        soft_cldice_loss(probs[:, :, 0], target[:, :, 0])
    with pytest.raises(ValueError, match="iterations: expected a value >= 0"):
        soft_cldice_loss(probs, target, iterations=-1)
    with pytest.raises(TypeError, match="iterations: expected an int"):
        SoftClDiceLoss(iterations=2.5)
