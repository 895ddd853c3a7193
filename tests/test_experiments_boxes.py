"""Smoke test of the box-regression experiment (the DIoU paper's simulation)."""

from __future__ import annotations

import json

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
    assert m["cases"] == E.PROFILES["smoke"]["points"] * 49 * 7
    assert set(m["final_error"]) == set(E.VARIANTS)
    for key, curve in m["curves"].items():
        assert len(curve) == E.PROFILES["smoke"]["iterations"] + 1
        assert all(0.0 <= v <= 1.0 for v in curve)
        assert abs(curve[-1] - m["final_error"][key]) < 1e-6
    # the IoU loss has no gradient for disjoint boxes: they stay disjoint; GIoU moves some of them
    assert m["still_disjoint_fraction"]["iou"] == 1.0
    assert m["still_disjoint_fraction"]["giou"] < 1.0
    # holds is computed from the numbers
    assert result.holds == all(m["checks"].values())
    assert result.figures == ["box_regression.png"] and (tmp_path / "box_regression.png").stat().st_size > 0
    json.dumps(result.to_dict())
    assert "| IoU |" in result.table


def test_box_regression_is_deterministic():
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a, b = E.make_cases(2, g1), E.make_cases(2, g2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    # anchors: 7 areas x 7 ratios per point, targets of area 1 centred at (10, 10)
    boxes, target = a
    areas = (target[:, 2] - target[:, 0]) * (target[:, 3] - target[:, 1])
    torch.testing.assert_close(areas, torch.ones_like(areas))
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    assert sorted({round(v, 2) for v in (w * h).tolist()}) == sorted(E.AREAS)
    curve, _, _ = E.simulate(E.VARIANTS["giou"][1], boxes[:50], target[:50], iterations=3, lr=0.05)
    curve2, _, _ = E.simulate(E.VARIANTS["giou"][1], boxes[:50], target[:50], iterations=3, lr=0.05)
    assert curve == curve2 and curve[-1] < curve[0]
