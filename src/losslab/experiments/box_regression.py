"""The DIoU paper's simulation: anchor boxes regressed by gradient descent toward targets, with each IoU loss.

Zheng et al. (AAAI 2020, Sec. 3, Fig. 3/4) scatter anchor points uniformly in a disc of radius 3 around (10, 10);
at every point sit 49 anchors (7 areas x 7 aspect ratios), and each anchor is regressed toward each of 7 targets
of area 1 centred at (10, 10) with aspect ratios 1:4 ... 4:1. Boxes are parameterized as (x, y, w, h), as in the
official simulation (Zzh-tju/DIoU, ``simulation experiment/test_1715k.m``), and every step moves each box along
its loss's descent direction scaled by ``(2 - IoU)``, with the official schedule: ``lr = 0.1`` for 160
iterations, 0.01 for 20, 0.001 for 20 (scaled to the profile's iteration count).

Variants:

* IoU, GIoU, DIoU, CIoU with the exact autograd gradient (the library's losses);
* DIoU and CIoU with the enclosing-box diagonal held constant in backward (``detach_diagonal=True``);
* **DIoU (official update)**: :func:`official_diou_step`, a vectorized port of the official ``dDIOU.m`` update,
  quirks included: it flips the sign of the enclosing-box term for the centre coordinates, drops the 1/2 of
  ``dIoU/dw``, lets the width/height terms leak across axes, and forces ``dCw/dw = -1`` when the anchor
  encloses the target. This is the update behind the paper's Fig. 3/4, and the paper's ordering is judged on it.
* **CIoU (official update)**: :func:`official_ciou_step`, the official ``dCIOU.m``: the DIoU update plus
  :math:`\alpha` times the aspect term's simplified derivative (``8/pi^2 (atan(w_gt/h_gt) - atan(w/h))`` times
  ``(h, -w)``, the paper's dropping of :math:`1/(w^2 + h^2)`), with :math:`\alpha = v / (1 - IoU + v + 10^{-7})`.
  The paper's CIoU ordering is judged on it.

Errors: the official one, the L1 distance of (x, y, w, h) to the target summed over the four coordinates and
averaged over cases, and the mean ``1 - IoU``. The simulation is deterministic float64; it is replicated over
independent point clouds (the unit of the paired comparison), and every sub-claim is a relative reduction of the
final L1 error, which must hold on the clouds' paired differences (:mod:`losslab.experiments.stats`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from .. import boxes as B
from .._checks import validation
from . import stats
from ._base import Context, Experiment, Measurement, Progress, figure_path, markdown_table, no_progress

NAME = "box-regression"
TITLE = "Box regression simulation: IoU vs GIoU vs DIoU vs CIoU losses"
PAPER = (
    "Z. Zheng, P. Wang, W. Liu, J. Li, R. Ye, D. Ren. Distance-IoU Loss: Faster and Better Learning for Bounding "
    "Box Regression. AAAI 2020. arXiv:1911.08287 (simulation, Fig. 3/4)"
)
EXPECTED = (
    "Regressing scattered anchors toward targets, the IoU loss stalls on non-overlapping boxes, GIoU converges "
    "slowly, and DIoU/CIoU reach the lowest error fastest."
)

PROFILES: dict[str, dict[str, Any]] = {
    # points per cloud (x 49 anchors x 7 targets regression cases), iterations (the official 200; the schedule's
    # 160/20/20 split is scaled to it), base step size
    "smoke": {"points": 3, "iterations": 40, "lr": 0.1},
    "quick": {"points": 20, "iterations": 200, "lr": 0.1},
    "full": {"points": 200, "iterations": 200, "lr": 0.1},
}
CLOUDS = {"smoke": 2, "quick": 3, "full": 3}
SESOI = 0.10  # a 10% lower final L1 error
CLAIMS = (
    stats.SubClaim("giou_vs_iou", "GIoU regresses anchors to a lower final error than IoU (IoU stalls on "
                   "non-overlapping boxes).", "1 - err(GIoU) / err(IoU), final L1 xywh error", SESOI, CLOUDS,
                   pilot_sd=0.0),
    stats.SubClaim("diou_vs_giou", "DIoU (the official update) reaches a lower final error than GIoU.",
                   "1 - err(DIoU official) / err(GIoU), final L1 xywh error", SESOI, CLOUDS, pilot_sd=0.0),
    stats.SubClaim("ciou_vs_giou", "CIoU (the official update) reaches a lower final error than GIoU.",
                   "1 - err(CIoU official) / err(GIoU), final L1 xywh error", SESOI, CLOUDS, pilot_sd=0.0),
)

RATIOS = (1 / 4, 1 / 3, 1 / 2, 1.0, 2.0, 3.0, 4.0)  # w / h of targets and anchors
AREAS = (0.5, 0.67, 0.75, 1.0, 1.33, 1.5, 2.0)  # anchor areas (targets have area 1)
CENTRE = (10.0, 10.0)
RADIUS = 3.0

def _xyxy(b: torch.Tensor) -> torch.Tensor:
    x, y, w, h = b.unbind(-1)
    return torch.stack((x - w / 2, y - h / 2, x + w / 2, y + h / 2), -1)


def _autograd(loss_fn):
    """Descent direction ``-dL/d(x, y, w, h)`` of a library loss taking xyxy boxes (summed over cases)."""

    def step(b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        b = b.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(loss_fn(_xyxy(b), _xyxy(t)), b)
        return -grad

    return step


def _official_iou_grad(p: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``dIoU/d(t, b, l, r)`` as the official ``dIOU.m`` (with ``dIbox.m``, ``dUbox.m``, ``dXbox.m``)."""
    pt, pb, pl, pr = p
    gt, gb, gl, gr = g
    it, ib, il, ir = torch.maximum(pt, gt), torch.minimum(pb, gb), torch.maximum(pl, gl), torch.minimum(pr, gr)
    inter = (ib - it) * (ir - il)
    union = (pb - pt) * (pr - pl) + (gb - gt) * (gr - gl) - inter
    zero = torch.zeros_like(pt)
    di = (torch.where(pt > gt, -(ir - il), zero), torch.where(pb < gb, ir - il, zero),
          torch.where(pl > gl, -(ib - it), zero), torch.where(pr < gr, ib - it, zero))
    dx = (-(pr - pl), pr - pl, -(pb - pt), pb - pt)
    du = tuple(a - b for a, b in zip(dx, di))
    ok = (it < ib) & (il < ir) & (union > 0)
    return tuple(torch.where(ok, (union * a - inter * b) / union.square(), zero) for a, b in zip(di, du))


def official_diou_step(b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The official simulation's DIoU update direction for boxes ``(n, 4)`` in (x, y, w, h) (``dDIOU.m``, vectorized).

    It ascends ``IoU - d^2 / c^2`` with the official code's own partial derivatives; see the module docstring for
    where they differ from the exact gradient.
    """
    x, y, w, h = b.unbind(-1)
    tx, ty, tw, th = t.unbind(-1)
    p = (y - h / 2, y + h / 2, x - w / 2, x + w / 2)  # t, b, l, r
    g = (ty - th / 2, ty + th / 2, tx - tw / 2, tx + tw / 2)
    ct, cb = torch.minimum(p[0], g[0]), torch.maximum(p[1], g[1])
    cl, cr = torch.minimum(p[2], g[2]), torch.maximum(p[3], g[3])
    c2 = (cb - ct).square() + (cr - cl).square()
    ccw, cch = cr - cl, cb - ct
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    top, bottom, left, right = p[0] < g[0], p[1] > g[1], p[2] < g[2], p[3] > g[3]
    ct_dy, ct_dh = torch.where(top, one, zero), torch.where(top, -0.5 * one, zero)
    cb_dy, cb_dh = torch.where(bottom, one, zero), torch.where(bottom, 0.5 * one, zero)
    cl_dx, cl_dw = torch.where(left, one, zero), torch.where(left, -0.5 * one, zero)
    cr_dx, cr_dw = torch.where(right, one, zero), torch.where(right, 0.5 * one, zero)
    # the official code's partial derivatives of the enclosing box's width and height, verbatim
    cw_dx = cr_dx - cl_dx
    cw_dy = cb_dy - ct_dy
    cw_dw = torch.where(left & right, -one, cr_dw - cl_dw)
    cw_dh = cb_dh - ct_dh
    ch_dx = cr_dx - cl_dx
    ch_dy = cb_dy - ct_dy
    ch_dw = cr_dw - cl_dw
    ch_dh = torch.where(top & bottom, -one, cb_dh - ct_dh)
    d = (x - tx).square() + (y - ty).square()
    s_dx = (2 * (tx - x) * c2 - (2 * ccw * cw_dx + 2 * cch * ch_dx) * d) / c2.square()
    s_dy = (2 * (ty - y) * c2 - (2 * ccw * cw_dy + 2 * cch * ch_dy) * d) / c2.square()
    s_dw = (2 * ccw * cw_dw + 2 * cch * ch_dw) * d / c2.square()
    s_dh = (2 * ccw * cw_dh + 2 * cch * ch_dh) * d / c2.square()
    d_t, d_b, d_l, d_r = _official_iou_grad(p, g)
    return torch.stack((d_l + d_r + s_dx, d_t + d_b + s_dy, d_r - d_l + s_dw, d_b - d_t + s_dh), -1)


def official_ciou_step(b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The official simulation's CIoU update direction (``dCIOU.m``, vectorized): the DIoU update plus the aspect
    term ``alpha * 8/pi^2 (atan(w_gt/h_gt) - atan(w/h)) * (h, -w)`` on (w, h)."""
    w, h = b[..., 2], b[..., 3]
    angle = torch.atan(t[..., 2] / t[..., 3]) - torch.atan(w / h)
    v = 4 / math.pi**2 * angle.square()
    alpha = v / (1 - _pair_iou(b, t) + v + 1e-7)
    aspect = torch.stack((torch.zeros_like(w), torch.zeros_like(w), h, -w), -1) * (8 / math.pi**2 * angle)[..., None]
    return official_diou_step(b, t) + alpha[..., None] * aspect


# name -> (label, descent direction(boxes xywh, targets xywh))
VARIANTS: dict[str, tuple[str, Any]] = {
    "iou": ("IoU", _autograd(lambda b, t: B.iou_loss(b, t, reduction="sum"))),
    "giou": ("GIoU", _autograd(lambda b, t: B.generalized_box_iou_loss(b, t, reduction="sum"))),
    "diou_official": ("DIoU (official update)", official_diou_step),
    "diou_paper": ("DIoU (c constant)",
                   _autograd(lambda b, t: B.distance_box_iou_loss(b, t, detach_diagonal=True, reduction="sum"))),
    "diou": ("DIoU (exact gradient)", _autograd(lambda b, t: B.distance_box_iou_loss(b, t, reduction="sum"))),
    "ciou_official": ("CIoU (official update)", official_ciou_step),
    "ciou_paper": ("CIoU (c constant)",
                   _autograd(lambda b, t: B.complete_box_iou_loss(b, t, detach_diagonal=True, reduction="sum"))),
    "ciou": ("CIoU (exact gradient)", _autograd(lambda b, t: B.complete_box_iou_loss(b, t, reduction="sum"))),
}


def make_cases(points: int, generator: torch.Generator, dtype: torch.dtype = torch.float64):
    """``(anchors, targets)`` in (x, y, w, h): every anchor at every point paired with every target,
    ``(points * 49 * 7, 4)``."""
    ratios = torch.tensor(RATIOS, dtype=dtype)
    areas = torch.tensor(AREAS, dtype=dtype)
    cx, cy = CENTRE
    tw, th = ratios.sqrt(), ratios.rsqrt()
    targets = torch.stack((torch.full_like(tw, cx), torch.full_like(tw, cy), tw, th), -1)  # (7, 4)
    r = RADIUS * torch.rand(points, generator=generator, dtype=dtype).sqrt()  # uniform in the disc
    phi = 2 * math.pi * torch.rand(points, generator=generator, dtype=dtype)
    centres = torch.stack((cx + r * phi.cos(), cy + r * phi.sin()), dim=-1)  # (P, 2)
    wh = torch.stack(((areas[:, None] * ratios).sqrt().flatten(), (areas[:, None] / ratios).sqrt().flatten()), -1)
    anchors = torch.cat((centres[:, None].expand(points, len(wh), 2), wh[None].expand(points, len(wh), 2)), -1)
    n_a, n_t = anchors.shape[1], targets.shape[0]
    boxes = anchors[:, :, None, :].expand(points, n_a, n_t, 4).reshape(-1, 4).contiguous()
    target = targets[None, None].expand(points, n_a, n_t, 4).reshape(-1, 4).contiguous()
    return boxes, target


def schedule(iterations: int, lr: float) -> list[float]:
    """The official step sizes: ``lr`` for 80% of the iterations, ``lr/10`` for 10%, ``lr/100`` for the rest."""
    a, b = round(0.8 * iterations), round(0.9 * iterations)
    return [lr if k < a else lr / 10 if k < b else lr / 100 for k in range(iterations)]


def simulate(step_fn, boxes: torch.Tensor, target: torch.Tensor, *, iterations: int, lr: float,
             progress: Progress = no_progress, desc: str = "") -> dict[str, Any]:
    """Run the regression; returns the L1 and 1 - IoU error curves (before each step and after the last), the
    final boxes and IoUs."""
    b = boxes.clone()
    l1: list[float] = []
    err: list[float] = []
    with validation(False):  # boxes are valid by construction; widths and heights are kept positive below
        for rate in progress(schedule(iterations, lr), desc=desc, total=iterations):
            iou = B.box_iou(_xyxy(b), _xyxy(target)).diagonal() if b.shape[0] < 2 else _pair_iou(b, target)
            err.append(float((1 - iou).mean()))
            l1.append(float((b - target).abs().sum(-1).mean()))
            b = b + rate * (2 - iou)[:, None] * step_fn(b, target)
            b = torch.cat((b[:, :2], b[:, 2:].clamp_min(1e-6)), -1)
        iou = _pair_iou(b, target)
    err.append(float((1 - iou).mean()))
    l1.append(float((b - target).abs().sum(-1).mean()))
    return {"l1": l1, "one_minus_iou": err, "boxes": b.detach(), "iou": iou}


def _pair_iou(b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """IoU of each box with its own target (elementwise, not the pairwise matrix)."""
    p, g = _xyxy(b), _xyxy(t)
    lt, rb = torch.maximum(p[:, :2], g[:, :2]), torch.minimum(p[:, 2:], g[:, 2:])
    inter = (rb - lt).clamp_min(0).prod(-1)
    union = (p[:, 2:] - p[:, :2]).prod(-1) + (g[:, 2:] - g[:, :2]).prod(-1) - inter
    return inter / union


def _measure(ctx: Context) -> Measurement:
    cfg, progress = ctx.cfg, ctx.progress
    clouds = ctx.seeds(CLAIMS[0])
    final: dict[str, list[float]] = {k: [] for k in VARIANTS}
    final_iou_err: dict[str, list[float]] = {k: [] for k in VARIANTS}
    still_disjoint: dict[str, list[float]] = {k: [] for k in VARIANTS}
    curves: dict[str, dict[str, list[float]]] = {}
    cases = 0
    for c, cloud_seed in enumerate(clouds):
        boxes, target = make_cases(cfg["points"], torch.Generator().manual_seed(cloud_seed))
        cases = int(boxes.shape[0])
        disjoint = _pair_iou(boxes, target) == 0
        for key, (label, fn) in VARIANTS.items():
            out = simulate(fn, boxes, target, iterations=cfg["iterations"], lr=cfg["lr"], progress=progress,
                           desc=f"{label} cloud {c}")
            final[key].append(out["l1"][-1])
            final_iou_err[key].append(out["one_minus_iou"][-1])
            still_disjoint[key].append(float((out["iou"][disjoint] == 0).double().mean()) if bool(disjoint.any()) else 0.0)
            if c == 0:
                curves[key] = {"l1": [round(v, 6) for v in out["l1"]],
                               "one_minus_iou": [round(v, 6) for v in out["one_minus_iou"]]}

    def rel(a: str, b: str) -> list[float]:  # 1 - err(a) / err(b), per cloud
        return [1 - x / y for x, y in zip(final[a], final[b])]

    claims = stats.judge_all([
        (CLAIMS[0], rel("giou", "iou")),
        (CLAIMS[1], rel("diou_official", "giou")),
        (CLAIMS[2], rel("ciou_official", "giou")),
    ])
    mean = {k: sum(v) / len(v) for k, v in final.items()}
    mean_iou = {k: sum(v) / len(v) for k, v in final_iou_err.items()}
    mean_disjoint = {k: sum(v) / len(v) for k, v in still_disjoint.items()}
    rows = [[VARIANTS[k][0], mean[k], mean_iou[k], mean_disjoint[k]] for k in VARIANTS]
    table = markdown_table(
        ["loss / update", f"final L1 xywh error (mean of {len(clouds)} clouds)", "final mean 1-IoU",
         "initially disjoint pairs still disjoint"], rows)
    narrative = (
        f"With the exact autograd gradient DIoU ends at L1 {mean['diou']:.3f} vs GIoU {mean['giou']:.3f} "
        f"({'behind' if mean['diou'] > mean['giou'] else 'ahead of'} it): the paper's ordering depends on the "
        "update rule its simulation uses."
    )
    figures = []
    path = figure_path(ctx.out_dir, "box_regression.png")
    if path is not None:
        _plot(curves, mean, path, cfg)
        figures.append(path.name)
    metrics: dict[str, Any] = {
        "cases_per_cloud": cases,
        "clouds": clouds,
        "final_l1_error": final,
        "final_one_minus_iou": final_iou_err,
        "still_disjoint_fraction": still_disjoint,
        "mean_final_l1_error": mean,
        "mean_final_one_minus_iou": mean_iou,
        "curves_first_cloud": curves,
    }
    return Measurement(
        metrics=metrics, claims=claims, table=table, figures=figures, narrative=narrative,
        paper_numbers={"claim": "Fig. 3(b)/4: after 200 iterations IoU loss error stays high, GIoU decreases "
                                "slowly, DIoU and CIoU converge fastest (CIoU lowest)."},
    )


EXPERIMENT = Experiment(NAME, TITLE, PAPER, EXPECTED, PROFILES, CLAIMS, _measure)
run = EXPERIMENT.run


def _plot(curves: dict[str, dict[str, list[float]]], final: dict[str, float], path: Path, cfg: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = {"iou": ("tab:gray", "-"), "giou": ("tab:blue", "-"), "diou_official": ("tab:green", "-"),
              "diou_paper": ("tab:green", ":"), "diou": ("tab:green", "--"), "ciou_official": ("tab:red", "-"),
              "ciou_paper": ("tab:red", ":"), "ciou": ("tab:red", "--")}
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4.2), gridspec_kw={"width_ratios": [3, 3, 2]})
    for key, c in curves.items():
        color, ls = styles[key]
        ax1.plot(range(len(c["l1"])), c["l1"], color=color, linestyle=ls, label=VARIANTS[key][0])
        ax2.plot(range(len(c["one_minus_iou"])), c["one_minus_iou"], color=color, linestyle=ls)
    ax1.set(xlabel="iteration", ylabel="mean L1 error of (x, y, w, h)", title="Regression error (official metric)")
    ax2.set(xlabel="iteration", ylabel="mean 1 - IoU", ylim=(0, 1), title="1 - IoU")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    keys = list(curves)
    ax3.barh([VARIANTS[k][0] for k in keys], [final[k] for k in keys], color=[styles[k][0] for k in keys], alpha=0.8)
    ax3.invert_yaxis()
    ax3.set_xlabel(f"final L1 error after {cfg['iterations']} iterations")
    ax3.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
