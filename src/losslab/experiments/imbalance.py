"""Focal loss on a heavily imbalanced binary problem: do easy negatives stop dominating the loss?

The setting imitates a dense detector's anchors in a feature space: for every positive anchor there are
``hard`` negatives that overlap it (the confusable background next to an object) and ``easy`` negatives far
away (the plain background that makes up almost every anchor), 1 positive per 1,000+ anchors. A one-hidden-layer
network is trained with SGD for a fixed budget, as RetinaNet's head is, with the paper's prior initialization of
the output bias (p = 0.01) and the loss summed over anchors and divided by the number of positives, using:

* cross-entropy (``gamma = 0``, no ``alpha``),
* alpha-balanced cross-entropy (``alpha = 0.75``, the paper's best for CE),
* focal loss with ``gamma`` in {0.5, 1, 2, 5} and the paper's matching ``alpha`` (0.5, 0.25, 0.25, 0.25).

Judged (the paper's mechanism, Figures 1 and 4), per seed with every arm on the same anchors, initial weights and
batch order:

* ``fig4_easy_share``: on the converged ``gamma = 2`` model, the easiest 80% of the negatives carry a larger share
  of the negatives' loss under CE (``gamma = 0``) than under focal ``gamma = 2`` (Figure 4);
* ``training_share``: over training, easy negatives (predicted foreground probability < 0.1 at that step) carry a
  smaller share of the focal-trained model's loss than of the CE-trained model's.

Both carry a deterministic gate: the library's focal loss divided by its cross-entropy equals the modulating factor
``(1 - p_t)^gamma`` on a grid of probabilities (Figure 1). Average precision on fresh anchors is reported but not
judged: on these data it is capped by a Bayes-optimal AP of about 0.44 and its sign is set by the epoch budget, so
the AP claim belongs to a detector experiment.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from ..focal import sigmoid_focal_loss
from . import stats
from ._base import Context, Experiment, Measurement, figure_path, markdown_table

NAME = "imbalance"
TITLE = "Focal loss vs cross-entropy on 1:1,000 imbalanced dense anchors"
PAPER = (
    "T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollár. Focal Loss for Dense Object Detection. "
    "ICCV 2017, arXiv:1708.02002"
)
EXPECTED = (
    "Focal loss keeps the flood of easy negatives from dominating the training loss (Figures 1 and 4); its effect on "
    "average precision is left to a detector experiment."
)

PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {"n_pos": 10, "epochs": 1, "n_test_pos": 60},
    "quick": {"n_pos": 40, "epochs": 3, "n_test_pos": 200},
    "full": {"n_pos": 80, "epochs": 5, "n_test_pos": 400},
}
SEEDS = {"smoke": 2, "quick": 3, "full": 6}  # the mechanism's paired spread is ~0 (pilot)
CLAIMS = (
    stats.SubClaim("fig4_easy_share", "On the converged focal (gamma=2) model, the easiest 80% of negatives carry a "
                   "larger share of the negatives' loss under CE than under focal loss (Figure 4).",
                   "share(easiest 80%, CE) - share(easiest 80%, FL gamma=2)", 0.2, SEEDS),
    stats.SubClaim("training_share", "Over training, easy negatives carry a smaller share of the focal-trained "
                   "model's loss than of the CE-trained model's.",
                   "easy-negative loss share (CE arm) - (FL gamma=2 arm)", 0.1, SEEDS),
)
ARMS = ("CE", "CE, alpha=0.75", "focal gamma=2")  # trained arms (AP reported for all three)

# Fixed settings (all profiles): feature dimension, negatives per positive, geometry, optimizer.
DIM, HARD, EASY = 10, 30, 1000
SEPARATION, FAR = 2.0, 4.0
HIDDEN, LR, BATCH, PRIOR = 32, 0.01, 512, 0.01
EASY_P = 0.1  # a negative is "easy" when its predicted foreground probability is below this
_EASY_LOGIT = math.log(EASY_P / (1 - EASY_P))

# (label, gamma, alpha): the paper's Table 1a/1b choices of alpha for each gamma.
LOSSES: list[tuple[str, float, float | None]] = [
    ("CE", 0.0, None),
    ("CE, alpha=0.75", 0.0, 0.75),
    ("focal gamma=0.5", 0.5, 0.5),
    ("focal gamma=1", 1.0, 0.25),
    ("focal gamma=2", 2.0, 0.25),
    ("focal gamma=5", 5.0, 0.25),
]
FIG1_GAMMAS = (0.0, 0.5, 1.0, 2.0, 5.0)
# The paper's COCO numbers (Table 1a: alpha-balanced CE; Table 1b: FL with gamma=2, alpha=0.25), ResNet-50, AP.
PAPER_AP = {"CE, alpha=0.5": 30.2, "CE, alpha=0.75": 31.1, "focal gamma=2 (alpha=0.25)": 34.0}


def anchors(n_pos: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Synthetic dense anchors: ``n_pos`` positives, ``HARD * n_pos`` overlapping and ``EASY * n_pos`` far negatives.

    Positives are N(SEPARATION * e1, I), hard negatives N(0, I), easy negatives N(-e1 - FAR * e2, I) in
    ``DIM`` dimensions. Returns ``(features, labels)`` with labels 1.0 / 0.0.
    """
    e1 = torch.zeros(DIM)
    e1[0] = 1.0
    e2 = torch.zeros(DIM)
    e2[1] = 1.0
    pos = torch.randn(n_pos, DIM, generator=generator) + SEPARATION * e1
    hard = torch.randn(n_pos * HARD, DIM, generator=generator)
    easy = torch.randn(n_pos * EASY, DIM, generator=generator) - e1 - FAR * e2
    x = torch.cat([pos, hard, easy])
    y = torch.cat([torch.ones(n_pos), torch.zeros(len(hard) + len(easy))])
    return x, y


def _model(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(DIM, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 1))
    with torch.no_grad():  # the paper's prior initialization: every anchor starts at p = PRIOR
        model[-1].bias.fill_(-math.log((1 - PRIOR) / PRIOR))
    return model


def _loss(logits: torch.Tensor, target: torch.Tensor, gamma: float, alpha: float | None) -> torch.Tensor:
    """Per-anchor loss: focal (``gamma > 0``) or (alpha-balanced) cross-entropy, both via sigmoid_focal_loss."""
    return sigmoid_focal_loss(logits, target, gamma=gamma, alpha=alpha, reduction="none")


def _train(
    x: torch.Tensor, y: torch.Tensor, gamma: float, alpha: float | None, epochs: int, seed: int
) -> tuple[nn.Sequential, float]:
    """Train one model; returns it and the share of the training loss (summed over every step) carried by easy
    negatives, i.e. negatives whose predicted foreground probability is below ``EASY_P`` at that step."""
    model = _model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    order = torch.Generator().manual_seed(seed)
    easy_sum = total_sum = 0.0
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=order).split(BATCH):
            logits = model(x[idx]).squeeze(1)
            target = y[idx]
            per_anchor = _loss(logits, target, gamma, alpha)
            # RetinaNet's normalization: the summed loss divided by the number of positive anchors.
            loss = per_anchor.sum() / target.sum().clamp(min=1.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                easy = (target == 0) & (logits < _EASY_LOGIT)
                easy_sum += float(per_anchor[easy].sum())
                total_sum += float(per_anchor.sum())
    return model, easy_sum / total_sum


@torch.no_grad()
def _cumulative_negative_share(model: nn.Module, x: torch.Tensor, y: torch.Tensor, gamma: float) -> np.ndarray:
    """The paper's Figure 4: cumulative normalized loss of the negatives, sorted from lowest to highest loss."""
    logits = model(x[y == 0]).squeeze(1)
    loss = _loss(logits, torch.zeros_like(logits), gamma, None).double()
    loss = loss.sort().values
    return (loss.cumsum(0) / loss.sum()).numpy()


def figure1_gate() -> float:
    """Largest relative deviation of ``focal / CE`` from ``(1 - p_t)^gamma`` on a grid (float64): Figure 1's identity."""
    p = torch.linspace(0.01, 0.99, 99, dtype=torch.float64)
    logits = torch.log(p) - torch.log1p(-p)
    ce = sigmoid_focal_loss(logits, torch.ones_like(p), gamma=0.0, alpha=None, reduction="none")
    worst = 0.0
    for g in FIG1_GAMMAS:
        fl = sigmoid_focal_loss(logits, torch.ones_like(p), gamma=g, alpha=None, reduction="none")
        worst = max(worst, float(((fl / ce) / (1 - p) ** g - 1).abs().max()))
    return worst


def _measure(ctx: Context) -> Measurement:
    """Train CE, alpha-CE and focal gamma=2 on every judging seed; judge the mechanism, report AP."""
    from sklearn.metrics import average_precision_score

    cfg, progress = ctx.cfg, ctx.progress
    seeds = ctx.seeds(CLAIMS[0])
    specs = {label: (gamma, alpha) for label, gamma, alpha in LOSSES if label in ARMS}
    ap: dict[str, list[float]] = {label: [] for label in ARMS}
    easy_share: dict[str, list[float]] = {label: [] for label in ARMS}
    easy80: dict[str, list[float]] = {f"{g:g}": [] for g in FIG1_GAMMAS}
    cumulative: dict[float, np.ndarray] = {}
    jobs = [(k, label) for k in range(len(seeds)) for label in ARMS]
    data: dict[int, tuple[torch.Tensor, ...]] = {}
    for k, label in progress(jobs, desc="train", total=len(jobs)):
        run_seed = seeds[k]
        if k not in data:  # one anchor draw per seed, shared by the arms
            data = {k: (*anchors(cfg["n_pos"], torch.Generator().manual_seed(run_seed)),
                        *anchors(cfg["n_test_pos"], torch.Generator().manual_seed(run_seed + 500)))}
        x, y, xt, yt = data[k]
        gamma, alpha = specs[label]
        model, share = _train(x, y, gamma, alpha, cfg["epochs"], run_seed)  # same init and batch order per seed
        with torch.no_grad():
            scores = model(xt).squeeze(1)
        ap[label].append(float(average_precision_score(yt.numpy(), scores.numpy())))
        easy_share[label].append(share)
        if label == "focal gamma=2":
            cum = {g: _cumulative_negative_share(model, x, y, g) for g in FIG1_GAMMAS}
            for g, c in cum.items():
                easy80[f"{g:g}"].append(float(c[int(0.8 * (len(c) - 1))]))
            if k == 0:
                cumulative = cum

    gate_error = figure1_gate()
    gate = {"focal/CE = (1-p_t)^gamma to 1e-9 (Figure 1)": gate_error < 1e-9}
    d_fig4 = [a - b for a, b in zip(easy80["0"], easy80["2"])]
    d_train = [a - b for a, b in zip(easy_share["CE"], easy_share["focal gamma=2"])]
    claims = stats.judge_all([(CLAIMS[0], d_fig4), (CLAIMS[1], d_train)],
                             gates={c.key: gate for c in CLAIMS})
    hardest20 = {g: float(1.0 - c[int(0.8 * (len(c) - 1))]) for g, c in cumulative.items()}
    mean_ap = {k: float(np.mean(v)) for k, v in ap.items()}
    mean_share = {k: float(np.mean(v)) for k, v in easy_share.items()}
    rows = [[label, f"{specs[label][0]:g}", "-" if specs[label][1] is None else f"{specs[label][1]:g}",
             f"{mean_share[label]:.1%}", f"{mean_ap[label]:.3f}"] for label in ARMS]
    n_train = cfg["n_pos"] * (1 + HARD + EASY)
    table = markdown_table(["loss", "gamma", "alpha", "training-loss share of easy negatives",
                            f"AP (mean of {len(seeds)} seeds; reported, not judged)"], rows)
    table += (
        f"\n\nTraining set: {n_train:,} anchors per seed, 1 positive per {HARD + EASY:,} negatives "
        f"({HARD} hard, {EASY} easy). Easiest 80% of negatives' share of the negatives' loss on the converged "
        "gamma=2 model: " + ", ".join(f"gamma={g} {np.mean(v):.1%}" for g, v in easy80.items()) + "."
    )
    metrics = {
        "seeds": seeds,
        "ap": ap,
        "mean_ap": mean_ap,
        "easy_negative_training_loss_share": easy_share,
        "easiest80_negative_loss_share_gamma": easy80,
        "hardest20_negative_loss_share_gamma_first_seed": {f"{g:g}": v for g, v in hardest20.items()},
        "figure1_identity_max_relative_error": gate_error,
        "train_anchors": n_train,
    }
    return Measurement(
        metrics=metrics, claims=claims, table=table, figures=_figures(ctx.out_dir, ap, cumulative, hardest20),
        narrative=(f"AP is reported, not judged: focal gamma=2 {mean_ap['focal gamma=2']:.3f}, CE {mean_ap['CE']:.3f}, "
                   f"alpha-CE {mean_ap['CE, alpha=0.75']:.3f}."),
        paper_numbers={"coco_ap": PAPER_AP},
    )


EXPERIMENT = Experiment(NAME, TITLE, PAPER, EXPECTED, PROFILES, CLAIMS, _measure)
run = EXPERIMENT.run


def _figures(
    out_dir: str | None,
    ap: dict[str, list[float]],
    cumulative: dict[float, np.ndarray],
    hardest20: dict[float, float],
) -> list[str]:
    fig1 = figure_path(out_dir, "focal_figure1.png")
    if fig1 is None:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(FIG1_GAMMAS)))

    # The paper's Figure 1: loss against the probability of the ground-truth class, computed by the library.
    p = torch.linspace(1e-3, 1 - 1e-3, 400, dtype=torch.float64)
    logits = torch.log(p) - torch.log1p(-p)
    fig, ax = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
    for g, c in zip(FIG1_GAMMAS, colors):
        loss = sigmoid_focal_loss(logits, torch.ones_like(logits), gamma=g, alpha=None, reduction="none")
        ax.plot(p.numpy(), loss.numpy(), color=c, lw=2, label=f"gamma = {g:g}" + (" (CE)" if g == 0 else ""))
    ax.axvspan(0.6, 1.0, color="0.92", zorder=0)
    ax.text(0.8, 4.6, "well-classified\nexamples", ha="center", va="top", fontsize=9, color="0.3")
    ax.set(xlim=(0, 1), ylim=(0, 5), xlabel="probability of the ground-truth class", ylabel="loss",
           title="Focal loss, the paper's Figure 1 (losslab.sigmoid_focal_loss)")
    ax.legend(frameon=False)
    fig.savefig(fig1, dpi=110)
    plt.close(fig)

    fig2 = figure_path(out_dir, "imbalance_ap_and_loss_share.png")
    assert fig2 is not None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11.5, 4.3), constrained_layout=True)
    labels = list(ap)
    for i, label in enumerate(labels):
        vals = ap[label]
        color = "tab:blue" if label.startswith("focal") else "tab:gray"
        a1.bar(i, np.mean(vals), color=color, alpha=0.75)
        a1.plot(np.full(len(vals), i), vals, "o", color="k", ms=3.5, alpha=0.7)
    a1.set_xticks(range(len(labels)), [lbl.replace("focal ", "focal\n").replace(", ", ",\n") for lbl in labels],
                  fontsize=8.5)
    lo = min(min(v) for v in ap.values())
    hi = max(max(v) for v in ap.values())
    a1.set_ylim(max(0.0, lo - 0.1 * (hi - lo + 1e-3) - 0.02), min(1.0, hi + 0.1 * (hi - lo + 1e-3) + 0.02))
    a1.set(ylabel="average precision (held-out anchors)", title="AP per loss (bars: mean; dots: seeds)")
    for g, c in zip(FIG1_GAMMAS, colors):
        cum = cumulative[g]
        frac = np.linspace(0, 1, len(cum))
        a2.plot(frac, cum, color=c, lw=2, label=f"gamma = {g:g}: hardest 20% carry {hardest20[g]:.0%}")
    a2.set(xlim=(0, 1), ylim=(0, 1), xlabel="fraction of negatives (sorted by loss)",
           ylabel="cumulative normalized loss", title="Negatives' loss, converged gamma=2 model (paper's Fig. 4)")
    a2.legend(frameon=False, fontsize=8.5, loc="upper left")
    fig.savefig(fig2, dpi=110)
    plt.close(fig)
    return [fig1.name, fig2.name]
