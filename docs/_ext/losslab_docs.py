"""Sphinx extension that writes the generated pages of the losslab docs at build time.

Nothing here lists a loss by hand: the API pages come from ``losslab.__all__`` grouped by the catalogue's families
(``losslab.registry.all_specs()``), the gallery from each entry's ``curve``, the "Choosing a loss" tables from
``losslab.guide`` (the rules behind ``losslab recommend``), the lab tables from the sub-claims each experiment
declares in code, and the BCE numbers are computed with losslab. The functions return text so that
``tests/test_docs.py`` can check them without running Sphinx; :func:`generate` writes them under
``docs/generated/`` (ignored by git).
"""

from __future__ import annotations

import inspect
import json
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent.parent
GENERATED = DOCS / "generated"
# Outcome tables: a results.json written by `losslab reproduce` (absent: the lab page says how to make one).
RESULTS_ENV = "LOSSLAB_RESULTS"

_FAMILY_TITLES = {
    "core": "Core: validation and reduction",
    "regression": "Regression",
    "classification": "Classification",
    "focal": "Focal losses",
    "tempered": "Bi-tempered logistic losses",
    "boxes": "Boxes (detection)",
    "segmentation": "Segmentation",
    "distance": "Distance maps",
    "gan": "GAN losses",
    "perceptual": "Perceptual losses",
    "image_quality": "Image quality",
    "scale_invariant": "Scale-invariant regression",
}


def family_title(family: str) -> str:
    return _FAMILY_TITLES.get(family, family.replace("_", " ").capitalize())


# ---------------------------------------------------------------------------------------------------------------
# helpers


def rst_escape(text: str) -> str:
    """Text that reads the same in reStructuredText (no markup from ``*``, backquotes, ``|`` or ``_``)."""
    text = str(text).replace("\\", "\\\\")
    return re.sub(r"([*`|_<>\[\]])", r"\\\1", text)


def md_escape(text: str) -> str:
    """Text that reads the same in a MyST Markdown table cell."""
    text = str(text).replace("\\", "\\\\").replace("|", "\\|")
    return re.sub(r"([*_`<>\[\]$])", r"\\\1", text).replace("\n", " ")


def _write(path: Path, text: str) -> None:
    """Write ``text`` only when it changed (Sphinx then re-reads only the changed pages)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _title(text: str, char: str = "=") -> str:
    return f"{text}\n{char * len(text)}\n"


def _md_table(header: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def api_ref(name: str) -> str:
    """A MyST link to a public name's API page (from a page under ``docs/``)."""
    import losslab

    obj = getattr(losslab, name, None)
    role = "class" if inspect.isclass(obj) else "func" if callable(obj) else "data"
    return f"{{py:{role}}}`~losslab.{name}`"


# ---------------------------------------------------------------------------------------------------------------
# API reference


def _defining_family(name: str, obj: Any) -> str:
    """The family a public helper belongs to: the package module it is defined in (constants: searched)."""
    import losslab

    module = getattr(obj, "__module__", None) if (inspect.isfunction(obj) or inspect.isclass(obj)) else None
    if module is None:
        for mod_name, mod in sorted(sys.modules.items()):
            if mod_name.startswith("losslab.") and mod is not None and getattr(mod, name, None) is obj \
                    and name in vars(mod) and _assigned_in(mod, name):
                module = mod_name
                break
    if module is None or not module.startswith("losslab."):
        return "core"
    part = module.split(".")[1]
    return "core" if part.startswith("_") else part if part in {f.__name__.split(".")[1] for f in losslab._FAMILIES} \
        else "core"


def _assigned_in(module: Any, name: str) -> bool:
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError):
        return False
    return re.search(rf"^{re.escape(name)}\s*(:[^=]*)?=", source, re.M) is not None


def _constant_comment(name: str) -> str:
    """The ``#`` comment lines right above a constant's assignment in the module that defines it."""
    for mod_name, mod in sorted(sys.modules.items()):
        if not mod_name.startswith("losslab.") or mod is None or name not in vars(mod) or not _assigned_in(mod, name):
            continue
        lines = inspect.getsource(mod).splitlines()
        for i, line in enumerate(lines):
            if re.match(rf"{re.escape(name)}\s*(:[^=]*)?=", line):
                comment = []
                j = i - 1
                while j >= 0 and lines[j].lstrip().startswith("#"):
                    comment.insert(0, lines[j].lstrip()[1:].strip())
                    j -= 1
                return " ".join(comment)
    return ""


def api_groups() -> dict[str, list[str]]:
    """``{family: [public names]}``: every name of ``losslab.__all__`` exactly once, losses in catalogue order
    (each function followed by its module), then the family's other public names."""
    import losslab
    from losslab import registry

    groups: dict[str, list[str]] = {"core": []}
    placed: set[str] = set()
    public = set(losslab.__all__)
    for spec in registry.all_specs():
        names = [spec.name] + ([spec.module.__name__] if spec.module is not None else [])
        for n in names:
            if n in public and n not in placed:
                groups.setdefault(spec.family, []).append(n)
                placed.add(n)
    for n in losslab.__all__:
        if n in placed:
            continue
        fam = _defining_family(n, getattr(losslab, n))
        groups.setdefault(fam, []).append(n)
        placed.add(n)
    return {k: v for k, v in groups.items() if v}


def _spec_for(name: str) -> Any:
    from losslab import registry

    for spec in registry.all_specs():
        if spec.name == name or (spec.module is not None and spec.module.__name__ == name):
            return spec
    return None


def _specs_with_module(name: str) -> list[Any]:
    from losslab import registry

    return [s for s in registry.all_specs() if s.module is not None and s.module.__name__ == name]


def _catalogue_table(spec: Any) -> str:
    rows = [
        ("family", spec.family),
        ("tasks", ", ".join(spec.tasks)),
        ("input", spec.input_kind),
        ("target", spec.target_kind),
        ("pairs with", spec.activation + (f" ({spec.activation_note})" if spec.activation_note else "")),
        ("value range", spec.value_range),
        ("paper", spec.reference),
    ]
    out = [".. list-table::", "   :class: catalogue", "   :widths: 1 5", ""]
    for key, value in rows:
        out += [f"   * - {key}", f"     - {rst_escape(value)}"]
    return "\n".join(out) + "\n"


def api_page(name: str) -> str:
    """The reStructuredText API page of one public name."""
    import losslab

    obj = getattr(losslab, name)
    out = [_title(name), ".. currentmodule:: losslab", ""]
    spec = _spec_for(name)
    if inspect.isclass(obj):
        out += [f".. autoclass:: {name}", "   :members:", "   :exclude-members: forward, extra_repr, function", ""]
    elif callable(obj):
        out += [f".. autofunction:: {name}", ""]
    else:
        comment = _constant_comment(name)
        out += [f".. py:data:: {name}", f"   :value: {obj!r}", ""]
        if comment:
            out += ["   " + rst_escape(comment), ""]
    shared = [s.name for s in _specs_with_module(name)]
    if len(shared) > 1:
        spec = None
        out += [".. rubric:: In the catalogue", "",
                "The module form of several catalogue entries: "
                + ", ".join(f":func:`{n}`" for n in shared) + ".", ""]
    if spec is not None:
        out += [".. rubric:: In the catalogue", ""]
        out += [rst_escape(spec.summary), ""]
        if spec.advice:
            out += [rst_escape(spec.advice), ""]
        out += ["Formula (plain text, as ``losslab info`` prints it)::", "", "    " + spec.formula, ""]
        out += [_catalogue_table(spec), ""]
        if name != spec.name:
            out += [_call_equivalence(spec), ""]
        other = spec.module.__name__ if name == spec.name and spec.module is not None else spec.name
        if other != name:
            role = "class" if name == spec.name else "func"
            out += [f"{'Module' if role == 'class' else 'Function'} form: :{role}:`{other}`.", ""]
        if spec.curve is not None and name == spec.name:
            out += [f".. figure:: ../gallery/{spec.name}.png", f"   :alt: {spec.name} against its input", "",
                    f"   ``losslab plot {spec.name}`` (see the :doc:`gallery <../gallery>`).", ""]
    return "\n".join(out).rstrip() + "\n"


def _call_equivalence(spec: Any) -> str:
    """One sentence: the module called on the inputs equals the function with the bound hyperparameters."""
    params = inspect.signature(spec.function).parameters.values()
    inputs = ", ".join(p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    return (f"Calling the module equals calling the function with the hyperparameters bound at construction: "
            f"``{spec.module.__name__}(**hyperparameters)({inputs})`` is "
            f"``{spec.name}({inputs}, **hyperparameters)`` (per-call arguments such as ``sample_weight`` are "
            f"passed to the call).")


def home_fragment() -> str:
    """The catalogue at a glance: losses per family, linked to the family's API page."""
    import losslab
    from losslab import registry

    specs = registry.all_specs()
    counts: dict[str, int] = {}
    for spec in specs:
        counts[spec.family] = counts.get(spec.family, 0) + 1
    families = ", ".join(f"[{family_title(f)}](generated/api/family-{f}.rst) ({n})" for f, n in counts.items())
    return (f"**{len(specs)} losses** in {len(counts)} families ({len(losslab.__all__)} public names with the "
            f"modules and helpers): {families}.\n")


def api_pages() -> dict[str, str]:
    """``{public name: page text}`` for every name in ``losslab.__all__``."""
    return {name: api_page(name) for names in api_groups().values() for name in names}


def _first_line(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    if inspect.isclass(obj) and doc.startswith("Module form of"):
        return doc.split("\n", 1)[0]
    return doc.strip().split("\n\n")[0].replace("\n", " ") if doc else ""


def api_family_page(family: str, names: list[str]) -> str:
    """A family's page: a table of its public names with one-line summaries, and the toctree of their pages."""
    import losslab

    out = [_title(family_title(family)), ".. list-table::", "   :widths: 2 5", ""]
    for n in names:
        obj = getattr(losslab, n)
        summary = _first_line(obj) if (inspect.isclass(obj) or callable(obj)) else _constant_comment(n)
        if not summary:
            summary = f"``{obj!r}``"
        out += [f"   * - :doc:`{n}`", f"     - {summary if summary.startswith('``') else rst_escape(summary)}"]
    out += ["", ".. toctree::", "   :hidden:", ""] + [f"   {n}" for n in names] + [""]
    return "\n".join(out)


def api_index() -> str:
    """The API index: the families, each with its number of names, and the toctree of the family pages."""
    import losslab

    groups = api_groups()
    out = [_title("API reference"),
           f"Every public name of ``losslab`` ({len(losslab.__all__)} of them), one page each, grouped by family. "
           "Losses come first in each family (each function followed by its ``nn.Module`` form), then the "
           "family's helpers. These pages are generated from ``losslab.__all__`` and the catalogue.", "",
           ".. list-table::", "   :widths: 2 5", ""]
    for family, names in groups.items():
        shown = ", ".join(f":doc:`{n} <{n}>`" for n in names[:4]) + (", ..." if len(names) > 4 else "")
        out += [f"   * - :doc:`family-{family}` ({len(names)})", f"     - {shown}"]
    out += ["", ".. toctree::", "   :hidden:", ""] + [f"   family-{f}" for f in groups] + [""]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------------------
# gallery


def gallery_specs() -> tuple[list[Any], list[Any]]:
    """``(with a curve, without)``: the catalogue split by whether ``losslab plot`` can draw the loss."""
    from losslab import registry

    specs = registry.all_specs()
    return [s for s in specs if s.curve is not None], [s for s in specs if s.curve is None]


def gallery_target(spec: Any) -> float | None:
    """The target a curve is drawn for: ``losslab plot``'s default, except where that default says little: 2 for
    a loss on positive values (counts: at a target of 0 the Poisson loss is a straight line) and 1 for a margin
    loss on signed scores (labels in {-1, 1})."""
    if spec.input_domain == "positive":
        return 2.0
    if spec.input_domain == "signed":
        return 1.0
    return None


def gallery_page() -> str:
    drawn, skipped = gallery_specs()
    out = [_title("Gallery"),
           f"Each loss with a curve in the catalogue ({len(drawn)} of {len(drawn) + len(skipped)}), drawn at build "
           "time by the same code as ``losslab plot NAME``: the loss against its own input (a probability, a raw "
           "score or a predicted value) for one fixed target, with the hyperparameters of the curve in the legend. "
           "The dotted line marks input = target where that means something.", ""]
    by_family: dict[str, list[Any]] = {}
    for s in drawn:
        by_family.setdefault(s.family, []).append(s)
    for family, specs in by_family.items():
        out += [_title(family_title(family), "-"), ".. container:: gallery", ""]
        for s in specs:
            out += [f"   .. figure:: gallery/{s.name}.png", f"      :alt: {s.name}", "",
                    f"      :func:`~losslab.{s.name}`: {rst_escape(s.summary)}", ""]
    out += [_title("Two plates", "-"), ".. container:: gallery", "",
            "   .. figure:: gallery/bce-soft.png", "      :alt: bce-soft", "",
            "      ``losslab plot bce-soft``: binary cross-entropy with soft targets (see :doc:`/bce`).", "",
            "   .. figure:: gallery/tempered.png", "      :alt: tempered", "",
            "      ``losslab plot tempered``: the bi-tempered paper's Figure 1.", ""]
    out += [_title("Losses without a curve", "-"),
            "These compare whole images, boxes, feature maps or distributions over a grid, or take a network, so "
            "they are not a function of one prediction against one target; ``losslab plot`` refuses them the same "
            "way:", ""]
    order = {f: i for i, f in enumerate(dict.fromkeys(s.family for s in drawn + skipped))}
    for s in sorted(skipped, key=lambda s: order[s.family]):
        out.append(f"- :func:`~losslab.{s.name}` ({s.family}): {rst_escape(s.summary)}")
    return "\n".join(out) + "\n"


def write_gallery_figures(folder: Path) -> list[Path]:
    """Draw every curve and the two plates into ``folder`` (the ``losslab plot`` figures)."""
    from losslab import plot

    drawn, _ = gallery_specs()
    folder.mkdir(parents=True, exist_ok=True)
    paths = [plot.plot_losses([s.name], target=gallery_target(s), out=folder / f"{s.name}.png") for s in drawn]
    paths.append(plot.plot_bce_soft(folder / "bce-soft.png"))
    paths.append(plot.plot_tempered(folder / "tempered.png"))
    return paths


# ---------------------------------------------------------------------------------------------------------------
# choosing a loss (losslab.guide: the rules of `losslab recommend`)

# The losses the platform guidance discusses one by one ("when does X fit"); missing names are skipped.
SEED_LOSSES = ("mse_loss", "mae_loss", "msle_loss", "poisson_loss", "squared_hinge_loss", "softmax_focal_loss",
               "sigmoid_focal_loss")
# Pairs of the platform guidance whose fit the guide decides (loss, network's last activation).
SEED_PAIRS = (("categorical_cross_entropy", "tanh"), ("categorical_cross_entropy", "sigmoid"),
              ("categorical_cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid"),
              ("squared_hinge_loss", "tanh"), ("softmax_focal_loss", "softmax"), ("softmax_cross_entropy", "linear"),
              ("poisson_loss", "softplus"), ("poisson_loss", "linear"), ("msle_loss", "relu"))


def choosing_tasks() -> str:
    """One table per task: the ranked losses of ``losslab recommend --task T``, and those the rules leave out."""
    from losslab import guide

    out = []
    for task in guide.recommend_tasks():
        ranked = guide.recommend(task)
        out += [f"### {task}", "", f"`losslab recommend --task {task}`", ""]
        rows = [[str(i), api_ref(r.spec.name), r.spec.activation, md_escape(r.reason)] for i, r in enumerate(ranked, 1)]
        out += [_md_table(["#", "loss", "pairs with", "why"], rows)]
        left_out = guide.excluded(task)
        if left_out:
            out += [f"Left out for {task} because their link does not match the label structure (allowed links: "
                    f"{', '.join(guide.TASK_LINKS.get(task, ()))}): "
                    + ", ".join(f"{api_ref(s.name)} ({s.activation})" for s in left_out) + ".", ""]
    return "\n".join(out)


def choosing_modifiers() -> str:
    """Losses tagged with each modifier (``--imbalanced``, ``--noisy-labels``) and the measured outlier-robust ones."""
    from losslab import guide, registry

    rows = []
    for modifier, meaning in guide.MODIFIERS.items():
        tagged = [s for s in registry.all_specs() if modifier in s.tasks]
        rows.append([f"`--{modifier}`", md_escape(meaning), ", ".join(api_ref(s.name) for s in tagged)])
    robust = [r.spec for r in guide.recommend("regression", outliers=True) if guide.bounded_influence(r.spec)]
    rows.append(["`--outliers`", "a few targets are far off (measured: the gradient stays bounded as the residual "
                 "grows)", ", ".join(api_ref(s.name) for s in robust)])
    return _md_table(["flag", "condition", "ranked first"], rows)


def choosing_activations() -> str:
    """The activation-fit matrix: every loss on a class or value output against each output activation."""
    from losslab import guide, registry

    acts = list(guide.OUTPUT_ACTIVATIONS)
    rows = []
    for spec in registry.all_specs():
        fits = [guide.activation_fit(spec, a)[0] for a in acts]
        if all(f == "n/a" for f in fits):
            continue
        rows.append([api_ref(spec.name)] + ["✓" if f == "fits" else "" for f in fits])
    ranges = "; ".join(f"{a}: {md_escape(r)}" for a, r in guide.OUTPUT_ACTIVATIONS.items())
    return f"Output ranges: {ranges}.\n\n" + _md_table(["loss"] + acts, rows)


def choosing_pairs() -> str:
    """The guide's verdict on the pairs the platform guidance talks about."""
    from losslab import guide, registry

    rows = []
    for name, act in SEED_PAIRS:
        if name not in registry.LOSSES and name not in {s.name for s in registry.all_specs()}:
            continue
        fit, note = guide.activation_fit(registry.get(name), act)
        rows.append([api_ref(name), act, fit, md_escape(note or "")])
    return _md_table(["loss", "last activation", "verdict", "reason"], rows)


def choosing_seed_losses() -> str:
    """What the catalogue says of the losses the guidance discusses one by one."""
    from losslab import guide, registry

    names = {s.name for s in registry.all_specs()}
    out = []
    for name in SEED_LOSSES:
        if name not in names:
            continue
        spec = registry.get(name)
        robust = guide.bounded_influence(spec)
        extra = {True: " Measured: its gradient stays bounded for large residuals.",
                 False: " Measured: its gradient grows with the residual."}.get(robust, "")  # type: ignore[arg-type]
        out += [f"{api_ref(name)}", f": {md_escape(spec.summary)} {md_escape(spec.advice)}{extra} "
                f"Tasks: {', '.join(spec.tasks)}; pairs with {spec.activation}.", ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------------------
# why BCE is not zero at the target


def bce_numbers() -> dict[str, float]:
    """The Keras worked example recomputed with losslab, and the KL form that is zero at the target."""
    import torch

    import losslab
    from losslab.plot import KERAS_VALUES, KERAS_Y_PRED, KERAS_Y_TRUE

    y = torch.tensor(KERAS_Y_TRUE, dtype=torch.float64)
    p = torch.tensor(KERAS_Y_PRED, dtype=torch.float64)
    half = torch.full_like(y, 0.5)
    return {
        "keras_off": KERAS_VALUES[0],
        "keras_at": KERAS_VALUES[1],
        "bce_off": float(losslab.binary_cross_entropy(p, y)),
        "bce_at": float(losslab.binary_cross_entropy(y, y)),
        "bce_half": float(losslab.binary_cross_entropy(half, y)),
        "entropy": float(losslab.binary_entropy(y).mean()),
        "kl_off": float(losslab.binary_kl_divergence(p, y)),
        "kl_at": float(losslab.binary_kl_divergence(y, y)),
        "kl_half": float(losslab.binary_kl_divergence(half, y)),
    }


def bce_fragment() -> str:
    n = bce_numbers()
    rows = [
        ["[0.1, 0.3, 0.5, 0.8]", f"{n['keras_off']:.8f}", f"{n['bce_off']:.8f}", f"{n['kl_off']:.8f}"],
        ["[0.5, 0.5, 0.5, 0.5]", "—", f"{n['bce_half']:.8f}", f"{n['kl_half']:.8f}"],
        ["[0.5, 0.3, 0.5, 0.9] = target", f"{n['keras_at']:.7f}", f"{n['bce_at']:.8f}", f"{n['kl_at']:.8f}"],
    ]
    table = _md_table(["prediction", "Keras BCE", "losslab BCE", "losslab KL"], rows)
    return (table + f"\nThe mean binary entropy of the targets, `losslab.binary_entropy(y).mean()`, is "
            f"{n['entropy']:.8f}: exactly the cross-entropy at the target, and cross-entropy minus it is the KL "
            f"column ({n['bce_off']:.8f} − {n['entropy']:.8f} = {n['bce_off'] - n['entropy']:.8f}).\n")


# ---------------------------------------------------------------------------------------------------------------
# lab


def lab_experiments() -> list[dict[str, Any]]:
    """Each experiment's identity and its declared sub-claims (``EXPERIMENT.claims``, or a module's ``CLAIMS``)."""
    from losslab import experiments

    out = []
    for name, module in experiments.available().items():
        exp = getattr(module, "EXPERIMENT", None)
        claims = tuple(getattr(exp, "claims", None) or getattr(module, "CLAIMS", ()) or ())
        out.append({
            "name": name,
            "title": getattr(exp, "title", None) or getattr(module, "TITLE", name),
            "paper": getattr(exp, "paper", None) or getattr(module, "PAPER", ""),
            "expected": getattr(exp, "expected", None) or getattr(module, "EXPECTED", ""),
            "claims": claims,
            "profiles": getattr(exp, "profiles", None) or getattr(module, "PROFILES", {}),
        })
    return out


def _seeds(claim: Any) -> str:
    seeds = getattr(claim, "seeds", {}) or {}
    return " / ".join(str(seeds.get(p, "?")) for p in ("smoke", "quick", "full"))


def lab_fragment(results_path: str | os.PathLike[str] | None = None) -> str:
    """One section per experiment: the claim, the endpoint table declared in code and, when a ``results.json``
    is given (argument or ``$LOSSLAB_RESULTS``), the outcome table of that run."""
    results_path = results_path or os.environ.get(RESULTS_ENV)
    results = None
    if results_path and Path(results_path).is_file():
        results = json.loads(Path(results_path).read_text(encoding="utf-8"))
    out = []
    if results is None:
        out += ["```{note}",
                "No outcome tables in this build: no `results.json` was given. Run the lab and build again with "
                "its path:",
                "",
                "    losslab reproduce --profile quick --out report      # about 5 minutes on 2 cores",
                f"    {RESULTS_ENV}=report/results.json make docs",
                "```", ""]
    else:
        env = results.get("environment", {})
        out += [f"Outcomes from `{results_path}`: profile `{results.get('profile', '?')}`, seed base "
                f"{results.get('seed', '?')}, torch {env.get('torch', '?')}, {env.get('cpu_model', '?')}.", ""]
    for exp in lab_experiments():
        out += [f"### `{exp['name']}`: {md_escape(exp['title'])}", ""]
        if exp["paper"]:
            out += [f"*Paper:* {md_escape(exp['paper'])}", ""]
        if exp["expected"]:
            out += [f"*Claim tested:* {md_escape(exp['expected'])}", ""]
        if exp["claims"]:
            rows = [[f"`{c.key}`", md_escape(c.claim), md_escape(c.endpoint), f"{c.smallest_effect:g}", _seeds(c),
                     md_escape(c.group or "—")] for c in exp["claims"]]
            out += ["Endpoints declared in the experiment's source before it runs:", "",
                    _md_table(["sub-claim", "claim", "primary endpoint (paired, + favours the claim)", "SESOI",
                               "seeds smoke / quick / full", "Holm group"], rows)]
        else:
            out += ["This experiment declares no sub-claims in code yet, so it has no endpoint table.", ""]
        if results is not None:
            r = results.get("experiments", {}).get(exp["name"])
            if r is None:
                out += ["*Not in this `results.json`.*", ""]
            else:
                from losslab.experiments import report

                out += [f"**Outcome: {md_escape(report.status(r))}.** {md_escape(r.get('verdict', ''))}", ""]
                # the report's own Markdown (GitHub tables), as report.md shows it
                table = report.endpoint_table(r.get("claims") or [])
                if table:
                    out += ["\n".join(table), ""]
                if r.get("table"):
                    out += ["Headline numbers of the run:", "", r["table"].strip(), ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------------------
# migration


def migration_fragment() -> str:
    from losslab_migration import render

    return render()


# ---------------------------------------------------------------------------------------------------------------
# Sphinx glue


def generate(out: Path = GENERATED, figures: bool = True) -> None:
    """Write every generated page and fragment under ``out``."""
    api = out / "api"
    pages = api_pages()
    for name, text in pages.items():
        _write(api / f"{name}.rst", text)
    groups = api_groups()
    for family, names in groups.items():
        _write(api / f"family-{family}.rst", api_family_page(family, names))
    keep = set(pages) | {"index"} | {f"family-{f}" for f in groups}
    for stale in api.glob("*.rst"):
        if stale.stem not in keep:
            stale.unlink()
    _write(api / "index.rst", api_index())
    _write(out / "gallery.rst", gallery_page())
    frag = out / "fragments"
    _write(frag / "home.md", home_fragment())
    _write(frag / "choosing_tasks.md", choosing_tasks())
    _write(frag / "choosing_modifiers.md", choosing_modifiers())
    _write(frag / "choosing_activations.md", choosing_activations())
    _write(frag / "choosing_pairs.md", choosing_pairs())
    _write(frag / "choosing_seed_losses.md", choosing_seed_losses())
    _write(frag / "bce.md", bce_fragment())
    _write(frag / "lab.md", lab_fragment())
    _write(frag / "migration.md", migration_fragment())
    if figures:
        write_gallery_figures(out / "gallery")


_CITATION_DEF = re.compile(r"^(\s*)\.\. \[([A-Za-z][\w.:+-]*)\]")


_REF = re.compile(r"\[([A-Za-z][\w.:+-]*)\]_")


def citation_definitions() -> dict[str, list[str]]:
    """``{label: definition lines}`` of every citation defined in a public docstring (first definition wins)."""
    if _DEFINITIONS:
        return _DEFINITIONS
    import losslab

    docs = [inspect.getdoc(getattr(losslab, name)) or "" for name in losslab.__all__]
    docs += [inspect.getdoc(mod) or "" for mod_name, mod in sorted(sys.modules.items())
             if mod is not None and (mod_name == "losslab" or mod_name.startswith("losslab."))]
    for doc in docs:
        lines = doc.splitlines()
        for i, line in enumerate(lines):
            m = _CITATION_DEF.match(line)
            if not m or m.group(2) in _DEFINITIONS:
                continue
            indent = len(m.group(1))
            block = [line[indent:]]
            for more in lines[i + 1:]:
                if more.strip() and len(more) - len(more.lstrip()) > indent:
                    block.append(more[indent:])
                else:
                    break
            _DEFINITIONS[m.group(2)] = block
    return _DEFINITIONS


_DEFINITIONS: dict[str, list[str]] = {}


def citations_to_footnotes(lines: list[str]) -> None:
    """Turn a docstring's citations (``[Lin2017]_`` / ``.. [Lin2017] ...``) into auto-numbered footnotes in place.

    Citations are global in Sphinx, so the same paper cited by several losses (and by each loss's module, which
    shows the function's docstring) would be a duplicate label; a footnote belongs to its page. A label cited but
    defined only in another docstring (a family's shared paper) gets that definition appended, so every page
    lists its own references.
    """
    labels = {m.group(2) for line in lines if (m := _CITATION_DEF.match(line))}
    cited = {m.group(1) for line in lines for m in _REF.finditer(line)}
    missing = sorted(label for label in cited - labels if label in citation_definitions())
    if missing:
        lines += ["", ".. rubric:: References (cited above)", ""]
        for label in missing:
            lines += citation_definitions()[label] + [""]
        labels |= set(missing)
    if not labels:
        return
    ref = re.compile(r"\[(" + "|".join(re.escape(label) for label in sorted(labels, key=len, reverse=True)) + r")\]_")
    for i, line in enumerate(lines):
        m = _CITATION_DEF.match(line)
        if m:
            line = f"{m.group(1)}.. [#{m.group(2)}]" + line[m.end():]
        lines[i] = ref.sub(r"[#\1]_", line)


def _process_docstring(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    citations_to_footnotes(lines)


def _builder_inited(app: Any) -> None:
    generate(Path(app.srcdir) / "generated")


def setup(app: Any) -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    app.connect("builder-inited", _builder_inited)
    app.connect("autodoc-process-docstring", _process_docstring)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
