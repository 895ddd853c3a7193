"""The experiment base: what every experiment declares (:class:`Experiment`), what it returns (:class:`Result`),
and the small helpers they share.

An experiment module declares its sub-claims (:class:`~losslab.experiments.stats.SubClaim`) and one
``EXPERIMENT = Experiment(...)`` whose ``measure(ctx)`` trains the arms and returns a :class:`Measurement`;
``run = EXPERIMENT.run`` then gives the module the lab's protocol. :meth:`Experiment.run` holds the scaffolding
the eight experiments used to repeat: the profile check, the settings (profile plus overrides), seeding, the
default progress, timing, and the result record whose ``holds`` derives from the judged claims.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from . import stats

T = TypeVar("T")

# progress(iterable, desc=..., total=...) -> iterable; the runner passes a tqdm-like callable.
Progress = Callable[..., Iterable[Any]]


@dataclass
class Result:
    """The outcome of one experiment run.

    Attributes:
        name: The experiment's ``NAME``.
        title: Its ``TITLE``.
        paper: Citation of the paper whose claim it tests.
        expected: The claim in one sentence.
        profile: ``"smoke"`` | ``"quick"`` | ``"full"``.
        seed: The base seed.
        metrics: The measured numbers (JSON-serializable: numbers, strings, nested lists/dicts).
        holds: Whether the measurement shows the claim, computed from ``metrics``.
        verdict: One or two sentences saying why ``holds`` is what it is, with the deciding numbers.
        table: A Markdown table of the headline numbers (next to the paper's where it reports them).
        figures: Paths of the PNG figures written, relative to ``out_dir``.
        paper_numbers: What the paper reports for comparison (optional).
        seconds: Wall-clock time of the run.
        claims: The judged sub-claims (:meth:`losslab.experiments.stats.ClaimResult.to_dict`), one per row of the
            endpoint table.
        outcome: ``"holds"`` | ``"does not hold"`` | ``"inconclusive"`` | ``"invalid"``; derived from ``claims``
            (:func:`losslab.experiments.stats.overall`) when there are claims, else from ``holds``. ``holds`` is
            then ``True`` / ``False`` for the first two outcomes and ``None`` for the others.
    """

    name: str
    title: str
    paper: str
    expected: str
    profile: str
    seed: int
    metrics: dict[str, Any]
    holds: bool | None
    verdict: str
    table: str = ""
    figures: list[str] = field(default_factory=list)
    paper_numbers: dict[str, Any] | None = None
    seconds: float = 0.0
    claims: list[dict[str, Any]] = field(default_factory=list)
    outcome: str = ""

    def __post_init__(self) -> None:
        if self.claims:
            self.outcome = stats.overall([stats.ClaimResult(**c) for c in self.claims])
        elif not self.outcome:
            self.outcome = {True: "holds", False: "does not hold"}.get(self.holds, "inconclusive")  # type: ignore[arg-type]
        self.holds = {"holds": True, "does not hold": False}.get(self.outcome)

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass
class Measurement:
    """What an experiment's ``measure`` returns; :meth:`Experiment.run` turns it into a :class:`Result`.

    Attributes:
        metrics: The measured numbers (JSON-serializable).
        claims: The judged sub-claims (from :func:`losslab.experiments.stats.judge_all`).
        table: A Markdown table of the headline numbers.
        figures: PNG files written into ``out_dir`` (names relative to it).
        narrative: Optional sentences after the claims' outcomes (mechanism, caveats).
        paper_numbers: What the paper reports, for comparison.
    """

    metrics: dict[str, Any]
    claims: list[stats.ClaimResult]
    table: str = ""
    figures: list[str] = field(default_factory=list)
    narrative: str = ""
    paper_numbers: dict[str, Any] | None = None


@dataclass
class Context:
    """What ``measure`` gets: the profile, its settings (with overrides), the base seed, the output folder and
    the progress callable."""

    profile: str
    cfg: dict[str, Any]
    seed: int
    out_dir: Path | None
    progress: Progress

    def seeds(self, claim: stats.SubClaim | int) -> list[int]:
        """The judging seeds (:func:`losslab.experiments.stats.judge_seeds`) for a sub-claim or a count."""
        n = claim if isinstance(claim, int) else claim.n(self.profile)
        return stats.judge_seeds(self.seed, n)


@dataclass(frozen=True)
class Experiment:
    """One experiment: its identity, its pre-declared sub-claims and profiles, and ``measure(ctx)``.

    Attributes:
        name: The CLI name (``NAME``).
        title: ``TITLE``.
        paper: Citation(s) of the paper(s) whose claim it tests.
        expected: The paper's claim in one sentence.
        profiles: ``{"smoke": {...}, "quick": {...}, "full": {...}}`` of settings.
        claims: The sub-claims, fixed here before anything runs.
        measure: ``measure(ctx) -> Measurement``.
    """

    name: str
    title: str
    paper: str
    expected: str
    profiles: dict[str, dict[str, Any]]
    claims: tuple[stats.SubClaim, ...]
    measure: Callable[[Context], Measurement]

    def run(
        self,
        profile: str = "quick",
        *,
        seed: int = 0,
        out_dir: str | Path | None = None,
        progress: Progress | None = None,
        **overrides: Any,
    ) -> Result:
        """Run the experiment for ``profile`` with base seed ``seed``; ``overrides`` replace profile settings."""
        if profile not in self.profiles:
            raise ValueError(f"profile: expected one of {tuple(self.profiles)}, got {profile!r}")
        start = time.perf_counter()
        seed_everything(seed)
        ctx = Context(profile, {**self.profiles[profile], **overrides}, seed,
                      Path(out_dir) if out_dir is not None else None, progress or no_progress)
        m = self.measure(ctx)
        declared = {c.key: c for c in self.claims}
        unknown = [c.key for c in m.claims if c.key not in declared]
        if unknown:
            raise KeyError(f"claims: {unknown} are not declared in {self.name}'s source")
        claims = [c.to_dict() for c in m.claims]
        verdict = " ".join(f"{c.key}: {c.sentence()}." for c in m.claims)
        if m.narrative:
            verdict = f"{verdict} {m.narrative}".strip()
        metrics = {**m.metrics, "declared_claims": [asdict(c) for c in self.claims], "settings": ctx.cfg}
        return Result(
            name=self.name, title=self.title, paper=self.paper, expected=self.expected, profile=profile, seed=seed,
            metrics=metrics, holds=None, verdict=verdict, table=m.table, figures=m.figures,
            paper_numbers=m.paper_numbers, seconds=time.perf_counter() - start, claims=claims,
        )


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, torch.Tensor):
        return _jsonable(x.tolist())
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        v = float(x)
        return v if math.isfinite(v) else str(v)
    if isinstance(x, np.integer):
        return int(x)
    return x


def no_progress(iterable: Iterable[T], **_: Any) -> Iterator[T]:
    """The default ``progress``: iterate silently."""
    return iter(iterable)


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch and numpy's global generators and return a fresh ``torch.Generator`` seeded with ``seed``."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    return torch.Generator().manual_seed(seed)


def markdown_table(header: list[str], rows: list[list[Any]], floatfmt: str = ".3f") -> str:
    """A GitHub-flavoured Markdown table."""

    def cell(v: Any) -> str:
        return format(v, floatfmt) if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def figure_path(out_dir: str | Path | None, filename: str) -> Path | None:
    """``out_dir / filename`` (creating ``out_dir``), or ``None`` when no output folder was given."""
    if out_dir is None:
        return None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out / filename


def example_grid(
    path: Path,
    rows: list[tuple[str, list[Any], str | None]],
    title: str,
) -> None:
    """Save a grid of example images: one row per ``(label, images, cmap)``, one column per example."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = len(rows[0][1])
    fig, axes = plt.subplots(len(rows), cols, figsize=(2.0 * cols, 2.05 * len(rows)))
    axes = np.asarray(axes).reshape(len(rows), cols)
    for i, (label, images, cmap) in enumerate(rows):
        for j, image in enumerate(images):
            ax = axes[i, j]
            ax.imshow(image, cmap=cmap, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(label)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
