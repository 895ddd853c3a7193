"""The catalogue: one :class:`LossSpec` per loss, the single source of each loss's metadata.

It drives the CLI (``list``, ``info``, ``plot``, ``recommend``), the guide, the docs (API pages, gallery, tables)
and the registry-wide contract tests (``tests/test_contracts.py``).

The entries live beside this file, one module per loss family (``registry/regression.py`` registers the losses
of ``losslab/regression.py``, and so on). How the tests call a loss (an input sampler, the differentiable
arguments, which contracts apply) is not catalogue metadata: it lives with the tests, in a ``Case`` in
``tests/cases/<family>.py``. Adding a loss: a :class:`LossSpec` in ``registry/<family>.py`` and a ``Case`` in
``tests/cases/<family>.py`` (a test checks that the two name the same losses).
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import torch

__all__ = ["LossSpec", "LOSSES", "TASKS", "get", "register"]

TASKS = (
    "single-label",
    "multi-label",
    "regression",
    "counts",
    "imbalanced",
    "noisy-labels",
    "segmentation",
    "detection",
    "gan",
    "image-transformation",
)

INPUT_KINDS = ("logits", "probabilities", "real values", "boxes", "features", "critic scores", "images", "activations")

# The activation a loss pairs with. For a loss on logits it is the link the loss applies inside (the network ends
# in a linear layer); for a loss on probabilities or values it is what the network's last layer applies:
#   softmax / sigmoid / tanh: that function; linear: a raw, unbounded output; positive: a positive output
#   (softplus, exp or relu); none: no output activation applies (decoded boxes, loss-network features, images).
Activation = Literal["softmax", "sigmoid", "tanh", "linear", "positive", "none"]
ACTIVATIONS: tuple[str, ...] = get_args(Activation)
# First words of free-text activations (older entries: "softplus or exp (a rate >= 0)") and what they mean.
_ACTIVATION_ALIASES = {"softplus": "positive", "exp": "positive", "exponential": "positive", "relu": "positive",
                       "identity": "linear", "logits": "linear", "raw": "linear", "any": "none"}
# What the first argument's values may be, given what the network outputs.
InputDomain = Literal["real", "signed", "positive", "unit", "simplex", "boxes", "features", "images"]
INPUT_DOMAINS: tuple[str, ...] = get_args(InputDomain)
# Input kinds whose values are raw scores: the network ends in a linear layer (a link, if any, is inside the loss).
RAW_INPUT_KINDS = ("logits", "activations", "critic scores", "real values")


def normalize_activation(text: str, input_kind: str) -> tuple[str, str]:
    """``(activation, note)``: a catalogue activation in the :data:`Activation` vocabulary, and the rest of the text.

    Accepts a vocabulary word (``"softmax"``) or free text whose first word is one or an alias
    (``"softplus or exp (a rate >= 0)"`` -> ``"positive"``). ``"none"`` before a raw-score input
    (:data:`RAW_INPUT_KINDS`) means the network's output is used as it is: ``"linear"``.

    Example:
        >>> normalize_activation("none (linear output)", "real values")
        ('linear', 'none (linear output)')
        >>> normalize_activation("sigmoid", "logits")
        ('sigmoid', '')
    """
    words = text.strip().lower().replace(",", " ").split()
    first = words[0] if words else ""
    word = _ACTIVATION_ALIASES.get(first, first)
    if word not in ACTIVATIONS:
        raise ValueError(
            f"activation: expected one of {ACTIVATIONS} (or free text starting with one, or with "
            f"{sorted(_ACTIVATION_ALIASES)}), got {text!r}"
        )
    if word == "none" and input_kind in RAW_INPUT_KINDS:
        word = "linear"
    return word, ("" if text.strip().lower() == word else text.strip())


def default_input_domain(input_kind: str, activation: str) -> str:
    """The :data:`InputDomain` implied by an input kind and a normalized activation."""
    if input_kind == "probabilities":
        return "simplex" if activation == "softmax" else "unit"
    if input_kind in ("boxes", "features", "images"):
        return input_kind
    if input_kind == "real values" and activation == "tanh":
        return "signed"
    if input_kind == "real values" and activation == "positive":
        return "positive"
    return "real"


@dataclass(frozen=True)
class LossSpec:
    """What the catalogue knows about one loss.

    Only metadata: how the contract tests call a loss is its ``Case`` in ``tests/cases/<family>.py``.

    Attributes:
        name: Public function name (``losslab.<name>``).
        function: The loss function.
        module: Its ``nn.Module`` form (``None`` where a loss has no module, e.g. a penalty that takes a network).
        family: Module it lives in (``"regression"``, ``"classification"``, ``"focal"``, ...).
        tasks: Tasks it suits, from :data:`TASKS`.
        input_kind: What the first argument holds, from :data:`INPUT_KINDS`.
        target_kind: What the target holds (free text, e.g. ``"class indices or probabilities"``).
        activation: The activation it pairs with, from :data:`Activation`: the link inside a loss on logits, or
            what the network applies before a loss on probabilities or values. Free text whose first word is
            a vocabulary word or alias is accepted and normalized (see :func:`normalize_activation`); the full
            text is kept in ``activation_note``.
        value_range: The loss's range, e.g. ``"[0, inf)"``.
        summary: One line: what it computes and when to pick it.
        formula: The defining equation in plain text.
        reference: The paper (authors, title, venue, year, arXiv id) or ``"standard"``.
        curve: Optional ``(pred_grid, target) -> loss`` over a 1-D grid of predictions for one scalar target,
            used by ``losslab plot``, the guide and the docs' gallery.
        curve_note: The hyperparameters the curve is drawn with, for the plot's legend, where they are not the
            function's defaults (e.g. ``"(t1, t2) = (0.5, 4.0)"``).
        advice: Optional guidance shown by ``losslab info`` and ``losslab recommend``.
        default_for: Tasks for which this loss is the usual first choice (``losslab recommend`` lists it first).
        activation_note: Free-text detail on the activation (set from a free-text ``activation``).
        input_domain: What the first argument's values may be, from :data:`InputDomain` (derived from
            ``input_kind`` and ``activation`` when ``None``).
    """

    name: str
    function: Callable[..., torch.Tensor]
    module: type | None
    family: str
    tasks: tuple[str, ...]
    input_kind: str
    target_kind: str
    activation: Activation | str
    value_range: str
    summary: str
    formula: str
    reference: str
    curve: Callable[[torch.Tensor, float], torch.Tensor] | None = None
    curve_note: str = ""
    advice: str = ""
    activation_note: str = ""
    input_domain: InputDomain | None = None
    default_for: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = set(self.tasks) - set(TASKS)
        if unknown:
            raise ValueError(f"tasks: unknown task(s) {sorted(unknown)} for {self.name}; expected from {TASKS}")
        if self.input_kind not in INPUT_KINDS:
            raise ValueError(f"input_kind: expected one of {INPUT_KINDS}, got {self.input_kind!r}")
        if not set(self.default_for) <= set(self.tasks):
            raise ValueError(f"default_for: {self.default_for} must be among the tasks {self.tasks} of {self.name}")
        try:
            activation, note = normalize_activation(self.activation, self.input_kind)
        except ValueError as e:
            raise ValueError(f"{e} (for {self.name})") from None
        object.__setattr__(self, "activation", activation)
        if note and not self.activation_note:
            object.__setattr__(self, "activation_note", note)
        if self.input_domain is None:
            object.__setattr__(self, "input_domain", default_input_domain(self.input_kind, activation))
        elif self.input_domain not in INPUT_DOMAINS:
            raise ValueError(f"input_domain: expected one of {INPUT_DOMAINS}, got {self.input_domain!r} for {self.name}")


LOSSES: dict[str, LossSpec] = {}


def register(spec: LossSpec) -> LossSpec:
    """Add ``spec`` to :data:`LOSSES` (names are unique)."""
    if spec.name in LOSSES:
        raise ValueError(f"name: {spec.name!r} is already registered")
    LOSSES[spec.name] = spec
    return spec


def get(name: str) -> LossSpec:
    """Look up a loss by name; an unknown name raises ``KeyError`` suggesting the closest one.

    Example:
        >>> get("mse_los")
        Traceback (most recent call last):
        ...
        KeyError: "unknown loss 'mse_los'; did you mean 'mse_loss'?"
    """
    _load()
    try:
        return LOSSES[name]
    except KeyError:
        raise KeyError(unknown_loss_message(name)) from None


def unknown_loss_message(name: str) -> str:
    _load()
    close = difflib.get_close_matches(name, list(LOSSES), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else f"; `losslab list` shows the {len(LOSSES)} losses"
    return f"unknown loss {name!r}{hint}"


def all_specs() -> list[LossSpec]:
    """Every registered spec, in registration order."""
    _load()
    return list(LOSSES.values())


def _load() -> None:
    """Import every family entry module beside this file (each registers its losses on import)."""
    if _LOADED:
        return
    _LOADED.append(True)
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: _ORDER.get(m.name, len(_ORDER))):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_LOADED: list[bool] = []
# Catalogue order of the families (others follow alphabetically).
_ORDER = {
    name: i
    for i, name in enumerate(
        ("regression", "classification", "focal", "tempered", "boxes", "segmentation", "gan", "perceptual")
    )
}
