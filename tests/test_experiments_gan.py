"""Smoke test of the ring-of-Gaussians GAN experiment, and its metric and model helpers."""

from __future__ import annotations

import json

import pytest
import torch

from losslab.experiments import gan_modes as E
from losslab.experiments import load


def test_mode_metrics_on_known_samples():
    centers = E.ring_centers(8, 2.0)
    std = 0.05
    # every sample exactly on a centre: all 8 modes, all high quality
    x = centers.repeat(10, 1)
    assert E.mode_metrics(x, centers, std, 0.02) == (8, 1.0)
    # all samples on one mode: 1 mode covered
    assert E.mode_metrics(centers[:1].repeat(50, 1), centers, std, 0.02) == (1, 1.0)
    # half the samples 3.5 std away from their mode (not high quality), half within 2 std
    off = torch.tensor([[3.5 * std, 0.0]])
    near = torch.tensor([[0.0, 2.0 * std]])
    x = torch.cat([centers + off, centers + near])
    modes, hq = E.mode_metrics(x, centers, std, 0.02)
    assert (modes, hq) == (8, 0.5)
    # a mode with too few high-quality samples is not covered
    x = torch.cat([centers[:1].repeat(99, 1), centers[1:2]])  # mode 1 holds 1% < 2% of the samples
    assert E.mode_metrics(x, centers, std, 0.02) == (1, 1.0)


def test_ring_samples_lie_near_the_modes():
    centers = E.ring_centers(8, 2.0)
    x = E.sample_ring(4000, centers, 0.05, torch.Generator().manual_seed(0))
    modes, hq = E.mode_metrics(x, centers, 0.05, 0.02)
    assert modes == 8 and hq > 0.98  # 3 std in 2-D holds 98.9% of a Gaussian


def test_ensemble_members_are_independent_networks():
    net = E.EnsembleMLP(3, [2, 5, 1], torch.Generator().manual_seed(0))
    x = torch.randn(3 * 4, 2)
    out = net(x)
    assert out.shape == (12, 1)
    # member 1 equals a plain MLP with member 1's weights on rows 4..7
    h = torch.relu(x[4:8] @ net.weights[0][1] + net.biases[0][1])
    torch.testing.assert_close(out[4:8], h @ net.weights[1][1] + net.biases[1][1])
    # member 0's output does not depend on member 2's parameters
    grads = torch.autograd.grad(out[:4].sum(), list(net.parameters()))
    assert all(g[2].abs().max() == 0 for g in grads)


def test_smoke_profile_runs_and_reports(tmp_path):
    assert load("gan") is E
    result = E.run("smoke", seed=0, out_dir=tmp_path)
    assert result.name == "gan" and result.profile == "smoke"
    assert result.outcome in ("holds", "does not hold", "inconclusive", "invalid")
    losses = result.metrics["losses"]
    assert list(losses) == list(E.LOSSES)
    seeds = E.SEEDS["smoke"]
    for v in losses.values():
        assert len(v["modes_covered"]) == seeds and all(0 <= m <= 8 for m in v["modes_covered"])
        assert 0.0 <= v["hq_fraction_mean"] <= 1.0 and len(v["hq_auc"]) == seeds
        assert len(v["curve_steps"]) == E.PROFILES["smoke"]["checkpoints"]
    # one sub-claim per comparison, on the paired per-seed differences
    claims = {c["key"]: c for c in result.claims}
    assert list(claims) == [c.key for c in E.CLAIMS]
    ns, sat = losses[E.NON_SATURATING], losses[E.SATURATING]
    assert claims["saturating_slow"]["differences"] == pytest.approx([a - b for a, b in zip(ns["hq_auc"], sat["hq_auc"])])
    assert claims["wgan_gp_modes"]["differences"] == [
        a - b for a, b in zip(losses["WGAN-GP"]["modes_covered"], ns["modes_covered"])]
    assert result.figures == ["gan_samples.png", "gan_learning_curves.png"]
    for f in result.figures:
        assert (tmp_path / f).stat().st_size > 1000
    assert "| loss |" in result.table
    json.dumps(result.to_dict())


def test_common_random_numbers_same_init_for_every_loss():
    cfg = {**E.DEFAULTS, **E.PROFILES["smoke"], "seeds": 2, "steps": 1, "checkpoints": 1}
    torch.manual_seed(0)
    a = E.train_loss("hinge", cfg, seed=5)
    b = E.train_loss("least-squares", cfg, seed=5)
    # one step from the same weights: the generators' samples differ only by that one update, not by the init
    assert (a["samples"] - b["samples"]).abs().max() < 0.5
    c = E.train_loss("hinge", cfg, seed=6)
    assert (a["samples"] - c["samples"]).abs().max() > 0.5


def test_same_seed_same_numbers():
    a = E.run("smoke", seed=3, steps=6, checkpoints=1)
    b = E.run("smoke", seed=3, steps=6, checkpoints=1)
    strip = lambda r: {k: {**v, "seconds": 0.0} for k, v in r.metrics["losses"].items()}  # noqa: E731
    assert strip(a) == strip(b)


def test_unknown_profile():
    with pytest.raises(ValueError, match="profile: expected one of"):
        E.run("medium")
