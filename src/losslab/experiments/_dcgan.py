"""A DCGAN-lite for the 5,000 MNIST digits, an independent judge CNN, and the class metrics of generated digits.

Used by :mod:`losslab.experiments.gan_claims` for Mao et al.'s stability claim (LSGAN vs the regular GAN with no
BatchNorm in the generator). Everything here is single-threaded CPU friendly and deterministic for a seed:

* :class:`DCGenerator`: ``z -> Linear -> (2w, 7, 7) -> ConvT -> (w, 14, 14) -> ConvT -> (1, 28, 28)``, ReLU,
  ``tanh`` output, **no BatchNorm** (the paper's "BNG" setting excludes it from the generator);
* :class:`DCDiscriminator`: ``(1, 28, 28) -> Conv -> (w, 14, 14) -> Conv -> (2w, 7, 7) -> Linear -> logit``,
  LeakyReLU 0.2, BatchNorm after the second convolution (DCGAN keeps BatchNorm in the discriminator except on its
  first layer; ``batchnorm=False`` removes it, the paper's "BNGD" setting);
* :func:`train_gan`: one seed, one loss; the real batches, the latent noise and the initial weights come from
  generators seeded by the seed alone, so both losses see the same numbers (common random numbers);
* :func:`train_judge`: a digit classifier trained on the real training digits only (never on generated ones);
* :func:`class_metrics`: class coverage and the class-histogram KL of generated digits under the judge.
"""

from __future__ import annotations

from typing import Any, TypeVar

import torch
from torch import nn
from torch.nn import functional as F

from .. import gan as G
from .perceptual import DigitCNN
from .train import fit

M = TypeVar("M", bound=nn.Module)

__all__ = [
    "DCDiscriminator",
    "DCGenerator",
    "class_metrics",
    "generate",
    "histogram_kl",
    "init_dcgan_",
    "judge_probs",
    "train_gan",
    "train_judge",
]


class DCGenerator(nn.Module):
    """Transposed-convolution generator 7x7 -> 14x14 -> 28x28 with a ``tanh`` output in [-1, 1]; no BatchNorm."""

    def __init__(self, z_dim: int = 64, width: int = 32) -> None:
        super().__init__()
        self.width = width
        self.fc = nn.Linear(z_dim, 2 * width * 7 * 7)
        self.up1 = nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1)  # 7 -> 14
        self.up2 = nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1)  # 14 -> 28

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.fc(z)).view(-1, 2 * self.width, 7, 7)
        return torch.tanh(self.up2(F.relu(self.up1(h))))


class DCDiscriminator(nn.Module):
    """Strided-convolution discriminator 28x28 -> 14x14 -> 7x7 -> one logit; LeakyReLU 0.2; BatchNorm after the
    second convolution when ``batchnorm`` (DCGAN: none on the first layer)."""

    def __init__(self, width: int = 32, batchnorm: bool = True) -> None:
        super().__init__()
        self.down1 = nn.Conv2d(1, width, 4, stride=2, padding=1)  # 28 -> 14
        self.down2 = nn.Conv2d(width, 2 * width, 4, stride=2, padding=1)  # 14 -> 7
        self.norm: nn.Module = nn.BatchNorm2d(2 * width) if batchnorm else nn.Identity()
        self.fc = nn.Linear(2 * width * 7 * 7, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.down1(x), 0.2)
        h = F.leaky_relu(self.norm(self.down2(h)), 0.2)
        return self.fc(h.flatten(1)).view(-1)


@torch.no_grad()
def init_dcgan_(module: M, generator: torch.Generator) -> M:
    """DCGAN's initialization from ``generator``: weights ``N(0, 0.02)`` (BatchNorm scales ``N(1, 0.02)``), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            m.weight.copy_(0.02 * torch.randn(m.weight.shape, generator=generator))
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.copy_(1.0 + 0.02 * torch.randn(m.weight.shape, generator=generator))
            m.bias.zero_()
    return module


def train_gan(kind: str, x_real: torch.Tensor, cfg: dict[str, Any], seed: int) -> DCGenerator:
    """Train one DCGAN-lite with the :class:`losslab.gan.GANLoss` ``kind`` on ``x_real`` (``(n, 1, 28, 28)`` in
    [-1, 1]) for ``cfg["steps"]`` alternating steps; returns the generator (in eval mode).

    Common random numbers: the initial weights (stream ``4 seed``), the real minibatches (``4 seed + 1``) and the
    latent noise (``4 seed + 2``) depend on the seed only, never on ``kind`` (and consecutive seeds never share a
    stream). One discriminator step then one
    generator step on the same fake batch (as DCGAN's reference code), Adam with ``cfg["betas"]``.
    """
    g_init = torch.Generator().manual_seed(4 * seed)
    gen = init_dcgan_(DCGenerator(cfg["z_dim"], cfg["width"]), g_init)
    disc = init_dcgan_(DCDiscriminator(cfg["width"], cfg["d_batchnorm"]), g_init)
    g_data, g_noise = torch.Generator().manual_seed(4 * seed + 1), torch.Generator().manual_seed(4 * seed + 2)
    betas = tuple(cfg["betas"])
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg["lr_g"], betas=betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg["lr_d"], betas=betas)
    loss = G.GANLoss(kind)
    batch = cfg["batch"]
    for _ in range(cfg["steps"]):
        real = x_real[torch.randint(0, x_real.shape[0], (batch,), generator=g_data)]
        fake = gen(torch.randn(batch, cfg["z_dim"], generator=g_noise))
        # real and fake go through the discriminator separately (its BatchNorm sees one kind per batch, as DCGAN)
        d_loss = loss.discriminator(disc(real), disc(fake.detach()))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        g_loss = loss.generator(disc(fake))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
    return gen.eval()


@torch.no_grad()
def generate(gen: DCGenerator, n: int, z_dim: int, *, seed: int = 2**31 - 1, chunk: int = 500) -> torch.Tensor:
    """``n`` digits in [0, 1], shape ``(n, 1, 28, 28)``, from latent draws fixed by ``seed`` (the same for every
    loss and seed, so generators are compared on the same latent points)."""
    z = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed))
    return torch.cat([(gen(part) + 1) / 2 for part in z.split(chunk)])


def train_judge(x: torch.Tensor, y: torch.Tensor, *, epochs: int, seed: int) -> nn.Module:
    """The judge: a digit CNN (5x5 kernels, average pooling; :class:`~losslab.experiments.perceptual.DigitCNN`)
    trained with Adam on the real digits ``x`` in [0, 1] only; returned in eval mode."""
    torch.manual_seed(seed)  # DigitCNN's default initialization reads the global generator
    judge = DigitCNN(x.shape[-1], c1=12, c2=24, kernel=5, pool="avg")
    fit(judge, F.cross_entropy, x, y, epochs=epochs, batch_size=64, lr=2e-3,
        generator=torch.Generator().manual_seed(seed + 1))
    return judge.eval()


def histogram_kl(counts: torch.Tensor, total: int) -> float:
    """KL(uniform over the ``K`` bins of ``counts`` || their add-half smoothed frequencies), in nats.

    ``total`` may exceed ``counts.sum()`` by the samples in an extra "none of them" bin (off-mode samples, or
    digits the judge does not recognise): the smoothing spreads ``0.5`` over all ``K + 1`` bins,
    ``q_k = (n_k + 0.5) / (total + 0.5 (K + 1))``, so an empty bin costs about ``log(2 total / K) / K`` instead of
    infinity. ``KL = (1/K) sum_k log((1/K) / q_k)``.
    """
    k = counts.shape[0]
    q = (counts.double() + 0.5) / (total + 0.5 * (k + 1))
    return float(torch.log(torch.tensor(1.0 / k, dtype=torch.float64) / q).mean())


@torch.no_grad()
def class_metrics(probs: torch.Tensor, *, confidence: float, cover_share: float) -> dict[str, Any]:
    """Class metrics of generated digits from the judge's class probabilities ``probs`` ``(n, K)``.

    A sample is *recognised* as class ``k`` when the judge's argmax is ``k`` with probability at least
    ``confidence`` (the analogue of a high-quality sample near a mode); a class is *covered* when at least
    ``cover_share * n`` samples are recognised as it.

    Returns:
        ``coverage`` (classes covered), ``kl`` (:func:`histogram_kl` of the recognised counts, the unrecognised
        samples in the extra bin), ``recognised`` (fraction), ``confidence`` (mean max-probability, a quality
        proxy) and ``counts`` (recognised samples per class).
    """
    n, k = probs.shape
    top, label = probs.max(1)
    counts = torch.bincount(label[top >= confidence], minlength=k)
    return dict(coverage=int((counts >= cover_share * n).sum()), kl=histogram_kl(counts, n),
                recognised=float((top >= confidence).double().mean()), confidence=float(top.double().mean()),
                counts=counts.tolist())


def judge_probs(judge: nn.Module, images: torch.Tensor, chunk: int = 1000) -> torch.Tensor:
    """The judge's class probabilities for images in [0, 1]."""
    with torch.no_grad():
        return torch.cat([F.softmax(judge(part), 1) for part in images.split(chunk)])

