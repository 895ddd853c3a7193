"""What every experiment returns, and small helpers they share."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

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
    """

    name: str
    title: str
    paper: str
    expected: str
    profile: str
    seed: int
    metrics: dict[str, Any]
    holds: bool
    verdict: str
    table: str = ""
    figures: list[str] = field(default_factory=list)
    paper_numbers: dict[str, Any] | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


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
