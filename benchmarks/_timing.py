"""Shared measurement helpers for the benchmarks: one command line, one timer, one memory meter, on any device.

Every benchmark takes the same options (:func:`add_common_arguments`): ``--device`` (``cpu`` by default, or
``cuda``), ``--quick`` (small sizes, few repeats: a sanity run) and ``--compile`` / ``--no-compile`` (the
``torch.compile`` rows; on by default, except for a CPU ``--quick`` run, where Inductor's C++ compilation on a
shared CPU would take longer than the run). :func:`setup` applies them.

Times are medians over repeats, taken interleaved (candidate, peer, floor, candidate, ...) in one process so that
the noise of a shared machine hits every contender alike; we quote ratios, not absolute times. On CUDA the device
is synchronized before and after each timed call, so a time is the call's launch plus its kernels, not just the
launch. Peak memory (:func:`peak_memory`) is what one call allocates above its starting point: the resident-set
high-water mark on the CPU, the caching allocator's ``max_memory_allocated`` on CUDA (tensors only, not the
allocator's cache, so both count the same thing).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import time
from collections.abc import Callable

import torch

DEVICES = ("cpu", "cuda")


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Give a benchmark the shared options ``--device``, ``--quick`` and ``--compile`` / ``--no-compile``."""
    parser.add_argument("--device", default="cpu",
                        help="where the tensors live and the losses run: cpu (default) or cuda[:index]")
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (a sanity run)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--compile", dest="compile", action="store_const", const=True, default=None,
                       help="time torch.compile (Inductor) rows too (default: yes, except on a CPU --quick run)")
    group.add_argument("--no-compile", dest="compile", action="store_const", const=False,
                       help="skip the torch.compile rows")


def setup(args: argparse.Namespace, *, threads: int = 1) -> torch.device:
    """Apply the shared options: check the device, fix the CPU threads, resolve ``args.compile`` to a bool.

    Returns the device. Prints one line naming torch, the device and whether compiled rows run.
    """
    device = torch.device(args.device)
    if device.type not in DEVICES:
        raise SystemExit(f"--device: expected one of {', '.join(DEVICES)}, got {args.device!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: torch.cuda.is_available() is False on this machine")
    torch.set_num_threads(threads)
    if args.compile is None:
        args.compile = not (args.quick and device.type == "cpu")
    # one process compiles many closures of the same code; do not let dynamo fall back to eager after 8
    for name in ("recompile_limit", "cache_size_limit"):
        if hasattr(torch._dynamo.config, name):
            setattr(torch._dynamo.config, name, 256)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} thread(s)"
    print(f"torch {torch.__version__}; device {device} ({where}); "
          f"compiled rows {'on' if args.compile else 'off'}{'; quick run' if args.quick else ''}")
    return device


def compiled(fn: Callable) -> Callable:
    """``torch.compile(fn)`` with Inductor and static shapes (every benchmark shape is a separate compilation)."""
    return torch.compile(fn, dynamic=False)


def with_compiled(fns: dict[str, Callable], names: list[str], enabled: bool) -> dict[str, Callable]:
    """``fns`` plus, when ``enabled``, a ``"<name> compiled"`` entry (:func:`compiled`) for each of ``names``.

    The one way the benchmarks add their compiled rows: losslab, and the floor (and the peer where it compiles).
    """
    out = dict(fns)
    if enabled:
        for name in names:
            out[f"{name} compiled"] = compiled(fns[name])
    return out


def synchronize(device: torch.device | str) -> None:
    """Wait for the device's queued work (nothing to do on the CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_times(
    fns: dict[str, Callable[[], object]], *, repeats: int = 15, warmup: int = 3, device: torch.device | str = "cpu"
) -> dict[str, float]:
    """Median wall time in seconds of each zero-argument callable, measured interleaved.

    On CUDA each call is bracketed by a device synchronization, and there are at least 10 warm-up calls: past
    compilation, the allocator's first growth and the first 8 calls in which losslab's default validation policy
    reads accelerator tensors (:func:`losslab.set_validation`), so the medians are steady-state steps.
    """
    device = torch.device(device)
    if device.type != "cpu":
        warmup = max(warmup, 10)
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    synchronize(device)
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(s) for name, s in samples.items()}


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def peak_memory(fn: Callable[[], object], device: torch.device | str = "cpu") -> int:
    """Peak bytes allocated above the starting point during one call of ``fn`` (after one warm-up call).

    On CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``, minus the bytes allocated
    before the call (live tensors, not the allocator's cache).

    On the CPU: measured in a forked child so that timing in the parent keeps the default allocator: the child
    fixes glibc's mmap threshold (which also stops glibc from raising it after frees), so every large tensor is its
    own mapping, returned to the OS when freed, and trims the heap before the measured call; the kernel's
    resident-set high-water mark (``VmHWM``, reset through ``/proc/self/clear_refs``) follows the live tensors at
    page granularity. Linux only.
    """
    device = torch.device(device)
    if device.type == "cuda":
        fn()
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return max(torch.cuda.max_memory_allocated(device) - base, 0)
    if device.type != "cpu":
        raise ValueError(f"device: expected cpu or cuda, got {device}")
    return _cpu_peak_memory(fn)


def peak_memories(fns: dict[str, Callable[[], object]], device: torch.device | str = "cpu") -> dict[str, int]:
    """:func:`peak_memory` of each callable."""
    return {name: peak_memory(fn, device) for name, fn in fns.items()}


def _cpu_peak_memory(fn: Callable[[], object]) -> int:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            os.close(read_end)
            try:
                libc = ctypes.CDLL("libc.so.6")
                libc.mallopt(-3, 1 << 16)  # M_MMAP_THRESHOLD
            except OSError:  # not glibc: the number then includes allocator caching
                libc = None
            fn()
            if libc is not None:
                libc.malloc_trim(0)  # give back the free heap pages, so reusing them counts again
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            base = _status("VmRSS")
            fn()
            os.write(write_end, str(max(_status("VmHWM") - base, 0)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        out = f.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not out:
        raise RuntimeError("peak_memory: the measuring child process failed")
    return int(out)


def forward_backward(
    loss_fn: Callable[..., torch.Tensor], *inputs: torch.Tensor, grad_inputs: tuple[int, ...] = (0,)
) -> Callable[[], None]:
    """A callable running ``loss_fn(*inputs).backward()`` with gradients w.r.t. the inputs at ``grad_inputs``.

    The gradients are released at the end of each call, so :func:`peak_memory` counts their allocation.
    """
    leaves = [x.detach().clone().requires_grad_(i in grad_inputs) for i, x in enumerate(inputs)]

    def run() -> None:
        loss_fn(*leaves).backward()
        for x in leaves:
            x.grad = None

    return run


def report(title: str, times: dict[str, float], memory: dict[str, int] | None = None, *, baseline: str) -> str:
    """A table of medians and ratios against ``baseline`` (and peak memory ratios when measured)."""
    base_memory = max(memory[baseline], 1) if memory else 1
    width, names = max(16, len(baseline) + 4), max(28, *(len(name) + 2 for name in times))
    lines = [title, f"  {'contender':<{names}}{'median ms':>11}{'x ' + baseline:>{width}}"
             + (f"{'peak MiB':>11}{'mem x':>8}" if memory else "")]
    for name, t in times.items():
        row = f"  {name:<{names}}{t * 1e3:>11.2f}{t / times[baseline]:>{width}.2f}"
        if memory:
            m = memory.get(name)
            row += f"{m / 2**20:>11.1f}{m / base_memory:>8.2f}" if m is not None else ""
        lines.append(row)
    return "\n".join(lines)
