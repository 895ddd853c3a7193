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
    ("boundary", ("gdl", "gdl+boundary"), ("dice", "hd95")),
    ("gradient", ("ce", "ce+gradient"), ("boundary_f", "iou")),
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
    assert isinstance(result.holds, bool) and result.verdict and result.table.startswith("|")
    assert result.figures and all((tmp_path / f).stat().st_size > 1000 for f in result.figures)
    json.dumps(result.to_dict())  # JSON-serializable
    assert result.seconds < 10


def test_same_seed_same_numbers():
    module = load("gradient")
    a, b = module.run("smoke", seed=3), module.run("smoke", seed=3)
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
    _, labels = make_blobs(np.random.default_rng(0), 64, 32)
    assert 0.005 < labels.float().mean().item() < 0.02
