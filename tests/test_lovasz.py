"""Lovász-softmax and Lovász hinge: kornia as oracle, a float64 reference built from the set function (Berman et
al.'s definition of the Lovász extension), the extension's values at the vertices (1 - IoU), ignore_index, errors."""

from __future__ import annotations

import pytest
import torch

from losslab import LovaszSoftmaxLoss, lovasz_hinge_loss, lovasz_softmax_loss


def _jaccard_loss(gt: set[int], errors: set[int], universe: int) -> float:
    """Delta_J of a set of mispredicted pixels: 1 - |gt \\ errors| / |gt | errors| (0 for an empty union)."""
    union = gt | errors
    return 1.0 - len(gt - errors) / len(union) if union else 0.0


def _extension(m: list[float], fg: list[int]) -> float:
    """Lovász extension from the definition: sum_i m_(i) (Delta(S_i) - Delta(S_{i-1})), S_i the i largest."""
    order = sorted(range(len(m)), key=lambda i: -m[i])
    gt = {i for i, f in enumerate(fg) if f}
    total, prev, chosen = 0.0, 0.0, set()
    for i in order:
        chosen.add(i)
        cur = _jaccard_loss(gt, chosen, len(m))
        total += m[i] * (cur - prev)
        prev = cur
    return total


def _ref_softmax(logits, target, classes="present", per_image=False, ignore=None):
    probs = logits.double().softmax(1)
    n, c = probs.shape[:2]
    images = [(probs[i].reshape(c, -1), target[i].reshape(-1)) for i in range(n)]
    if not per_image:
        images = [(torch.cat([p for p, _ in images], 1), torch.cat([t for _, t in images]))]
    losses = []
    for p, t in images:
        keep = t != ignore if ignore is not None else torch.ones_like(t, dtype=torch.bool)
        p, t = p[:, keep], t[keep]
        if not keep.any():
            continue  # nothing left to measure: left out of the mean (Berman's code would count a 0 here)
        per_class = []
        for k in range(c) if isinstance(classes, str) else classes:
            fg = (t == k).tolist()
            if classes == "present" and not any(fg):
                continue
            per_class.append(_extension((torch.tensor(fg, dtype=torch.float64) - p[k]).abs().tolist(), fg))
        if per_class:
            losses.append(sum(per_class) / len(per_class))
    return torch.tensor(sum(losses) / len(losses) if losses else 0.0, dtype=torch.float64)


def _ref_hinge(logits, labels, per_image=True):
    n = logits.shape[0]
    x, t = logits.double().reshape(n, -1), labels.reshape(n, -1)
    sets = [(x[i], t[i]) for i in range(n)] if per_image else [(x.reshape(-1), t.reshape(-1))]
    out = []
    for xi, ti in sets:
        m = (1 - xi * (2 * ti.double() - 1)).tolist()
        fg = ti.tolist()
        # sort by the raw hinge errors, weigh their positive parts (Berman's lovasz_hinge_flat)
        order = sorted(range(len(m)), key=lambda i: -m[i])
        gt = {i for i, f in enumerate(fg) if f}
        total, prev, chosen = 0.0, 0.0, set()
        for i in order:
            chosen.add(i)
            cur = _jaccard_loss(gt, chosen, len(m))
            total += max(m[i], 0.0) * (cur - prev)
            prev = cur
        out.append(total)
    return torch.tensor(sum(out) / len(out), dtype=torch.float64)


def _case(n=3, c=4, spatial=(5, 4), seed=0, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, c, *spatial, generator=g, dtype=torch.float64) * scale,
            torch.randint(0, c, (n, *spatial), generator=g))


# ---------------------------------------------------------------------------------------------------------------
# Lovász-softmax


@pytest.mark.parametrize("classes", ["present", "all", [3, 1]])
@pytest.mark.parametrize("per_image", [False, True])
def test_lovasz_softmax_matches_the_definition(classes, per_image):
    logits, target = _case()
    target[0][target[0] == 3] = 1  # class 3 absent from image 0
    ref = _ref_softmax(logits, target, classes, per_image)
    torch.testing.assert_close(lovasz_softmax_loss(logits, target, classes=classes, per_image=per_image), ref)


def test_lovasz_softmax_matches_kornia():
    kornia_losses = pytest.importorskip("kornia.losses")
    for seed in range(3):
        logits, target = _case(n=4, c=3, spatial=(6, 7), seed=seed)
        ours = lovasz_softmax_loss(logits, target, classes="all", per_image=True)
        torch.testing.assert_close(ours, kornia_losses.lovasz_softmax_loss(logits, target), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("per_image", [False, True])
def test_lovasz_softmax_ignore_index_drops_the_pixels(per_image):
    logits, target = _case(seed=1)
    target[0, :2] = 255
    target[2, 1, 1] = 255
    ref = _ref_softmax(logits, target, "present", per_image, ignore=255)
    torch.testing.assert_close(lovasz_softmax_loss(logits, target, per_image=per_image, ignore_index=255), ref)


def test_a_fully_ignored_image_is_left_out_of_the_mean():
    logits, target = _case(seed=7)
    target[1] = 255
    for classes in ("present", "all"):
        none = lovasz_softmax_loss(logits, target, classes=classes, per_image=True, ignore_index=255, reduction="none")
        assert none[1] == 0
        mean = lovasz_softmax_loss(logits, target, classes=classes, per_image=True, ignore_index=255)
        torch.testing.assert_close(mean, none[[0, 2]].mean())


def test_lovasz_softmax_at_hard_predictions_is_one_minus_iou():
    """At the vertices (p one-hot) the extension equals the set function: the mean over present classes of 1 - IoU."""
    logits, target = _case(n=2, c=3, spatial=(6, 6), seed=2, scale=1.0)
    pred = logits.argmax(1)
    hard = torch.nn.functional.one_hot(pred, 3).movedim(-1, 1).double() * 80.0  # softmax = one-hot in float64
    for per_image in (False, True):
        ious = []
        for imgs in ([0, 1],) if not per_image else ([0], [1]):
            t, p = target[imgs], pred[imgs]
            per_class = [1 - ((t == k) & (p == k)).sum() / ((t == k) | (p == k)).sum() for k in range(3) if (t == k).any()]
            ious.append(torch.stack(per_class).double().mean())
        torch.testing.assert_close(lovasz_softmax_loss(hard, target, per_image=per_image), torch.stack(ious).mean())


def test_lovasz_softmax_3d_and_per_image_none_shape():
    logits, target = _case(n=2, c=3, spatial=(3, 4, 2), seed=3)
    none = lovasz_softmax_loss(logits, target, per_image=True, reduction="none")
    assert none.shape == (2,)
    torch.testing.assert_close(none.mean(), _ref_softmax(logits, target, per_image=True))
    assert lovasz_softmax_loss(logits, target, reduction="none").shape == ()


def test_lovasz_softmax_errors():
    logits, target = _case()
    with pytest.raises(ValueError, match="logits: expected C >= 2.*lovasz_hinge_loss"):
        lovasz_softmax_loss(logits[:, :1], target)
    with pytest.raises(ValueError, match=r"target: expected class indices.*argmax\(1\)"):
        lovasz_softmax_loss(logits, logits.softmax(1))
    with pytest.raises(ValueError, match=r"squeeze\(1\)"):
        lovasz_softmax_loss(logits, target.unsqueeze(1))
    with pytest.raises(ValueError, match="classes: expected one of"):
        LovaszSoftmaxLoss(classes="some")
    with pytest.raises(ValueError, match=r"classes: expected distinct class indices in \[0, 3\]"):
        lovasz_softmax_loss(logits, target, classes=[1, 4])
    with pytest.raises(TypeError, match="classes: expected 'present', 'all' or a non-empty sequence"):
        LovaszSoftmaxLoss(classes=[])


# ---------------------------------------------------------------------------------------------------------------
# Lovász hinge


@pytest.mark.parametrize("per_image", [True, False])
def test_lovasz_hinge_matches_the_definition(per_image):
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(3, 1, 5, 6, generator=g, dtype=torch.float64) * 1.5
    labels = torch.randint(0, 2, (3, 1, 5, 6), generator=g)
    labels[1] = 0  # an image without foreground
    ref = _ref_hinge(logits, labels, per_image)
    torch.testing.assert_close(lovasz_hinge_loss(logits, labels, per_image=per_image), ref)
    torch.testing.assert_close(lovasz_hinge_loss(logits, labels.double(), per_image=per_image), ref)


def test_lovasz_hinge_matches_kornia():
    kornia_losses = pytest.importorskip("kornia.losses")
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(4, 1, 7, 5, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 2, (4, 7, 5), generator=g)
    theirs = kornia_losses.lovasz_hinge_loss(logits, labels)
    torch.testing.assert_close(lovasz_hinge_loss(logits, labels), theirs, rtol=1e-12, atol=1e-12)


def test_lovasz_hinge_hand_values():
    # errors [2, 0, -1, -2] with labels [1, 1, 0, 1]: the first step costs 1 - 2/3, so the loss is 2/3
    logits = torch.tensor([[3.0, -2.0, 1.0, -1.0]])
    labels = torch.tensor([[1, 0, 1, 1]])
    torch.testing.assert_close(lovasz_hinge_loss(logits, labels), torch.tensor(2 / 3))
    # every logit on the right side with margin 1: zero
    assert lovasz_hinge_loss(torch.tensor([[2.0, -1.0, 1.0]]), torch.tensor([[1, 0, 1]])).item() == 0.0


def test_lovasz_hinge_ignore_index():
    g = torch.Generator().manual_seed(6)
    logits = torch.randn(2, 1, 4, 4, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 2, (2, 1, 4, 4), generator=g)
    labels[0, 0, 0] = 255
    ours = lovasz_hinge_loss(logits, labels, ignore_index=255, reduction="none")
    for i in range(2):
        keep = labels[i].reshape(-1) != 255
        ref = _ref_hinge(logits[i].reshape(1, -1)[:, keep], labels[i].reshape(1, -1)[:, keep])
        torch.testing.assert_close(ours[i], ref)


def test_lovasz_hinge_errors():
    logits = torch.randn(2, 1, 3, 3)
    with pytest.raises(ValueError, match="target: expected values in"):
        lovasz_hinge_loss(logits, torch.full((2, 1, 3, 3), 2))
    with pytest.raises(ValueError, match="ignore_index: 1 is a label"):
        lovasz_hinge_loss(logits, torch.ones(2, 1, 3, 3, dtype=torch.long), ignore_index=1)
    with pytest.raises(ValueError, match="target: expected the shape of logits"):
        lovasz_hinge_loss(logits, torch.ones(2, 3, 3, 3))


# ---------------------------------------------------------------------------------------------------------------
# hypothesis: ties (integer logits), ignored pixels, any shape


hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


@hypothesis.settings(max_examples=25, deadline=None)
@hypothesis.given(
    n=st.integers(1, 3), h=st.integers(1, 4), w=st.integers(1, 4), c=st.integers(2, 4), seed=st.integers(0, 2**16),
    per_image=st.booleans(), classes=st.sampled_from(["present", "all"]), ignore=st.booleans(),
)
def test_lovasz_softmax_against_the_definition_with_ties(n, h, w, c, seed, per_image, classes, ignore):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randint(-2, 3, (n, c, h, w), generator=g).double()  # many equal errors: the order of ties is free
    target = torch.randint(0, c, (n, h, w), generator=g)
    if ignore:
        target[torch.rand(n, h, w, generator=g) < 0.3] = -1
    kw = dict(classes=classes, per_image=per_image, ignore_index=-1 if ignore else None)
    ref = _ref_softmax(logits, target, classes, per_image, ignore=-1 if ignore else None)
    # the reference averages over the images that have a class left; so does the mean over the unmasked entries
    torch.testing.assert_close(lovasz_softmax_loss(logits, target, **kw), ref)


@hypothesis.settings(max_examples=25, deadline=None)
@hypothesis.given(n=st.integers(1, 3), length=st.integers(1, 12), seed=st.integers(0, 2**16), per_image=st.booleans())
def test_lovasz_hinge_against_the_definition_with_ties(n, length, seed, per_image):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randint(-2, 3, (n, length), generator=g).double()
    labels = torch.randint(0, 2, (n, length), generator=g)
    torch.testing.assert_close(lovasz_hinge_loss(logits, labels, per_image=per_image), _ref_hinge(logits, labels, per_image))
