"""The noisy-field experiment: smoke run, the claims table and its paired differences, the protocol's pieces."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from losslab import experiments
from losslab.experiments import noisy_field as E

REQUIRED = {"claim", "endpoint", "smallest_effect", "n_seeds", "differences", "lower", "upper", "outcome"}


def test_noisy_field_smoke(tmp_path):
    assert experiments.load("noisy-field") is E
    assert set(E.PROFILES) == {"smoke", "quick", "full"}
    result = E.run("smoke", seed=0, out_dir=tmp_path)
    n = E.SEEDS["smoke"]
    assert [c["key"] for c in result.claims] == [c.key for c in E.CLAIMS]
    for c in result.claims:
        assert REQUIRED <= set(c) and c["n_seeds"] == n and len(c["differences"]) == n
        assert c["outcome"] in ("holds", "does not hold", "inconclusive", "invalid") and c["gates"]
    acc = result.metrics["checkpoint_accuracy"]
    hi = f"{E.PROFILES['smoke']['noise'][-1]:.1f}"
    gce = [b - a for a, b in zip(acc["CE"][hi], acc["GCE (q 0.7)"][hi])]
    assert result.claims[0]["differences"] == pytest.approx(gce)
    field = [sum(acc[f][hi][s] for f in E.FIELD) / len(E.FIELD) for s in range(n)]
    bt = [b - a for a, b in zip(field, acc[E.BI_TEMPERED][hi])]
    assert result.claims[-1]["differences"] == pytest.approx(bt)
    assert all(0.0 <= v <= 1.0 for d in acc.values() for vs in d.values() for v in vs)
    # the published tables are shown beside ours
    assert "Bi-tempered Table 1" in result.table and "unverified" in result.table
    assert result.figures == ["noisy_field_accuracy.png"] and (tmp_path / result.figures[0]).stat().st_size > 0
    json.dumps(result.to_dict())


def test_losses_at_their_papers_settings_reduce_to_known_forms():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(16, 10, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (16,), generator=g)
    p = z.softmax(1).gather(1, y[:, None]).squeeze(1)
    # independent float64 references from the papers' formulas
    torch.testing.assert_close(E.LOSSES["GCE (q 0.7)"](z, y), ((1 - p**0.7) / 0.7).mean())
    ce = F.cross_entropy(z, y, reduction="none")
    rce = 4 * (1 - p)  # -sum_k p_k log q_k with log 0 := -4: only the non-label classes contribute
    torch.testing.assert_close(E.LOSSES["SCE (0.01, 1.0)"](z, y), (0.01 * ce + rce).mean())
    nce = ce / -z.log_softmax(1).sum(1)
    torch.testing.assert_close(E.LOSSES["NCE+RCE (1, 10)"](z, y), (nce + 10 * rce).mean())
    torch.testing.assert_close(E.LOSSES["Taylor CE (t 2)"](z, y), ((1 - p) + (1 - p) ** 2 / 2).mean())
    q = z.softmax(1)
    boot = -(0.95 * F.one_hot(y, 10) + 0.05 * q.detach()) * z.log_softmax(1)
    torch.testing.assert_close(E.LOSSES["bootstrap soft (0.95)"](z, y), boot.sum(1).mean())
