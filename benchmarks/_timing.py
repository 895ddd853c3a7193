"""Shared measurement helpers for the benchmarks.

Times are medians over repeats, taken interleaved (candidate, peer, floor, candidate, ...) in one process so that
the noise of this shared machine hits every contender alike; we quote ratios, not absolute times. Peak memory is
the resident-set high-water mark during one call (see :func:`peak_memory`).
"""

from __future__ import annotations

import ctypes
import statistics
import time
from collections.abc import Callable

import torch


def median_times(fns: dict[str, Callable[[], object]], *, repeats: int = 15, warmup: int = 3) -> dict[str, float]:
    """Median wall time in seconds of each zero-argument callable, measured interleaved."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(s) for name, s in samples.items()}


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _return_freed_memory_to_os() -> None:
    # A fixed mmap threshold (which also stops glibc from raising it after frees) makes every large tensor its
    # own mapping, returned to the OS when freed, so the resident-set high-water mark follows live tensors.
    try:
        ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 16)  # M_MMAP_THRESHOLD
    except OSError:  # not glibc: peak numbers then include allocator caching
        pass


_return_freed_memory_to_os()


def peak_memory(fn: Callable[[], object]) -> int:
    """Peak resident bytes above the starting point during one call of ``fn`` (after one warm-up call).

    Read from the kernel's high-water mark (``VmHWM``, reset through ``/proc/self/clear_refs``), so it counts
    every allocation, torch's and others', at page granularity. Linux only.
    """
    fn()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = _status("VmRSS")
    fn()
    return max(_status("VmHWM") - base, 0)


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
    lines = [title, f"  {'contender':<28}{'median ms':>11}{'x ' + baseline:>16}" + (f"{'peak MiB':>11}{'mem x':>8}" if memory else "")]
    for name, t in times.items():
        row = f"  {name:<28}{t * 1e3:>11.2f}{t / times[baseline]:>16.2f}"
        if memory:
            m = memory.get(name)
            row += f"{m / 2**20:>11.1f}{m / memory[baseline]:>8.2f}" if m is not None else ""
        lines.append(row)
    return "\n".join(lines)
