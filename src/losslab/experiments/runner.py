"""``losslab reproduce``: run the experiments as parallel single-threaded jobs and collect their results.

Each experiment runs in its own worker process with ``torch.set_num_threads(1)`` (small CPU models run faster
and far more steadily on one thread each than on one multi-threaded process), writes its figures into
``OUT/<name>/``, and returns a :class:`~losslab.experiments.Result`. An experiment that raises is recorded
with its error and traceback; the other experiments still run. :func:`reproduce` then writes
``results.json``, ``report.md`` and ``report.html`` (see :mod:`losslab.experiments.report`).

The numbers depend only on the experiment, the profile and the seed, never on ``jobs`` or on the order in
which experiments finish: every job seeds its own generators from ``seed``.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import platform
import queue
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

PROFILES = ("smoke", "quick", "full")

__all__ = ["PROFILES", "default_jobs", "environment", "run_one", "run_experiments", "reproduce", "RESULTS_FILE"]

RESULTS_FILE = "results.json"


def default_jobs() -> int:
    """The number of CPU cores this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# ---------------------------------------------------------------------------------------------------------------
# Progress: experiments call ``progress(iterable, desc=..., total=...)``. In a worker process the wrapper sends
# (name, desc, done, total) events through a queue to the parent, which draws one tqdm bar per running job.


class _QueueProgress:
    """A picklable ``progress`` callable that reports each step of an experiment's loops through a queue."""

    def __init__(self, name: str, events: Any) -> None:
        self.name = name
        self.events = events

    def __call__(self, iterable: Iterable[Any], desc: str = "", total: int | None = None, **_: Any) -> Iterator[Any]:
        if total is None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except TypeError:
                total = None
        self._send(desc, 0, total)
        done = 0
        for item in iterable:
            yield item
            done += 1
            self._send(desc, done, total)

    def _send(self, desc: str, done: int, total: int | None) -> None:
        try:
            self.events.put_nowait((self.name, desc, done, total))
        except Exception:  # a full or closed queue must never break an experiment
            pass


def _tqdm_progress(name: str, position: int = 1) -> Callable[..., Iterable[Any]]:
    """In-process progress: a transient tqdm bar per loop."""
    from tqdm.auto import tqdm

    def progress(iterable: Iterable[Any], desc: str = "", total: int | None = None, **_: Any) -> Iterable[Any]:
        return tqdm(iterable, desc=f"{name}: {desc}", total=total, leave=False, position=position, dynamic_ncols=True)

    return progress


# ---------------------------------------------------------------------------------------------------------------


def run_one(
    name: str,
    profile: str,
    seed: int,
    out_dir: str | os.PathLike[str],
    progress: Callable[..., Iterable[Any]] | None = None,
    threads: int | None = 1,
    module_name: str | None = None,
) -> dict[str, Any]:
    """Run one experiment and return its record for ``results.json`` (never raises for a failing experiment).

    Args:
        name: The experiment's ``NAME``.
        profile: ``"smoke"`` | ``"quick"`` | ``"full"``.
        seed: Base seed handed to the experiment.
        out_dir: The report folder; the experiment's figures go to ``out_dir/<name>/``.
        progress: ``progress(iterable, desc=..., total=...)`` passed to the experiment.
        threads: ``torch.set_num_threads`` for the run (``None`` leaves it alone).
        module_name: The experiment's module (e.g. ``"losslab.experiments.imbalance"``); a worker process then
            imports only that module instead of discovering every experiment.

    Returns:
        ``Result.to_dict()`` with figure paths relative to ``out_dir`` and ``error: None``; or, when the
        experiment raised, a record with ``holds: None``, the error message and its traceback.
    """
    import torch

    from . import load

    if threads is not None:
        torch.set_num_threads(threads)
    start, cpu_start = time.perf_counter(), time.process_time()
    module = None
    try:
        module = _import(module_name) if module_name else load(name)
        if getattr(module, "NAME", None) != name:
            raise KeyError(f"module {module.__name__} defines NAME {getattr(module, 'NAME', None)!r}, not {name!r}")
        exp_dir = Path(out_dir) / name
        exp_dir.mkdir(parents=True, exist_ok=True)
        result = module.run(profile, seed=seed, out_dir=exp_dir, progress=progress or _silent)
        seconds = time.perf_counter() - start
        record = result.to_dict()
        record["figures"] = [_relative_figure(f, exp_dir, Path(out_dir), name) for f in result.figures]
        record["seconds"] = round(seconds, 2)
        record["cpu_seconds"] = round(time.process_time() - cpu_start, 2)
        record["error"] = None
        return record
    except Exception as e:  # noqa: BLE001 - a failing experiment is recorded, not raised
        seconds = time.perf_counter() - start
        return _error_record(name, module, profile, seed, seconds, e)


def _import(module_name: str) -> Any:
    import importlib

    return importlib.import_module(module_name)


def _silent(iterable: Iterable[Any], **_: Any) -> Iterator[Any]:
    return iter(iterable)


def _relative_figure(fig: str, exp_dir: Path, out_dir: Path, name: str) -> str:
    p = Path(fig)
    if not p.is_absolute():
        p = exp_dir / p
    try:
        return p.resolve().relative_to(out_dir.resolve()).as_posix()
    except ValueError:
        return p.as_posix()


def _error_record(
    name: str, module: Any, profile: str, seed: int, seconds: float, error: BaseException
) -> dict[str, Any]:
    message = f"{type(error).__name__}: {error}"
    return {
        "name": name,
        "title": getattr(module, "TITLE", name),
        "paper": getattr(module, "PAPER", ""),
        "expected": getattr(module, "EXPECTED", ""),
        "profile": profile,
        "seed": seed,
        "metrics": {},
        "holds": None,
        "outcome": "error",
        "claims": [],
        "verdict": f"The experiment failed before it could measure anything ({message}).",
        "table": "",
        "figures": [],
        "paper_numbers": None,
        "seconds": round(seconds, 2),
        "error": message,
        "traceback": "".join(traceback.format_exception(type(error), error, error.__traceback__)),
    }


def _worker(name: str, module_name: str | None, profile: str, seed: int, out_dir: str, events: Any) -> dict[str, Any]:
    return run_one(name, profile, seed, out_dir, progress=_QueueProgress(name, events), threads=1,
                   module_name=module_name)


def _worker_init() -> None:
    # A spawned worker has not imported torch yet (this module imports it lazily), so the BLAS/OpenMP pools read
    # these when torch loads; run_one also calls torch.set_num_threads(1).
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"
    os.environ.setdefault("MPLBACKEND", "Agg")


def run_experiments(
    names: Sequence[str],
    *,
    profile: str = "quick",
    seed: int = 0,
    out_dir: str | os.PathLike[str],
    jobs: int | None = None,
    show_progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Run ``names`` and return ``{name: record}`` in the order of ``names``.

    With ``jobs == 1`` the experiments run one after another in this process (one torch thread); otherwise in
    a pool of ``jobs`` fresh worker processes (``spawn``), one single-threaded experiment per worker at a time.
    """
    if profile not in PROFILES:
        raise ValueError(f"profile: expected one of {PROFILES}, got {profile!r}")
    jobs = default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise ValueError(f"jobs: expected >= 1, got {jobs}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = min(jobs, max(1, len(names)))
    records: dict[str, dict[str, Any]] = {}
    overall = _overall_bar(len(names), show_progress)
    try:
        if jobs == 1:
            import torch

            previous = torch.get_num_threads()
            try:
                for name in names:
                    progress = _tqdm_progress(name) if show_progress else None
                    records[name] = run_one(name, profile, seed, out, progress=progress, threads=1)
                    _finish(overall, records[name])
            finally:
                torch.set_num_threads(previous)
        else:
            records = _run_pool(names, profile, seed, out, jobs, overall, show_progress)
    finally:
        if overall is not None:
            overall.close()
    return {name: records[name] for name in names}


def _overall_bar(total: int, show: bool) -> Any:
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="experiments", unit="exp", position=0, dynamic_ncols=True)


def _finish(bar: Any, record: dict[str, Any]) -> None:
    if bar is None:
        return
    state = "error" if record.get("error") else record.get("outcome", "?")
    bar.write(f"  {record['name']:<16} {state:<14} {record['seconds']:7.1f} s")
    bar.update(1)


def _run_pool(
    names: Sequence[str], profile: str, seed: int, out: Path, jobs: int, overall: Any, show: bool
) -> dict[str, dict[str, Any]]:
    ctx = mp.get_context("spawn")
    manager = ctx.Manager()
    events = manager.Queue()
    stop = threading.Event()
    listener = threading.Thread(target=_draw_events, args=(events, stop, show, jobs), daemon=True)
    listener.start()
    records: dict[str, dict[str, Any]] = {}
    try:
        with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_init) as pool:
            modules = _module_names(names)
            futures = {
                pool.submit(_worker, n, modules.get(n), profile, seed, str(out), events): n
                for n in _longest_first(names, out, profile)
            }
            for fut in cf.as_completed(futures):
                name = futures[fut]
                try:
                    records[name] = fut.result()
                except Exception as e:  # noqa: BLE001 - e.g. a worker killed by the OS
                    records[name] = _error_record(name, None, profile, seed, 0.0, e)
                    try:
                        from . import load

                        module = load(name)
                        records[name].update(title=module.TITLE, paper=module.PAPER, expected=module.EXPECTED)
                    except Exception:  # noqa: BLE001
                        pass
                events.put((name, None, -1, None))  # tells the listener to close this job's bar
                _finish(overall, records[name])
    finally:
        stop.set()
        listener.join(timeout=2)
        manager.shutdown()
    return records


def _longest_first(names: Sequence[str], out: Path, profile: str) -> list[str]:
    """Submission order for the pool: the slowest experiments of a previous run in ``out`` first (so a long job
    does not start last and leave one core idle); experiments without a previous time go first, in given order."""
    import json

    previous: dict[str, float] = {}
    try:
        old = json.loads((out / RESULTS_FILE).read_text())
        if old.get("profile") == profile:
            previous = {n: float(r.get("cpu_seconds") or r.get("seconds") or 0.0) for n, r in old["experiments"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return sorted(names, key=lambda n: -previous.get(n, float("inf")))


def _module_names(names: Sequence[str]) -> dict[str, str]:
    """``{NAME: module path}`` for the experiments the parent already discovered."""
    from . import available

    try:
        known = available()
    except Exception:  # noqa: BLE001 - the workers then discover the experiments themselves
        return {}
    return {n: known[n].__name__ for n in names if n in known}


def _draw_events(events: Any, stop: threading.Event, show: bool, jobs: int) -> None:
    """Parent-side listener: one tqdm bar per running experiment, fed by the workers' progress events."""
    bars: dict[str, Any] = {}
    slots: list[str | None] = [None] * jobs
    if show:
        from tqdm.auto import tqdm
    while not stop.is_set() or not _empty(events):
        try:
            name, desc, done, total = events.get(timeout=0.2)
        except (queue.Empty, EOFError, OSError, BrokenPipeError):
            continue
        if not show:
            continue
        if done == -1:
            if name in bars:
                bars.pop(name).close()
                slots[slots.index(name)] = None
            continue
        bar = bars.get(name)
        if bar is None:
            slot = next((i for i, s in enumerate(slots) if s is None), len(slots))
            if slot == len(slots):
                slots.append(None)
            slots[slot] = name
            bar = tqdm(total=total, desc=name, position=slot + 1, leave=False, dynamic_ncols=True)
            bars[name] = bar
        label = f"{name}: {desc}" if desc else name
        if getattr(bar, "label", None) != label or bar.total != total:
            bar.reset(total=total)  # the experiment started its next loop
            bar.set_description(label, refresh=False)
            bar.label = label  # type: ignore[attr-defined]
        bar.n = done
        bar.refresh()
    for bar in bars.values():
        bar.close()


def _empty(q: Any) -> bool:
    try:
        return bool(q.empty())
    except (EOFError, OSError, BrokenPipeError):
        return True


def reproduce(
    names: Sequence[str] | None = None,
    *,
    profile: str = "quick",
    seed: int = 0,
    out_dir: str | os.PathLike[str] = "report",
    jobs: int | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Run the experiments and write ``results.json``, ``report.md`` and ``report.html`` into ``out_dir``.

    Args:
        names: Experiments to run (default: every one :func:`losslab.experiments.available` finds).
        profile: ``"smoke"`` | ``"quick"`` | ``"full"``.
        seed: Base seed; the same seed gives the same numbers.
        out_dir: The report folder (created).
        jobs: Parallel single-threaded jobs (default: the number of cores).
        show_progress: Draw tqdm progress bars (on stderr).

    Returns:
        The content of ``results.json``.

    Raises:
        KeyError: an unknown experiment name (before anything runs).
    """
    import json

    from . import available
    from .report import write_report

    known = available()
    names = list(known) if not names else list(dict.fromkeys(names))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise KeyError(f"unknown experiment(s) {unknown}; expected from {sorted(known)}")
    jobs = default_jobs() if jobs is None else jobs
    out = Path(out_dir)
    start = time.perf_counter()
    records = run_experiments(names, profile=profile, seed=seed, out_dir=out, jobs=jobs, show_progress=show_progress)
    results = {
        "profile": profile,
        "seed": seed,
        "jobs": jobs,
        "total_seconds": round(time.perf_counter() - start, 2),
        "environment": _environment(),
        "experiments": records,
    }
    (out / RESULTS_FILE).write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")
    write_report(results, out)
    return results


ENV_PREFIXES = ("MKL_", "ONEDNN_", "DNNL_", "ATEN_", "OMP_", "KMP_", "OPENBLAS_", "TORCH_")


def environment() -> dict[str, Any]:
    """The platform a run's numbers depend on: versions, CPU model, the ISA torch dispatches to, MKL and oneDNN
    versions (from ``torch.__config__.show()``) and every ``MKL_*``/``ONEDNN_*``/``ATEN_*``/... variable set.

    Training amplifies 1-ulp differences between MKL/oneDNN kernels, which are chosen per ISA and micro-
    architecture: the same seed gives the same numbers on the same machine and wheel only.
    """
    import re

    import torch

    from .. import __version__

    config = torch.__config__.show()
    mkl = re.search(r"Math Kernel Library Version ([^\s]+)", config)
    dnnl = re.search(r"(?:MKL-DNN|oneDNN) v([^\s]+)", config)
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "losslab": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "machine": platform.machine(),
        "cpu_model": cpu,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkl": mkl.group(1) if mkl else None,
        "onednn": dnnl.group(1) if dnnl else None,
        "cores": str(default_jobs()),
        "env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(ENV_PREFIXES)},
    }


_environment = environment
