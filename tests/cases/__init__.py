"""Contract-test cases: how the registry-wide tests call each loss of the catalogue.

The catalogue (:mod:`losslab.registry`) says what a loss is; a :class:`Case` says how the contract tests
(``test_contracts.py``, ``test_devices.py``, ``test_bad_input.py``, ``test_compound.py``) call it: a sampler that
gives a valid call at any batch size and dtype, and which contracts apply. One module here per registry file:
``tests/cases/boxes.py`` holds the cases of the entries in ``src/losslab/registry/boxes.py``. A new loss needs a
:class:`~losslab.registry.LossSpec` there and a :class:`Case` here; ``test_contracts.py`` checks that the two
catalogues name the same losses.

Test files import this package as ``cases`` (pytest puts ``tests/`` on ``sys.path``: the directory has no
``__init__.py``)::

    from cases import CASES, case

The shared input generators (:func:`randn`, :func:`elementwise`, :func:`logits_index`, ...) are below; generators
used by one family are private helpers of its module.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = [
    "CASES",
    "Case",
    "Sampler",
    "add",
    "case",
    "elementwise",
    "logits_binary",
    "logits_dense",
    "logits_index",
    "probs_binary",
    "rand",
    "randint",
    "randn",
]

# sample(n, dtype, generator) -> (args, kwargs): a valid call with batch size n (n may be 0 when the case's
# ``empty_batch`` is true). The positions ``grad_args`` of args are the differentiable inputs.
Sampler = Callable[[int, torch.dtype, torch.Generator], tuple[tuple, dict]]


@dataclass(frozen=True)
class Case:
    """How the registry-wide contract tests call one loss.

    Attributes:
        name: The loss's catalogue name (``losslab.registry.get(name)``).
        sample: ``(n, dtype, generator) -> (args, kwargs)`` producing a valid call with batch size ``n``.
        grad_args: Positions in ``args`` that are differentiable inputs (gradcheck wrt these).
        per_sample: ``reduction="none"`` keeps the batch on dim 0 and samples are independent, so weight and
            repetition invariances hold over dim 0.
        weighted: Accepts ``sample_weight=`` and ``reduction=``.
        empty_batch: ``sample(0, ...)`` is meaningful (a batch of no samples).
        compile: Runs under ``torch.compile`` (fullgraph not required).
        module_call: The entry's module is called like the function (``module(**kwargs)(*args)``); false for
            :class:`losslab.GANLoss`, which has ``.discriminator``/``.generator`` methods instead of ``forward``.
    """

    name: str
    sample: Sampler
    grad_args: tuple[int, ...] = (0,)
    per_sample: bool = True
    weighted: bool = True
    empty_batch: bool = True
    compile: bool = True
    module_call: bool = True


CASES: dict[str, Case] = {}
# the cases module (file stem) that added each case, to check it is named like the entry's registry file
CASE_FILES: dict[str, str] = {}


def add(c: Case) -> Case:
    """Add ``c`` to :data:`CASES` (one case per loss), recording the cases module that calls it."""
    if c.name in CASES:
        raise ValueError(f"name: a case for {c.name!r} is already in tests/cases")
    CASES[c.name] = c
    CASE_FILES[c.name] = sys._getframe(1).f_globals["__name__"].rsplit(".", 1)[-1]
    return c


def case(name: str) -> Case:
    """The case of the registered loss ``name``; a loss without one raises ``KeyError`` saying where to add it."""
    try:
        return CASES[name]
    except KeyError:
        raise KeyError(f"no contract-test case for the loss {name!r}: add Case({name!r}, sample=...) to {_home(name)}") from None


def _home(name: str) -> str:
    """The cases file for the entry ``name=...``: named like the registry file that registers it."""
    stem = registry_files().get(name)
    if stem is None:
        return "tests/cases/<file>.py, named like the src/losslab/registry/<file>.py that registers it"
    return f"tests/cases/{stem}.py (its entry is in src/losslab/registry/{stem}.py)"


@functools.cache
def registry_files() -> dict[str, str]:
    """Each catalogue entry's name and the stem of the ``src/losslab/registry`` file whose ``name="..."`` it is."""
    from losslab import registry

    return {name: path.stem for path in sorted(Path(registry.__file__).parent.glob("*.py"))
            for name in re.findall(r'\bname="(\w+)"', path.read_text())}


# ---------------------------------------------------------------------------------------------------------------
# shared input generators: sampler(n, dtype, generator) -> (args, kwargs)


def randn(shape: tuple[int, ...], dtype: torch.dtype, g: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    return (torch.randn(shape, generator=g, dtype=torch.float64) * scale).to(dtype)


def rand(shape: tuple[int, ...], dtype: torch.dtype, g: torch.Generator, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    return (low + (high - low) * torch.rand(shape, generator=g, dtype=torch.float64)).to(dtype)


def randint(shape: tuple[int, ...], high: int, g: torch.Generator) -> torch.Tensor:
    return torch.randint(0, high, shape, generator=g)


def elementwise(low: float = -2.0, high: float = 2.0, target_low: float | None = None, target_high: float | None = None, features: int = 3, **kwargs):
    """Same-shape ``(n, features)`` prediction and target drawn uniformly from the given ranges."""
    tl = low if target_low is None else target_low
    th = high if target_high is None else target_high

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        return (rand((n, features), dtype, g, low, high), rand((n, features), dtype, g, tl, th)), dict(kwargs)

    return sample


def logits_index(classes: int = 5, spatial: tuple[int, ...] = (), scale: float = 2.0, **kwargs):
    """Logits ``(n, C, *spatial)`` and class indices ``(n, *spatial)``."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        return (randn((n, classes, *spatial), dtype, g, scale), randint((n, *spatial), classes, g)), dict(kwargs)

    return sample


def probs_index(classes: int = 5, spatial: tuple[int, ...] = (), scale: float = 1.0, **kwargs):
    """Softmax probabilities ``(n, C, *spatial)`` (of logits with standard deviation ``scale``) and class indices
    ``(n, *spatial)``."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        probs = torch.softmax(randn((n, classes, *spatial), torch.float64, g, scale), dim=1).to(dtype)
        return (probs, randint((n, *spatial), classes, g)), dict(kwargs)

    return sample


def logits_binary(features: int = 4, scale: float = 2.0, soft: bool = False, **kwargs):
    """Logits ``(n, features)`` and binary (or soft, in [0, 1]) targets of the same shape."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        if soft:
            target = rand((n, features), dtype, g)
        else:
            target = randint((n, features), 2, g).to(dtype)
        return (randn((n, features), dtype, g, scale), target), dict(kwargs)

    return sample


def probs_binary(features: int = 4, soft: bool = False, **kwargs):
    """Probabilities ``(n, features)`` in (0.05, 0.95) and binary or soft targets."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        target = rand((n, features), dtype, g) if soft else randint((n, features), 2, g).to(dtype)
        return (rand((n, features), dtype, g, 0.05, 0.95), target), dict(kwargs)

    return sample


def logits_dense(classes: int = 5, spatial: tuple[int, ...] = (), scale: float = 2.0, **kwargs):
    """Logits ``(n, C, *spatial)`` and soft targets ``(n, C, *spatial)`` (a softmax over dim 1)."""

    def sample(n: int, dtype: torch.dtype, g: torch.Generator):
        logits = randn((n, classes, *spatial), dtype, g, scale)
        target = torch.softmax(randn((n, classes, *spatial), torch.float64, g, 2.0), dim=1).to(dtype)
        return (logits, target), dict(kwargs)

    return sample


def _load() -> None:
    """Import every family module beside this file (each adds its cases on import)."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{info.name}")


_load()
