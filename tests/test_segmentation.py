"""Segmentation losses: MONAI and the boundary-loss authors' values as oracles, hand-worked cases, limits, errors."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

import losslab
from conftest import oracle_path
from losslab import (
    BoundaryLoss,
    DiceLoss,
    GeneralizedDiceLoss,
    RebalancedLoss,
    boundary_loss,
    dice_loss,
    generalized_dice_loss,
    gradient_difference_loss,
    image_gradient_loss,
    signed_distance_map,
)

monai_losses = pytest.importorskip("monai.losses")


def _gdl_fixture():
    with open(oracle_path("gdl_monai.json")) as f:
        data = json.load(f)
    inputs = {k: v for k, v in data["inputs"].items() if isinstance(v, list)}
    tensors = {k: torch.tensor(v, dtype=torch.float64) for k, v in inputs.items()}
    tensors["labels_index"] = tensors["labels_index"].long()
    return data, tensors


# ---------------------------------------------------------------------------------------------------------------
# generalized Dice and Dice vs the stored MONAI values


_OURS_KW = {
    "reduction": "reduction", "batch": "batch", "include_background": "include_background", "w_type": "weight_type",
}


def _case_call(case, t):
    kw = dict(case["kwargs"])
    ours = {}
    for k, v in kw.items():
        if k in _OURS_KW:
            ours[_OURS_KW[k]] = v
    if "smooth_nr" in kw:
        assert kw["smooth_nr"] == 0.0
        return None  # different numerator/denominator smoothing: covered by the live-MONAI tests below
    inp = case["input"]
    if inp == "logits":
        probs = torch.softmax(t["logits"], 1)
    elif inp == "bin_logits":
        probs = torch.sigmoid(t["bin_logits"])
    elif inp.startswith("target_onehot"):
        probs = t["target_onehot"]
    elif inp == "empty_probs":
        probs = t["empty_probs"]
    else:
        probs = t["probs"]
    tgt = {"target_onehot": t["target_onehot"], "labels_index_Bx1xHxW": t["labels_index"], "bin_target": t["bin_target"],
           "empty_target": t["empty_target"]}[case["target"]]
    if "weight" in kw:
        ours["class_weight"] = torch.tensor(kw["weight"], dtype=torch.float64)
    if case["target"] == "labels_index_Bx1xHxW" and tgt.ndim == probs.ndim:
        tgt = tgt.squeeze(1)
    if kw.get("squared_pred") or kw.get("jaccard"):
        return None  # variants losslab does not offer
    return probs, tgt, ours


_CASES = [
    "gdl_default", "gdl_reduction_none", "gdl_reduction_sum", "gdl_batch_true", "gdl_no_background", "gdl_w_simple",
    "gdl_w_uniform", "gdl_softmax_on_logits", "gdl_to_onehot_y", "gdl_smooth_0_1e-6", "gdl_perfect_prediction",
    "gdl_empty_foreground_no_background", "gdl_sigmoid_binary", "dice_default", "dice_reduction_none",
    "dice_batch_true", "dice_no_background", "dice_squared_pred", "dice_jaccard", "dice_softmax_on_logits",
    "dice_to_onehot_y", "dice_smooth_0_1e-6", "dice_weight", "dice_sigmoid_binary", "dice_perfect_prediction",
]


def test_monai_variants_not_offered_are_rejected():
    probs = torch.softmax(torch.randn(2, 3, 4, 4), 1)
    target = torch.randint(0, 3, (2, 4, 4))
    for option in ("squared_pred", "jaccard", "smooth_nr"):
        with pytest.raises(TypeError):
            dice_loss(probs, target, **{option: True})


def _offered(name: str) -> bool:
    """MONAI's squared_pred / jaccard variants and its separate numerator smoothing are options losslab does not
    offer (test_monai_variants_not_offered_are_rejected pins that), so their stored values are not compared."""
    data, t = _gdl_fixture()
    (case,) = [c for c in data["cases"] if c["name"] == name]
    return _case_call(case, t) is not None


@pytest.mark.parametrize("name", [n for n in _CASES if _offered(n)])
def test_against_stored_monai_values(name):
    data, t = _gdl_fixture()
    (case,) = [c for c in data["cases"] if c["name"] == name]
    probs, tgt, kw = _case_call(case, t)
    fn = generalized_dice_loss if case["class"] == "GeneralizedDiceLoss" else dice_loss
    out = fn(probs, tgt, **kw)
    expected = torch.tensor(case["value_float64_inputs"], dtype=torch.float64)
    if kw.get("reduction") == "none" or case["output_shape"]:
        expected = expected.reshape(out.shape)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)


def test_gdl_absent_weight_zero_differs_from_monai_where_a_class_is_absent():
    # Class 3 is absent from the batch, class 2 from sample 1: "zero" drops them, "max" (MONAI) keeps them.
    data, t = _gdl_fixture()
    probs, onehot = t["probs"], t["target_onehot"]
    mx = generalized_dice_loss(probs, onehot, reduction="none")
    zero = generalized_dice_loss(probs, onehot, absent_weight="zero", reduction="none")
    assert (zero - mx).abs().min() > 1e-3
    # by hand for "zero": the sum runs over the present classes only
    g = onehot.sum((2, 3))
    w = torch.where(g > 0, 1.0 / g.clamp_min(1) ** 2, torch.zeros_like(g))
    tp, ps = (probs * onehot).sum((2, 3)), probs.sum((2, 3))
    hand = 1 - (2 * (w * tp).sum(1) + 1e-5) / ((w * (ps + g)).sum(1) + 1e-5)
    torch.testing.assert_close(zero, hand)
    # with every class present, both policies are the same loss
    present = onehot[:, :2]
    p2 = probs[:, :2] / probs[:, :2].sum(1, keepdim=True)
    torch.testing.assert_close(
        generalized_dice_loss(p2, present, absent_weight="zero"), generalized_dice_loss(p2, present)
    )


def test_gdl_is_not_a_weighted_mean_of_class_dice():
    # The boundary-loss repo's contrast values (and optax's weighted mean) differ from Sudre's form.
    data, t = _gdl_fixture()
    ours = generalized_dice_loss(t["probs"], t["target_onehot"]).item()
    repo = data["livia_boundary_loss_repo_contrast_float32"]["values"]["[0, 1, 2, 3]"]["GeneralizedDice"]
    assert repo == 1.0 and abs(ours - repo) > 0.1
    probs, onehot = t["probs"], t["target_onehot"]
    g = onehot.sum((2, 3))
    w = torch.where(g > 0, 1 / g.clamp_min(1) ** 2, torch.zeros_like(g))
    per_class = dice_loss(probs, onehot, reduction="none")
    weighted_mean = (w * per_class).sum(1) / w.sum(1)
    assert (weighted_mean - generalized_dice_loss(probs, onehot, reduction="none")).abs().min() > 1e-2


# ---------------------------------------------------------------------------------------------------------------
# live MONAI oracle on random 2D and 3D inputs


@pytest.mark.parametrize("spatial", [(7, 6), (4, 5, 3)])
@pytest.mark.parametrize("batch", [False, True])
@pytest.mark.parametrize("include_background", [True, False])
def test_dice_matches_monai(spatial, batch, include_background):
    g = torch.Generator().manual_seed(1)
    probs = torch.softmax(torch.randn(3, 4, *spatial, generator=g, dtype=torch.float64) * 2, 1)
    labels = torch.randint(0, 4, (3, *spatial), generator=g)
    labels[0][labels[0] == 2] = 0  # an absent class in sample 0
    ref = monai_losses.DiceLoss(include_background=include_background, batch=batch, reduction="none")
    expected = ref(probs, F.one_hot(labels, 4).movedim(-1, 1).double())
    ours_idx = dice_loss(probs, labels, include_background=include_background, batch=batch, reduction="none")
    torch.testing.assert_close(ours_idx, expected.reshape(ours_idx.shape), atol=1e-10, rtol=1e-10)
    onehot = F.one_hot(labels, 4).movedim(-1, 1).double()
    ours_dense = dice_loss(probs, onehot, include_background=include_background, batch=batch, reduction="none")
    torch.testing.assert_close(ours_dense, ours_idx)


@pytest.mark.parametrize("spatial", [(7, 6), (4, 5, 3)])
@pytest.mark.parametrize("batch", [False, True])
@pytest.mark.parametrize("weight_type", ["square", "simple", "uniform"])
def test_gdl_matches_monai(spatial, batch, weight_type):
    g = torch.Generator().manual_seed(2)
    probs = torch.softmax(torch.randn(3, 4, *spatial, generator=g, dtype=torch.float64) * 2, 1)
    labels = torch.randint(0, 3, (3, *spatial), generator=g)  # class 3 absent everywhere
    labels[1][labels[1] == 1] = 0  # class 1 absent from sample 1
    onehot = F.one_hot(labels, 4).movedim(-1, 1).double()
    ref = monai_losses.GeneralizedDiceLoss(w_type=weight_type, batch=batch, reduction="none")(probs, onehot)
    ours = generalized_dice_loss(probs, labels, weight_type=weight_type, batch=batch, reduction="none")
    # MONAI computes the weights in float32
    torch.testing.assert_close(ours, ref.reshape(ours.shape), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(ours, generalized_dice_loss(probs, onehot, weight_type=weight_type, batch=batch,
                                                           reduction="none"))


def test_soft_targets_match_monai():
    g = torch.Generator().manual_seed(3)
    probs = torch.softmax(torch.randn(2, 3, 6, 6, generator=g, dtype=torch.float64), 1)
    soft = torch.softmax(torch.randn(2, 3, 6, 6, generator=g, dtype=torch.float64) * 3, 1)
    torch.testing.assert_close(dice_loss(probs, soft, reduction="none"),
                               monai_losses.DiceLoss(reduction="none")(probs, soft).reshape(2, 3))
    torch.testing.assert_close(generalized_dice_loss(probs, soft),
                               monai_losses.GeneralizedDiceLoss()(probs, soft), atol=1e-6, rtol=1e-6)


# ---------------------------------------------------------------------------------------------------------------
# hand-worked values, policies and limits


def test_hand_worked_two_class_case():
    probs = torch.tensor([[[[0.9, 0.2], [0.1, 0.3]], [[0.1, 0.8], [0.9, 0.7]]]], dtype=torch.float64)
    target = torch.tensor([[[0, 1], [1, 1]]])
    # class 0: tp .9, P 1.5, G 1; class 1: tp 2.4, P 2.5, G 3
    torch.testing.assert_close(dice_loss(probs, target, smooth=0.0, reduction="none"),
                               torch.tensor([[1 - 1.8 / 2.5, 1 - 4.8 / 5.5]], dtype=torch.float64))
    w0, w1 = 1.0, 1 / 9
    expected = 1 - 2 * (w0 * 0.9 + w1 * 2.4) / (w0 * 2.5 + w1 * 5.5)
    torch.testing.assert_close(generalized_dice_loss(probs, target, smooth=0.0),
                               torch.tensor(expected, dtype=torch.float64))


def test_perfect_prediction_is_zero_and_empty_class_policy():
    labels = torch.tensor([[[0, 1, 1], [0, 0, 1]]])
    onehot = F.one_hot(labels, 3).movedim(-1, 1).double()  # class 2 absent
    torch.testing.assert_close(dice_loss(onehot, labels, reduction="none"), torch.zeros(1, 3, dtype=torch.float64))
    torch.testing.assert_close(generalized_dice_loss(onehot, labels), torch.tensor(0.0, dtype=torch.float64))
    # predicting the absent class costs ~1 in Dice, and a positive amount in GDL (its weight is the max)
    probs = onehot * 0.8 + 0.2 * torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64).reshape(1, 3, 1, 1)
    assert dice_loss(probs, labels, reduction="none")[0, 2] > 0.99
    assert generalized_dice_loss(probs, labels) > generalized_dice_loss(probs, labels, absent_weight="zero")
    # smooth = 0: an empty-over-empty class is 0, not NaN
    torch.testing.assert_close(dice_loss(onehot, labels, smooth=0.0, reduction="none")[0, 2],
                               torch.tensor(0.0, dtype=torch.float64))


def test_all_classes_absent_gives_zero_like_monai():
    probs = torch.tensor([[[[0.7, 0.4]], [[0.3, 0.6]]]], dtype=torch.float64)
    target = torch.zeros(1, 1, 2, dtype=torch.long)  # no foreground
    loss = generalized_dice_loss(probs, target, include_background=False)
    assert loss.item() == 0.0


def test_ignore_index_masks_prediction_and_target():
    g = torch.Generator().manual_seed(4)
    probs = torch.softmax(torch.randn(2, 3, 5, 5, generator=g, dtype=torch.float64), 1)
    labels = torch.randint(0, 3, (2, 5, 5), generator=g)
    ignored = labels.clone()
    ignored[:, :, 0] = 255
    keep = ignored != 255
    for fn in (dice_loss, generalized_dice_loss):
        out = fn(probs, ignored, ignore_index=255, reduction="none")
        # reference: drop the ignored column from both prediction and target
        ref = fn(probs[..., 1:], labels[..., 1:], reduction="none")
        torch.testing.assert_close(out, ref)
        # the ignored column's probabilities do not matter
        other = probs.clone()
        other[..., 0] = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64).reshape(1, 3, 1)
        torch.testing.assert_close(fn(other, ignored, ignore_index=255), fn(probs, ignored, ignore_index=255))
    assert keep.sum() < keep.numel()


def test_all_ignored_is_zero_with_zero_gradient():
    probs = torch.softmax(torch.randn(2, 3, 4, 4, dtype=torch.float64), 1).requires_grad_()
    labels = torch.full((2, 4, 4), -100)
    for fn in (dice_loss, generalized_dice_loss):
        for batch in (False, True):
            loss = fn(probs, labels, ignore_index=-100, batch=batch)
            assert loss.item() == 0.0
            (grad,) = torch.autograd.grad(loss, probs)
            assert torch.count_nonzero(grad) == 0
    # a fully ignored sample is left out of the mean
    labels = torch.randint(0, 3, (2, 4, 4))
    part = labels.clone()
    part[1] = -100
    torch.testing.assert_close(dice_loss(probs, part, ignore_index=-100), dice_loss(probs[:1], labels[:1]))


def test_binary_sigmoid_single_channel():
    g = torch.Generator().manual_seed(5)
    probs = torch.sigmoid(torch.randn(2, 1, 6, 6, generator=g, dtype=torch.float64))
    target = (torch.rand(2, 1, 6, 6, generator=g) > 0.6).double()
    torch.testing.assert_close(dice_loss(probs, target, reduction="none"),
                               monai_losses.DiceLoss(reduction="none")(probs, target).reshape(2, 1))


def test_gradcheck_index_and_3d():
    g = torch.Generator().manual_seed(6)
    probs = torch.softmax(torch.randn(2, 3, 3, 4, 2, generator=g, dtype=torch.float64), 1).requires_grad_()
    labels = torch.randint(0, 3, (2, 3, 4, 2), generator=g)
    labels[0, 0, 0, 0] = 7
    for fn in (dice_loss, generalized_dice_loss):
        for batch in (False, True):
            assert torch.autograd.gradcheck(lambda p: fn(p, labels, batch=batch, ignore_index=7), (probs,))


def test_module_equals_function_and_repr():
    g = torch.Generator().manual_seed(7)
    probs = torch.softmax(torch.randn(2, 3, 5, 5, generator=g), 1)
    labels = torch.randint(0, 3, (2, 5, 5), generator=g)
    m = GeneralizedDiceLoss(weight_type="simple", batch=True, include_background=False)
    torch.testing.assert_close(m(probs, labels), generalized_dice_loss(probs, labels, weight_type="simple",
                                                                        batch=True, include_background=False))
    assert "weight_type='simple'" in repr(m)
    d = DiceLoss(smooth=1.0, ignore_index=255)
    torch.testing.assert_close(d(probs, labels), dice_loss(probs, labels, smooth=1.0, ignore_index=255))


def test_half_precision_computed_in_float32():
    g = torch.Generator().manual_seed(8)
    probs = torch.softmax(torch.randn(2, 3, 16, 16, generator=g), 1)
    labels = torch.randint(0, 3, (2, 16, 16), generator=g)
    for dt in (torch.float16, torch.bfloat16):
        out = generalized_dice_loss(probs.to(dt), labels)
        assert out.dtype == dt
        rounded = probs.to(dt).float()
        rounded = rounded / rounded.sum(1, keepdim=True)
        torch.testing.assert_close(out.float(), generalized_dice_loss(rounded, labels), atol=1e-2, rtol=0)


# ---------------------------------------------------------------------------------------------------------------
# bad inputs


def test_bad_inputs_are_pinned():
    probs = torch.softmax(torch.randn(2, 3, 4, 4), 1)
    labels = torch.randint(0, 3, (2, 4, 4))
    with pytest.raises(ValueError, match=r"probs: expected probabilities summing to 1 over the 3 classes"):
        dice_loss(probs * 0.5, labels)
    with pytest.raises(ValueError, match=r"target: expected class indices of shape \(2, 4, 4\) or probabilities"):
        dice_loss(probs, labels[:, :3])
    with pytest.raises(ValueError, match=r"ignore_index: 1 is a valid class index for 3 classes"):
        generalized_dice_loss(probs, labels, ignore_index=1)
    with pytest.raises(ValueError, match=r"looks like softmax over one channel.*apply sigmoid"):
        dice_loss(torch.softmax(torch.randn(2, 1, 4, 4), 1), torch.ones(2, 1, 4, 4))
    with pytest.raises(ValueError, match=r"target: class indices with a single-channel probs"):
        dice_loss(torch.rand(2, 1, 4, 4), labels.clamp(max=0))
    with pytest.raises(ValueError, match=r"probs: expected values in \[0, 1\]"):
        dice_loss(probs * 2 - 0.5, labels)
    with pytest.raises(ValueError, match=r"weight_type: expected one of"):
        generalized_dice_loss(probs, labels, weight_type="log")
    with pytest.raises(ValueError, match=r"absent_weight: expected one of"):
        GeneralizedDiceLoss(absent_weight="min")
    with pytest.raises(ValueError, match=r"include_background: False needs at least 2 channels"):
        dice_loss(torch.rand(2, 1, 4, 4), torch.ones(2, 1, 4, 4), include_background=False)
    with pytest.raises(TypeError, match=r"target: class indices of shape .* must have an integer dtype"):
        dice_loss(probs, labels.float())
    with pytest.raises(ValueError, match=r"smooth: expected a value in \[0, inf\)"):
        dice_loss(probs, labels, smooth=-1.0)
    with losslab.validation(False):  # value checks can be switched off
        dice_loss(probs * 0.5, labels)


# ---------------------------------------------------------------------------------------------------------------
# boundary loss and the rebalancing schedule


def _boundary_fixture():
    with open(oracle_path("boundary.json")) as f:
        data = json.load(f)
    labels = torch.tensor(data["inputs"]["labels_BxHxW"])
    probs = torch.tensor(data["inputs"]["probs_BxKxHxW"], dtype=torch.float64)
    res = data["results"]["isotropic_resolution_None__real_valued_float64_map"]
    return data, labels, probs, res


@pytest.mark.parametrize("idc", [[1], [0, 1]])
def test_boundary_loss_matches_authors_on_the_blob(idc):
    # sample 0 (the blob) has no full-mask class, so our map policy and the authors' code agree there
    _, labels, probs, res = _boundary_fixture()
    official = torch.tensor(res["dist_maps_BxKxHxW"], dtype=torch.float64)
    expected = res["surface_loss_exact_float64_mean"][str(idc)]["per_sample"][0]
    ours_map = signed_distance_map(labels[:1], num_classes=2, dtype=torch.float64, backend="scipy")
    torch.testing.assert_close(boundary_loss(probs[:1], ours_map, classes=idc),
                               torch.tensor(expected, dtype=torch.float64), atol=1e-12, rtol=1e-12)
    # and the loss itself on the authors' maps, over the whole batch (full-mask artefacts included)
    batch = res["surface_loss_exact_float64_mean"][str(idc)]["batch"]
    torch.testing.assert_close(boundary_loss(probs, official, classes=idc),
                               torch.tensor(batch, dtype=torch.float64), atol=1e-12, rtol=1e-12)
    f32 = res["surface_loss_official_float32"][str(idc)]["probs_float32_batch"]
    torch.testing.assert_close(boundary_loss(probs.float(), official.float(), classes=idc),
                               torch.tensor(f32), atol=1e-5, rtol=0)


def test_boundary_loss_empty_class_and_perfect_prediction():
    _, labels, probs, _ = _boundary_fixture()
    dist = signed_distance_map(labels, num_classes=2, dtype=torch.float64)
    # sample 1 has an empty foreground: its class-1 map is 0, so the foreground loss is 0 whatever the prediction
    assert boundary_loss(probs[1:2], dist[1:2]).item() == 0.0
    # a perfect prediction scores minus the mean inside depth: the minimum is negative
    onehot = F.one_hot(labels[:1], 2).movedim(-1, 1).double()
    perfect = boundary_loss(onehot, dist[:1])
    assert perfect < 0
    torch.testing.assert_close(perfect, dist[:1, 1].clamp(max=0).sum() / dist[:1, 1].numel())
    assert boundary_loss(probs[:1], dist[:1]) > perfect


def test_boundary_loss_module_gradcheck_and_errors():
    g = torch.Generator().manual_seed(9)
    probs = torch.softmax(torch.randn(2, 3, 5, 5, generator=g, dtype=torch.float64), 1).requires_grad_()
    labels = torch.randint(0, 3, (2, 5, 5), generator=g)
    dist = signed_distance_map(labels, num_classes=3, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda p: boundary_loss(p, dist, classes=[0, 2]), (probs,))
    torch.testing.assert_close(BoundaryLoss(classes=[2])(probs, dist), boundary_loss(probs, dist, classes=[2]))
    # 3D
    p3 = torch.softmax(torch.randn(1, 2, 4, 4, 4, generator=g, dtype=torch.float64), 1)
    l3 = torch.randint(0, 2, (1, 4, 4, 4), generator=g)
    d3 = signed_distance_map(l3, num_classes=2, dtype=torch.float64)
    torch.testing.assert_close(boundary_loss(p3, d3), (p3[:, 1] * d3[:, 1]).mean())
    with pytest.raises(ValueError, match=r"dist_map: expected the same shape as probs"):
        boundary_loss(probs, dist[:, :2])
    with pytest.raises(ValueError, match=r"dist_map: expected signed distance maps, got a 0/1 mask"):
        boundary_loss(probs, F.one_hot(labels, 3).movedim(-1, 1).double())
    with pytest.raises(ValueError, match=r"classes: expected distinct class indices in \[0, 2\]"):
        boundary_loss(probs, dist, classes=[3])
    with pytest.raises(ValueError, match=r"probs: expected probabilities summing to 1"):
        boundary_loss(probs.detach() * 0.9, dist)


def test_rebalanced_loss_schedule_and_state():
    regional, boundary = GeneralizedDiceLoss(), BoundaryLoss()
    mix = RebalancedLoss(regional, boundary)
    g = torch.Generator().manual_seed(10)
    probs = torch.softmax(torch.randn(2, 2, 6, 6, generator=g, dtype=torch.float64), 1)
    labels = torch.randint(0, 2, (2, 6, 6), generator=g)
    dist = signed_distance_map(labels, num_classes=2, dtype=torch.float64)
    torch.testing.assert_close(mix(probs, labels, dist), regional(probs, labels))  # alpha = 1 at the start
    for _ in range(30):
        mix.step()
    a = 0.7
    assert float(mix.alpha) == pytest.approx(a)
    torch.testing.assert_close(mix(probs, labels, dist), a * regional(probs, labels) + (1 - a) * boundary(probs, dist))
    before = float(mix.alpha)
    mix(probs, labels, dist)
    assert float(mix.alpha) == before  # forward never changes the schedule
    for _ in range(200):
        mix.step()
    assert float(mix.alpha) == pytest.approx(0.01)  # the authors' floor
    state = mix.state_dict()
    fresh = RebalancedLoss(GeneralizedDiceLoss(), BoundaryLoss())
    fresh.load_state_dict(state)
    assert float(fresh.alpha) == pytest.approx(0.01)
    assert "alpha=0.01" in repr(fresh)
    with pytest.raises(ValueError, match=r"min_alpha: expected a value in \[0, 0.5\]"):
        RebalancedLoss(regional, boundary, alpha=0.5, min_alpha=0.6)


# ---------------------------------------------------------------------------------------------------------------
# image-gradient losses


def test_image_gradient_loss_alignment_by_hand():
    image = torch.zeros(1, 3, 6, 6, dtype=torch.float64)
    image[..., 3:] = 1.0  # a vertical edge
    aligned = image[:, :1].clone() * 0.8 + 0.1
    inverted = 1 - aligned  # opposite polarity is still aligned
    across = image[:, :1].transpose(-1, -2).clone()  # horizontal mask edge: orthogonal everywhere
    assert image_gradient_loss(aligned, image).item() == pytest.approx(0.0, abs=1e-12)
    assert image_gradient_loss(inverted, image).item() == pytest.approx(0.0, abs=1e-12)
    assert image_gradient_loss(across, image).item() == pytest.approx(1.0)
    # a diagonal mask edge at 45 degrees to the image edge: 1 - cos^2 = 1/2 where the two edges cross
    flat = torch.ones(1, 3, 6, 6, dtype=torch.float64)
    assert image_gradient_loss(aligned, flat).item() == pytest.approx(1.0)  # no image edge: full penalty
    const = torch.full((1, 1, 6, 6), 0.5, dtype=torch.float64)
    assert image_gradient_loss(const, image).item() == 0.0  # no mask edge: nothing to align


def test_image_gradient_loss_formula_against_naive_reference():
    g = torch.Generator().manual_seed(11)
    mask = torch.rand(2, 1, 7, 6, generator=g, dtype=torch.float64)
    image = torch.rand(2, 3, 7, 6, generator=g, dtype=torch.float64)
    # naive: explicit Sobel by slicing on the replicate-padded image, normalized vectors, ratio per image
    def grads(x):
        xp = F.pad(x, (1, 1, 1, 1), mode="replicate")
        gx = (xp[..., :-2, 2:] + 2 * xp[..., 1:-1, 2:] + xp[..., 2:, 2:]) - (xp[..., :-2, :-2] + 2 * xp[..., 1:-1, :-2] + xp[..., 2:, :-2])
        gy = (xp[..., 2:, :-2] + 2 * xp[..., 2:, 1:-1] + xp[..., 2:, 2:]) - (xp[..., :-2, :-2] + 2 * xp[..., :-2, 1:-1] + xp[..., :-2, 2:])
        return gx, gy
    mx, my = grads(mask)
    ix, iy = grads(image.mean(1, keepdim=True))
    mm, im = (mx**2 + my**2).sqrt(), (ix**2 + iy**2).sqrt()
    cos = (mx * ix + my * iy) / (mm * im)
    expected = (mm * (1 - cos**2)).sum((1, 2, 3)) / mm.sum((1, 2, 3))
    torch.testing.assert_close(image_gradient_loss(mask, image, reduction="none"), expected)
    assert torch.autograd.gradcheck(lambda m: image_gradient_loss(m, image), (mask.requires_grad_(),))


def test_image_gradient_loss_finite_gradient_on_flat_regions():
    mask = torch.zeros(1, 1, 6, 6, dtype=torch.float64)
    mask[..., 2:4, 2:4] = 1.0
    mask.requires_grad_()
    image = torch.zeros(1, 1, 6, 6, dtype=torch.float64)
    loss = image_gradient_loss(mask, image)
    (grad,) = torch.autograd.grad(loss, mask)
    assert torch.isfinite(grad).all()
    with pytest.raises(ValueError, match=r"image: expected shape \(N, C_img, H, W\) = \(1, \*, 6, 6\)"):
        image_gradient_loss(mask, image[..., :5])
    with pytest.raises(ValueError, match=r"mask_probs: expected shape \(N, 1, H, W\)"):
        image_gradient_loss(mask.expand(1, 2, 6, 6), image)


def test_gradient_difference_loss_by_hand_and_limits():
    target = torch.tensor([[[[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]]], dtype=torch.float64)
    blurred = torch.tensor([[[[0.0, 0.3, 0.7, 1.0], [0.0, 0.3, 0.7, 1.0]]]], dtype=torch.float64)
    # horizontal: | |0| - |.3| |, | |1| - |.4| |, | |0| - |.3| | per row; vertical differences are all 0
    row = torch.tensor([0.0, 0.3, 0.6, 0.3], dtype=torch.float64)
    torch.testing.assert_close(gradient_difference_loss(blurred, target, reduction="none")[0, 0],
                               torch.stack([row, row]))
    torch.testing.assert_close(gradient_difference_loss(blurred, target, alpha=2.0, reduction="sum"),
                               2 * (row**2).sum())
    # invariant to a constant shift and to flipping the sign of the prediction's differences (it compares |grad|)
    torch.testing.assert_close(gradient_difference_loss(target + 5.0, target), torch.tensor(0.0, dtype=torch.float64))
    torch.testing.assert_close(gradient_difference_loss(1 - target, target), torch.tensor(0.0, dtype=torch.float64))
    x = torch.randn(2, 2, 5, 4, 3, dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, 2, 5, 4, 3, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda p: gradient_difference_loss(p, y, alpha=1.5), (x,))
    with pytest.raises(ValueError, match=r"alpha: expected a value in \[1, inf\)"):
        gradient_difference_loss(x, y, alpha=0.5)


# ---------------------------------------------------------------------------------------------------------------
# issue 12: regressions


@pytest.mark.parametrize("shape", [(2, 3, 1, 1), (1, 1, 1), (2, 1, 1, 1, 1), (2, 2, 1, 5), (2, 1, 0, 4)])
@pytest.mark.parametrize("alpha", [1.0, 2.0])
def test_gradient_difference_loss_without_neighbours_is_zero_on_the_graph(shape, alpha):
    # Issue 12 item 7: with no axis of length >= 2 the loss was a detached zeros_like, so .backward() raised.
    pred = torch.rand(shape, requires_grad=True)
    target = torch.rand(shape)
    for reduction in ("mean", "sum", "none"):
        loss = gradient_difference_loss(pred, target, alpha=alpha, reduction=reduction)
        assert loss.requires_grad
        loss.sum().backward()
    # axes of length 1 contribute 0, the others their neighbour differences (float64 reference from the formula)
    p, t = pred.detach().double(), target.double()
    expected = torch.zeros_like(p)
    for axis in range(2, p.ndim):
        if p.shape[axis] >= 2:
            term = (t.diff(dim=axis).abs() - p.diff(dim=axis).abs()).abs() ** alpha
            expected.narrow(axis, 1, p.shape[axis] - 1).add_(term)
    torch.testing.assert_close(gradient_difference_loss(p, t, alpha=alpha, reduction="none"), expected)
    if all(s <= 1 for s in shape[2:]):
        assert torch.equal(pred.grad, torch.zeros(shape))


@pytest.mark.parametrize("fn,link", [
    (dice_loss, lambda x: x.softmax(1)),
    (losslab.softmax_dice_loss, lambda x: x),
    (losslab.sigmoid_dice_loss, lambda x: x),
])
def test_dice_class_weight_is_the_class_weighted_mean(fn, link):
    g = torch.Generator().manual_seed(11)
    x = torch.randn(3, 4, 5, 5, generator=g, dtype=torch.float64)
    target = torch.randint(0, 4, (3, 5, 5), generator=g)
    if fn is losslab.sigmoid_dice_loss:
        target = F.one_hot(target, 4).movedim(-1, 1).double()
    inp = link(x)
    cw = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64)
    per_class = fn(inp, target, reduction="none")  # (N, C)
    # by hand: sum_n sum_c w_c l_nc / (N sum_c w_c)
    torch.testing.assert_close(fn(inp, target, class_weight=cw), (per_class * cw).sum() / (3 * cw.sum()))
    torch.testing.assert_close(fn(inp, target, class_weight=cw, reduction="none"), per_class * cw)
    # with per-sample weights too: the product of both
    sw = torch.tensor([[1.0], [0.0], [2.0]], dtype=torch.float64)
    torch.testing.assert_close(
        fn(inp, target, class_weight=cw, sample_weight=sw, reduction="sum"), (per_class * cw * sw).sum()
    )
    with pytest.raises(ValueError, match=r"class_weight: expected shape \(3,\)"):
        fn(inp, target, class_weight=cw, include_background=False)
    with pytest.raises(ValueError, match="class_weight: expected values in"):
        fn(inp, target, class_weight=-cw)
    with pytest.raises(TypeError, match="`weight` was renamed to `class_weight`"):
        fn(inp, target, weight=cw)
