"""Smoke runs of the bi-tempered experiments: the Result structure, holds computed from metrics, the figures."""

from __future__ import annotations

import json

import pytest

from losslab.experiments import Result, available, load


@pytest.mark.parametrize("name,figure", [("noisy-labels", "noisy_labels_accuracy.png"), ("noise-2d", "noise_2d_boundaries.png")])
def test_smoke_profile(tmp_path, name, figure):
    assert name in available()
    module = load(name)
    assert set(module.PROFILES) == {"smoke", "quick", "full"}
    result = module.run("smoke", seed=0, out_dir=tmp_path)
    assert isinstance(result, Result)
    assert result.name == name and result.profile == "smoke" and result.seed == 0
    assert result.expected == module.EXPECTED and result.paper == module.PAPER
    assert isinstance(result.holds, bool) and result.verdict and result.table.startswith("| ")
    assert result.figures == [figure]
    png = tmp_path / figure
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    json.dumps(result.to_dict())  # JSON-serializable
    if name == "noisy-labels":
        final, drop = result.metrics["final_accuracy"], result.metrics["accuracy_drop"]
        assert set(final) == {"logistic", "bi-tempered (0.5, 4.0)"}
        for loss, values in final.items():
            assert set(values) == {"0.0", "0.4"} and all(0.0 <= v <= 1.0 for v in values.values())
            assert drop[loss] == pytest.approx(values["0.0"] - values["0.4"])
        assert result.holds == (drop["bi-tempered (0.5, 4.0)"] + module.MARGIN < drop["logistic"])
        assert "(paper, MNIST)" in result.table and "99.24" in result.table
    else:
        gain = result.metrics["gain"]
        assert set(gain) == set(module.SETTINGS)
        assert result.holds == (result.metrics["mean_gain_noisy"] > module.MARGIN)
        assert result.metrics["flipped_fraction"]["noise-free"] == 0.0
        assert all(result.metrics["flipped_fraction"][s] > 0.02 for s in module.SETTINGS[1:])


def test_same_seed_same_numbers():
    module = load("noise-2d")
    a, b = module.run("smoke", seed=3), module.run("smoke", seed=3)
    assert a.metrics["accuracy_mean"] == b.metrics["accuracy_mean"] and a.figures == []


def test_unknown_profile():
    with pytest.raises(ValueError, match="profile: expected one of"):
        load("noisy-labels").run("huge")
