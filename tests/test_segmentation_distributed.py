"""distributed=True: 2 gloo processes on CPU give the whole-batch loss and gradients of one process."""

from __future__ import annotations

import os
import socket
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from losslab import dice_loss, generalized_dice_loss

CASES = [
    ("dice", dict(batch=True)),
    ("dice", dict(batch=False)),
    ("gdl", dict(batch=True)),
    ("gdl", dict(batch=True, ignore_index=-100, include_background=False)),
    ("gdl", dict(batch=False, weight_type="simple")),
]
FNS = {"dice": dice_loss, "gdl": generalized_dice_loss}


def _inputs():
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(4, 3, 6, 5, generator=g, dtype=torch.float64) * 2, 1)
    labels = torch.randint(0, 3, (4, 6, 5), generator=g)
    labels[0][labels[0] == 2] = 0  # class 2 absent from the first shard only
    labels[3, :2] = -100
    return probs, labels


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        probs, labels = _inputs()
        shard = slice(rank * 2, rank * 2 + 2)
        results = []
        for name, kw in CASES:
            kw = dict(kw)
            if "ignore_index" not in kw:
                lab = labels.clamp_min(0)
            else:
                lab = labels
            p = probs[shard].clone().requires_grad_()
            loss = FNS[name](p, lab[shard], distributed=True, **kw)
            (grad,) = torch.autograd.grad(loss, p)
            results.append((loss.detach(), grad))
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")
def test_two_gloo_processes_match_one_process():
    with tempfile.TemporaryDirectory() as tmp:
        mp.start_processes(_worker, args=(2, _free_port(), tmp), nprocs=2, join=True, start_method="fork")
        ranks = [torch.load(os.path.join(tmp, f"rank{r}.pt")) for r in range(2)]
    probs, labels = _inputs()
    for i, (name, kw) in enumerate(CASES):
        lab = labels if "ignore_index" in kw else labels.clamp_min(0)
        p = probs.clone().requires_grad_()
        whole = FNS[name](p, lab, **kw)
        (grad,) = torch.autograd.grad(whole, p)
        # the shares sum to the whole-batch loss; each shard's gradient is its slice of the whole-batch gradient
        torch.testing.assert_close(ranks[0][i][0] + ranks[1][i][0], whole.detach())
        torch.testing.assert_close(torch.cat([ranks[0][i][1], ranks[1][i][1]]), grad)
