"""Choosing a loss: the recommendation rules and the activation check, read by ``losslab recommend`` and the docs.

Everything here is derived from the catalogue (:mod:`losslab.registry`), so a new entry is recommended without
editing this module:

* **which losses fit a task**: those whose ``tasks`` name it, minus those whose link does not match the task's
  label structure (:data:`TASK_LINKS`: a loss with one sigmoid per output answers yes/no questions, so it is not
  listed for single-label multi-class problems);
* **modifiers** (:data:`MODIFIERS`, e.g. ``noisy-labels``) are catalogue tasks too: a loss tagged with a requested
  modifier ranks first; ``outliers`` is measured instead: a loss whose gradient stays bounded as the residual
  grows (read from its ``curve``) ranks first;
* **order**: the entries' ``default_for`` (the usual first choice for a task) first, then losses whose first task is
  the requested one (their primary use), then those that also apply, in catalogue order; losses meant for a
  modifier that was not requested (tagged ``noisy-labels`` when the labels are clean) come last, in their own
  group; the reason shown is the entry's ``summary``;
* **activation fit**: the entry's typed ``activation`` and ``input_domain`` against the network's last activation
  (:func:`activation_fit`): ``"fits"``, ``"mismatch"`` with a one-line reason, or ``"n/a"`` for losses whose
  input is not a network's class or value output (decoded boxes, loss-network features, images).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

import torch

from . import registry
from .registry import LossSpec

__all__ = [
    "MODIFIERS",
    "TASK_LINKS",
    "OUTPUT_ACTIVATIONS",
    "Fit",
    "Recommendation",
    "recommend_tasks",
    "parse_activation",
    "activation_fit",
    "activation_warning",
    "network_output",
    "bounded_influence",
    "excluded",
    "recommend",
]

# Catalogue tasks that describe a condition of the data rather than a task: requested with --imbalanced etc.
MODIFIERS: dict[str, str] = {
    "imbalanced": "rare classes / mostly background",
    "noisy-labels": "a share of the labels is wrong",
}

# The links a task's label structure allows. Single-label: one class out of C, so the scores are coupled by a
# softmax (or the loss takes raw scores and couples them inside); multi-label: one yes/no question per output.
TASK_LINKS: dict[str, tuple[str, ...]] = {
    "single-label": ("softmax", "linear"),
    "multi-label": ("sigmoid", "tanh", "linear"),
}

# The network's last activation, as ``losslab recommend --activation`` names it, and the range of its outputs.
OUTPUT_ACTIVATIONS: dict[str, str] = {
    "softmax": "[0, 1] and sum to 1",
    "sigmoid": "(0, 1)",
    "tanh": "[-1, 1]",
    "linear": "(-inf, inf)",
    "relu": "[0, inf)",
    "softplus": "(0, inf)",
    "exp": "(0, inf)",
}
_ALIASES = {"none": "linear", "identity": "linear", "logits": "linear", "exponential": "exp"}
_POSITIVE = ("relu", "softplus", "exp")
# Input kinds that are raw scores fed to a link inside the loss (not a regression value).
_SCORE_KINDS = ("logits", "activations", "critic scores")

Fit = Literal["fits", "mismatch", "n/a"]


@dataclass(frozen=True)
class Recommendation:
    """One ranked loss: why it is listed and, when an activation was given, whether it fits as it is."""

    spec: LossSpec
    reason: str
    fit: Fit | None = None
    note: str | None = None  # the mismatch (or n/a) reason
    group: str = ""  # "" for the main list; else the modifier (not requested) the loss is meant for


def recommend_tasks() -> tuple[str, ...]:
    """Tasks ``recommend`` accepts: the catalogue's tasks without the modifiers."""
    return tuple(t for t in registry.TASKS if t not in MODIFIERS)


def parse_activation(name: str) -> str:
    """The canonical output-activation name for ``name`` (aliases: none/identity/logits -> linear).

    Raises:
        ValueError: an unknown activation; the message suggests the closest name.

    Example:
        >>> parse_activation("None")
        'linear'
        >>> parse_activation("tahn")
        Traceback (most recent call last):
        ...
        ValueError: activation: expected one of softmax, sigmoid, tanh, linear, relu, softplus, exp, got 'tahn' (did you mean 'tanh'?)
    """
    act = _ALIASES.get(name.strip().lower(), name.strip().lower())
    if act in OUTPUT_ACTIVATIONS:
        return act
    close = difflib.get_close_matches(act, [*OUTPUT_ACTIVATIONS, *_ALIASES], n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"activation: expected one of {', '.join(OUTPUT_ACTIVATIONS)}, got {name!r}{hint}")


def _human(name: str) -> str:
    return name.replace("cross_entropy", "cross-entropy").replace("_", " ")


def activation_fit(spec: LossSpec, activation: str) -> tuple[Fit, str | None]:
    """Whether a network ending in ``activation`` can feed ``spec`` as it is: ``(fit, reason)``.

    ``"fits"`` (reason ``None``), ``"mismatch"`` with a one-line reason, or ``"n/a"`` with a reason when the loss's
    input is not the network's class or value output (decoded boxes, loss-network features, images): those never
    "fit as they are" by default.

    Example:
        >>> from losslab import registry
        >>> activation_fit(registry.get("categorical_cross_entropy"), "tanh")
        ('mismatch', 'tanh outputs lie in [-1, 1]; categorical cross-entropy needs softmax probabilities')
        >>> activation_fit(registry.get("softmax_cross_entropy"), "linear")
        ('fits', None)
    """
    act = parse_activation(activation)
    rng = OUTPUT_ACTIVATIONS[act]
    name = _human(spec.name)
    domain = spec.input_domain
    if domain == "boxes":
        return "n/a", f"{name} takes decoded boxes (x1, y1, x2, y2); the box coding, not an activation, sets them"
    if domain == "features":
        return "n/a", f"{name} compares feature maps of a fixed loss network, not the network's output"
    if domain == "images" or spec.activation == "none":
        return "n/a", f"{name} compares images: use the output activation that maps to the target images' range"
    if spec.input_kind in _SCORE_KINDS:
        if act == "linear":
            return "fits", None
        if act in ("softmax", "sigmoid") and spec.activation in ("softmax", "sigmoid"):
            return "mismatch", (f"{name} takes raw scores (logits) and applies its own link; a {act} before it "
                                f"squashes them twice — use a linear output layer")
        return "mismatch", (f"{act} outputs lie in {rng}; {name} needs unbounded raw scores (logits) — use a linear "
                            f"output layer")
    if domain == "simplex":
        if act == "softmax":
            return "fits", None
        return "mismatch", f"{act} outputs lie in {rng}; {name} needs softmax probabilities"
    if domain == "unit":
        if act == "sigmoid":
            return "fits", None
        if act == "softmax":
            return "mismatch", (f"softmax couples the outputs (they sum to 1); {name} needs an independent sigmoid "
                                f"per output")
        return "mismatch", f"{act} outputs lie in {rng}; {name} needs sigmoid probabilities in (0, 1)"
    if domain == "signed":
        if act in ("tanh", "linear"):
            return "fits", None
        return "mismatch", f"{act} outputs lie in {rng}; {name} expects signed scores (targets in {{-1, 1}}), e.g. tanh"
    if domain == "positive":
        if act in _POSITIVE:
            return "fits", None
        if act in ("linear", "tanh"):
            return "mismatch", f"{act} outputs can be negative; {name} needs positive predictions (use exp or softplus)"
        return "mismatch", f"{act} outputs lie in {rng}; {name} can only fit targets inside that range (rescale them)"
    # a real-valued prediction
    if act in ("linear", *_POSITIVE):
        return "fits", None
    return "mismatch", f"{act} outputs lie in {rng}; {name} can only fit targets inside that range (rescale them)"


def network_output(spec: LossSpec) -> str:
    """What the network's last layer should output for ``spec``, in words (for ``recommend`` and the docs).

    Example:
        >>> from losslab import registry
        >>> network_output(registry.get("softmax_cross_entropy"))
        'a linear layer (raw logits; the loss applies the softmax itself)'
        >>> network_output(registry.get("categorical_cross_entropy"))
        'a softmax (probabilities)'
    """
    act, kind = spec.activation, spec.input_kind
    if spec.input_domain in ("boxes", "features", "images") or act == "none":
        return f"no particular activation: it takes {kind}"
    if kind in _SCORE_KINDS:
        inside = f"; the loss applies the {act} itself" if act in ("softmax", "sigmoid") else ""
        return f"a linear layer (raw {'logits' if kind == 'logits' else kind}{inside})"
    return {
        "simplex": "a softmax (probabilities)",
        "unit": "a sigmoid (probabilities)",
        "signed": "a tanh or a linear layer (signed scores)",
        "positive": "a positive output: softplus, exp or relu",
    }.get(str(spec.input_domain), "a linear layer (real values)")


def activation_warning(spec: LossSpec, activation: str) -> str | None:
    """The mismatch reason of :func:`activation_fit`, or ``None`` when the pair fits or the check does not apply."""
    fit, note = activation_fit(spec, activation)
    return note if fit == "mismatch" else None


def bounded_influence(spec: LossSpec) -> bool | None:
    """Whether the loss's gradient stays bounded as the residual grows (robust to outliers), from its ``curve``.

    Measured, not declared: the slope of the curve at a prediction of 1 for targets 11 and 101. A loss whose
    gradient grows with the residual (squared error: 10x) is not robust; one whose gradient saturates (absolute
    error, Huber: 1x; log-error: ~2x) is. ``None`` when the entry has no curve or is not a regression loss.

    Example:
        >>> from losslab import registry
        >>> bounded_influence(registry.get("mse_loss")), bounded_influence(registry.get("huber_loss"))
        (False, True)
    """
    if spec.curve is None or spec.input_kind != "real values" or spec.input_domain == "signed":
        return None
    slopes = []
    for target in (11.0, 101.0):
        x = torch.ones(1, dtype=torch.float64, requires_grad=True)
        try:
            with torch.enable_grad():
                (g,) = torch.autograd.grad(torch.as_tensor(spec.curve(x, target)).sum(), x)
        except (RuntimeError, ValueError, TypeError):
            return None
        slopes.append(abs(float(g)))
    if not all(map(torch.isfinite, torch.tensor(slopes))) or slopes[0] == 0:
        return None
    return slopes[1] / slopes[0] < 3.0


def _link_fits_task(spec: LossSpec, task: str) -> bool:
    return spec.activation in TASK_LINKS.get(task, (spec.activation,))


def excluded(task: str) -> list[LossSpec]:
    """Losses tagged with ``task`` that :data:`TASK_LINKS` leaves out (e.g. one-sigmoid-per-output losses for
    single-label)."""
    return [s for s in registry.all_specs() if task in s.tasks and not _link_fits_task(s, task)]


def recommend(
    task: str,
    *,
    modifiers: tuple[str, ...] | list[str] = (),
    outliers: bool = False,
    activation: str | None = None,
) -> list[Recommendation]:
    """Ranked losses for ``task``: those that fit it, modifier-tagged (or outlier-robust) ones first.

    Args:
        task: A catalogue task (:func:`recommend_tasks`).
        modifiers: Conditions from :data:`MODIFIERS` (e.g. ``("noisy-labels",)``).
        outliers: Rank losses with a bounded gradient for large residuals first (regression and counts).
        activation: The network's last activation; each entry then carries its :func:`activation_fit`.

    Raises:
        ValueError: an unknown task, modifier or activation.

    Example:
        >>> [r.spec.name for r in recommend("regression", outliers=True)][:2]
        ['mae_loss', 'huber_loss']
    """
    if task not in recommend_tasks():
        raise ValueError(f"task: expected one of {recommend_tasks()}, got {task!r}")
    unknown = [m for m in modifiers if m not in MODIFIERS]
    if unknown:
        raise ValueError(f"modifiers: expected from {tuple(MODIFIERS)}, got {unknown}")
    specs = [s for s in registry.all_specs() if task in s.tasks and _link_fits_task(s, task)]
    robust = {s.name: bounded_influence(s) for s in specs} if outliers else {}
    order_of = {m: i for i, m in enumerate(MODIFIERS)}
    ranked = []
    for order, spec in enumerate(specs):
        matched = [m for m in modifiers if m in spec.tasks]
        other = [m for m in MODIFIERS if m in spec.tasks and m not in modifiers and not matched]
        group = other[0] if other and task not in spec.default_for else ""
        promoted = len(matched) + (1 if robust.get(spec.name) else 0)
        key = (group != "", order_of.get(group, -1), -promoted, task not in spec.default_for, spec.tasks[0] != task,
               order)
        ranked.append((key, spec, matched, group))
    ranked.sort(key=lambda item: item[0])
    out = []
    for _, spec, matched, group in ranked:
        reason = spec.summary
        tags = [m.replace("-", " ") for m in matched]
        if robust.get(spec.name):
            tags.append("outliers: its gradient stays bounded for large residuals")
        if tags:
            reason += f" [suited to {'; '.join(tags)}]"
        elif task in spec.default_for:
            reason += f" [the usual first choice for {task}]"
        fit: Fit | None = None
        note = None
        if activation is not None:
            fit, note = activation_fit(spec, activation)
        out.append(Recommendation(spec, reason, fit, note, group))
    return out
