"""The lab's evidence standard (experiments/stats.py) on synthetic paired differences: every outcome, Holm, power.

Oracles: bounds from the textbook formula with t quantiles from a printed table, Holm from its definition written
out by hand, McNemar's exact p from the binomial sum written out.
"""

from __future__ import annotations

import math

import pytest

from losslab.experiments import stats as S

CLAIM = S.SubClaim("gain", "B beats A.", endpoint="B - A", smallest_effect=0.01, seeds={"smoke": 2, "quick": 5, "full": 10})
T95 = {2: 2.919986, 4: 2.131847, 9: 1.833113}  # one-sided 95% t quantiles, df -> t (printed tables)


def _by_hand(d: list[float], t: float) -> tuple[float, float]:
    n = len(d)
    m = sum(d) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in d) / (n - 1))
    return m - t * sd / math.sqrt(n), m + t * sd / math.sqrt(n)


def test_holds_bounds_match_the_textbook_formula():
    d = [0.031, 0.025, 0.040, 0.028, 0.035]
    r = S.judge(CLAIM, d)
    lo, hi = _by_hand(d, T95[4])
    assert r.outcome == "holds" and r.n_seeds == 5 and r.differences == d and r.n_positive == 5
    assert r.lower == pytest.approx(lo, abs=1e-6) and r.upper == pytest.approx(hi, abs=1e-6)
    assert r.seeds_to_decide is None and r.bound == "t"


def test_significant_but_below_the_smallest_effect_does_not_hold():
    d = [0.004, 0.005, 0.006, 0.005, 0.0045, 0.0055, 0.005, 0.005, 0.0048, 0.0052]
    r = S.judge(CLAIM, d)
    assert r.lower > 0 and r.upper < 0.01 and r.outcome == "does not hold"


def test_positive_mean_above_sesoi_but_noisy_is_inconclusive_and_says_how_many_seeds():
    d = [0.05, -0.03, 0.04, -0.01, 0.02]
    r = S.judge(CLAIM, d)
    assert r.outcome == "inconclusive"
    sd = math.sqrt(sum((x - 0.014) ** 2 for x in d) / 4)
    assert r.seeds_to_decide == math.ceil(6.18 * (sd / 0.01) ** 2) or r.seeds_to_decide == math.ceil(
        (1.6448536 + 0.8416212) ** 2 * (sd / 0.01) ** 2)
    assert "seeds would decide it" in r.sentence()


def test_negative_effect_does_not_hold():
    r = S.judge(CLAIM, [-0.02, -0.03, -0.025])
    assert r.outcome == "does not hold" and r.upper < 0


def test_failed_gate_is_invalid_whatever_the_numbers():
    r = S.judge(CLAIM, [0.05, 0.06, 0.07], gates={"baseline learned (Dice >= 0.3)": False, "other": True})
    assert r.outcome == "invalid" and "baseline learned" in r.sentence()


def test_one_seed_is_inconclusive_and_zero_spread_is_exact():
    assert S.judge(CLAIM, [0.5]).outcome == "inconclusive"
    r = S.judge(CLAIM, [0.3, 0.3, 0.3])
    assert (r.lower, r.upper, r.outcome) == (0.3, 0.3, "holds")
    assert S.judge(CLAIM, [0.0, 0.0]).outcome == "does not hold"


def test_holm_within_a_group_of_co_primary_endpoints():
    a = S.SubClaim("a", "a", "a", 0.01, CLAIM.seeds, group="g")
    b = S.SubClaim("b", "b", "b", 0.01, CLAIM.seeds, group="g")
    c = S.SubClaim("c", "c", "c", 0.01, CLAIM.seeds)  # its own claim: no correction
    da = [0.05, 0.06, 0.055, 0.052, 0.058]  # tiny p
    db = [0.05, -0.01, 0.06, 0.02, 0.03]  # p between 0.025 and 0.05
    out = {r.key: r for r in S.judge_all([(a, da), (b, db), (c, db)])}
    pa, pb = S._t_stats(da)[2], S._t_stats(db)[2]
    assert pa < pb and 0.025 < pb < 0.05
    # Holm by hand: the smaller p is tested at alpha / 2, the larger at alpha / 1; adjusted p's running max.
    assert out["a"].level == pytest.approx(0.025) and out["b"].level == pytest.approx(0.05)
    assert out["a"].p_holm == pytest.approx(2 * pa) and out["b"].p_holm == pytest.approx(max(2 * pa, pb))
    assert out["c"].level == 0.05 and out["c"].p_holm == pytest.approx(pb)
    lo, _ = _by_hand(da, 2.776445)  # t(0.975, 4): the bound at the Holm level 0.025
    assert out["a"].lower == pytest.approx(lo, abs=1e-6) and out["a"].outcome == "holds"
    assert out["b"].outcome == "holds" and out["c"].outcome == "holds"


def test_holm_makes_a_marginal_co_primary_endpoint_inconclusive():
    a = S.SubClaim("a", "a", "a", 0.01, CLAIM.seeds, group="g")
    b = S.SubClaim("b", "b", "b", 0.01, CLAIM.seeds, group="g")
    d = [0.05, -0.01, 0.06, 0.02, 0.03]  # p ~ 0.03 each: holds alone, not at alpha / 2 ... after Holm
    alone = S.judge(a, d)
    both = S.judge_all([(a, d), (b, d)])
    assert alone.outcome == "holds"
    assert [r.outcome for r in both] == ["inconclusive", "inconclusive"]


def test_overall_and_seed_blocks_and_power():
    mk = lambda o: S.ClaimResult("k", "c", "e", 0.1, 3, [1, 1, 1], 1, 0, 1, 1, 0.05, 0, 0, 3, o, None)  # noqa: E731
    assert S.overall([mk("holds"), mk("holds")]) == "holds"
    assert S.overall([mk("holds"), mk("inconclusive")]) == "inconclusive"
    assert S.overall([mk("inconclusive"), mk("does not hold")]) == "does not hold"
    assert S.overall([mk("does not hold"), mk("invalid")]) == "invalid"
    assert S.judge_seeds(0, 3) == [10_000, 10_001, 10_002] and S.judge_seeds(1, 2) == [11_000, 11_001]
    assert not set(S.judge_seeds(0, 900)) & set(S.TUNE_BLOCK)
    assert S.seeds_for_power(0.02, 0.01) == math.ceil(6.182557 * 4)


def test_subclaim_declaration_is_checked():
    with pytest.raises(ValueError, match="smallest_effect"):
        S.SubClaim("k", "c", "e", 0.0, CLAIM.seeds)
    with pytest.raises(ValueError, match="seeds"):
        S.SubClaim("k", "c", "e", 0.1, {"quick": 3})
    with pytest.raises(ValueError, match="differences"):
        S.judge(CLAIM, [])


def test_mcnemar_exact():
    a = [True] * 10 + [False] * 3 + [True] * 1
    b = [True] * 10 + [True] * 3 + [False] * 1
    out = S.mcnemar(a, b)
    assert out["b_only"] == 3 and out["a_only"] == 1
    # exact two-sided: 2 * P(X <= 1), X ~ Bin(4, 1/2) = 2 * 5/16
    assert out["p_two_sided"] == pytest.approx(2 * (1 + 4) / 16)
