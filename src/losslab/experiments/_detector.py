"""A tiny RetinaNet-style one-stage detector in torch: synthetic scenes, anchors, MaxIoU assignment, box deltas,
vectorized NMS and COCO-style 101-point AP. Used by :mod:`losslab.experiments.detection`.

Everything is batched over images; the only Python loops run over at most the number of kept detections (the
greedy matching of AP, 100 steps) or over NMS fixed-point rounds (a handful).
"""

from __future__ import annotations

import math

import torch
from torch import nn

IMAGE = 64
STRIDE = 4
SIZES = (8.0, 12.0, 18.0)
RATIOS = (0.5, 1.0, 2.0)  # h / w
DELTA_STD = (0.1, 0.1, 0.2, 0.2)  # the delta weights (10, 10, 5, 5)
MAX_OBJECTS = 3
IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * k, 2) for k in range(10))  # 0.50:0.95


# ---------------------------------------------------------------------------------------------------------------
# boxes


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of xyxy boxes ``(..., n, 4)`` and ``(..., m, 4)`` -> ``(..., n, m)`` (0 for empty boxes)."""
    lt = torch.maximum(a[..., :, None, :2], b[..., None, :, :2])
    rb = torch.minimum(a[..., :, None, 2:], b[..., None, :, 2:])
    inter = (rb - lt).clamp_min(0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp_min(0).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp_min(0).prod(-1)
    union = area_a[..., :, None] + area_b[..., None, :] - inter
    return torch.where(union > 0, inter / union.clamp_min(1e-12), torch.zeros_like(inter))


def elementwise_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of each box in ``a (..., 4)`` with the box at the same index in ``b``."""
    lt, rb = torch.maximum(a[..., :2], b[..., :2]), torch.minimum(a[..., 2:], b[..., 2:])
    inter = (rb - lt).clamp_min(0).prod(-1)
    union = (a[..., 2:] - a[..., :2]).clamp_min(0).prod(-1) + (b[..., 2:] - b[..., :2]).clamp_min(0).prod(-1) - inter
    return torch.where(union > 0, inter / union.clamp_min(1e-12), torch.zeros_like(inter))


def make_anchors(image: int = IMAGE, stride: int = STRIDE) -> torch.Tensor:
    """Anchors ``(cells * 9, 4)`` xyxy: at every stride-4 cell centre, sizes 8/12/18 x aspect ratios 1/2, 1, 2.

    Order: row-major cells, then the 9 shapes, matching the heads' ``(9, H, W) -> (H, W, 9)`` layout.
    """
    n = image // stride
    c = (torch.arange(n, dtype=torch.float32) + 0.5) * stride
    cy, cx = torch.meshgrid(c, c, indexing="ij")
    shapes = torch.tensor([[s / math.sqrt(r), s * math.sqrt(r)] for s in SIZES for r in RATIOS])  # (9, 2) w, h
    ctr = torch.stack([cx, cy], -1).reshape(-1, 1, 2)
    half = shapes[None] / 2
    return torch.cat([ctr - half, ctr + half], -1).reshape(-1, 4)


def encode(anchors: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Box deltas ``(dx, dy, dw, dh)`` of ``boxes`` relative to ``anchors`` (both xyxy), divided by the delta std."""
    aw, ah = anchors[..., 2] - anchors[..., 0], anchors[..., 3] - anchors[..., 1]
    ax, ay = anchors[..., 0] + aw / 2, anchors[..., 1] + ah / 2
    bw, bh = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    bx, by = boxes[..., 0] + bw / 2, boxes[..., 1] + bh / 2
    d = torch.stack([(bx - ax) / aw, (by - ay) / ah, torch.log(bw / aw), torch.log(bh / ah)], -1)
    return d / d.new_tensor(DELTA_STD)


def decode(anchors: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`encode` (log-sizes clamped at log(1000/16) as in mmdetection)."""
    d = deltas * deltas.new_tensor(DELTA_STD)
    aw, ah = anchors[..., 2] - anchors[..., 0], anchors[..., 3] - anchors[..., 1]
    ax, ay = anchors[..., 0] + aw / 2, anchors[..., 1] + ah / 2
    clamp = math.log(1000.0 / 16)
    x, y = ax + d[..., 0] * aw, ay + d[..., 1] * ah
    w, h = aw * d[..., 2].clamp(max=clamp).exp(), ah * d[..., 3].clamp(max=clamp).exp()
    return torch.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], -1)


def assign(anchors: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor,
           pos_iou: float = 0.5, neg_iou: float = 0.4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """MaxIoU assignment (mmdetection ``MaxIoUAssigner`` with ``min_pos_iou=0``, ``gt_max_assign_all=True``).

    Args:
        anchors: ``(A, 4)`` xyxy.
        gt: ``(B, G, 4)`` ground-truth boxes (padded).
        valid: ``(B, G)`` which of them are real.

    Returns:
        ``(labels, matched, max_iou)``: labels ``(B, A)`` in {1 positive, 0 negative, -1 ignored}; the index of
        the matched ground truth ``(B, A)``; the anchor's best IoU ``(B, A)``. An anchor is positive if its best
        IoU is >= ``pos_iou``, negative if < ``neg_iou``; then every ground truth's highest-IoU anchors (all ties)
        become positive and matched to it, whatever their IoU (if > 0).
    """
    iou = box_iou(gt, anchors[None].expand(gt.shape[0], -1, -1))  # (B, G, A)
    iou = torch.where(valid[..., None], iou, torch.full_like(iou, -1.0))
    max_iou, matched = iou.max(1)  # (B, A)
    labels = torch.full_like(matched, -1)
    labels[(max_iou >= 0) & (max_iou < neg_iou)] = 0
    labels[max_iou >= pos_iou] = 1
    gt_best = iou.max(2, keepdim=True).values  # (B, G, 1)
    best = (iou == gt_best) & valid[..., None] & (gt_best > 0)  # (B, G, A)
    # later ground truths overwrite earlier ones, as mmdetection's loop over gts
    g_idx = torch.arange(gt.shape[1]).view(1, -1, 1).expand_as(best)
    last = torch.where(best, g_idx, torch.full_like(g_idx, -1)).max(1).values  # (B, A)
    forced = last >= 0
    labels = torch.where(forced, torch.ones_like(labels), labels)
    matched = torch.where(forced, last, matched)
    return labels, matched, max_iou


# ---------------------------------------------------------------------------------------------------------------
# data


def make_scenes(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` synthetic 64x64 grey scenes with 1-3 anti-aliased rectangles (the objects) and 0-2 discs (distractors).

    Background: a smooth random texture plus pixel noise. Rectangles are 6-22 px on each side with sub-pixel
    edges (pixel coverage computed exactly), brighter or darker than the background; discs of radius 3-8 px
    are drawn the same way but are not objects.

    Returns:
        ``(images (n, 1, 64, 64), boxes (n, 3, 4) xyxy, valid (n, 3))``.
    """
    g = generator
    size = IMAGE
    coarse = torch.randn(n, 1, 8, 8, generator=g)
    img = 0.5 + 0.08 * nn.functional.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)
    count = torch.randint(1, MAX_OBJECTS + 1, (n,), generator=g)
    valid = torch.arange(MAX_OBJECTS)[None] < count[:, None]
    wh = 6 + 16 * torch.rand(n, MAX_OBJECTS, 2, generator=g)
    xy = torch.rand(n, MAX_OBJECTS, 2, generator=g) * (size - wh)
    boxes = torch.cat([xy, xy + wh], -1)
    contrast = (0.18 + 0.2 * torch.rand(n, MAX_OBJECTS, generator=g)) * torch.where(
        torch.rand(n, MAX_OBJECTS, generator=g) < 0.5, -1.0, 1.0)
    pix = torch.arange(size, dtype=torch.float32)
    cov_x = (torch.minimum(pix + 1, boxes[..., 2:3]) - torch.maximum(pix, boxes[..., 0:1])).clamp(0, 1)  # (n,3,W)
    cov_y = (torch.minimum(pix + 1, boxes[..., 3:4]) - torch.maximum(pix, boxes[..., 1:2])).clamp(0, 1)
    cover = cov_y[..., :, None] * cov_x[..., None, :]  # (n, 3, H, W)
    img = img + (cover * (contrast * valid)[..., None, None]).sum(1, keepdim=True)
    discs = torch.randint(0, 3, (n,), generator=g)
    dvalid = torch.arange(2)[None] < discs[:, None]
    r = 3 + 5 * torch.rand(n, 2, generator=g)
    centre = r[..., None] + torch.rand(n, 2, 2, generator=g) * (size - 2 * r[..., None])
    dcontrast = (0.18 + 0.2 * torch.rand(n, 2, generator=g)) * torch.where(
        torch.rand(n, 2, generator=g) < 0.5, -1.0, 1.0)
    c = pix + 0.5
    dist = ((c[None, None, None, :] - centre[..., 0, None, None]).square()
            + (c[None, None, :, None] - centre[..., 1, None, None]).square()).sqrt()
    disc = (r[..., None, None] - dist + 0.5).clamp(0, 1)  # ~1 px anti-aliased edge
    img = img + (disc * (dcontrast * dvalid)[..., None, None]).sum(1, keepdim=True)
    img = img + 0.05 * torch.randn(img.shape, generator=g)
    return img, boxes, valid


# ---------------------------------------------------------------------------------------------------------------
# network


class TinyRetinaNet(nn.Module):
    """A stride-4 backbone (2 strided + 3 dilated 3x3 convs with GroupNorm) and RetinaNet's two heads.

    Outputs ``(cls logits (B, A), box deltas (B, A, 4))`` with ``A = 16 * 16 * 9``; the classification bias starts
    at ``-log((1 - prior) / prior)`` with prior 0.01, as in Lin et al.
    """

    def __init__(self, width: int = 32, prior: float = 0.01) -> None:
        super().__init__()

        def block(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation),
                    nn.GroupNorm(8, cout), nn.ReLU()]

        self.body = nn.Sequential(*block(1, width // 2, 2), *block(width // 2, width, 2), *block(width, width, 1, 1),
                                  *block(width, width, 1, 2), *block(width, width, 1, 4))
        k = len(SIZES) * len(RATIOS)
        self.cls = nn.Conv2d(width, k, 3, padding=1)
        self.box = nn.Conv2d(width, 4 * k, 3, padding=1)
        assert self.cls.bias is not None and self.box.bias is not None
        nn.init.normal_(self.cls.weight, std=0.01)
        nn.init.constant_(self.cls.bias, -math.log((1 - prior) / prior))
        nn.init.normal_(self.box.weight, std=0.01)
        nn.init.zeros_(self.box.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body(x)
        b = x.shape[0]
        cls = self.cls(f).permute(0, 2, 3, 1).reshape(b, -1)
        box = self.box(f).permute(0, 2, 3, 1).reshape(b, -1, 4)
        return cls, box


# ---------------------------------------------------------------------------------------------------------------
# inference and evaluation


def nms(boxes: torch.Tensor, scores: torch.Tensor, valid: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Greedy NMS, batched: ``boxes (B, K, 4)``, ``scores (B, K)``, ``valid (B, K)`` -> kept ``(B, K)`` bool.

    Exactly the greedy result (a box is kept iff no higher-scoring *kept* box overlaps it with IoU > threshold),
    computed as a fixed point: after round ``t`` the ``t`` highest-scoring boxes are final, and the iteration
    stops as soon as nothing changes (a few rounds in practice).
    """
    order = scores.masked_fill(~valid, -math.inf).argsort(dim=1, descending=True, stable=True)
    b = torch.gather(boxes, 1, order[..., None].expand(-1, -1, 4))
    v = torch.gather(valid, 1, order)
    k = b.shape[1]
    earlier = torch.ones(k, k, dtype=torch.bool).triu(1)  # [j, i]: j before i
    sup = (box_iou(b, b) > threshold) & earlier & v[:, :, None]  # (B, K, K): j may suppress i
    keep = v.clone()
    for _ in range(k + 1):
        new = v & ~(sup & keep[:, :, None]).any(1)
        if torch.equal(new, keep):
            break
        keep = new
    out = torch.zeros_like(keep)
    return out.scatter(1, order, keep)


@torch.no_grad()
def detect(cls: torch.Tensor, deltas: torch.Tensor, anchors: torch.Tensor, *, score_threshold: float = 0.05,
           pre_nms: int = 300, nms_threshold: float = 0.5, max_dets: int = 100
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """RetinaNet inference: scores > 0.05, top 300, NMS 0.5, 100 detections per image.

    Returns ``(boxes (B, D, 4), scores (B, D), valid (B, D))`` sorted by score (padded).
    """
    scores = cls.sigmoid()
    k = min(pre_nms, scores.shape[1])
    top, idx = scores.topk(k, 1)
    boxes = decode(anchors[idx], torch.gather(deltas, 1, idx[..., None].expand(-1, -1, 4)))
    valid = top > score_threshold
    keep = nms(boxes, top, valid, nms_threshold)
    kept = top.masked_fill(~keep, -1.0)
    d = min(max_dets, k)
    s, j = kept.topk(d, 1)
    return torch.gather(boxes, 1, j[..., None].expand(-1, -1, 4)), s.clamp_min(0), s > 0


def match(det: torch.Tensor, det_valid: torch.Tensor, gt: torch.Tensor, gt_valid: torch.Tensor,
          thresholds: tuple[float, ...] = IOU_THRESHOLDS) -> torch.Tensor:
    """COCO greedy matching, batched over images and thresholds: detections ``(B, D, 4)`` sorted by score.

    Each detection in score order takes the unmatched ground truth it overlaps most, if that IoU is >= the
    threshold. Returns ``tp (T, B, D)`` bool.
    """
    iou = box_iou(det, gt)  # (B, D, G)
    iou = iou.masked_fill(~gt_valid[:, None, :], -1.0)
    t = torch.tensor(thresholds)[:, None, None]
    taken = torch.zeros(len(thresholds), *gt_valid.shape, dtype=torch.bool)  # (T, B, G)
    tp = torch.zeros(len(thresholds), *det_valid.shape, dtype=torch.bool)
    for d in range(det.shape[1]):
        cand = iou[None, :, d, :].masked_fill(taken, -1.0)  # (T, B, G)
        best, g = cand.max(-1)
        hit = (best >= t[..., 0]) & det_valid[None, :, d]
        tp[:, :, d] = hit
        taken |= torch.nn.functional.one_hot(g, gt_valid.shape[1]).bool() & hit[..., None]
    return tp


def average_precision(tp: torch.Tensor, scores: torch.Tensor, det_valid: torch.Tensor, n_gt: int) -> torch.Tensor:
    """COCO 101-point interpolated AP per threshold from ``tp (T, B, D)``, ``scores (B, D)`` -> ``(T,)``.

    Detections of all images are ranked by score; precision is made monotone (the running max from the right)
    and read at recall 0, 0.01, ..., 1 (0 beyond the highest recall reached).
    """
    s = scores[det_valid]
    order = s.argsort(descending=True, stable=True)
    hits = tp[:, det_valid][:, order].float()  # (T, N)
    if hits.shape[1] == 0 or n_gt == 0:
        return torch.zeros(tp.shape[0])
    cum = hits.cumsum(1)
    recall = cum / n_gt
    precision = cum / torch.arange(1, hits.shape[1] + 1)
    envelope = precision.flip(1).cummax(1).values.flip(1)
    points = torch.linspace(0, 1, 101)
    idx = torch.searchsorted(recall.contiguous(), points.expand(recall.shape[0], -1).contiguous(), side="left")
    padded = torch.cat([envelope, torch.zeros(envelope.shape[0], 1)], 1)
    return padded.gather(1, idx).mean(1)


def spearman(x: torch.Tensor, y: torch.Tensor) -> float:
    """Spearman rank correlation of two 1-D tensors (average ranks for ties)."""
    if x.numel() < 3:
        return 0.0
    from scipy.stats import spearmanr

    r = spearmanr(x.double().numpy(), y.double().numpy()).statistic
    return float(r) if math.isfinite(r) else 0.0
