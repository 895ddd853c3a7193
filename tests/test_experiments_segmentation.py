"""Smoke runs of the segmentation experiments: structure of the results and figures, determinism, metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from losslab.experiments import Result, available, load
from losslab.experiments.boundary import hausdorff95, make_blobs
from losslab.experiments.gradient import boundary_f_score


@pytest.fixture(scope="module", autouse=True)
def _warm_imports():
    # one-time process costs (torch._dynamo, imported by the first optimizer; matplotlib) are not the experiment's
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import torch

    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


@pytest.mark.parametrize("name,variants,keys", [
    ("boundary", ("gdl", "gdl+boundary"), ("dice", "hd95", "lesion_recall", "empty_rate")),
    ("gradient", ("ce", "ce+erosion", "ce+gradient"), ("boundary_f", "iou")),
])
def test_smoke_profile(tmp_path, name, variants, keys):
    module = load(name)
    assert name in available()
    assert {"smoke", "quick", "full"} <= set(module.PROFILES)
    result = module.run("smoke", seed=0, out_dir=tmp_path)
    assert isinstance(result, Result) and result.name == name and result.profile == "smoke"
    assert result.expected == module.EXPECTED and result.paper == module.PAPER
    for v in variants:
        for k in keys:
            assert np.isfinite(result.metrics[v][k])
    assert result.outcome in ("holds", "does not hold", "inconclusive", "invalid") and result.verdict
    assert result.table.startswith("|")
    assert [c["key"] for c in result.claims] == [c.key for c in module.CLAIMS]
    per_seed = result.metrics["per_seed"]
    if not per_seed:  # every smoke warm-up failed its gate: invalid, never a result
        assert result.outcome == "invalid"
    elif name == "boundary":
        assert result.claims[0]["differences"] == pytest.approx(
            [r["gdl+boundary"]["dice"] - r["gdl"]["dice"] for r in per_seed])
        assert result.claims[1]["differences"] == pytest.approx(
            [r["gdl"]["hd95"] - r["gdl+boundary"]["hd95"] for r in per_seed])
        assert result.claims[0]["group"] == result.claims[1]["group"] == "dice_hd95"  # Holm co-primaries
    else:
        assert result.claims[1]["differences"] == pytest.approx(
            [r["ce+gradient"]["boundary_f"] - r["ce+erosion"]["boundary_f"] for r in per_seed])
    # a seed whose warm-up failed its gate is replaced, never counted
    assert len(per_seed) + len(result.metrics["replaced_seeds"]) <= 3
    assert bool(result.figures) == bool(per_seed)  # the example figure shows the first valid seed
    assert all((tmp_path / f).stat().st_size > 1000 for f in result.figures)
    json.dumps(result.to_dict())  # JSON-serializable


def test_authors_weight_schedule_keeps_gdl_weight_at_least_0_1():
    from losslab.experiments.boundary import steal_weight

    w = steal_weight(200, 200)
    assert w[0] == (1.0, 0.01) and w[1] == pytest.approx((0.99, 0.02))
    assert min(a for a, _ in w) == pytest.approx(0.1) and w[-1][1] == pytest.approx(0.01 + 0.01 * 199)
    short = steal_weight(20, 10)  # the same trajectory per fraction of training, on a shorter budget
    assert short[1] == pytest.approx((0.9, 0.11))


def test_lesion_recall_and_erosion():
    from losslab.experiments.boundary import lesion_recall
    from losslab.experiments.gradient import erode

    gt = np.zeros((12, 12), bool)
    gt[1:3, 1:3] = True
    gt[7:10, 7:10] = True
    pred = np.zeros_like(gt)
    pred[8, 8] = True
    assert lesion_recall(pred, gt) == (1, 2)
    assert lesion_recall(gt, gt) == (2, 2) and lesion_recall(pred, np.zeros_like(gt)) == (0, 0)
    block = np.zeros((1, 9, 9), bool)
    block[0, 2:7, 2:7] = True
    assert erode(block, 1).sum() == 9 and erode(block, 0) is block


def test_same_seed_same_numbers():
    module = load("gradient")
    small = dict(n_train=8, n_val=4, n_test=4, warmup=2, epochs=1)
    a, b = module.run("smoke", seed=3, **small), module.run("smoke", seed=3, **small)
    assert a.metrics == b.metrics


def test_metrics_by_hand():
    a = np.zeros((9, 9), bool)
    a[2:5, 2:5] = True
    assert hausdorff95(a, a) == 0.0
    b = np.roll(a, 3, axis=1)  # shifted by 3 px
    assert hausdorff95(a, b) == pytest.approx(3.0)
    assert hausdorff95(np.zeros_like(a), a) == pytest.approx(np.hypot(9, 9))
    assert boundary_f_score(a, a) == 1.0
    assert boundary_f_score(a, np.roll(a, 1, axis=0)) == pytest.approx(1.0)  # within the 1 px tolerance
    assert boundary_f_score(a, b) < 0.5


def test_blobs_are_highly_unbalanced():
    _, labels = make_blobs(np.random.default_rng(0), 64, 48)
    assert 0.005 < labels.float().mean().item() < 0.02


def test_boundary_f_small_tolerance_needs_exact_edges():
    a = np.zeros((9, 9), bool)
    a[2:5, 2:5] = True
    assert boundary_f_score(a, a, tolerance=0.5) == 1.0
    # shifted by one pixel: only the edge pixels that still overlap match (4 of 8 on each side)
    assert boundary_f_score(a, np.roll(a, 1, axis=0), tolerance=0.5) == pytest.approx(0.5)


def test_strands_coarse_labels_contain_the_precise_ones():
    from losslab.experiments.gradient import make_strands

    images, fine, coarse = make_strands(np.random.default_rng(0), 8, 48)
    assert images.shape == (8, 3, 48, 48) and float(images.min()) >= 0 and float(images.max()) <= 1
    assert bool((coarse >= fine).all()) and coarse.sum() > 1.3 * fine.sum()
    # the coarse margin varies: no constant erosion maps coarse onto fine
    from losslab.experiments.gradient import erode

    c, f = coarse.numpy().astype(bool), fine.numpy().astype(bool)
    assert all((erode(c, k) != f).mean() > 0.02 for k in range(4))
    # the strands' edges are image edges: the strand pixels are darker than the pixels just outside them
    grey = images.mean(1)
    ring = coarse.bool() & ~fine.bool()
    assert grey[fine.bool()].mean() < grey[ring].mean() - 0.15
