"""GAN training steps: non-saturating generator, minimax discriminator and the R1 gradient penalty (Mescheder 2018).

A small generator learns a ring of 8 Gaussians in 2-D. One step updates the discriminator on
``minimax_discriminator_loss(real_logits, fake_logits) + gamma / 2 * r1_penalty(D, real)`` and then the generator on
``non_saturating_generator_loss(D(G(z)))``. The discriminator ends in a linear layer: the losses take raw logits.

    python examples/gan_step.py            # about a minute of CPU time (radius ~2.0)
    python examples/gan_step.py --smoke    # a few steps, for the test suite
"""

from __future__ import annotations

import argparse
import math

import torch
from torch import nn

import losslab


def ring(n: int, g: torch.Generator) -> torch.Tensor:
    k = torch.randint(0, 8, (n,), generator=g).float() * (2 * math.pi / 8)
    return torch.stack([k.cos(), k.sin()], 1) * 2 + torch.randn(n, 2, generator=g) * 0.05


def mlp(i: int, o: int) -> nn.Module:
    return nn.Sequential(nn.Linear(i, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.LeakyReLU(0.2), nn.Linear(64, o))


def train_step(G, D, opt_g, opt_d, real: torch.Tensor, z: torch.Tensor, gamma: float) -> tuple[float, float]:
    # discriminator: real -> 1, fake -> 0, plus R1 on real data
    fake = G(z).detach()
    d_loss = losslab.minimax_discriminator_loss(D(real), D(fake)) + gamma / 2 * losslab.r1_penalty(D, real)
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    # generator: the non-saturating loss -log D(G(z))
    g_loss = losslab.non_saturating_generator_loss(D(G(z)))
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny run for the test suite")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--gamma", type=float, default=1.0, help="R1 weight (the penalty is gamma / 2 * R1)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    G, D = mlp(8, 2), mlp(2, 1)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.99))
    steps = 40 if args.smoke else args.steps
    for step in range(steps):
        d_loss, g_loss = train_step(G, D, opt_g, opt_d, ring(128, g), torch.randn(128, 8, generator=g), args.gamma)
        if step % max(1, steps // 5) == 0 or step == steps - 1:
            print(f"step {step:>4}  D {d_loss:.4f}  G {g_loss:.4f}")
    with torch.no_grad():
        samples = G(torch.randn(2000, 8, generator=g))
        radius = samples.norm(dim=1)
    print(f"generated radius {radius.mean().item():.2f} +- {radius.std().item():.2f} (the ring's: 2.00)")
    return {"d_loss": d_loss, "g_loss": g_loss, "radius": radius.mean().item()}


if __name__ == "__main__":
    main()
