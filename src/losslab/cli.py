"""The ``losslab`` command: list, explain, plot and recommend losses, and reproduce the papers' experiments."""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Sequence

from . import registry


def _cmd_list(args: argparse.Namespace) -> int:
    specs = registry.all_specs()
    if args.task:
        specs = [s for s in specs if args.task in s.tasks]
    if args.family:
        specs = [s for s in specs if s.family == args.family]
    rows = [(s.name, s.family, s.input_kind, s.target_kind, ", ".join(s.tasks)) for s in specs]
    header = ("name", "family", "input", "target", "tasks")
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    print(fmt.format(*header))
    print(fmt.format(*("-" * w for w in widths)))
    for r in rows:
        print(fmt.format(*r))
    print(f"\n{len(rows)} losses")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    try:
        spec = registry.get(args.name)
    except KeyError as e:
        print(e.args[0], file=sys.stderr)
        return 2
    sig = inspect.signature(spec.function)
    doc = inspect.getdoc(spec.function) or ""
    args_section = _docstring_section(doc, "Args")
    print(f"{spec.name}  ({spec.family})")
    print(f"  {spec.summary}")
    print(f"\n  formula:     {spec.formula}")
    print(f"  input:       {spec.input_kind}")
    print(f"  target:      {spec.target_kind}")
    print(f"  activation:  {spec.activation}")
    print(f"  range:       {spec.value_range}")
    print(f"  tasks:       {', '.join(spec.tasks)}")
    if spec.module is not None:
        print(f"  module:      losslab.{spec.module.__name__}")
    print(f"  reference:   {spec.reference}")
    if spec.advice:
        print(f"  advice:      {spec.advice}")
    print(f"\n  losslab.{spec.name}{sig}")
    if args_section:
        print("\n  arguments:")
        for line in args_section:
            print(f"    {line}")
    return 0


def _docstring_section(doc: str, title: str) -> list[str]:
    lines = doc.splitlines()
    out: list[str] = []
    inside = False
    for line in lines:
        if line.strip() == f"{title}:":
            inside = True
            continue
        if inside:
            if line and not line.startswith(" "):
                break
            out.append(line.strip() if not line.startswith("        ") else "  " + line.strip())
    while out and not out[-1]:
        out.pop()
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="losslab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="table of every loss in the catalogue")
    p.add_argument("--task", choices=registry.TASKS, help="only losses for this task")
    p.add_argument("--family", help="only losses of this family (module)")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("info", help="formula, arguments, paper and activation of one loss")
    p.add_argument("name")
    p.set_defaults(func=_cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``losslab`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
