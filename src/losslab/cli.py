"""The losslab command: list, explain, plot and recommend losses, and reproduce the papers' experiments.

examples:
  losslab list --task detection
  losslab info sigmoid_focal_loss
  losslab plot mse_loss huber_loss --target 0
  losslab recommend --task single-label --noisy-labels --activation softmax
  losslab check categorical_cross_entropy --activation tanh
  losslab reproduce --profile quick
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import os
import re
import shutil
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from . import __version__, guide, registry

# The modules of the [lab] extra (import names): a command that needs one says which extra to install.
LAB_MODULES = ("matplotlib", "tqdm", "mlxtend", "sklearn", "edt", "markdown_it")
MAX_WIDTH = 100


class UsageError(Exception):
    """A user's mistake on the command line: reported as one line, exit status 2."""


def _width() -> int:
    """Columns to fill: the terminal's width, at most 100 (and at least 60)."""
    return max(60, min(MAX_WIDTH, shutil.get_terminal_size((MAX_WIDTH, 24)).columns))


def _wrap(text: str, indent: int, width: int | None = None) -> list[str]:
    """``text`` wrapped to ``width`` columns, every line after the first indented by ``indent`` columns."""
    width = width or _width()
    return textwrap.wrap(text, width=max(20, width), subsequent_indent=" " * indent, break_on_hyphens=False,
                         break_long_words=False) or [""]


def _say(text: str, prefix: str = "", hang: int = 0) -> None:
    """Print ``text`` wrapped to the width, each line after ``prefix``, continuation lines hanging by ``hang``."""
    for line in _wrap(text, hang, _width() - len(prefix)):
        print(f"{prefix}{line}".rstrip())


def _require_lab(*modules: str) -> None:
    """Import ``modules`` of the [lab] extra up front, so a missing one is reported before any work starts."""
    import importlib

    for name in modules:
        importlib.import_module(name)


# ---------------------------------------------------------------------------------------------------------------
# list / info


def _cmd_list(args: argparse.Namespace) -> int:
    specs = registry.all_specs()
    families = sorted({s.family for s in specs})
    if args.family and args.family not in families:
        close = difflib.get_close_matches(args.family, families, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(families)}"
        raise UsageError(f"list: unknown family {args.family!r}{hint}")
    if args.task:
        specs = [s for s in specs if args.task in s.tasks]
    if args.family:
        specs = [s for s in specs if s.family == args.family]
    width = _width()
    rows = [(s.name, s.family, s.input_kind, ", ".join(s.tasks)) for s in specs]
    header = ("name", "family", "input", "tasks")
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header[:-1])]
    indent = sum(widths) + 2 * len(widths)
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    print(fmt.format(*header).rstrip())
    print(fmt.format(*("-" * w for w in widths), "-" * max(5, min(30, width - indent))).rstrip())
    for r in rows:
        tasks = textwrap.wrap(r[-1], max(width, indent + 24), initial_indent=" " * indent,
                              subsequent_indent=" " * indent, break_long_words=False)
        print(fmt.format(*r[:-1], tasks[0][indent:]).rstrip())
        for line in tasks[1:]:
            print(line.rstrip())
    print(f"\n{len(rows)} losses" + ("" if rows else " (no loss matches both filters)"))
    return 0


_GREEK = {name: chr(code) for name, code in (
    ("alpha", 0x3B1), ("beta", 0x3B2), ("gamma", 0x3B3), ("delta", 0x3B4), ("epsilon", 0x3B5), ("varepsilon", 0x3B5),
    ("zeta", 0x3B6), ("eta", 0x3B7), ("theta", 0x3B8), ("kappa", 0x3BA), ("lambda", 0x3BB), ("mu", 0x3BC),
    ("nu", 0x3BD), ("xi", 0x3BE), ("pi", 0x3C0), ("rho", 0x3C1), ("sigma", 0x3C3), ("tau", 0x3C4), ("phi", 0x3C6),
    ("varphi", 0x3C6), ("chi", 0x3C7), ("psi", 0x3C8), ("omega", 0x3C9), ("Gamma", 0x393), ("Delta", 0x394),
    ("Sigma", 0x3A3), ("Phi", 0x3A6), ("Omega", 0x3A9), ("ell", 0x2113),
)}
_LATEX_SYMBOLS = {
    "cdot": "·", "times": "×", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "ne": "≠", "neq": "≠", "in": "∈",
    "notin": "∉", "infty": "∞", "sum": "Σ", "prod": "Π", "approx": "≈", "to": "→", "rightarrow": "→", "pm": "±",
    "partial": "∂", "nabla": "∇", "sqrt": "sqrt", "log": "log", "exp": "exp", "max": "max", "min": "min",
    "cos": "cos", "sin": "sin", "tanh": "tanh", "quad": " ", "qquad": "  ", "lvert": "|", "rvert": "|",
    "lVert": "‖", "rVert": "‖", "|": "‖", "mid": "|", "ldots": "…", "dots": "…", "cdots": "⋯",
}


def plain_text(text: str) -> str:
    r"""Docstring RST and LaTeX as readable terminal text.

    Example:
        >>> plain_text(r"``reduction`` of :math:`\varepsilon \le 1` (see :func:`losslab.mse_loss`)")
        'reduction of ε ≤ 1 (see losslab.mse_loss)'
        >>> plain_text(r":math:`\frac{a}{b + 1}` and :math:`x_{i}^{2}`")
        'a/(b + 1) and x_i^2'
    """
    text = re.sub(r":(?:math|func|class|meth|data|attr|mod|obj|ref|cite):`~?([^`]*)`", r"`\1`", text)
    text = re.sub(r"``([^`]*)``", r"\1", text)
    text = re.sub(r"`([^`]*)`_?", r"\1", text)
    text = re.sub(r"\[([A-Za-z][\w-]*)\]_", r"[\1]", text)  # citations [Lin2017]_
    for _ in range(4):  # innermost braces first: fractions, font commands, sub- and superscripts
        text = re.sub(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}", lambda m: _frac(m[1], m[2]), text)
        text = re.sub(r"\\(?:mathrm|operatorname|text|mathbf|mathit|boldsymbol|mathcal|bar|hat|tilde)\{([^{}]*)\}",
                      r"\1", text)
        text = re.sub(r"([_^])\{([^{}]*)\}",
                      lambda m: m[1] + (m[2] if len(m[2]) == 1 or m[2].isalnum() else f"({m[2]})"), text)
    text = re.sub(r"\\(?:left|right|big|Big|bigg|Bigg)\b\s*", "", text)
    text = re.sub(r"\\([A-Za-z]+|\|)", lambda m: _GREEK.get(m[1], _LATEX_SYMBOLS.get(m[1], m[1])), text)
    text = text.replace("\\,", " ").replace("\\;", " ").replace("\\!", "").replace("{", "").replace("}", "")
    return re.sub(r"[ \t]+", " ", text).strip() if "\n" not in text else text


def _frac(num: str, den: str) -> str:
    wrap = lambda s: s.strip() if re.fullmatch(r"[\w.^]+", s.strip()) else f"({s.strip()})"  # noqa: E731
    return f"{wrap(num)}/{wrap(den)}"


def _cmd_info(args: argparse.Namespace) -> int:
    try:
        spec = registry.get(args.name)
    except KeyError as e:
        raise UsageError(e.args[0]) from None
    sig = inspect.signature(spec.function)
    doc = inspect.getdoc(spec.function) or ""
    fields = [
        ("formula", spec.formula),
        ("input", spec.input_kind),
        ("target", spec.target_kind),
        ("activation", spec.activation + (f" ({spec.activation_note})" if spec.activation_note else "")),
        ("range", spec.value_range),
        ("tasks", ", ".join(spec.tasks)),
        ("module", f"losslab.{spec.module.__name__}" if spec.module is not None else ""),
        ("reference", spec.reference),
        ("advice", spec.advice),
    ]
    print(f"{spec.name}  ({spec.family})")
    _say(plain_text(spec.summary), "  ")
    print()
    for key, value in fields:
        if value:
            _say(f"{key + ':':<12} {plain_text(value)}", "  ", 13)
    print()
    params = [str(p.replace(annotation=inspect.Parameter.empty)) for p in sig.parameters.values()]
    star = next((i for i, p in enumerate(sig.parameters.values()) if p.kind is p.KEYWORD_ONLY), None)
    if star is not None and not any(p.kind is p.VAR_POSITIONAL for p in sig.parameters.values()):
        params.insert(star, "*")
    _say(f"losslab.{spec.name}({', '.join(params)})", "  ", len(spec.name) + 9)
    args_section = _docstring_section(doc, "Args")
    if args_section:
        print("\n  arguments:")
        for name, text in args_section:
            _say(f"{name}: {plain_text(text)}", "    ", 4)
    return 0


def _docstring_section(doc: str, title: str) -> list[tuple[str, str]]:
    """``(argument, description)`` pairs of a Google-style docstring section (continuation lines joined)."""
    items: list[tuple[str, str]] = []
    inside = False
    for line in doc.splitlines():
        if line.strip() == f"{title}:":
            inside = True
            continue
        if not inside:
            continue
        if line and not line.startswith(" "):
            break
        m = re.match(r"^ {4}(\*{0,2}[\w, ]+?)(?: \(([^)]*)\))?:\s*(.*)$", line)
        if m and not line.startswith("     "):
            items.append((m[1], m[3]))
        elif items and line.strip():
            items[-1] = (items[-1][0], f"{items[-1][1]} {line.strip()}")
    return items


# ---------------------------------------------------------------------------------------------------------------
# plot


def _cmd_plot(args: argparse.Namespace) -> int:
    _require_lab("matplotlib")
    from . import plot as plotting

    for name in args.names:
        if name in plotting.SPECIAL:
            continue
        try:
            registry.get(name)
        except KeyError as e:
            raise UsageError(e.args[0]) from None
    if args.out is not None and Path(args.out).is_dir():
        raise UsageError(f"plot: --out {args.out!r} is a folder; name the PNG file to write")
    try:
        path = plotting.plot(args.names, target=args.target, out=args.out)
    except ValueError as e:
        raise UsageError(f"plot: {e}") from None
    print(path)
    return 0


# ---------------------------------------------------------------------------------------------------------------
# recommend


def _cmd_recommend(args: argparse.Namespace) -> int:
    try:
        activation = guide.parse_activation(args.activation) if args.activation else None
    except ValueError as e:
        raise UsageError(f"recommend: {e}") from None
    modifiers = [m for m in guide.MODIFIERS if getattr(args, m.replace("-", "_"))]
    ranked = guide.recommend(args.task, modifiers=modifiers, outliers=args.outliers, activation=activation)
    flags = [m.replace("-", " ") for m in modifiers] + (["outliers"] if args.outliers else [])
    print(f"task: {args.task}" + (f" ({', '.join(flags)})" if flags else "")
          + (f", network output: {activation}" if activation else ""))
    if not ranked:
        print("  no registered loss covers this task yet; `losslab list` shows what is installed")
        return 1
    for m in modifiers:
        if not any(m in r.spec.tasks for r in ranked):
            print(f"  note: no loss for {args.task} in the catalogue is tagged {m}; the ranking ignores it")
    if args.outliers and not any("outliers" in r.reason for r in ranked):
        print(f"  note: no loss for {args.task} has a bounded gradient for large residuals; --outliers changes nothing")
    print()
    group = ""
    for i, r in enumerate(ranked, 1):
        if r.group != group:
            group = r.group
            print(f"\nalso suited to {group.replace('-', ' ')}: {guide.MODIFIERS[group]} (--{group} ranks these first)")
        print(f"{i:>2}. {r.spec.name}")
        _say(plain_text(r.reason), "    ", 2)
        if r.fit != "n/a":
            _say(f"network output: {guide.network_output(r.spec)}", "    ", 2)
        if r.fit == "mismatch":
            _say(f"warning: {r.note}", "    ", 2)
        elif r.fit == "n/a":
            _say(f"activation: {r.note}", "    ", 2)
        elif r.fit == "fits":
            print(f"    fits a {activation} output as it is")
    left_out = guide.excluded(args.task)
    if left_out:
        links = sorted({s.activation for s in left_out})
        print()
        _say(f"not listed: {', '.join(s.name for s in left_out)} (tagged {args.task}, but with a "
             f"{'/'.join(links)} link: one independent yes/no score per output; for two classes with one output, "
             f"see --task multi-label)")
    if activation is not None and ranked[0].fit == "mismatch":
        print()
        _say(f"warning: {ranked[0].note}")
        fits = next((i for i, r in enumerate(ranked, 1) if r.fit == "fits"), None)
        if fits is not None:
            print(f"with a {activation} output, {ranked[fits - 1].spec.name} (#{fits}) fits as it is")
        else:
            print(f"no loss listed for {args.task} fits a {activation} output as it is")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    try:
        spec = registry.get(args.name)
    except KeyError as e:
        raise UsageError(e.args[0]) from None
    try:
        activation = guide.parse_activation(args.activation)
    except ValueError as e:
        raise UsageError(f"check: {e}") from None
    fit, note = guide.activation_fit(spec, activation)
    if fit == "fits":
        print(f"{spec.name} fits a {activation} output as it is")
    elif fit == "n/a":
        _say(f"{spec.name}: the output activation does not apply: {note}")
    else:
        _say(f"{spec.name} does not fit a {activation} output: {note}")
        _say(f"it wants {guide.network_output(spec)}")
    return 0 if fit != "mismatch" else 1


# ---------------------------------------------------------------------------------------------------------------
# reproduce


def _cmd_reproduce(args: argparse.Namespace) -> int:
    _require_lab("matplotlib", "tqdm", "sklearn", "mlxtend", "markdown_it")
    from .experiments import available
    from .experiments.runner import default_jobs, reproduce

    known = available()
    unknown = [n for n in args.names if n not in known]
    if unknown:
        import difflib

        for n in unknown:
            close = difflib.get_close_matches(n, list(known), n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of {sorted(known)}"
            print(f"unknown experiment {n!r}{hint}", file=sys.stderr)
        return 2
    if not known:
        print("no experiments are installed", file=sys.stderr)
        return 2
    jobs = args.jobs or default_jobs()
    names = args.names or list(known)
    print(f"losslab reproduce: {len(names)} experiment(s), profile {args.profile}, seed {args.seed}, "
          f"{jobs} job(s) -> {args.out}", file=sys.stderr)
    results = reproduce(names, profile=args.profile, seed=args.seed, out_dir=args.out, jobs=jobs,
                        show_progress=not args.no_progress)
    records = results["experiments"]
    width = max(len(n) for n in records)
    for name, r in records.items():
        state = "ERROR" if r.get("error") else r.get("outcome") or ("holds" if r["holds"] else "does not hold")
        print(f"{name:<{width}}  {state:<13}  {r['seconds']:6.1f} s")
    out = Path(args.out)
    print(f"total {results['total_seconds']:.1f} s")
    print(f"report: {(out / 'report.html').resolve()}")
    failed = [n for n, r in records.items() if r.get("error")]
    if failed:
        print(f"{len(failed)} experiment(s) failed: {', '.join(failed)} (see results.json)", file=sys.stderr)
        return 1
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``losslab <cmd>: error: ...``, exit 2) instead of usage + error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer (1 or more), got {value}")
    return value


def _out_dir(text: str) -> str:
    if Path(text).exists() and not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is an existing file; name a folder for the report")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="losslab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"losslab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="table of every loss in the catalogue")
    p.add_argument("--task", choices=registry.TASKS, help="only losses for this task")
    p.add_argument("--family", help="only losses of this family (regression, classification, focal, ...)")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("info", help="formula, arguments, paper and activation of one loss")
    p.add_argument("name", help="a registered loss, e.g. sigmoid_focal_loss (see losslab list)")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser(
        "plot",
        help="draw losses against their input for a fixed target (or the plates 'tempered', 'bce-soft')",
    )
    p.add_argument("names", nargs="+", metavar="NAME", help="registered losses, or 'tempered' / 'bce-soft'")
    p.add_argument("--target", type=float, default=None, help="the fixed target (default 1 for classification, 0 else)")
    p.add_argument("--out", default=None, help="PNG to write (default NAME.png or losses.png)")
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("recommend", help="ranked losses for a task, with reasons and an activation check")
    p.add_argument("--task", required=True, choices=guide.recommend_tasks())
    for modifier, what in guide.MODIFIERS.items():
        p.add_argument(f"--{modifier}", action="store_true", help=what)
    p.add_argument("--outliers", action="store_true", help="targets contain outliers (regression, counts)")
    p.add_argument("--activation", help=f"the network's last activation ({', '.join(guide.OUTPUT_ACTIVATIONS)})")
    p.set_defaults(func=_cmd_recommend)

    p = sub.add_parser("check", help="does a loss fit the network's last activation as it is? (exit 1 if not)")
    p.add_argument("name", help="a registered loss")
    p.add_argument("--activation", required=True, help=f"the network's last activation "
                   f"({', '.join(guide.OUTPUT_ACTIVATIONS)})")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("reproduce", help="run the experiments and write the report (results.json, report.md/html)")
    p.add_argument("names", nargs="*", metavar="NAME", help="experiments to run (default: all)")
    p.add_argument("--profile", choices=("smoke", "quick", "full"), default="quick",
                   help="smoke: seconds, checks the wiring; quick: minutes; full: the paper-sized runs")
    p.add_argument("--out", default="report", type=_out_dir, help="report folder (default: report)")
    p.add_argument("--seed", type=int, default=0, help="base seed of every experiment (default 0)")
    p.add_argument("--jobs", type=_jobs, default=None, help="parallel single-threaded jobs (default: cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_reproduce)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``losslab`` command; returns the exit status.

    A user's mistake prints one line on stderr and returns 2; a command that needs the ``[lab]`` extra says so; a
    closed pipe (``losslab list | head``) ends quietly.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()
        return code
    except UsageError as e:
        print(f"losslab {e}" if not str(e).startswith("unknown") else str(e), file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:
        root = (e.name or "").split(".")[0]
        if root not in LAB_MODULES:
            raise
        print(f"losslab {args.command}: needs the lab extra (missing module {root!r}); "
              f"install it with: pip install 'losslab[lab]'", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # the reader went away (losslab list | head): stop quietly, and keep Python's exit flush from failing
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
