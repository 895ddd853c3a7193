"""The gan-claims experiment: smoke run, the claims table, and its metrics against hand-worked cases."""

from __future__ import annotations

import json
import math

import pytest
import torch

from losslab import experiments
from losslab.experiments import gan_claims as E

REQUIRED = {"claim", "endpoint", "smallest_effect", "n_seeds", "differences", "lower", "upper", "outcome"}


def test_gan_claims_smoke(tmp_path):
    assert experiments.load("gan-claims") is E
    assert set(E.PROFILES) == {"smoke", "quick", "full"}
    result = E.run("smoke", seed=0, out_dir=tmp_path)
    n = E.SEEDS["smoke"]
    assert [c["key"] for c in result.claims] == [c.key for c in E.CLAIMS]  # smoke runs the grid too
    for c in result.claims:
        assert REQUIRED <= set(c) and c["n_seeds"] == n and len(c["differences"]) == n
        assert c["outcome"] in ("holds", "does not hold", "inconclusive", "invalid")
    runs = result.metrics["runs"]
    ls, ns = runs[f"{E.LS} / ring"], runs[f"{E.NS} / ring"]
    assert result.claims[0]["differences"] == pytest.approx([a - b for a, b in zip(ls["modes"], ns["modes"])])
    assert result.claims[5]["differences"] == pytest.approx(runs[f"{E.WGAN} / ring"]["rho"])
    assert all(-1 <= r <= 1 for v in runs.values() for r in v["rho"])
    assert result.figures == ["gan_claims_samples.png", "gan_claims_loss_vs_distance.png"]
    assert all((tmp_path / f).stat().st_size > 0 for f in result.figures)
    json.dumps(result.to_dict())


def test_sliced_wasserstein_hand_cases():
    d = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    x = torch.randn(1, 50, 2, generator=torch.Generator().manual_seed(0))
    assert E.sliced_wasserstein(x, x, d).item() == 0.0
    # a shift by (3, 4): every projection's sorted samples move by the projected shift, |3| and |4|
    torch.testing.assert_close(E.sliced_wasserstein(x, x + torch.tensor([3.0, 4.0]), d), torch.tensor([3.5]))


def test_occupancy_kl_hand_cases():
    c = E.centers("ring")
    per_mode = c.repeat_interleave(100, 0)  # exactly uniform, all on the centres
    n, k = per_mode.shape[0], c.shape[0]
    q = (100 + 0.5) / (n + 0.5 * (k + 1))
    assert E.occupancy_kl(per_mode, c, 0.05) == pytest.approx(math.log((1 / k) / q))
    collapsed = c[:1].repeat(n, 1)  # everything on one mode
    q1, q0 = (n + 0.5) / (n + 0.5 * (k + 1)), 0.5 / (n + 0.5 * (k + 1))
    expected = (math.log((1 / k) / q1) + (k - 1) * math.log((1 / k) / q0)) / k
    assert E.occupancy_kl(collapsed, c, 0.05) == pytest.approx(expected)
    assert E.centers("grid").shape == (25, 2)
