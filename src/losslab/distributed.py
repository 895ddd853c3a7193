"""All-reduce of batch-level statistics under ``torch.distributed``.

A loss whose normalizer is a batch statistic (the number of positive anchors, Dice class weights, the
IoU-balanced renormalization sums) takes ``distributed: bool = False``. When true and a process group is
initialized, the statistic is summed over all processes, so that N processes on N shards compute, each for its
shard, the share of the whole-batch loss, and the sum of their losses (and each shard's gradient) equals what one
process computes on the whole batch.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

__all__ = ["is_distributed", "all_reduce_sum", "per_process_share"]


def is_distributed() -> bool:
    """True when ``torch.distributed`` is available and a process group is initialized."""
    return dist.is_available() and dist.is_initialized()


def all_reduce_sum(tensor: torch.Tensor, *, enabled: bool = True, differentiable: bool = False) -> torch.Tensor:
    """Sum ``tensor`` over all processes (a no-op unless ``enabled`` and a process group is initialized).

    Args:
        tensor: The local statistic.
        enabled: The loss's ``distributed`` flag.
        differentiable: Keep the autograd graph (the gradient of a sum is passed to every contributor);
            statistics of the targets, such as counts, do not need it.

    Returns:
        The global sum (a new tensor; the input is not modified).
    """
    if not (enabled and is_distributed()):
        return tensor
    if differentiable:
        from torch.distributed.nn.functional import all_reduce

        return all_reduce(tensor, op=dist.ReduceOp.SUM)
    out = tensor.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def per_process_share(loss: torch.Tensor, *, enabled: bool = True) -> torch.Tensor:
    """A batch-level loss, equal on every process, divided by the number of processes (unchanged unless
    ``enabled`` and a process group is initialized), so that the processes' results add up to the loss."""
    if not (enabled and is_distributed()):
        return loss
    return loss / dist.get_world_size()
