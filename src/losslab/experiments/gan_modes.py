"""GAN losses on a ring of 8 Gaussians: which generator losses cover the modes, and which learn slowly.

The classic 2-D toy (Metz et al. 2017, "Unrolled GANs"; Gulrajani et al. 2017 §4): eight Gaussians on a circle
of radius 2. A small MLP generator and discriminator are trained with each loss for the same number of
generator steps; quality is measured as in VEEGAN (Srivastava et al. 2017): a generated sample is
*high-quality* when it lies within 3 standard deviations of a mode's centre, and a mode is *covered* when at
least ``cover_share`` of the samples are high-quality samples at that mode.

Seeds are cheap here: the seeds of one loss are trained at once as a batch of independent networks (batched matrix
products, elementwise Adam). **Common random numbers**: member ``k`` starts from the same generator and
discriminator weights under every loss, and draws its real samples and latent noise from streams seeded the same
way for every loss, so the per-seed differences between losses are paired.

Settings (all in :data:`PROFILES` / :data:`LOSSES`), chosen on the tuning block of seeds, judged on the
confirmation block (:func:`losslab.experiments.stats.judge_seeds`):

* mode std 0.05 (Metz et al. use 0.02; the wider modes let the quick budget reach high-quality samples);
* Adam with betas (0.5, 0.999), generator lr 1e-3 and discriminator lr 2e-3 (a two time-scale rule, Heusel et
  al. 2017), chosen while building this on seeds 0-4: with equal rates the discriminator never grows confident,
  with lr_d = 4e-3 the non-saturating generator collapses;
* least squares with the paper's (a, b, c) = (0, 1, 1);
* WGAN-GP as in the official toy code (``gan_toy.py``): 5 critic steps per generator step, λ = 0.1 ("smaller
  lambda seems to help for toy tasks"), Adam betas (0.5, 0.9); its learning rates follow the others (the official
  1e-4 needs 100k iterations);
* the other losses take one discriminator step per generator step.

Sub-claims (one verdict each, paired over seeds): the saturating generator learns slower than the non-saturating
one (area under the high-quality-fraction curve); least squares, WGAN-GP and hinge each cover more modes than the
non-saturating loss (their papers claim more stable training; Lucic et al. find no loss consistently better). The
collapse rate (at most 3 modes) is reported with McNemar's test.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import gan as G
from .._checks import validation
from . import stats
from ._base import Context, Experiment, Measurement, Progress, figure_path, markdown_table, no_progress

NAME = "gan"
TITLE = "GAN losses on a ring of 8 Gaussians: modes covered and learning speed"
PAPER = (
    "Goodfellow et al., Generative Adversarial Nets, NeurIPS 2014 (arXiv:1406.2661); Mao et al., LSGAN, ICCV 2017 "
    "(arXiv:1611.04076); Gulrajani et al., WGAN-GP, NeurIPS 2017 (arXiv:1704.00028); Lim & Ye, Geometric GAN, "
    "2017 (arXiv:1705.02894); Lucic et al., Are GANs Created Equal?, NeurIPS 2018 (arXiv:1711.10337)"
)
EXPECTED = (
    "The saturating minimax generator learns slowly (Goodfellow et al.); least-squares, WGAN-GP and hinge losses "
    "train more stably than the regular (non-saturating) GAN, covering more of the 8 modes."
)

# name -> (GANLoss kind, discriminator steps per generator step, gradient-penalty λ, Adam betas)
LOSSES: dict[str, dict[str, Any]] = {
    "minimax (saturating)": dict(kind="minimax", n_critic=1, gp=0.0, betas=(0.5, 0.999)),
    "non-saturating": dict(kind="non-saturating", n_critic=1, gp=0.0, betas=(0.5, 0.999)),
    "least-squares": dict(kind="least-squares", n_critic=1, gp=0.0, betas=(0.5, 0.999)),
    "WGAN-GP": dict(kind="wasserstein", n_critic=5, gp=0.1, betas=(0.5, 0.9)),
    "hinge": dict(kind="hinge", n_critic=1, gp=0.0, betas=(0.5, 0.999)),
}
SATURATING = "minimax (saturating)"
NON_SATURATING = "non-saturating"

PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(steps=30, batch=32, hidden=16, eval_samples=200, checkpoints=2),
    "quick": dict(steps=1000, batch=128, hidden=64, eval_samples=1000, checkpoints=5),
    "full": dict(steps=3000, batch=128, hidden=64, eval_samples=2500, checkpoints=10),
}
DEFAULTS: dict[str, Any] = dict(
    modes=8, radius=2.0, std=0.05, z_dim=16, lr_g=1e-3, lr_d=2e-3, cover_share=0.02, collapse=3
)
SEEDS = {"smoke": 4, "quick": 16, "full": 32}
CLAIMS = (
    stats.SubClaim("saturating_slow", "The saturating minimax generator learns slower than the non-saturating one.",
                   "HQ-AUC(non-saturating) - HQ-AUC(saturating)", 0.05, SEEDS),
    *(stats.SubClaim(key, f"{name} covers more of the 8 modes than the non-saturating loss.",
                     f"modes({name}) - modes(non-saturating)", 0.5, SEEDS, pilot_sd=2.5)
      for key, name in (("least_squares_modes", "least-squares"), ("wgan_gp_modes", "WGAN-GP"),
                        ("hinge_modes", "hinge"))),
)


# ---------------------------------------------------------------------------------------------------------------
# data and models


def ring_centers(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """Centres of ``modes`` Gaussians evenly spaced on a circle, shape ``(modes, 2)``."""
    angle = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
    return torch.stack([radius * angle.cos(), radius * angle.sin()], 1).float()


def sample_ring(n: int, centers: torch.Tensor, std: float, generator: torch.Generator) -> torch.Tensor:
    """``n`` samples of the mixture: a uniformly chosen centre plus isotropic Gaussian noise."""
    idx = torch.randint(0, centers.shape[0], (n,), generator=generator)
    return centers[idx] + std * torch.randn(n, 2, generator=generator)


class EnsembleMLP(nn.Module):
    """``S`` independent ReLU MLPs evaluated at once on a flat batch ``(S * B, in)`` -> ``(S * B, out)``.

    Member ``s`` sees rows ``s*B .. (s+1)*B - 1``; weights are initialized like ``nn.Linear``
    (uniform in ``±1/sqrt(fan_in)``). Samples never interact, so per-sample input gradients (for the gradient
    penalty) are those of each member's own network.
    """

    def __init__(self, members: int, sizes: list[int], generator: torch.Generator) -> None:
        super().__init__()
        self.members = members
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(fan_in)
            w = (2 * torch.rand(members, fan_in, fan_out, generator=generator) - 1) * bound
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter((2 * torch.rand(members, 1, fan_out, generator=generator) - 1) * bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.reshape(self.members, -1, x.shape[-1])
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = torch.relu(h)
        return h.reshape(-1, h.shape[-1])


# ---------------------------------------------------------------------------------------------------------------
# metrics


@torch.no_grad()
def mode_metrics(samples: torch.Tensor, centers: torch.Tensor, std: float, cover_share: float) -> tuple[int, float]:
    """``(modes covered, high-quality fraction)`` of samples ``(n, 2)``.

    High quality: within ``3 * std`` of the nearest centre. Covered: at least ``cover_share * n`` high-quality
    samples at that centre.
    """
    n = samples.shape[0]
    dist = torch.cdist(samples, centers)
    dmin, nearest = dist.min(1)
    good = dmin < 3 * std
    counts = torch.bincount(nearest[good], minlength=centers.shape[0])
    return int((counts >= cover_share * n).sum()), float(good.float().mean())


def _evaluate(gen: EnsembleMLP, members: int, n: int, z_dim: int, centers: torch.Tensor, cfg: dict) -> tuple:
    g = torch.Generator().manual_seed(2**31 - 1)
    with torch.no_grad():
        x = gen(torch.randn(members * n, z_dim, generator=g)).reshape(members, n, 2)
    stats = [mode_metrics(x[s], centers, cfg["std"], cfg["cover_share"]) for s in range(members)]
    return [m for m, _ in stats], [q for _, q in stats], x


# ---------------------------------------------------------------------------------------------------------------
# training


def train_loss(name: str, cfg: dict, *, seed: int, progress: Progress = no_progress) -> dict[str, Any]:
    """Train ``cfg["seeds"]`` independent GANs with the loss ``name``; returns their curves and final samples.

    Member ``k``'s initial weights and random streams depend only on ``seed`` and ``k``, never on the loss.
    """
    spec = LOSSES[name]
    members, batch, z_dim, hidden = cfg["seeds"], cfg["batch"], cfg["z_dim"], cfg["hidden"]
    steps, checkpoints = cfg["steps"], cfg["checkpoints"]
    centers = ring_centers(cfg["modes"], cfg["radius"])
    # common random numbers: the same initial weights, data stream and noise stream under every loss
    g_init = torch.Generator().manual_seed(seed)
    gen = EnsembleMLP(members, [z_dim, hidden, hidden, 2], g_init)
    disc = EnsembleMLP(members, [2, hidden, hidden, 1], g_init)
    g_data = torch.Generator().manual_seed(seed + 1)
    g_noise = torch.Generator().manual_seed(seed + 2)
    g = torch.Generator().manual_seed(seed + 3)  # gradient-penalty interpolation
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg["lr_g"], betas=spec["betas"])
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg["lr_d"], betas=spec["betas"])
    loss = G.GANLoss(spec["kind"])
    n = members * batch
    # Each member's loss is a mean over its own batch; the flat means below are 1/S of their sum, so multiplying
    # by S gives every member exactly its own loss's gradient.
    scale = float(members)
    check_at = {round(steps * (i + 1) / checkpoints) for i in range(checkpoints)}
    curve: list[dict[str, Any]] = []
    early_grad: list[float] = []
    early = max(1, steps // 10)
    for step in progress(range(1, steps + 1), desc=name, total=steps):
        for _ in range(spec["n_critic"]):
            real = sample_ring(n, centers, cfg["std"], g_data)
            fake = gen(torch.randn(n, z_dim, generator=g_noise)).detach()
            both = torch.cat([real.view(members, batch, 2), fake.view(members, batch, 2)], 1).view(-1, 2)
            out = disc(both).view(members, 2 * batch)
            d_loss = scale * loss.discriminator(out[:, :batch].reshape(-1), out[:, batch:].reshape(-1))
            if spec["gp"]:
                # sum over all members' samples / batch = sum over members of each member's mean penalty
                penalty = G.gradient_penalty(disc, real, fake, generator=g, reduction="sum") / batch
                d_loss = d_loss + spec["gp"] * penalty
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        fake_logits = disc(gen(torch.randn(n, z_dim, generator=g_noise))).view(-1)
        g_loss = scale * loss.generator(fake_logits)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        if step <= early:
            # per-member gradient norm of the generator's parameters, averaged over members
            sq = sum(p.grad.reshape(members, -1).square().sum(1) for p in gen.parameters())
            early_grad.append(float(sq.sqrt().mean()))
        opt_g.step()
        if step in check_at:
            modes, quality, samples = _evaluate(gen, members, cfg["eval_samples"], z_dim, centers, cfg)
            curve.append(dict(step=step, modes=modes, hq=quality))
    return dict(curve=curve, samples=samples, early_grad_norm=sum(early_grad) / len(early_grad))


# ---------------------------------------------------------------------------------------------------------------
# the experiment


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def _std(xs: list[float]) -> float:
    m = _mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / max(1, len(xs) - 1))


def _measure(ctx: Context) -> Measurement:
    """Train every loss on the ring with the same seeds (one batched ensemble per loss) and judge each sub-claim."""
    seeds = ctx.seeds(CLAIMS[0])
    cfg = {**DEFAULTS, **ctx.cfg, "seeds": len(seeds)}
    per_loss: dict[str, dict[str, Any]] = {}
    samples: dict[str, torch.Tensor] = {}
    with validation(False):  # inputs are produced by the networks; skip the per-call data checks
        for name in LOSSES:
            t = time.perf_counter()
            out = train_loss(name, cfg, seed=seeds[0], progress=ctx.progress)  # the same seed for every loss
            final = out["curve"][-1]
            n_ckpt = len(out["curve"])
            per_loss[name] = dict(
                modes_covered=final["modes"],
                modes_covered_mean=_mean(final["modes"]),
                modes_covered_std=_std(final["modes"]),
                hq_fraction=final["hq"],
                hq_fraction_mean=_mean(final["hq"]),
                curve_steps=[c["step"] for c in out["curve"]],
                curve_modes_mean=[_mean(c["modes"]) for c in out["curve"]],
                curve_hq_mean=[_mean(c["hq"]) for c in out["curve"]],
                # learning speed per seed: the area under its high-quality-fraction curve (mean over checkpoints)
                hq_auc=[sum(c["hq"][k] for c in out["curve"]) / n_ckpt for k in range(len(seeds))],
                early_generator_grad_norm=out["early_grad_norm"],
                seconds=time.perf_counter() - t,
            )
            samples[name] = out["samples"]
    ns = per_loss[NON_SATURATING]
    sat = per_loss[SATURATING]
    # gate: the baseline learned something (not a dead run): mean final HQ fraction >= 0.05
    gate = {f"non-saturating baseline learned (mean HQ {ns['hq_fraction_mean']:.2f} >= 0.05)":
            ns["hq_fraction_mean"] >= 0.05}
    items = [(CLAIMS[0], [a - b for a, b in zip(ns["hq_auc"], sat["hq_auc"])])]
    for claim, name in zip(CLAIMS[1:], ("least-squares", "WGAN-GP", "hinge")):
        items.append((claim, [float(a - b) for a, b in zip(per_loss[name]["modes_covered"], ns["modes_covered"])]))
    claims = stats.judge_all(items, gates={c.key: gate for c in CLAIMS})
    collapse = cfg["collapse"]
    mcnemar = {
        name: stats.mcnemar([m > collapse for m in ns["modes_covered"]], [m > collapse for m in v["modes_covered"]])
        for name, v in per_loss.items() if name != NON_SATURATING
    }
    rows = [
        [
            k,
            f"{v['modes_covered_mean']:.1f} ± {v['modes_covered_std']:.1f}",
            f"{sum(m <= collapse for m in v['modes_covered'])}/{len(seeds)}",
            v["hq_fraction_mean"],
            _mean(v["hq_auc"]),
            f"{v['early_generator_grad_norm']:.3g}",
        ]
        for k, v in per_loss.items()
    ]
    table = markdown_table(
        ["loss", "modes covered (mean ± sd)", f"collapsed (<= {collapse} modes)", "high-quality fraction",
         "HQ AUC (speed)", "early G grad"],
        rows,
    )
    narrative = (
        f"Generator gradient norm over the first 10% of steps: saturating {sat['early_generator_grad_norm']:.3g} vs "
        f"non-saturating {ns['early_generator_grad_norm']:.3g}. Collapse vs non-saturating (McNemar, exact): "
        + ", ".join(f"{k} p={v['p_two_sided']:.2g}" for k, v in mcnemar.items()) + "."
    )
    metrics = dict(
        seeds=seeds,
        losses=per_loss,
        collapse_mcnemar=mcnemar,
        loss_settings={k: {**v, "betas": list(v["betas"])} for k, v in LOSSES.items()},
    )
    return Measurement(metrics=metrics, claims=claims, table=table, figures=_figures(ctx.out_dir, samples, per_loss, cfg),
                       narrative=narrative)


EXPERIMENT = Experiment(NAME, TITLE, PAPER, EXPECTED, PROFILES, CLAIMS, _measure)


def run(profile: str = "quick", *, seed: int = 0, out_dir: str | Path | None = None,
        progress: Progress | None = None, **overrides: Any):
    """:meth:`Experiment.run`; ``overrides`` replace profile settings (e.g. ``steps=200``), for exploration on the
    tuning block."""
    return EXPERIMENT.run(profile, seed=seed, out_dir=out_dir, progress=progress, **overrides)


def _figures(out_dir, samples: dict[str, torch.Tensor], per_loss: dict, cfg: dict) -> list[str]:
    path = figure_path(out_dir, "gan_samples.png")
    if path is None:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    centers = ring_centers(cfg["modes"], cfg["radius"])
    rows = min(2, cfg["seeds"])
    fig, axes = plt.subplots(rows, len(samples), figsize=(3 * len(samples), 3 * rows), squeeze=False)
    lim = cfg["radius"] * 1.6
    for j, (name, x) in enumerate(samples.items()):
        for r in range(rows):
            ax = axes[r][j]
            pts = x[r].numpy()
            ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.4, color="tab:blue")
            ax.scatter(centers[:, 0], centers[:, 1], s=25, marker="x", color="tab:red")
            for c in centers:
                ring = plt.Circle((float(c[0]), float(c[1])), 3 * cfg["std"], fill=False, lw=0.6, color="tab:red")
                ax.add_patch(ring)
            m, q = per_loss[name]["modes_covered"][r], per_loss[name]["hq_fraction"][r]  # seed r
            label = f"seed {r}: {m}/8 modes, HQ {q:.2f}"
            ax.set_title(f"{name}\n{label}" if r == 0 else label, fontsize=9)
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)

    curve_path = figure_path(out_dir, "gan_learning_curves.png")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for name, v in per_loss.items():
        axes[0].plot(v["curve_steps"], v["curve_modes_mean"], marker="o", label=name)
        axes[1].plot(v["curve_steps"], v["curve_hq_mean"], marker="o", label=name)
    axes[0].set_ylabel(f"modes covered (mean of {cfg['seeds']} seeds)")
    axes[1].set_ylabel("high-quality fraction (mean)")
    for ax in axes:
        ax.set_xlabel("generator step")
        ax.grid(alpha=0.3)
    axes[0].set_ylim(0, cfg["modes"] + 0.5)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(curve_path, dpi=90)
    plt.close(fig)
    return [path.name, curve_path.name]
