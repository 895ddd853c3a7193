"""The box-regression experiment (the DIoU paper's simulation): smoke run, the official update rule, cases."""

from __future__ import annotations

import json

import pytest
import torch

from losslab import experiments
from losslab.experiments import box_regression as E


def test_box_regression_smoke(tmp_path):
    module = experiments.load("box-regression")
    assert module is E
    assert set(E.PROFILES) == {"smoke", "quick", "full"}
    result = E.run("smoke", seed=0, out_dir=tmp_path)
    assert result.name == "box-regression" and result.profile == "smoke"
    m = result.metrics
    n_clouds = E.CLOUDS["smoke"]
    assert m["cases_per_cloud"] == E.PROFILES["smoke"]["points"] * 49 * 7 and len(m["clouds"]) == n_clouds
    assert set(m["final_l1_error"]) == set(E.VARIANTS)
    for key, curve in m["curves_first_cloud"].items():
        assert len(curve["l1"]) == E.PROFILES["smoke"]["iterations"] + 1
        assert all(0.0 <= v <= 1.0 for v in curve["one_minus_iou"])
    # the IoU loss has no gradient for disjoint boxes: they stay disjoint; GIoU moves some of them
    assert all(v == 1.0 for v in m["still_disjoint_fraction"]["iou"])
    assert all(v < 1.0 for v in m["still_disjoint_fraction"]["giou"])
    # the claims are judged on the clouds' paired relative errors
    assert [c["key"] for c in result.claims] == ["giou_vs_iou", "diou_vs_giou", "ciou_vs_giou"]
    c = result.claims[1]
    expected = [1 - a / b for a, b in zip(m["final_l1_error"]["diou_official"], m["final_l1_error"]["giou"])]
    assert c["differences"] == pytest.approx(expected) and c["n_seeds"] == n_clouds
    assert result.figures == ["box_regression.png"] and (tmp_path / "box_regression.png").stat().st_size > 0
    json.dumps(result.to_dict())


def test_official_diou_update_matches_the_hand_computed_step():
    # pred (12, 11, 1, 1) vs target (10, 10, 1, 1), disjoint: the official dDIOU.m centre step, by hand:
    # C = 3^2 + 2^2 = 13, d = 5, dC/dx = 2*3*1 + 2*2*1 = 10 (its quirks: Ch.dx = Cw.dx), and the sign flip:
    # dx = (2 (10 - 12) 13 - 10 * 5) / 169, dy = (2 (10 - 11) 13 - 10 * 5) / 169
    step = E.official_diou_step(torch.tensor([[12.0, 11.0, 1.0, 1.0]], dtype=torch.float64),
                                torch.tensor([[10.0, 10.0, 1.0, 1.0]], dtype=torch.float64))
    torch.testing.assert_close(step[0, :2], torch.tensor([-102 / 169, -76 / 169], dtype=torch.float64))
    # the exact gradient of the same loss (autograd, enclosing diagonal live) moves the centre far less
    exact = E.VARIANTS["diou"][1](torch.tensor([[12.0, 11.0, 1.0, 1.0]], dtype=torch.float64),
                                  torch.tensor([[10.0, 10.0, 1.0, 1.0]], dtype=torch.float64))
    assert float(exact[0, 0]) == pytest.approx(-0.13, abs=0.01)


def test_official_iou_part_is_the_iou_gradient_for_overlapping_boxes():
    b = torch.tensor([[10.2, 9.93, 1.3, 0.8]], dtype=torch.float64)
    t = torch.tensor([[10.0, 10.0, 1.0, 1.0]], dtype=torch.float64)
    # inside the target's enclosing box the penalty's gradient is the official one; compare the IoU part for x, y
    x = b.clone().requires_grad_(True)
    iou = E._pair_iou(x, t).sum()
    (g,) = torch.autograd.grad(iou, x)
    p = (b[:, 1] - b[:, 3] / 2, b[:, 1] + b[:, 3] / 2, b[:, 0] - b[:, 2] / 2, b[:, 0] + b[:, 2] / 2)
    q = (t[:, 1] - t[:, 3] / 2, t[:, 1] + t[:, 3] / 2, t[:, 0] - t[:, 2] / 2, t[:, 0] + t[:, 2] / 2)
    d_t, d_b, d_l, d_r = E._official_iou_grad(p, q)
    torch.testing.assert_close(torch.cat([d_l + d_r, d_t + d_b]), g[0, :2])
    torch.testing.assert_close(0.5 * (d_r - d_l), g[0, 2:3])  # the official code drops this 1/2


def test_cases_and_schedule():
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a, b = E.make_cases(2, g1), E.make_cases(2, g2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    boxes, target = a
    torch.testing.assert_close(target[:, 2] * target[:, 3], torch.ones(len(target), dtype=torch.float64))
    assert sorted({round(v, 2) for v in (boxes[:, 2] * boxes[:, 3]).tolist()}) == sorted(E.AREAS)
    assert E.schedule(200, 0.1) == [0.1] * 160 + [0.01] * 20 + [0.001] * 20


def test_official_ciou_step_is_dciou_m_by_hand():
    """dCIOU.m on one pair, worked by hand: the DIoU step plus alpha (8/pi^2) (atan(wg/hg) - atan(w/h)) (h, -w)."""
    import math

    import torch

    from losslab.experiments import box_regression as br

    b = torch.tensor([[9.0, 10.5, 1.5, 0.6]], dtype=torch.float64)
    t = torch.tensor([[10.0, 10.0, 0.5, 2.0]], dtype=torch.float64)
    angle = math.atan(0.5 / 2.0) - math.atan(1.5 / 0.6)
    v = 4 / math.pi**2 * angle**2
    alpha = v / (1 - 0.0 + v + 1e-7)  # the boxes touch: IoU 0
    expected = br.official_diou_step(b, t) + torch.tensor(
        [[0.0, 0.0, alpha * 8 / math.pi**2 * angle * 0.6, -alpha * 8 / math.pi**2 * angle * 1.5]], dtype=torch.float64
    )
    torch.testing.assert_close(br.official_ciou_step(b, t), expected)
    torch.testing.assert_close(br.official_ciou_step(b, t)[0, 2:], torch.tensor([-0.0441, 0.3056], dtype=torch.float64),
                               atol=1e-4, rtol=0)
