"""distributed=True for the Tversky family and the Dice losses on logits: 2 gloo processes on CPU give the
whole-batch loss and gradients of one process."""

from __future__ import annotations

import os
import socket
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from losslab import (
    focal_tversky_loss,
    sigmoid_dice_loss,
    softmax_dice_loss,
    softmax_generalized_dice_loss,
    softmax_tversky_loss,
    tversky_loss,
)

CASES = [
    ("tversky", dict(batch=True)),
    ("tversky", dict(batch=False, ignore_index=-100)),
    ("focal_tversky", dict(batch=True, ignore_index=-100, include_background=False)),
    ("softmax_tversky", dict(batch=True, alpha=0.8, beta=0.2)),
    ("softmax_dice", dict(batch=True, ignore_index=-100)),
    ("softmax_gdl", dict(batch=True)),
    ("sigmoid_dice", dict(batch=True)),
]
FNS = {
    "tversky": lambda x, t, **kw: tversky_loss(x.softmax(1), t, **kw),
    "focal_tversky": lambda x, t, **kw: focal_tversky_loss(x.softmax(1), t, **kw),
    "softmax_tversky": softmax_tversky_loss,
    "softmax_dice": softmax_dice_loss,
    "softmax_gdl": softmax_generalized_dice_loss,
    "sigmoid_dice": lambda x, t, **kw: sigmoid_dice_loss(x, torch.nn.functional.one_hot(t, 3).movedim(-1, 1).double(), **kw),
}


def _inputs():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 3, 6, 5, generator=g, dtype=torch.float64) * 2
    labels = torch.randint(0, 3, (4, 6, 5), generator=g)
    labels[0][labels[0] == 2] = 0  # class 2 absent from the first shard only
    labels[3, :2] = -100
    return logits, labels


def _labels(labels, kw):
    return labels if "ignore_index" in kw else labels.clamp_min(0)


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        logits, labels = _inputs()
        shard = slice(rank * 2, rank * 2 + 2)
        results = []
        for name, kw in CASES:
            x = logits[shard].clone().requires_grad_()
            loss = FNS[name](x, _labels(labels, kw)[shard], distributed=True, **kw)
            (grad,) = torch.autograd.grad(loss, x)
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
    logits, labels = _inputs()
    for i, (name, kw) in enumerate(CASES):
        x = logits.clone().requires_grad_()
        whole = FNS[name](x, _labels(labels, kw), **kw)
        (grad,) = torch.autograd.grad(whole, x)
        # the shares sum to the whole-batch loss; each shard's gradient is its slice of the whole-batch gradient
        torch.testing.assert_close(ranks[0][i][0] + ranks[1][i][0], whole.detach(), msg=name)
        torch.testing.assert_close(torch.cat([ranks[0][i][1], ranks[1][i][1]]), grad, msg=name)
