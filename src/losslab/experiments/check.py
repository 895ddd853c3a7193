"""``make lab-check``: do the lab's verdicts survive another seed base and another CPU code path?

Runs a profile (default ``quick``) three times, each in a fresh process so that the environment is read before
torch loads:

1. ``base``: seed base 0, the default MKL/oneDNN kernels;
2. ``seed1``: seed base 1 (a disjoint block of judging seeds);
3. ``avx2``: seed base 0 with ``MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2`` (the kernels another CPU of
   the same family would pick; the digits move).

It then compares every sub-claim's outcome across the three runs and **fails when any moves between "holds" and
"does not hold"** (moves to or from "inconclusive" are reported, not failures: quick may honestly be undecided).
An experiment without claims is compared on its ``holds``. Each run writes its own report under ``OUT/<run>/``;
the comparison goes to ``OUT/check.json`` and stdout.

Usage: ``python -m losslab.experiments.check [--profile quick] [--jobs 2] [--out report-check] [--reuse-base DIR]``
(``--reuse-base`` takes a finished seed-0 run instead of running it again). Cost: three profile runs, about
3 x 5 minutes for quick on 2 idle cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["RUNS", "outcomes", "flips", "main"]

RUNS: dict[str, tuple[int, dict[str, str]]] = {
    "base": (0, {}),
    "seed1": (1, {}),
    "avx2": (0, {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}),
}
DECIDED = ("holds", "does not hold")


def outcomes(results: dict[str, Any]) -> dict[str, str]:
    """``{"experiment/claim": outcome}`` of one ``results.json`` (``"experiment"`` for one without claims)."""
    out: dict[str, str] = {}
    for name, r in results["experiments"].items():
        if r.get("error"):
            out[name] = "error"
            continue
        claims = r.get("claims") or []
        if not claims:
            out[name] = {True: "holds", False: "does not hold"}.get(r.get("holds"), r.get("outcome") or "inconclusive")
        for c in claims:
            out[f"{name}/{c['key']}"] = c["outcome"]
    return out


def flips(runs: dict[str, dict[str, str]]) -> tuple[list[str], list[str]]:
    """``(failures, notes)``: keys whose outcome is "holds" in one run and "does not hold" in another, and keys whose
    outcome differs otherwise (or that errored)."""
    keys = sorted(set().union(*runs.values()))
    failures, notes = [], []
    for key in keys:
        seen = {run: o.get(key, "missing") for run, o in runs.items()}
        decided = {v for v in seen.values() if v in DECIDED}
        line = f"{key}: " + ", ".join(f"{run} {v}" for run, v in seen.items())
        if len(decided) > 1:
            failures.append(line)
        elif len(set(seen.values())) > 1 or "error" in seen.values():
            notes.append(line)
    return failures, notes


def _run(name: str, seed: int, env: dict[str, str], profile: str, jobs: int, out: Path) -> dict[str, Any]:
    code = (
        "import sys; from losslab.experiments.runner import reproduce; "
        f"reproduce(profile={profile!r}, seed={seed}, out_dir={str(out)!r}, jobs={jobs}, show_progress=False)"
    )
    start = time.perf_counter()
    print(f"lab-check: {name} (seed base {seed}{', ' + ' '.join(f'{k}={v}' for k, v in env.items()) if env else ''})",
          file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, **env})
    print(f"lab-check: {name} done in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    return json.loads((out / "results.json").read_text())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m losslab.experiments.check", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick", "full"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default="report-check")
    parser.add_argument("--reuse-base", default=None, help="a finished seed-0 run of the same profile")
    args = parser.parse_args(argv)
    out = Path(args.out)
    results: dict[str, dict[str, Any]] = {}
    for name, (seed, env) in RUNS.items():
        if name == "base" and args.reuse_base:
            results[name] = json.loads((Path(args.reuse_base) / "results.json").read_text())
            if results[name]["profile"] != args.profile or results[name]["seed"] != 0:
                print(f"--reuse-base: expected a seed-0 {args.profile} run, got {results[name]['profile']} seed "
                      f"{results[name]['seed']}", file=sys.stderr)
                return 2
            continue
        results[name] = _run(name, seed, env, args.profile, args.jobs, out / name)
    per_run = {name: outcomes(r) for name, r in results.items()}
    failures, notes = flips(per_run)
    report = {
        "profile": args.profile,
        "runs": {n: {"seed": r["seed"], "environment": r.get("environment", {}), "total_seconds": r.get("total_seconds")}
                 for n, r in results.items()},
        "outcomes": per_run,
        "flips": failures,
        "other_changes": notes,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "check.json").write_text(json.dumps(report, indent=2) + "\n")
    for line in notes:
        print(f"  moved (allowed): {line}")
    for line in failures:
        print(f"  FLIP: {line}")
    total = len(set().union(*per_run.values()))
    print(f"lab-check: {total} verdicts, {len(failures)} flip(s) between holds and does not hold, {len(notes)} other "
          f"change(s); details in {out / 'check.json'}")
    return 1 if failures else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
