"""The lab's experiments: each tests, on a laptop CPU, the effect a loss's paper claims.

Every experiment is a module here that defines:

* ``NAME`` (the CLI name, e.g. ``"box-regression"``), ``TITLE``, ``PAPER`` (citation) and ``EXPECTED`` (the
  paper's claim in one sentence);
* ``PROFILES``: a dict ``{"smoke": {...}, "quick": {...}, "full": {...}}`` of keyword settings. ``smoke`` runs in
  seconds (the test suite uses it), ``quick`` is the default of ``losslab reproduce`` (the whole suite in
  <= 5 minutes on 2 cores), ``full`` is closer to the paper (the suite in <= 45 minutes);
* ``CLAIMS``: its sub-claims (:class:`~losslab.experiments.stats.SubClaim`: one primary endpoint, the smallest
  effect of interest and the seeds per profile, fixed before anything runs);
* ``EXPERIMENT = Experiment(NAME, TITLE, PAPER, EXPECTED, PROFILES, CLAIMS, measure)`` (:mod:`._base`) and
  ``run = EXPERIMENT.run``: ``run(profile="quick", *, seed=0, out_dir=None, progress=None) -> Result``,
  deterministic for a given seed base, single-threaded friendly (the runner sets ``torch.set_num_threads(1)``
  per job), writing its figures (PNG) into ``out_dir`` when given. ``measure`` trains the arms with common random
  numbers on the judging seeds and judges each sub-claim on the paired per-seed differences
  (:mod:`losslab.experiments.stats`); the experiment's outcome and ``holds`` derive from its claims.

:func:`available` lists them; shared data and training helpers live in ``data.py`` and ``train.py``;
``check.py`` is ``make lab-check`` (verdicts under another seed base and the AVX2 kernels).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from ._base import Result

__all__ = ["Result", "available", "load"]


def available() -> dict[str, ModuleType]:
    """``{NAME: module}`` for every experiment module in this package, in name order."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name in {"data", "train", "report", "runner", "stats", "check"}:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "run"):
            found[module.NAME] = module
    return dict(sorted(found.items()))


def load(name: str) -> ModuleType:
    """The experiment module called ``name``; unknown names raise ``KeyError`` listing the known ones."""
    experiments = available()
    if name not in experiments:
        raise KeyError(f"unknown experiment {name!r}; expected one of {sorted(experiments)}")
    return experiments[name]
