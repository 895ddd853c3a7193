"""Smoke runs of the bi-tempered experiments: the Result structure, claims judged on paired differences, figures."""

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
    assert result.outcome in ("holds", "does not hold", "inconclusive", "invalid") and result.verdict
    assert result.table.startswith("| ")
    assert result.figures == [figure]
    png = tmp_path / figure
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    json.dumps(result.to_dict())  # JSON-serializable
    m = result.metrics
    if name == "noisy-labels":
        (claim,) = result.claims
        acc = m["checkpoint_accuracy"]
        assert set(acc) == {"logistic", "bi-tempered (0.8, 1.2)"}
        # the claim's differences are the paired checkpoint accuracies at the highest noise rate
        expected = [b - a for a, b in zip(acc["logistic"]["0.4"], acc["bi-tempered (0.8, 1.2)"]["0.4"])]
        assert claim["differences"] == pytest.approx(expected) and claim["n_seeds"] == 2
        gate_ok = sum(b - a for a, b in zip(acc["logistic"]["0.0"], acc["bi-tempered (0.8, 1.2)"]["0.0"])) / 2 >= -0.01
        assert (claim["outcome"] == "invalid") == (not gate_ok)
        assert "(paper, MNIST)" in result.table and "99.24" in result.table
    else:
        assert [c["key"] for c in result.claims] == ["small_margin", "large_margin", "random"]
        for c, setting in zip(result.claims, module.SETTINGS[1:]):
            assert c["differences"] == pytest.approx(m["paired_gain_per_seed"][setting])
            per = m["accuracy_per_seed"]
            assert c["differences"] == pytest.approx(
                [b - a for a, b in zip(per["logistic"][setting], per[f"bi-tempered ({module.T1}, {module.T2})"][setting])])
        assert m["flipped_fraction"]["noise-free"] == 0.0
        assert all(m["flipped_fraction"][s] > 0.02 for s in module.SETTINGS[1:])


def test_same_seed_same_numbers():
    module = load("noise-2d")
    a, b = module.run("smoke", seed=3, steps=20), module.run("smoke", seed=3, steps=20)
    assert a.metrics["accuracy_mean"] == b.metrics["accuracy_mean"] and a.figures == []


def test_unknown_profile():
    with pytest.raises(ValueError, match="profile: expected one of"):
        load("noisy-labels").run("huge")
