"""The detection experiment: smoke run and claims table, and the detector's pieces against hand-worked cases."""

from __future__ import annotations

import json
import math

import pytest
import torch

from losslab import experiments, sigmoid_focal_loss
from losslab.experiments import _detector as D
from losslab.experiments import detection as E

REQUIRED = {"claim", "endpoint", "smallest_effect", "n_seeds", "differences", "lower", "upper", "outcome"}


def test_detection_smoke(tmp_path):
    assert experiments.load("detection") is E
    assert set(E.PROFILES) == {"smoke", "quick", "full"}
    result = E.run("smoke", seed=0, out_dir=tmp_path)
    assert [c["key"] for c in result.claims] == [c.key for c in E.CLAIMS]
    n = E.SEEDS["smoke"]
    for c in result.claims:
        assert REQUIRED <= set(c) and c["n_seeds"] == n and len(c["differences"]) == n
        assert c["outcome"] in ("holds", "does not hold", "inconclusive", "invalid")
    m = result.metrics["per_arm"]
    expected = [a - b for a, b in zip(m["FL"]["ap"], m["alpha-CE"]["ap"])]
    assert result.claims[0]["differences"] == pytest.approx(expected)
    assert result.figures == ["detection_ap_vs_iou.png", "detection_score_vs_iou.png"]
    assert all((tmp_path / f).stat().st_size > 0 for f in result.figures)
    json.dumps(result.to_dict())


def test_anchors_grid_and_shapes():
    a = D.make_anchors()
    assert a.shape == (16 * 16 * 9, 4)
    wh = a[:9, 2:] - a[:9, :2]
    assert torch.allclose(wh.prod(-1), torch.tensor([s * s for s in D.SIZES for _ in D.RATIOS]))
    assert torch.allclose((a[:9, :2] + a[:9, 2:]) / 2, torch.full((9, 2), 2.0))  # the first cell's centre


def test_encode_decode_round_trip():
    g = torch.Generator().manual_seed(0)
    anchors = D.make_anchors()[:50]
    xy = torch.rand(50, 2, generator=g) * 40
    boxes = torch.cat([xy, xy + 5 + 10 * torch.rand(50, 2, generator=g)], -1)
    torch.testing.assert_close(D.decode(anchors, D.encode(anchors, boxes)), boxes, rtol=1e-5, atol=1e-4)
    assert torch.equal(D.encode(anchors, anchors), torch.zeros(50, 4))


def test_assignment_hand_cases():
    anchors = torch.tensor([[0.0, 0, 10, 10], [1, 0, 11, 10], [30, 30, 40, 40], [50, 50, 52, 52], [0, 0, 14, 10]])
    # gt 0 equals anchor 0 (IoU 1; anchor 1 IoU 9/11 ≈ 0.82 -> positive; anchor 4 IoU 100/140 ≈ 0.71 -> positive)
    # gt 1 overlaps anchor 2 with IoU 0.25 only: its best anchor is forced positive; anchor 3 is far: negative
    gt = torch.tensor([[[0.0, 0, 10, 10], [35, 35, 45, 45], [0, 0, 0, 0]]])
    valid = torch.tensor([[True, True, False]])
    labels, matched, max_iou = D.assign(anchors, gt, valid)
    assert labels.tolist() == [[1, 1, 1, 0, 1]]
    assert matched[0, :3].tolist() == [0, 0, 1] and matched[0, 4] == 0
    assert max_iou[0, 2].item() == pytest.approx(25 / 175)
    # an anchor between the thresholds (0.4 <= IoU < 0.5) that is no object's best is ignored
    anchors2 = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 22]])  # IoU 10/22 ≈ 0.45 with the gt
    labels2, _, _ = D.assign(anchors2, gt[:, :1], valid[:, :1])
    assert labels2.tolist() == [[1, -1]]


def _greedy_nms(boxes, scores, threshold):
    order = sorted(range(len(scores)), key=lambda i: -float(scores[i]))
    keep = []
    for i in order:
        if all(D.box_iou(boxes[i : i + 1], boxes[j : j + 1]).item() <= threshold for j in keep):
            keep.append(i)
    return sorted(keep)


def test_nms_chain_and_against_a_python_greedy():
    # A suppresses B, B would suppress C, but B is gone so C stays (greedy, not "any overlap")
    boxes = torch.tensor([[[0.0, 0, 10, 10], [3, 0, 13, 10], [6, 0, 16, 10]]])
    scores = torch.tensor([[0.9, 0.8, 0.7]])
    keep = D.nms(boxes, scores, torch.ones(1, 3, dtype=torch.bool), 0.5)
    assert keep.tolist() == [[True, False, True]]
    g = torch.Generator().manual_seed(1)
    xy = torch.rand(2, 60, 2, generator=g) * 20
    b = torch.cat([xy, xy + 4 + 6 * torch.rand(2, 60, 2, generator=g)], -1)
    s = torch.rand(2, 60, generator=g)
    valid = torch.rand(2, 60, generator=g) < 0.9
    keep = D.nms(b, s, valid, 0.5)
    for i in range(2):
        idx = valid[i].nonzero().flatten()
        expected = sorted(int(idx[k]) for k in _greedy_nms(b[i, idx], s[i, idx], 0.5))
        assert keep[i].nonzero().flatten().tolist() == expected


def _ap(det, scores, gt):
    det, scores, gt = torch.tensor([det], dtype=torch.float32), torch.tensor([scores]), torch.tensor([gt], dtype=torch.float32)
    valid = torch.ones(scores.shape, dtype=torch.bool)
    gvalid = torch.ones(gt.shape[:2], dtype=torch.bool)
    tp = D.match(det, valid, gt, gvalid)
    return D.average_precision(tp, scores, valid, int(gvalid.sum()))


def test_ap_hand_worked_cases():
    gts = [[0, 0, 10, 10], [20, 20, 30, 30]]
    perfect = _ap(gts, [0.9, 0.8], gts)
    assert torch.equal(perfect, torch.ones(10))
    # a duplicate of object 0 ranked between the two hits: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1;
    # the envelope reads 1 at recall <= 0.5 (51 of the 101 points) and 2/3 above (50 points)
    dup = _ap([[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30]], [0.9, 0.8, 0.7], gts)
    torch.testing.assert_close(dup, torch.full((10,), (51 + 50 * 2 / 3) / 101))
    # a duplicate ranked last costs nothing
    assert torch.equal(_ap([[0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 10]], [0.9, 0.8, 0.7], gts), torch.ones(10))
    # one object missed: recall stops at 1/2
    torch.testing.assert_close(_ap([[0, 0, 10, 10]], [0.9], gts), torch.full((10,), 51 / 101))
    # a box with IoU 0.72 with its object is a hit at thresholds 0.50 ... 0.70 only; above, it is a false
    # positive ranked first: precision 0, 1/2 at recall 0, 1/2 -> 1/2 on 51 points
    ap = _ap([[0, 0, 10, 7.2], [20, 20, 30, 30]], [0.9, 0.8], gts)
    assert ap[:5].tolist() == [1.0] * 5
    torch.testing.assert_close(ap[5:], torch.full((5,), 0.5 * 51 / 101))
    # a false positive ranked first: precision 1/2 at recall 1/2, 2/3 at recall 1 -> 2/3 everywhere
    fp = _ap([[40, 40, 50, 50], [0, 0, 10, 10], [20, 20, 30, 30]], [0.95, 0.9, 0.8], gts)
    torch.testing.assert_close(fp, torch.full((10,), 2 / 3))


def test_alpha_balanced_ce_is_focal_at_gamma_0():
    g = torch.Generator().manual_seed(0)
    cls = torch.randn(2, 8, generator=g)
    labels = torch.tensor([[1, 0, 0, -1, 0, 0, 0, 0], [0, 0, 1, 1, 0, -1, 0, 0]])
    anchors = D.make_anchors()[:8]
    gt = anchors[None].expand(2, 8, 4).clone()
    deltas = torch.zeros(2, 8, 4)
    loss = E.arm_loss("alpha-CE", cls, deltas, labels, gt, anchors)
    care = labels >= 0
    ref = sigmoid_focal_loss(cls[care].double(), (labels[care] == 1).double(), gamma=0.0, alpha=E.ALPHA_CE,
                             reduction="sum") / 3
    assert math.isclose(float(loss), float(ref), rel_tol=1e-5)  # deltas equal the targets: no box loss


def test_scenes_are_in_range_and_deterministic():
    a = D.make_scenes(4, torch.Generator().manual_seed(3))
    b = D.make_scenes(4, torch.Generator().manual_seed(3))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    img, boxes, valid = a
    wh = boxes[..., 2:] - boxes[..., :2]
    assert img.shape == (4, 1, 64, 64) and bool(((wh >= 6) & (wh <= 22)).all()) and bool(valid[:, 0].all())
