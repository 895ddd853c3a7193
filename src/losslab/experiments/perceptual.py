"""Perceptual loss vs pixel MSE for 4x super-resolution of MNIST digits (Johnson et al. 2016, Section 4.2).

Setting, scaled to a laptop CPU:

1. A small CNN digit classifier is trained on the training digits; its ReLU feature maps are the *loss network*
   (the paper uses an ImageNet VGG-16; here the images are digits, so the loss network is a digit classifier).
2. Low-resolution inputs are the 28x28 digits average-pooled by ``scale`` (4x: 7x7). Two identical
   super-resolution nets (ESPCN-style: convolutions at low resolution, then a pixel shuffle, predicting a
   correction to the bicubic upsampling) are trained from the same initialization, one with pixel MSE, one with
   :class:`losslab.PerceptualLoss` (feature reconstruction on the classifier's ``relu1`` and ``relu2`` maps,
   ``normalization=None`` because the classifier reads [0, 1] digits, ``input_range=(0, 1)``).
3. On the held-out digits we measure PSNR against the originals, the accuracy of the loss-network classifier on
   the super-resolved images, and, so that the perceptual net is not graded by its own loss network, the accuracy
   of two independently trained *judges* with other architectures, seeds and batch orders (a CNN with 5x5
   kernels and average pooling, and an MLP on pixels). Sharpness is the mean squared image gradient of the
   outputs relative to the originals' (1.0 = as sharp as the truth).

Sub-claims (the paper's claim: lower PSNR for the feature loss, but outputs closer in feature space and sharper),
each on the per-seed paired differences of two SR nets that share their initialization and batch order (the loss
network and the judges are trained once per run and shared by the seeds):

* ``psnr``: pixel MSE wins PSNR: ``PSNR(MSE) - PSNR(perceptual) >= 0.3 dB``;
* ``feature_distance``: the perceptual outputs are closer to the originals in the feature space of the
  *independent* judge CNN (never the loss network): an LPIPS-style distance, features unit-normalized over
  channels at every pixel, squared differences averaged, over the judge's ``relu1`` and ``relu2``; endpoint
  ``1 - d(perceptual) / d(MSE) >= 0.05``;
* ``sharpness``: the perceptual outputs' sharpness is closer to the originals': ``|1 - s(MSE)| - |1 - s(perc.)|
  >= 0.05``.

The judges' recognition accuracy on the outputs is a secondary endpoint, reported with McNemar's exact test on
the first seed's images (it was the old, noise-decided primary).

The smoke profile runs the same code on scikit-learn's 8x8 digits at 2x in a few seconds (loading the 5,000 MNIST
digits alone takes several seconds).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ..perceptual import PerceptualLoss
from . import data, stats
from ._base import Context, Experiment, Measurement, Progress, figure_path, markdown_table
from .train import batches

NAME = "perceptual"
TITLE = "Perceptual loss vs pixel MSE: 4x super-resolution of MNIST digits"
PAPER = (
    "J. Johnson, A. Alahi, L. Fei-Fei. Perceptual Losses for Real-Time Style Transfer and Super-Resolution. "
    "ECCV 2016. arXiv:1603.08155"
)
EXPECTED = (
    "A super-resolution net trained with a feature-reconstruction loss has a lower PSNR than one trained with pixel "
    "MSE, but its outputs are closer to the originals in feature space and sharper."
)

PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(dataset="digits", scale=2, classifier_epochs=3, judge_epochs=3, sr_epochs=1, width=8, n_train=800),
    "quick": dict(dataset="mnist5000", scale=4, classifier_epochs=4, judge_epochs=6, sr_epochs=4, width=16, n_train=2500),
    "full": dict(dataset="mnist5000", scale=4, classifier_epochs=6, judge_epochs=10, sr_epochs=8, width=32, n_train=None),
}

CONTENT_LAYERS = ("relu1", "relu2")
SEEDS = {"smoke": 2, "quick": 3, "full": 5}  # pilot paired sd: PSNR ~0.1 dB
CLAIMS = (
    stats.SubClaim("psnr", "Pixel MSE reaches a higher PSNR than the perceptual loss.",
                   "PSNR(MSE) - PSNR(perceptual), dB", 0.3, SEEDS, pilot_sd=0.1),
    stats.SubClaim("feature_distance", "The perceptual outputs are closer to the originals in an independent "
                   "network's feature space.", "1 - d_judge(perceptual) / d_judge(MSE)", 0.05, SEEDS),
    stats.SubClaim("sharpness", "The perceptual outputs are as sharp as the originals more nearly than MSE's.",
                   "|1 - sharpness(MSE)| - |1 - sharpness(perceptual)|", 0.05, SEEDS),
)


class DigitCNN(nn.Module):
    """conv -> ReLU -> pool -> conv -> ReLU -> pool -> linear; ``features`` exposes every stage.

    The loss network uses 3x3 kernels and max-pooling; the independent CNN judge 5x5 kernels, average pooling and
    other widths, so the two do not share an architecture, an initialization or a batch order.
    """

    def __init__(self, size: int, c1: int = 16, c2: int = 32, kernel: int = 3, pool: str = "max") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, c1, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv2d(c1, c2, kernel, padding=kernel // 2)
        self.fc = nn.Linear(c2 * (size // 4) ** 2, 10)
        self.pool = F.max_pool2d if pool == "max" else F.avg_pool2d

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        relu1 = F.relu(self.conv1(x))
        relu2 = F.relu(self.conv2(self.pool(relu1, 2)))
        logits = self.fc(self.pool(relu2, 2).flatten(1))
        return {"relu1": relu1, "relu2": relu2, "logits": logits}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)["logits"]


class FeatureView(nn.Module):
    """The classifier seen as a loss network: ``forward`` returns its feature dict."""

    def __init__(self, net: DigitCNN) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net.features(x)


class SuperResolution(nn.Module):
    """ESPCN-style: convolutions at low resolution, pixel shuffle, a correction to bicubic upsampling in logit space.

    Starting from bicubic (the correction is 0 at init) gives both losses the same, sensible starting point;
    the sigmoid keeps outputs in (0, 1), the range the perceptual loss is told about.
    """

    def __init__(self, scale: int, width: int) -> None:
        super().__init__()
        self.scale = scale
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 5, padding=2), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, scale * scale, 3, padding=1), nn.PixelShuffle(scale),
        )
        nn.init.zeros_(self.body[-2].weight)
        nn.init.zeros_(self.body[-2].bias)

    def forward(self, low: torch.Tensor) -> torch.Tensor:
        up = bicubic(low, self.scale).clamp(0.02, 0.98)
        return torch.sigmoid(torch.logit(up) + self.body(low))


def bicubic(low: torch.Tensor, scale: int) -> torch.Tensor:
    return F.interpolate(low, scale_factor=scale, mode="bicubic", align_corners=False)


def downsample(x: torch.Tensor, scale: int) -> torch.Tensor:
    return F.avg_pool2d(x, scale)


def psnr(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean over images of 10 log10(1 / MSE), images in [0, 1]."""
    mse = (pred - target).square().flatten(1).mean(1).clamp_min(1e-10)
    return float((10 * torch.log10(1.0 / mse)).mean())


def sharpness(images: torch.Tensor) -> float:
    """Mean squared finite difference (vertical and horizontal) of the images."""
    dh = (images[..., 1:, :] - images[..., :-1, :]).square().mean()
    dw = (images[..., :, 1:] - images[..., :, :-1]).square().mean()
    return float(dh + dw)


@torch.no_grad()
def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return float((model(x).argmax(1) == y).float().mean())


def _train_classifier(model: nn.Module, x, y, *, epochs: int, lr: float, g: torch.Generator, progress: Progress, desc: str) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in progress(range(epochs), desc=desc, total=epochs):
        model.train()
        for idx in batches(len(x), 64, g):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    model.eval()


def _train_sr(net: SuperResolution, loss_fn, x_hr, *, epochs: int, scale: int, g: torch.Generator, progress: Progress, desc: str) -> list[float]:
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    history = []
    for _ in progress(range(epochs), desc=desc, total=epochs):
        net.train()
        total, count = 0.0, 0
        for idx in batches(len(x_hr), 32, g):
            hr = x_hr[idx]
            loss = loss_fn(net(downsample(hr, scale)), hr)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        history.append(total / count)
    net.eval()
    return history


def _load(dataset: str, seed: int):
    if dataset == "mnist5000":
        return data.mnist5000(seed)
    if dataset == "digits":
        return data.digits(seed)
    raise ValueError(f"dataset: expected 'mnist5000' or 'digits', got {dataset!r}")


@torch.no_grad()
def feature_distance(net: DigitCNN, a: torch.Tensor, b: torch.Tensor, layers: tuple[str, ...] = ("relu1", "relu2")) -> float:
    """LPIPS-style distance under ``net``: features unit-normalized over channels per pixel, squared differences
    averaged over channels and pixels, summed over ``layers``, averaged over images."""
    net.eval()
    fa, fb = net.features(a), net.features(b)
    total = torch.zeros(a.shape[0])
    for layer in layers:
        x = fa[layer] / (fa[layer].norm(dim=1, keepdim=True) + 1e-10)
        y = fb[layer] / (fb[layer].norm(dim=1, keepdim=True) + 1e-10)
        total += (x - y).square().sum(1).mean((-2, -1))
    return float(total.mean())


def _classifiers(cfg: dict[str, Any], seed: int, x_tr, y_tr, progress: Progress) -> tuple[DigitCNN, dict[str, nn.Module]]:
    """The loss network and two independent judges (other architectures, seeds and batch orders)."""
    size = x_tr.shape[-1]
    torch.manual_seed(seed)
    classifier = DigitCNN(size)
    _train_classifier(classifier, x_tr, y_tr, epochs=cfg["classifier_epochs"], lr=2e-3,
                      g=torch.Generator().manual_seed(seed + 1), progress=progress, desc="loss network")
    torch.manual_seed(seed + 1000)
    judges: dict[str, nn.Module] = {
        "cnn": DigitCNN(size, c1=12, c2=24, kernel=5, pool="avg"),
        "mlp": nn.Sequential(nn.Flatten(), nn.Linear(size * size, 256), nn.ReLU(), nn.Linear(256, 10)),
    }
    for k, (name, judge) in enumerate(judges.items()):
        _train_classifier(judge, x_tr, y_tr, epochs=cfg["judge_epochs"] if name == "mlp" else cfg["classifier_epochs"],
                          lr=1e-3 if name == "mlp" else 2e-3, g=torch.Generator().manual_seed(seed + 1001 + k),
                          progress=progress, desc=f"judge ({name})")
    return classifier, judges


def _one_seed(cfg: dict[str, Any], seed: int, classifier, judges, x_tr, x_te, y_te, progress: Progress) -> tuple[dict[str, Any], dict]:
    """Train both SR nets from the same initialization and batch order (seed ``seed``); metrics and outputs."""
    scale = cfg["scale"]
    tag = f" [seed {seed}]"
    perceptual = PerceptualLoss(FeatureView(classifier), content_layers=CONTENT_LAYERS, input_range=(0, 1),
                                normalization=None)
    losses = {"mse": nn.MSELoss(), "perceptual": perceptual}
    nets, histories = {}, {}
    for name, loss_fn in losses.items():
        torch.manual_seed(seed)
        net = SuperResolution(scale, cfg["width"])
        histories[name] = _train_sr(net, loss_fn, x_tr, epochs=cfg["sr_epochs"], scale=scale,
                                    g=torch.Generator().manual_seed(seed + 1), progress=progress, desc=f"SR ({name})" + tag)
        nets[name] = net
    low = downsample(x_te, scale)
    with torch.no_grad():
        outputs = {"bicubic": bicubic(low, scale).clamp(0, 1), **{k: net(low) for k, net in nets.items()}}
    truth_sharp = sharpness(x_te)

    def judged(images: torch.Tensor) -> dict[str, Any]:
        with torch.no_grad():
            correct = {name: (judge(images).argmax(1) == y_te) for name, judge in judges.items()}
        acc = {"acc_loss_network": _accuracy(classifier, images, y_te)}
        acc.update({f"acc_judge_{name}": float(c.float().mean()) for name, c in correct.items()})
        acc["acc_judge"] = sum(acc[f"acc_judge_{name}"] for name in judges) / len(judges)
        return acc, correct

    metrics: dict[str, Any] = {"originals": judged(x_te)[0]}
    correct: dict[str, Any] = {}
    for name, out in outputs.items():
        acc, correct[name] = judged(out)
        metrics[name] = {"psnr": psnr(out, x_te), **acc, "sharpness": sharpness(out) / truth_sharp,
                         "feature_distance_judge": feature_distance(judges["cnn"], out, x_te)}
    metrics["train_loss_history"] = histories
    return metrics, {"low": low, **outputs, "correct": correct}


ARMS = ("originals", "bicubic", "mse", "perceptual")


def _measure(ctx: Context) -> Measurement:
    """Train the loss network and the judges once, then the MSE / perceptual SR pair on every judging seed."""
    cfg, progress = ctx.cfg, ctx.progress
    seeds = ctx.seeds(CLAIMS[0])
    x_tr, y_tr, x_te, y_te = _load(cfg["dataset"], seeds[0])
    if cfg["n_train"]:
        x_tr, y_tr = x_tr[: cfg["n_train"]], y_tr[: cfg["n_train"]]
    size, scale = x_tr.shape[-1], cfg["scale"]
    classifier, judges = _classifiers(cfg, seeds[0] + 500, x_tr, y_tr, progress)

    runs, first = [], None
    for seed in seeds:
        m, outputs = _one_seed(cfg, seed, classifier, judges, x_tr, x_te, y_te, progress)
        runs.append(m)
        first = first or outputs
    assert first is not None
    mse = [r["mse"] for r in runs]
    per = [r["perceptual"] for r in runs]
    claims = stats.judge_all([
        (CLAIMS[0], [a["psnr"] - b["psnr"] for a, b in zip(mse, per)]),
        (CLAIMS[1], [1 - b["feature_distance_judge"] / a["feature_distance_judge"] for a, b in zip(mse, per)]),
        (CLAIMS[2], [abs(1 - a["sharpness"]) - abs(1 - b["sharpness"]) for a, b in zip(mse, per)]),
    ])
    mcnemar = {name: stats.mcnemar(first["correct"]["mse"][name].tolist(), first["correct"]["perceptual"][name].tolist())
               for name in judges}
    metrics: dict[str, Any] = {
        "n_train": len(x_tr),
        "n_test": len(x_te),
        "image_size": size,
        "scale": scale,
        "content_layers": list(CONTENT_LAYERS),
        "seeds": seeds,
        "judge_accuracy_mcnemar_first_seed": mcnemar,
    }
    for arm in ARMS:  # mean over seeds
        keys = runs[0][arm].keys()
        metrics[arm] = {key: sum(r[arm][key] for r in runs) / len(runs) for key in keys}
    metrics["per_seed"] = [{arm: r[arm] for arm in ARMS} for r in runs]
    metrics["train_loss_history"] = [r["train_loss_history"] for r in runs]
    m_mse, m_per = metrics["mse"], metrics["perceptual"]
    narrative = (
        f"Secondary: the independent judges' mean accuracy on the outputs, perceptual {m_per['acc_judge']:.3f} vs MSE "
        f"{m_mse['acc_judge']:.3f} (McNemar on the first seed: "
        + ", ".join(f"{k} {int(v['b_only'])} vs {int(v['a_only'])} discordant, p={v['p_two_sided']:.2g}"
                    for k, v in mcnemar.items())
        + f"); the loss network itself (circular): perceptual {m_per['acc_loss_network']:.3f} vs MSE "
        f"{m_mse['acc_loss_network']:.3f}."
    )
    header = ["images", "PSNR (dB)", "judge-CNN feature distance", "sharpness", "acc. loss network", "acc. judge CNN",
              "acc. judge MLP"]
    o = metrics["originals"]
    rows = [["originals", "-", 0.0, 1.0, o["acc_loss_network"], o["acc_judge_cnn"], o["acc_judge_mlp"]]]
    for name in ("bicubic", "mse", "perceptual"):
        m = metrics[name]
        label = "bicubic" if name == "bicubic" else f"SR net, {name} loss"
        rows.append([label, m["psnr"], m["feature_distance_judge"], m["sharpness"], m["acc_loss_network"],
                     m["acc_judge_cnn"], m["acc_judge_mlp"]])
    figures = []
    path = figure_path(ctx.out_dir, "perceptual_examples.png")
    if path is not None:
        low = first.pop("low")
        first.pop("correct")
        _figure(path, x_te, low, first, runs[0], scale)
        figures.append(path.name)
    return Measurement(
        metrics=metrics, claims=claims, table=markdown_table(header, rows), figures=figures, narrative=narrative,
        paper_numbers={
            "note": "The paper reports, for 4x SR on Set5/Set14/BSD100, lower PSNR/SSIM for the feature-loss net than "
            "for the per-pixel-loss net while the feature-loss outputs look sharper; it reports no recognition accuracy."
        },
    )


EXPERIMENT = Experiment(NAME, TITLE, PAPER, EXPECTED, PROFILES, CLAIMS, _measure)
run = EXPERIMENT.run


def _figure(path: Path, x_te, low, outputs, metrics, scale: int, n: int = 8) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("original", x_te), (f"input ({scale}x down)", F.interpolate(low, scale_factor=scale, mode="nearest"))]
    rows += [(name, out) for name, out in outputs.items()]
    fig, axes = plt.subplots(len(rows), n, figsize=(1.2 * n, 1.3 * len(rows)))
    for r, (label, imgs) in enumerate(rows):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(imgs[c, 0].numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        title = label
        if label in metrics:
            m = metrics[label]
            title = f"{label}\n{m['psnr']:.1f} dB, judges {m['acc_judge']:.2f}"
        axes[r, 0].set_ylabel(title, fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle(f"{scale}x super-resolution: pixel MSE vs perceptual loss (accuracy: mean of the independent judges)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
