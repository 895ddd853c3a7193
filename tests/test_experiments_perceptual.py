"""Smoke test of the perceptual super-resolution experiment: structure of the result and the figure."""

from __future__ import annotations

import json
import math

import pytest

from losslab import experiments
from losslab.experiments import perceptual as exp


def test_protocol_attributes():
    assert experiments.load("perceptual") is exp
    assert set(exp.PROFILES) == {"smoke", "quick", "full"}
    assert exp.EXPECTED and exp.PAPER and exp.TITLE


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("perceptual")
    return exp.run("smoke", seed=0, out_dir=out), out


def test_smoke_result_structure(smoke):
    result, out = smoke
    assert result.name == "perceptual" and result.profile == "smoke" and result.seed == 0
    m = result.metrics
    for arm in ("bicubic", "mse", "perceptual"):
        assert set(m[arm]) == {"psnr", "acc_loss_network", "acc_judge_cnn", "acc_judge_mlp", "acc_judge", "sharpness",
                               "feature_distance_judge"}
        assert m[arm]["acc_judge"] == pytest.approx((m[arm]["acc_judge_cnn"] + m[arm]["acc_judge_mlp"]) / 2)
        assert math.isfinite(m[arm]["psnr"]) and m[arm]["psnr"] > 0 and m[arm]["feature_distance_judge"] > 0
        assert 0.0 <= m[arm]["acc_loss_network"] <= 1.0 and 0.0 <= m[arm]["acc_judge"] <= 1.0
    assert m["originals"]["acc_loss_network"] > 0.3  # the loss network learned something even in the smoke run
    # the claims are the per-seed paired differences
    psnr, feat, sharp = result.claims
    per_seed = m["per_seed"]
    assert psnr["differences"] == pytest.approx([r["mse"]["psnr"] - r["perceptual"]["psnr"] for r in per_seed])
    assert feat["differences"] == pytest.approx(
        [1 - r["perceptual"]["feature_distance_judge"] / r["mse"]["feature_distance_judge"] for r in per_seed])
    assert sharp["differences"] == pytest.approx(
        [abs(1 - r["mse"]["sharpness"]) - abs(1 - r["perceptual"]["sharpness"]) for r in per_seed])
    assert set(m["judge_accuracy_mcnemar_first_seed"]) == {"cnn", "mlp"}
    assert "| SR net, perceptual loss |" in result.table and result.verdict
    assert result.figures == ["perceptual_examples.png"]
    png = out / "perceptual_examples.png"
    assert png.stat().st_size > 1000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    json.dumps(result.to_dict())  # JSON-serializable


def test_feature_distance_is_zero_only_on_identical_images():
    import torch

    net = exp.DigitCNN(8)
    x = torch.rand(4, 1, 8, 8)
    assert exp.feature_distance(net, x, x) == 0.0
    assert exp.feature_distance(net, x, torch.rand(4, 1, 8, 8)) > 0


def test_smoke_is_deterministic(smoke):
    result, _ = smoke
    again = exp.run("smoke", seed=0)
    assert again.metrics["mse"] == result.metrics["mse"]
    assert again.metrics["perceptual"] == result.metrics["perceptual"]
    assert again.figures == []  # no out_dir, no figure


def test_unknown_profile():
    with pytest.raises(ValueError, match="profile: expected one of"):
        exp.run("huge")
