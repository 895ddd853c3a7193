"""IoU-balanced losses under torch.distributed: 2 gloo processes on CPU equal one process on the whole batch.

Each rank holds half the batch and calls the loss with ``distributed=True``; the renormalization sums and the
``"mean"`` denominator are all-reduced, so the ranks' losses add up to the whole-batch loss and each rank's
gradient equals the whole-batch gradient of its rows.
"""

from __future__ import annotations

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import losslab

WORLD = 2


def _batch():
    g = torch.Generator().manual_seed(11)
    n, c = 16, 3
    logits = torch.randn(n, c, generator=g, dtype=torch.float64) * 2
    labels = torch.randint(0, c + 1, (n,), generator=g)
    target = torch.zeros(n, c, dtype=torch.float64)
    rows = torch.arange(n)[labels < c]
    target[rows, labels[labels < c]] = 1.0
    ious = 0.05 + 0.95 * torch.rand(n, generator=g, dtype=torch.float64)
    deltas = torch.randn(n, 4, generator=g, dtype=torch.float64)
    deltas_t = torch.randn(n, 4, generator=g, dtype=torch.float64)
    ce_logits = torch.randn(n, c + 1, generator=g, dtype=torch.float64)
    ce_labels = torch.tensor([0, 1, 2, 0, 3, 1, 0, 2, 0, 0, 3, 1, 2, 0, 0, 1])
    return logits, target, ious, deltas, deltas_t, ce_logits, ce_labels


def _losses(batch, distributed):
    """Forward and backward of the three IoU-balanced losses; returns [(loss, grad), ...]."""
    logits, target, ious, deltas, deltas_t, ce_logits, ce_labels = batch
    out = []
    x = logits.clone().requires_grad_()
    num_pos = target.sum()  # local count; distributed=True all-reduces it
    loss = losslab.iou_balanced_sigmoid_focal_loss(x, target, ious, normalizer=num_pos, distributed=distributed)
    out.append((loss.detach(), torch.autograd.grad(loss, x)[0]))
    x = ce_logits.clone().requires_grad_()
    loss = losslab.iou_balanced_softmax_cross_entropy(x, ce_labels, ious, eta=1.3, distributed=distributed)
    out.append((loss.detach(), torch.autograd.grad(loss, x)[0]))
    x = deltas.clone().requires_grad_()
    loss = losslab.iou_balanced_smooth_l1_loss(x, deltas_t, ious, distributed=distributed)
    out.append((loss.detach(), torch.autograd.grad(loss, x)[0]))
    return out


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        batch = _batch()
        shard = tuple(x.chunk(WORLD)[rank] for x in batch)
        torch.save(_losses(shard, distributed=True), os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_equal_one_process(tmp_path):
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    # torch.multiprocessing's spawn API with the fork start method: the children inherit the imported torch
    # instead of importing it again (seconds instead of tens of seconds on a loaded 2-core machine).
    mp.start_processes(_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True,
                       start_method="fork")
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    whole = _losses(_batch(), distributed=False)
    for i, (loss, grad) in enumerate(whole):
        torch.testing.assert_close(sum(r[i][0] for r in ranks), loss)
        torch.testing.assert_close(torch.cat([r[i][1] for r in ranks]), grad)
    # without the all-reduce the shards would not add up (the test would catch a missing reduction)
    shard0 = tuple(x.chunk(WORLD)[0] for x in _batch())
    shard1 = tuple(x.chunk(WORLD)[1] for x in _batch())
    local = _losses(shard0, False)[0][0] + _losses(shard1, False)[0][0]
    assert not torch.allclose(local, whole[0][0])
