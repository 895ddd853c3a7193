"""A super-resolution step with a perceptual loss (Johnson et al., 2016): VGG-16 features instead of pixels.

losslab never downloads weights: ``VGG16Features(weights=path)`` loads a torchvision-format VGG-16 state dict from
disk (torchvision's ``vgg16-397923af.pth``, or the same file in torch hub's cache). So that this example runs
anywhere, it saves a *randomly initialised* VGG-16 to a temporary file and loads that: the mechanics are the same,
but the features are not ImageNet's, so only use the numbers as a smoke test. Pass ``--weights PATH`` for the real
network.

    python examples/perceptual_sr.py            # ~25 s of CPU time
    python examples/perceptual_sr.py --smoke    # a few steps, for the test suite
"""

from __future__ import annotations

import argparse
import os
import tempfile

import torch
from torch import nn
from torch.nn import functional as F

import losslab


def smooth_images(n: int, size: int, g: torch.Generator) -> torch.Tensor:
    """Images in [0, 1]: low-frequency noise upsampled, so downsampling loses detail the network can learn back."""
    coarse = torch.rand(n, 3, size // 4, size // 4, generator=g)
    return F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny run for the test suite")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--weights", default=None, help="a torchvision-format VGG-16 state dict (default: random)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    layers = ["relu1_2", "relu2_2"]
    with tempfile.TemporaryDirectory() as tmp:
        path = args.weights
        if path is None:
            path = os.path.join(tmp, "vgg16_random.pth")
            torch.save(losslab.VGG16Features.random_init(layers, seed=args.seed).state_dict(), path)
        vgg = losslab.VGG16Features(layers, weights=path)
    loss_fn = losslab.PerceptualLoss(vgg, content_layers=("relu2_2",), input_range=(0, 1))
    size = 16 if args.smoke else 32
    # 2x super-resolution: bicubic upsampling plus a learned residual, output squashed to [0, 1]
    net = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 3, 3, padding=1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    steps = 8 if args.smoke else args.steps
    history = []
    for step in range(steps):
        hr = smooth_images(4, size, g)
        lr = F.avg_pool2d(hr, 2)
        up = F.interpolate(lr, scale_factor=2, mode="bicubic", align_corners=False)
        sr = torch.sigmoid(torch.logit(up.clamp(1e-3, 1 - 1e-3)) + net(up))
        loss = loss_fn(sr, hr)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
        if step % max(1, steps // 5) == 0 or step == steps - 1:
            print(f"step {step:>4}  perceptual loss {loss.item():.5f}")
    frozen = not any(p.requires_grad for p in vgg.parameters())
    print(f"the loss network stayed frozen: {frozen}")
    return {"first_loss": history[0], "last_loss": history[-1], "frozen": float(frozen)}


if __name__ == "__main__":
    main()
