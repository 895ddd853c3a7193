"""GAN losses on a ring of 8 Gaussians: which generator losses cover the modes, and which learn slowly.

The classic 2-D toy (Metz et al. 2017, "Unrolled GANs"; Gulrajani et al. 2017 §4): eight Gaussians on a circle
of radius 2. A small MLP generator and discriminator are trained with each loss for the same number of
generator steps; quality is measured as in VEEGAN (Srivastava et al. 2017): a generated sample is
*high-quality* when it lies within 3 standard deviations of a mode's centre, and a mode is *covered* when at
least ``cover_share`` of the samples are high-quality samples at that mode.

GAN outcomes vary a lot between seeds, so every profile trains several seeds and the claim is judged on the
mean over seeds. To keep that affordable on one CPU thread, the seeds of one loss are trained at once as a
batch of independent networks (batched matrix products, elementwise Adam): seed ``s`` of a run is exactly an
independent GAN with its own initialization, data and noise.

Choices (all in :data:`PROFILES` / :data:`LOSSES`):

* mode std 0.05 (Metz et al. use 0.02; the wider modes let the quick budget reach high-quality samples);
* Adam with betas (0.5, 0.999), generator lr 1e-3 and discriminator lr 2e-3 (a two time-scale rule, Heusel et
  al. 2017): a discriminator that outpaces the generator is exactly the regime in which Goodfellow et al.
  (2014) say the saturating loss stalls. With equal rates (tried while building this) the discriminator never
  grows confident and the saturating loss keeps pace; with lr_d = 4e-3 the non-saturating generator collapses
  onto one or two modes;
* WGAN-GP follows its paper: 5 critic steps per generator step, λ = 10, Adam betas (0.5, 0.9);
* the other losses take one discriminator step per generator step.

The claim is judged on means over seeds: "cover most modes" means at least 5 of the 8 modes (``most``) on
average for each of non-saturating, least-squares, WGAN-GP and hinge; "learns slowly" means the saturating
generator has the lowest area under the high-quality-fraction curve (its mean over the evaluation
checkpoints) of the five losses. The mean generator gradient norm over the first 10% of steps is reported
beside it, as the mechanism Goodfellow et al. name.
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
from ._base import Progress, Result, figure_path, markdown_table, no_progress

NAME = "gan"
TITLE = "GAN losses on a ring of 8 Gaussians: modes covered and learning speed"
PAPER = (
    "Goodfellow et al., Generative Adversarial Nets, NeurIPS 2014 (arXiv:1406.2661); Mao et al., LSGAN, ICCV 2017 "
    "(arXiv:1611.04076); Gulrajani et al., WGAN-GP, NeurIPS 2017 (arXiv:1704.00028); Lim & Ye, Geometric GAN, "
    "2017 (arXiv:1705.02894); Lucic et al., Are GANs Created Equal?, NeurIPS 2018 (arXiv:1711.10337)"
)
EXPECTED = (
    "Non-saturating, least-squares, WGAN-GP and hinge losses cover most of the 8 modes; the saturating minimax "
    "generator learns slowly."
)

# name -> (GANLoss kind, discriminator steps per generator step, gradient-penalty λ, Adam betas)
LOSSES: dict[str, dict[str, Any]] = {
    "minimax (saturating)": dict(kind="minimax", n_critic=1, gp=0.0, betas=(0.5, 0.999)),
    "non-saturating": dict(kind="non-saturating", n_critic=1, gp=0.0, betas=(0.5, 0.999)),
    "least-squares": dict(kind="least-squares", n_critic=1, gp=0.0, betas=(0.5, 0.999)),
    "WGAN-GP": dict(kind="wasserstein", n_critic=5, gp=10.0, betas=(0.5, 0.9)),
    "hinge": dict(kind="hinge", n_critic=1, gp=0.0, betas=(0.5, 0.999)),
}
SATURATING = "minimax (saturating)"
NON_SATURATING = "non-saturating"

PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(seeds=2, steps=30, batch=32, hidden=16, eval_samples=200, checkpoints=2),
    "quick": dict(seeds=4, steps=1000, batch=128, hidden=64, eval_samples=1000, checkpoints=5),
    "full": dict(seeds=8, steps=3000, batch=128, hidden=64, eval_samples=2500, checkpoints=10),
}
DEFAULTS: dict[str, Any] = dict(
    modes=8, radius=2.0, std=0.05, z_dim=16, lr_g=1e-3, lr_d=2e-3, cover_share=0.02, most=5.0
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
    """Train ``cfg["seeds"]`` independent GANs with the loss ``name``; returns their curves and final samples."""
    spec = LOSSES[name]
    members, batch, z_dim, hidden = cfg["seeds"], cfg["batch"], cfg["z_dim"], cfg["hidden"]
    steps, checkpoints = cfg["steps"], cfg["checkpoints"]
    centers = ring_centers(cfg["modes"], cfg["radius"])
    g = torch.Generator().manual_seed(seed)
    gen = EnsembleMLP(members, [z_dim, hidden, hidden, 2], g)
    disc = EnsembleMLP(members, [2, hidden, hidden, 1], g)
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
            real = sample_ring(n, centers, cfg["std"], g)
            fake = gen(torch.randn(n, z_dim, generator=g)).detach()
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
        fake_logits = disc(gen(torch.randn(n, z_dim, generator=g))).view(-1)
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


def run(
    profile: str = "quick",
    *,
    seed: int = 0,
    out_dir: str | Path | None = None,
    progress: Progress | None = None,
    **overrides: Any,
) -> Result:
    """Train every loss on the ring for the profile's budget (several seeds each) and judge the claim.

    ``overrides`` replace profile or default settings (e.g. ``steps=200``), for exploration.
    """
    if profile not in PROFILES:
        raise ValueError(f"profile: expected one of {tuple(PROFILES)}, got {profile!r}")
    progress = progress or no_progress
    cfg = {**DEFAULTS, **PROFILES[profile], **overrides}
    t0 = time.perf_counter()
    per_loss: dict[str, dict[str, Any]] = {}
    samples: dict[str, torch.Tensor] = {}
    with validation(False):  # inputs are produced by the networks; skip the per-call data checks
        for i, name in enumerate(LOSSES):
            if name not in cfg.get("losses", LOSSES):
                continue
            t = time.perf_counter()
            out = train_loss(name, cfg, seed=seed * 1000 + i, progress=progress)
            final = out["curve"][-1]
            per_loss[name] = dict(
                modes_covered=final["modes"],
                modes_covered_mean=_mean(final["modes"]),
                modes_covered_std=_std(final["modes"]),
                hq_fraction=final["hq"],
                hq_fraction_mean=_mean(final["hq"]),
                curve_steps=[c["step"] for c in out["curve"]],
                curve_modes_mean=[_mean(c["modes"]) for c in out["curve"]],
                curve_hq_mean=[_mean(c["hq"]) for c in out["curve"]],
                # learning speed: the area under the high-quality-fraction curve (mean over checkpoints)
                hq_auc=_mean([_mean(c["hq"]) for c in out["curve"]]),
                early_generator_grad_norm=out["early_grad_norm"],
                seconds=time.perf_counter() - t,
            )
            samples[name] = out["samples"]

    if set(per_loss) != set(LOSSES):  # exploration run on a subset: report, no verdict
        return Result(NAME, TITLE, PAPER, EXPECTED, profile, seed, dict(losses=per_loss), False, "partial run",
                      seconds=time.perf_counter() - t0)
    others = [k for k in LOSSES if k != SATURATING]
    most = cfg["most"]
    cover_ok = {k: per_loss[k]["modes_covered_mean"] >= most for k in others}
    sat, ns = per_loss[SATURATING], per_loss[NON_SATURATING]
    # "learns slowly": the lowest area under the high-quality-fraction curve (mean over checkpoints and seeds)
    slowest = min(others, key=lambda k: per_loss[k]["hq_auc"])  # the slowest of the other four
    slow = all(sat["hq_auc"] < per_loss[k]["hq_auc"] for k in others)  # strictly: a tie is not "slower"
    holds = all(cover_ok.values()) and slow

    missed = [f"{k} {per_loss[k]['modes_covered_mean']:.1f}" for k in others if not cover_ok[k]]
    verdict = (
        ("Holds" if holds else "Does not hold")
        + f" (mean over {cfg['seeds']} seeds, {cfg['steps']} generator steps): "
        + (
            f"the four other losses cover >= {most:g}/8 modes"
            if not missed
            else f"below {most:g}/8 modes covered: {', '.join(missed)}"
        )
        + f"; saturating minimax {'learns slowest' if slow else 'is not the slowest learner'} (area under its "
        f"high-quality-fraction curve {sat['hq_auc']:.3f}, "
        + ("lowest of the five" if slow else f"not below {per_loss[slowest]['hq_auc']:.3f} for {slowest}")
        + f"; non-saturating {ns['hq_auc']:.3f}; generator gradient norm over the first 10% of steps "
        f"{sat['early_generator_grad_norm']:.3g} vs {ns['early_generator_grad_norm']:.3g} non-saturating)."
    )
    rows = [
        [
            k,
            f"{v['modes_covered_mean']:.1f} ± {v['modes_covered_std']:.1f}",
            " ".join(str(m) for m in v["modes_covered"]),
            v["hq_fraction_mean"],
            v["hq_auc"],
            f"{v['early_generator_grad_norm']:.3g}",
        ]
        for k, v in per_loss.items()
    ]
    table = markdown_table(
        ["loss", "modes covered (mean ± sd)", "per seed", "high-quality fraction", "HQ AUC (speed)", "early G grad"],
        rows,
    )
    figures = _figures(out_dir, samples, per_loss, cfg)
    metrics = dict(
        losses=per_loss,
        covers_most={k: bool(v) for k, v in cover_ok.items()},
        saturating_learns_slowly=bool(slow),
        settings={k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()},
        loss_settings={k: {**v, "betas": list(v["betas"])} for k, v in LOSSES.items()},
    )
    return Result(
        name=NAME,
        title=TITLE,
        paper=PAPER,
        expected=EXPECTED,
        profile=profile,
        seed=seed,
        metrics=metrics,
        holds=bool(holds),
        verdict=verdict,
        table=table,
        figures=figures,
        paper_numbers=None,
        seconds=time.perf_counter() - t0,
    )


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
            m, q = per_loss[name]["modes_covered"][r], per_loss[name]["hq_fraction"][r]
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
