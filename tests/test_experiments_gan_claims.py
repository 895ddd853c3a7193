"""The gan-claims experiment: smoke run, the claims table, and its metrics against hand-worked cases."""

from __future__ import annotations

import json
import math

import pytest
import torch

from losslab import experiments
from losslab.experiments import _dcgan as D
from losslab.experiments import gan_claims as E

REQUIRED = {"claim", "endpoint", "smallest_effect", "n_seeds", "differences", "lower", "upper", "outcome"}


def test_gan_claims_smoke(tmp_path):
    assert experiments.load("gan-claims") is E
    assert set(E.PROFILES) == {"smoke", "quick", "full"}
    result = E.run("smoke", seed=0, out_dir=tmp_path)
    assert [c["key"] for c in result.claims] == [c.key for c in E.CLAIMS]  # smoke runs the grid too
    for c in result.claims:
        n = E.DIGIT_SEEDS["smoke"] if c["key"].startswith("lsgan_digits") else E.SEEDS["smoke"]
        assert REQUIRED <= set(c) and c["n_seeds"] == n and len(c["differences"]) == n
        assert c["outcome"] in ("holds", "does not hold", "inconclusive", "invalid")
    runs = result.metrics["runs"]
    ls, ns = runs[f"{E.LS} / ring"], runs[f"{E.NS} / ring"]
    assert result.claims[0]["differences"] == pytest.approx([a - b for a, b in zip(ls["modes"], ns["modes"])])
    assert result.claims[5]["differences"] == pytest.approx(runs[f"{E.WGAN} / ring"]["rho"])
    assert all(-1 <= r <= 1 for v in runs.values() for r in v["rho"])
    assert result.figures == ["gan_claims_samples.png", "gan_claims_loss_vs_distance.png", "gan_claims_digits.png"]
    assert all((tmp_path / f).stat().st_size > 0 for f in result.figures)
    # the digits (toy size in smoke): paired differences of the per-seed class metrics, in the declared order
    digits = result.metrics["digits"]
    nd = E.DIGIT_SEEDS["smoke"]
    dls, dns = digits["per_loss"][E.LS], digits["per_loss"][E.NS]
    by_key = {c["key"]: c for c in result.claims}
    assert by_key["lsgan_digits_classes"]["n_seeds"] == nd and len(dls["coverage"]) == nd
    assert by_key["lsgan_digits_classes"]["differences"] == pytest.approx(
        [a - b for a, b in zip(dls["coverage"], dns["coverage"])])
    assert by_key["lsgan_digits_kl"]["differences"] == pytest.approx([b - a for a, b in zip(dls["kl"], dns["kl"])])
    assert all(0 <= c <= 10 and sum(n) <= E.PROFILES["smoke"]["digit_samples"]
               for d in (dls, dns) for c, n in zip(d["coverage"], d["counts"]))
    # one judge per seed (each seed replicates split, judge and both GANs); the gate reads the weakest judge
    assert len(digits["judge_accuracies"]) == nd and digits["judge_accuracy"] == min(digits["judge_accuracies"])
    assert all(0.0 <= a <= 1.0 for a in digits["judge_accuracies"])
    assert "classes covered" in result.table and "Mao et al." in result.table
    json.dumps(result.to_dict())


def test_quick_profile_skips_the_digits():
    assert E.PROFILES["quick"]["digits"] is False and E.PROFILES["full"]["digits"] is True
    full = E.PROFILES["full"]
    # the full profile's digit budget (~0.03 CPU-s per step, loss and seed) stays within ~800 CPU-s
    assert 2 * E.DIGIT_SEEDS["full"] * full["digit_steps"] * full["digit_width"] / 32 * 0.03 <= 800


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


def test_class_metrics_hand_cases():
    k, n = 10, 200
    # every sample confidently in class 3: one class covered; KL by hand over the 10 classes + the unrecognised bin
    collapsed = torch.full((n, k), 0.001)
    collapsed[:, 3] = 1 - 0.009
    m = D.class_metrics(collapsed, confidence=0.9, cover_share=0.02)
    q1, q0 = (n + 0.5) / (n + 0.5 * (k + 1)), 0.5 / (n + 0.5 * (k + 1))
    assert m["coverage"] == 1 and m["counts"][3] == n and m["recognised"] == 1.0
    assert m["kl"] == pytest.approx((math.log(0.1 / q1) + 9 * math.log(0.1 / q0)) / 10)
    assert m["confidence"] == pytest.approx(0.991)
    # evenly spread and recognised: all 10 classes, KL = log((n + 5.5) / (n + 5)), ~0
    uniform = torch.eye(k).repeat(n // k, 1)
    m = D.class_metrics(uniform, confidence=0.9, cover_share=0.02)
    assert m["coverage"] == 10 and m["kl"] == pytest.approx(math.log((n + 5.5) / (n + 5.0)))
    assert m["kl"] < 0.003
    # the same spread, but under the confidence threshold: nothing recognised, nothing covered
    m = D.class_metrics(torch.full((n, k), 0.1), confidence=0.9, cover_share=0.02)
    assert m["coverage"] == 0 and m["recognised"] == 0.0 and m["kl"] == pytest.approx(math.log(0.1 / q0))
    # the coverage threshold: a class with fewer than 2 % of the samples is not covered
    few = torch.eye(k)[torch.tensor([0] * 197 + [1] * 3)]
    m = D.class_metrics(few, confidence=0.9, cover_share=0.02)
    assert m["coverage"] == 1 and m["counts"][:2] == [197, 3]


def test_histogram_kl_matches_occupancy_kl_convention():
    counts = torch.tensor([5, 0, 12])
    total = 20  # 3 samples in the extra bin
    q = [(c + 0.5) / (total + 0.5 * 4) for c in (5, 0, 12)]
    assert D.histogram_kl(counts, total) == pytest.approx(sum(math.log((1 / 3) / v) for v in q) / 3)


def test_dcgan_shapes_and_common_random_numbers():
    gen, disc = D.DCGenerator(z_dim=8, width=4), D.DCDiscriminator(width=4)
    D.init_dcgan_(gen, torch.Generator().manual_seed(0))
    z = torch.randn(5, 8, generator=torch.Generator().manual_seed(1)) * 50  # saturate the tanh
    x = gen(z)
    assert x.shape == (5, 1, 28, 28) and x.abs().max() <= 1
    assert disc(x).shape == (5,)
    assert gen.up1.weight.std().item() == pytest.approx(0.02, rel=0.3)
    cfg = dict(z_dim=8, width=4, lr_g=1e-3, lr_d=1e-3, betas=(0.5, 0.999), batch=8, steps=0, d_batchnorm=True)
    real = torch.rand(16, 1, 28, 28) * 2 - 1
    # zero steps: both losses start from the same generator (common random numbers); one step moves them apart
    a, b = D.train_gan("least-squares", real, cfg, 3), D.train_gan("non-saturating", real, cfg, 3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(D.train_gan("least-squares", real, cfg, 4).fc.weight, a.fc.weight)
    cfg["steps"] = 1
    a1, b1 = D.train_gan("least-squares", real, cfg, 3), D.train_gan("non-saturating", real, cfg, 3)
    assert not torch.equal(a1.fc.weight, b1.fc.weight)
    images = D.generate(a1, 7, 8)
    assert images.shape == (7, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
