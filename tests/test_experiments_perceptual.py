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
        assert set(m[arm]) == {"psnr", "acc_loss_network", "acc_judge_cnn", "acc_judge_mlp", "acc_judge", "sharpness"}
        assert m[arm]["acc_judge"] == pytest.approx((m[arm]["acc_judge_cnn"] + m[arm]["acc_judge_mlp"]) / 2)
        assert math.isfinite(m[arm]["psnr"]) and m[arm]["psnr"] > 0
        assert 0.0 <= m[arm]["acc_loss_network"] <= 1.0 and 0.0 <= m[arm]["acc_judge"] <= 1.0
    assert m["originals"]["acc_loss_network"] > 0.3  # the loss network learned something even in the smoke run
    # holds is computed from the numbers
    checks = m["checks"]
    assert checks["mse_wins_psnr"] == (m["mse"]["psnr"] > m["perceptual"]["psnr"])
    assert checks["perceptual_higher_accuracy_judges"] == (m["perceptual"]["acc_judge"] > m["mse"]["acc_judge"])
    assert result.holds == (checks["mse_wins_psnr"] and checks["perceptual_higher_accuracy_judges"])
    assert "| SR net, perceptual loss |" in result.table and result.verdict
    assert result.figures == ["perceptual_examples.png"]
    png = out / "perceptual_examples.png"
    assert png.stat().st_size > 1000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    json.dumps(result.to_dict())  # JSON-serializable


def test_smoke_is_deterministic(smoke):
    result, _ = smoke
    again = exp.run("smoke", seed=0)
    assert again.metrics["mse"] == result.metrics["mse"]
    assert again.metrics["perceptual"] == result.metrics["perceptual"]
    assert again.figures == []  # no out_dir, no figure


def test_unknown_profile():
    with pytest.raises(ValueError, match="profile: expected one of"):
        exp.run("huge")
