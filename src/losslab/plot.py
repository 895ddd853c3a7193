"""Figures of losses: each loss as a function of the prediction for a fixed target, and two special plates.

* :func:`plot_losses` draws registered losses from their registry ``curve``, each on its own input axis
  (probability, logit or prediction), with the curve's hyperparameters in the legend.
* :func:`plot_tempered` draws the bi-tempered paper's Figure 1: the tempered logarithm for t < 1, the tempered
  exponential for t > 1, and the binary bi-tempered loss against the activation next to the logistic loss.
* :func:`plot_bce_soft` draws binary cross-entropy for soft targets: its minimum sits at prediction = target and
  its value there is the target's entropy, not 0 (with the Keras worked example).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path

import torch

from . import registry
from .classification import binary_cross_entropy
from .tempered import bi_tempered_binary_logistic_loss, exp_t, log_t

__all__ = ["SPECIAL", "input_axis", "hyperparameters", "plot_losses", "plot_tempered", "plot_bce_soft", "plot"]

# Names ``losslab plot`` accepts besides registered losses.
SPECIAL = {
    "tempered": "the bi-tempered paper's Figure 1 (log_t, exp_t, bi-tempered vs logistic loss)",
    "bce-soft": "binary cross-entropy with soft targets: minimum at prediction = target",
}

_CLASS_KINDS = ("probabilities", "logits", "activations", "critic scores")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out: str | Path) -> Path:
    """Write ``fig`` to ``out`` (creating its folder), close it, and return the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    _pyplot().close(fig)
    return out


# Each loss is drawn against what it takes: a probability axis, a raw-score (logit) axis or a prediction axis.
_AXES = {
    "probability": ("predicted probability p", (1e-3, 1 - 1e-3)),
    "score": ("raw score (logit) z, before the link", (-5.0, 5.0)),
    "value": ("prediction ŷ", None),
}
# Keyword arguments that are not hyperparameters of the curve's shape.
_NOT_HYPER = ("eps", "reduction", "ignore_index", "sample_weight", "weight", "class_weight", "normalizer",
              "label_smoothing", "num_iters")


def input_axis(spec: registry.LossSpec) -> str:
    """``"probability"``, ``"score"`` (logits and other raw scores) or ``"value"``: the x-axis a loss is drawn on."""
    if spec.input_kind == "probabilities":
        return "probability"
    if spec.input_kind in _CLASS_KINDS:
        return "score"
    return "value"


def _grid(spec: registry.LossSpec, target: float) -> torch.Tensor:
    _, span = _AXES[input_axis(spec)]
    lo, hi = span if span is not None else (target - 3.0, target + 3.0)
    return torch.linspace(lo, hi, 500, dtype=torch.float64)


def hyperparameters(spec: registry.LossSpec) -> str:
    """The hyperparameters the curve is drawn with, for the legend: the entry's ``curve_note`` when it has one,
    else the function's numeric keyword defaults (``gamma=2, alpha=0.25``)."""
    if spec.curve_note:
        return spec.curve_note
    parts = []
    for p in inspect.signature(spec.function).parameters.values():
        default = p.default
        if p.kind is not p.KEYWORD_ONLY or p.name in _NOT_HYPER or "eps" in p.name:
            continue
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            parts.append(f"{p.name}={default:g}")
        elif isinstance(default, str) and p.name != "reduction":
            parts.append(f"{p.name}={default!r}")
    return ", ".join(parts)


def default_target(specs: Sequence[registry.LossSpec]) -> float:
    """1.0 (the positive class) when any loss is a classification loss, else 0.0."""
    return 1.0 if any(s.input_kind in _CLASS_KINDS for s in specs) else 0.0


def plot_losses(names: Sequence[str], target: float | None = None, out: str | Path = "losses.png") -> Path:
    """Each loss in ``names`` as a function of its own input for one ``target``.

    Losses are grouped by what they take, one panel each: probabilities on a [0, 1] axis, logits (and other raw
    scores) on a logit axis, regression predictions on a prediction axis around the target. The dotted line marks
    where the input equals the target, drawn only on axes where that means something (not on a logit axis, where
    the target is a probability). The legend names each loss with the hyperparameters of its curve.

    Args:
        names: Registered loss names (each needs a registry ``curve``).
        target: The fixed target (default: 1.0 for classification losses, 0.0 for regression).
        out: The PNG to write.

    Returns:
        The path written.

    Raises:
        KeyError: an unknown name (the message suggests the closest).
        ValueError: a loss without a curve, or a target outside a loss's domain.
    """
    specs = [registry.get(n) for n in names]
    missing = [s.name for s in specs if s.curve is None]
    if missing:
        raise ValueError(
            f"{', '.join(missing)} cannot be drawn as a curve of one prediction against one target (it compares "
            f"whole images, boxes or feature maps); the plottable losses are those of `losslab list` with a "
            f"curve: {', '.join(s.name for s in registry.all_specs() if s.curve is not None)}"
        )
    y = default_target(specs) if target is None else float(target)
    groups: dict[str, list[registry.LossSpec]] = {}
    for spec in specs:
        groups.setdefault(input_axis(spec), []).append(spec)
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(groups), figsize=(6.4 * len(groups), 4.6), constrained_layout=True, squeeze=False)
    for ax, (axis, members) in zip(axes[0], groups.items()):
        for spec in members:
            x = _grid(spec, y)
            try:
                with torch.no_grad():
                    loss = spec.curve(x, y)  # type: ignore[misc]
            except (ValueError, TypeError, RuntimeError) as e:
                raise ValueError(f"cannot plot {spec.name} at target={y:g}: {e}") from e
            hyper = hyperparameters(spec)
            ax.plot(x.numpy(), torch.as_tensor(loss, dtype=torch.float64).numpy(), lw=2,
                    label=spec.name + (f" ({hyper})" if hyper else ""))
        label, _ = _AXES[axis]
        gan_only = all(s.tasks == ("gan",) for s in members)
        if axis != "score" and not gan_only:
            ax.axvline(y, color="0.6", ls=":", lw=1, label=f"input = target ({y:g})")
        title = {"probability": "losses on probabilities", "score": "losses on logits / raw scores",
                 "value": "losses on predicted values"}[axis]
        ax.set(xlabel=label, ylabel="loss", title=title + ("" if gan_only else f", target = {y:g}"))
        ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
        ax.legend(frameon=False, fontsize=8.5)
        ax.grid(alpha=0.25)
    return _save(fig, out)


def plot_tempered(out: str | Path = "tempered.png") -> Path:
    """The bi-tempered paper's Figure 1 (Amid et al., NeurIPS 2019, arXiv:1906.03361), from the library's functions."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14.5, 4.3), constrained_layout=True)
    cmap = plt.get_cmap("viridis")

    x = torch.linspace(0.05, 3.0, 300, dtype=torch.float64)
    ts = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    for i, t in enumerate(ts):
        axes[0].plot(x.numpy(), log_t(x, t).numpy(), color=cmap(i / len(ts)), lw=2, label=f"t = {t:g}" + (" (log)" if t == 1 else ""))
    axes[0].set(title="tempered logarithm $\\log_t$, t ≤ 1 (bounded below)", xlabel="x", ylabel="$\\log_t(x)$",
                ylim=(-3.5, 2.5))

    u = torch.linspace(-3.0, 2.0, 300, dtype=torch.float64)
    ts = (1.0, 1.2, 1.4, 1.6, 1.8, 2.0)
    for i, t in enumerate(ts):
        axes[1].plot(u.numpy(), exp_t(u, t).numpy(), color=cmap(i / len(ts)), lw=2, label=f"t = {t:g}" + (" (exp)" if t == 1 else ""))
    axes[1].set(title="tempered exponential $\\exp_t$, t ≥ 1 (heavier tail)", xlabel="x", ylabel="$\\exp_t(x)$",
                ylim=(0, 7.5))

    a = torch.linspace(-6.0, 6.0, 400, dtype=torch.float64)
    target = torch.ones_like(a)
    pairs = ((1.0, 1.0), (0.8, 1.2), (0.5, 1.0), (0.5, 4.0))
    for i, (t1, t2) in enumerate(pairs):
        loss = bi_tempered_binary_logistic_loss(a, target, t1=t1, t2=t2, reduction="none")
        label = "logistic (t1 = t2 = 1)" if (t1, t2) == (1.0, 1.0) else f"bi-tempered t1={t1:g}, t2={t2:g}"
        axes[2].plot(a.numpy(), loss.detach().numpy(), lw=2, ls="--" if t1 == t2 == 1 else "-", label=label,
                     color="k" if t1 == t2 == 1 else cmap(i / len(pairs)))
    axes[2].set(title="loss vs activation, label = 1 (t1 < 1: bounded)", xlabel="activation", ylabel="loss")
    for ax in axes:
        ax.legend(frameon=False, fontsize=8.5)
        ax.grid(alpha=0.25)
    fig.suptitle("Bi-tempered logistic loss, the paper's Figure 1 (computed with losslab)")
    return _save(fig, out)


# The worked example from the Q&A behind issue 3: Keras' BinaryCrossentropy() on these inputs.
KERAS_Y_TRUE = (0.5, 0.3, 0.5, 0.9)
KERAS_Y_PRED = (0.1, 0.3, 0.5, 0.8)
KERAS_VALUES = (0.71743906, 0.5805602)  # y_pred as above; y_pred = y_true


def plot_bce_soft(out: str | Path = "bce_soft.png") -> Path:
    """Binary cross-entropy against the prediction for soft targets; each minimum is at prediction = target."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8.4, 4.8), constrained_layout=True)
    p = torch.linspace(1e-3, 1 - 1e-3, 500, dtype=torch.float64)
    cmap = plt.get_cmap("plasma")
    targets = (0.1, 0.3, 0.5, 0.7, 0.9)
    for i, y in enumerate(targets):
        color = cmap(i / len(targets))
        loss = binary_cross_entropy(p, torch.full_like(p, y), reduction="none")
        ax.plot(p.numpy(), loss.numpy(), color=color, lw=2, label=f"target {y:g}")
        floor = float(binary_cross_entropy(torch.tensor([y], dtype=torch.float64), torch.tensor([y], dtype=torch.float64)))
        ax.plot([y], [floor], "o", color=color, ms=6)
        ax.annotate(f"{floor:.3f}", (y, floor), textcoords="offset points", xytext=(0, -14), ha="center",
                    fontsize=8, color=color)
    yt = torch.tensor(KERAS_Y_TRUE, dtype=torch.float64)
    v1 = float(binary_cross_entropy(torch.tensor(KERAS_Y_PRED, dtype=torch.float64), yt))
    v2 = float(binary_cross_entropy(yt.clone(), yt))
    note = (
        "Keras BinaryCrossentropy, y_true = [0.5, 0.3, 0.5, 0.9]:\n"
        f"  y_pred = [0.1, 0.3, 0.5, 0.8]  Keras {KERAS_VALUES[0]:.8f}   losslab {v1:.8f}\n"
        f"  y_pred = y_true              Keras {KERAS_VALUES[1]:.7f}    losslab {v2:.7f}\n"
        "The second is the minimum but not 0: it is the targets' mean entropy."
    )
    ax.text(0.02, 0.98, note, transform=ax.transAxes, va="top", ha="left", fontsize=8, family="monospace",
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.8"})
    ax.set(xlabel="prediction (probability)", ylabel="binary cross-entropy", ylim=(0, 3.2), xlim=(0, 1),
           title="Soft targets: the minimum is at prediction = target (dots), and it is not 0")
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.25)
    return _save(fig, out)


def plot(names: Sequence[str], target: float | None = None, out: str | Path | None = None) -> Path:
    """Dispatch used by ``losslab plot``: a special plate (``tempered``, ``bce-soft``) or registered losses."""
    names = list(names)
    special = [n for n in names if n in SPECIAL]
    if special:
        if len(names) != 1:
            raise ValueError(f"{special[0]!r} is a plate of its own; plot it without other names")
        if special[0] == "tempered":
            return plot_tempered(out or "tempered.png")
        return plot_bce_soft(out or "bce_soft.png")
    return plot_losses(names, target, out or ("losses.png" if len(names) > 1 else f"{names[0]}.png"))
