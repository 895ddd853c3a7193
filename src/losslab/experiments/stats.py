"""The lab's evidence standard: pre-declared sub-claims judged on paired per-seed differences.

Every experiment splits its paper's claim into **sub-claims**. Each sub-claim is declared in the experiment's
source, before anything runs, as a :class:`SubClaim`: one sentence, one primary endpoint, the *smallest effect
of interest* (SESOI) and the number of seeds per profile. An experiment then

1. trains every arm on the same seeds with **common random numbers** (one initialization, one data stream and
   one noise stream per seed, shared by all arms), so the unit of analysis is the seed and the arms' results
   are paired;
2. computes, per seed, the paired difference of the endpoint, **oriented so that a positive value favours the
   claim** (e.g. ``acc(bi-tempered) - acc(logistic)``, or ``HD95(GDL) - HD95(GDL + boundary)`` for a distance
   that should fall);
3. runs the **sanity gates** (a collapsed baseline, a net that never learned, an arm that under-fits clean
   labels): a failed gate makes the sub-claim *invalid*, never a tie or a loss;
4. calls :func:`judge` with the differences, which returns a :class:`ClaimResult`.

Outcomes (``alpha = 0.05`` one-sided; bounds are **t-based**, ``mean ± t(1 - alpha', n - 1) · sd / sqrt(n)``, with
``alpha'`` the Holm-adjusted level of the sub-claim within its group of co-primary endpoints):

* ``"holds"``: the one-sided lower bound is above 0 (Holm-adjusted p < 0.05) **and** the mean is at least the
  smallest effect of interest;
* ``"does not hold"``: the one-sided upper bound is below the smallest effect of interest (an effect that large
  is excluded);
* ``"inconclusive"``: neither; :attr:`ClaimResult.seeds_to_decide` is the number of seeds at which a true effect
  of the SESOI would be detected with 80 % power given the observed spread, ``ceil(6.18 (sd / SESOI)^2)``
  (``(z_0.95 + z_0.80)^2 = 6.18``);
* ``"invalid"``: a sanity gate failed.

Several sub-claims that are co-primary endpoints of one claim share a ``group``; :func:`judge_all` applies the
Holm step-down correction within each group. A deterministic endpoint (zero spread, e.g. a float64 simulation
replicated over point clouds) has bounds equal to its mean.

The seeds that judge are never the seeds that tuned: exploration uses :data:`TUNE_BLOCK` (seeds 0-999);
:func:`judge_seeds` returns the confirmation block ``10_000 + 1_000 * base + k``.

Example:
    >>> claim = SubClaim("gain", "Arm B beats arm A.", endpoint="accuracy B - A", smallest_effect=0.01,
    ...                  seeds={"smoke": 2, "quick": 5, "full": 10})
    >>> r = judge(claim, [0.031, 0.025, 0.040, 0.028, 0.035])
    >>> r.outcome, round(r.lower, 4), r.n_positive
    ('holds', 0.0262, 5)
    >>> judge(claim, [0.002, -0.001, 0.001, 0.0, 0.003]).outcome
    'does not hold'
    >>> judge(claim, [0.03, -0.02, 0.01, 0.04, -0.01]).outcome
    'inconclusive'
    >>> judge(claim, [0.03, 0.03], gates={"baseline learned": False}).outcome
    'invalid'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from scipy import stats as _st

__all__ = [
    "ALPHA",
    "OUTCOMES",
    "TUNE_BLOCK",
    "ClaimResult",
    "SubClaim",
    "judge",
    "judge_all",
    "judge_seeds",
    "mcnemar",
    "overall",
    "seeds_for_power",
]

ALPHA = 0.05  # one-sided
OUTCOMES = ("holds", "does not hold", "inconclusive", "invalid")
TUNE_BLOCK = range(0, 1000)
_POWER_FACTOR = (1.6448536269514722 + 0.8416212335729143) ** 2  # (z_0.95 + z_0.80)^2 = 6.18


@dataclass(frozen=True)
class SubClaim:
    """A sub-claim fixed in an experiment's source before it runs.

    Attributes:
        key: Short identifier (unique within the experiment).
        claim: The sub-claim in one sentence.
        endpoint: The primary endpoint: the per-seed paired difference, oriented so that positive favours the
            claim, with its unit (e.g. ``"PSNR(MSE) - PSNR(perceptual), dB"``).
        smallest_effect: The smallest effect of interest (> 0, the endpoint's unit).
        seeds: Seeds per profile, ``{"smoke": n, "quick": n, "full": n}`` (from a power calculation on pilot
            spreads: ``n ≈ 6.2 (sd / SESOI)^2``).
        group: Sub-claims with the same group are co-primary endpoints of one claim (Holm within the group);
            ``None`` for a sub-claim of its own.
        pilot_sd: The paired spread the seed counts were planned from (documentation; recorded in results).
    """

    key: str
    claim: str
    endpoint: str
    smallest_effect: float
    seeds: Mapping[str, int]
    group: str | None = None
    pilot_sd: float | None = None

    def __post_init__(self) -> None:
        if not (self.smallest_effect > 0 and math.isfinite(self.smallest_effect)):
            raise ValueError(f"smallest_effect: expected a finite number > 0, got {self.smallest_effect!r}")
        missing = {"smoke", "quick", "full"} - set(self.seeds)
        if missing:
            raise ValueError(f"seeds: expected counts for smoke, quick and full, missing {sorted(missing)}")

    def n(self, profile: str) -> int:
        """Seeds for ``profile``."""
        return int(self.seeds[profile])


@dataclass
class ClaimResult:
    """The judged sub-claim, as stored in ``results.json["experiments"][NAME]["claims"]``."""

    key: str
    claim: str
    endpoint: str
    smallest_effect: float
    n_seeds: int
    differences: list[float]
    mean: float
    sd: float
    lower: float
    upper: float
    level: float
    p_value: float
    p_holm: float
    n_positive: int
    outcome: str
    seeds_to_decide: int | None
    gates: dict[str, bool] = field(default_factory=dict)
    group: str | None = None
    pilot_sd: float | None = None
    bound: str = "t"
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def sentence(self) -> str:
        """One line: outcome, mean, bounds and SESOI."""
        lvl = f"{100 * (1 - self.level):.1f}".rstrip("0").rstrip(".")
        s = (
            f"{self.outcome}: mean {self.mean:+.4g} over {self.n_seeds} seeds ({self.n_positive}/{self.n_seeds} "
            f"positive), one-sided {lvl}% bounds [{_fmt(self.lower)}, {_fmt(self.upper)}], smallest effect "
            f"{self.smallest_effect:g}"
        )
        if self.outcome == "invalid":
            s += " (failed gates: " + ", ".join(k for k, ok in self.gates.items() if not ok) + ")"
        elif self.outcome == "inconclusive" and self.seeds_to_decide:
            s += f"; about {self.seeds_to_decide} seeds would decide it"
        return s


def _fmt(x: float) -> str:
    return f"{x:+.4g}" if math.isfinite(x) else ("+inf" if x > 0 else "-inf")


def judge_seeds(base: int, n: int) -> list[int]:
    """The confirmation block of seeds for base seed ``base``: ``10_000 + 1_000 * base + k``, ``k < n``.

    Exploration and tuning use :data:`TUNE_BLOCK` (0-999), so the seeds that judge never tuned anything.
    """
    return [10_000 + 1_000 * base + k for k in range(n)]


def seeds_for_power(sd: float, smallest_effect: float) -> int:
    """Seeds for 80 % power at one-sided 5 % when the true effect equals ``smallest_effect``: ``6.18 (sd/SESOI)^2``."""
    if sd <= 0:
        return 2
    return max(2, math.ceil(_POWER_FACTOR * (sd / smallest_effect) ** 2))


def _t_stats(diffs: Sequence[float]) -> tuple[float, float, float]:
    """``(mean, sd, one-sided p for mean <= 0)``."""
    n = len(diffs)
    mean = math.fsum(diffs) / n
    if n < 2:
        return mean, math.nan, 0.5
    sd = math.sqrt(math.fsum((d - mean) ** 2 for d in diffs) / (n - 1))
    if sd == 0:
        return mean, 0.0, 0.0 if mean > 0 else 1.0
    t = mean / (sd / math.sqrt(n))
    return mean, sd, float(_st.t.sf(t, n - 1))


def _bounds(mean: float, sd: float, n: int, level: float) -> tuple[float, float]:
    if n < 2 or math.isnan(sd):
        return -math.inf, math.inf
    if sd == 0:
        return mean, mean
    half = float(_st.t.ppf(1 - level, n - 1)) * sd / math.sqrt(n)
    return mean - half, mean + half


def judge(
    claim: SubClaim,
    differences: Sequence[float],
    *,
    gates: Mapping[str, bool] | None = None,
    level: float = ALPHA,
    p_holm: float | None = None,
    note: str = "",
) -> ClaimResult:
    """Judge one sub-claim from its per-seed paired differences (positive favours the claim).

    Args:
        claim: The pre-declared sub-claim.
        differences: One paired difference per seed.
        gates: ``{gate description: passed}``; any failed gate makes the outcome ``"invalid"``.
        level: One-sided level of the bounds (Holm-adjusted by :func:`judge_all`).
        p_holm: The Holm-adjusted p-value (defaults to the raw one).
        note: Free text shown in the report next to the outcome.
    """
    diffs = [float(d) for d in differences]
    if not diffs:
        raise ValueError(f"differences: expected at least one per-seed difference for {claim.key!r}, got none")
    if not all(math.isfinite(d) for d in diffs):
        raise ValueError(f"differences: expected finite numbers for {claim.key!r}, got {diffs}")
    gates = {str(k): bool(v) for k, v in (gates or {}).items()}
    mean, sd, p = _t_stats(diffs)
    p_adj = p if p_holm is None else p_holm
    lower, upper = _bounds(mean, sd, len(diffs), level)
    sesoi = claim.smallest_effect
    if not all(gates.values()):
        outcome = "invalid"
    elif lower > 0 and p_adj < ALPHA and mean >= sesoi:
        outcome = "holds"
    elif upper < sesoi:
        outcome = "does not hold"
    else:
        outcome = "inconclusive"
    to_decide = None
    if outcome == "inconclusive":
        to_decide = seeds_for_power(sd if math.isfinite(sd) else sesoi, sesoi)
        to_decide = max(to_decide, len(diffs) + 1)
    return ClaimResult(
        key=claim.key, claim=claim.claim, endpoint=claim.endpoint, smallest_effect=sesoi, n_seeds=len(diffs),
        differences=diffs, mean=mean, sd=sd if math.isfinite(sd) else 0.0, lower=lower, upper=upper, level=level,
        p_value=p, p_holm=p_adj, n_positive=sum(d > 0 for d in diffs), outcome=outcome, seeds_to_decide=to_decide,
        gates=gates, group=claim.group, pilot_sd=claim.pilot_sd, note=note,
    )


def judge_all(
    items: Sequence[tuple[SubClaim, Sequence[float]]],
    *,
    gates: Mapping[str, Mapping[str, bool]] | None = None,
    notes: Mapping[str, str] | None = None,
) -> list[ClaimResult]:
    """Judge several sub-claims, with Holm's step-down correction within each ``group`` of co-primary endpoints.

    Within a group of ``m`` sub-claims sorted by raw p-value, the ``i``-th (from 0) is tested at ``alpha / (m - i)``;
    its Holm-adjusted p-value is the running maximum of ``(m - i) p_(i)``. Its bounds are computed at that level.

    Args:
        items: ``(sub-claim, per-seed differences)`` pairs.
        gates: ``{sub-claim key: {gate: passed}}``.
        notes: ``{sub-claim key: note}``.
    """
    gates = gates or {}
    notes = notes or {}
    levels: dict[str, tuple[float, float]] = {}
    groups: dict[str, list[tuple[SubClaim, float]]] = {}
    for claim, diffs in items:
        if claim.group is not None:
            groups.setdefault(claim.group, []).append((claim, _t_stats([float(d) for d in diffs])[2]))
    for members in groups.values():
        members.sort(key=lambda cp: cp[1])
        m, running = len(members), 0.0
        for i, (claim, p) in enumerate(members):
            running = max(running, min(1.0, (m - i) * p))
            levels[claim.key] = (ALPHA / (m - i), running)
    out = []
    for claim, diffs in items:
        level, p_holm = levels.get(claim.key, (ALPHA, None))
        out.append(judge(claim, diffs, gates=gates.get(claim.key), level=level, p_holm=p_holm,
                         note=notes.get(claim.key, "")))
    return out


def overall(claims: Sequence[ClaimResult]) -> str:
    """An experiment's outcome from its sub-claims: ``invalid`` if any is, else ``does not hold`` if any does not,
    else ``inconclusive`` if any is, else ``holds``."""
    outcomes = {c.outcome for c in claims}
    for word in ("invalid", "does not hold", "inconclusive"):
        if word in outcomes:
            return word
    return "holds" if claims else "inconclusive"


def mcnemar(a_correct: Sequence[bool], b_correct: Sequence[bool]) -> dict[str, float]:
    """Exact McNemar test of two classifiers' paired correctness on the same items.

    Returns ``{"b_only": n10, "a_only": n01, "p_two_sided": p}`` where ``b_only`` counts items only ``b`` gets right.
    """
    if len(a_correct) != len(b_correct):
        raise ValueError(f"a_correct, b_correct: expected equal lengths, got {len(a_correct)} and {len(b_correct)}")
    b_only = sum(bool(b) and not bool(a) for a, b in zip(a_correct, b_correct))
    a_only = sum(bool(a) and not bool(b) for a, b in zip(a_correct, b_correct))
    n = a_only + b_only
    p = 1.0 if n == 0 else float(min(1.0, 2 * _st.binom.cdf(min(a_only, b_only), n, 0.5)))
    return {"b_only": float(b_only), "a_only": float(a_only), "p_two_sided": p}
