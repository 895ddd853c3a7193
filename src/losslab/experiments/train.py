"""Small training helpers shared by the experiments (CPU, single thread, deterministic)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ._base import Progress, no_progress


def mlp(sizes: list[int], activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """A plain multilayer perceptron ``sizes[0] -> ... -> sizes[-1]`` (no activation after the last layer)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """A shuffled split of ``range(n)`` into index batches."""
    return list(torch.randperm(n, generator=generator).split(batch_size))


def fit(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    generator: torch.Generator,
    optimizer: str = "adam",
    evaluate: Callable[[nn.Module], float] | None = None,
    progress: Progress = no_progress,
    desc: str = "train",
) -> list[float]:
    """Train ``model`` with minibatches; returns ``evaluate(model)`` after each epoch (empty when not given)."""
    if optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    else:
        raise ValueError(f"optimizer: expected 'adam' or 'sgd', got {optimizer!r}")
    history: list[float] = []
    for _ in progress(range(epochs), desc=desc, total=epochs):
        model.train()
        for idx in batches(len(x), batch_size, generator):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
        if evaluate is not None:
            model.eval()
            with torch.no_grad():
                history.append(float(evaluate(model)))
    return history


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 accuracy of ``model``'s argmax over dim 1."""
    model.eval()
    return float((model(x).argmax(1) == y).float().mean())
