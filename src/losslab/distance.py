r"""Signed distance maps for the boundary loss (Kervadec et al.): SciPy or ``edt`` on the CPU, or torch on the
tensor's own device.

The maps are computed outside the loss, ideally in DataLoader workers on whole images before any cropping
(:class:`SignedDistanceMap`), because a crop that misses the object would see no boundary at all. On a GPU the
``"torch"`` backend computes them where the labels already are (no device-to-host copy).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ._checks import check_finite

__all__ = ["signed_distance_map", "SignedDistanceMap", "edt_available"]

BACKENDS = ("scipy", "edt", "torch")
# Elements of the (rows, n, n) block one exact-EDT pass materializes at a time (torch backend): 128 MiB in float64.
_BLOCK = 1 << 24


def edt_available() -> bool:
    """Whether the ``edt`` package (multi-label, multi-threaded Euclidean distance transform) is importable."""
    try:
        import edt  # noqa: F401
    except ImportError:
        return False
    return True


def _resolve_backend(backend: str | None, device: torch.device | None = None) -> str:
    if backend is None:
        if device is not None and device.type != "cpu":
            return "torch"
        return "edt" if edt_available() else "scipy"
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS} or None, got {backend!r}")
    if backend == "edt" and not edt_available():
        raise ValueError("backend: 'edt' needs the edt package (pip install edt); use backend='scipy'")
    return backend


def _check_spacing(spacing: Sequence[float] | float | None, ndim: int) -> tuple[float, ...]:
    if spacing is None:
        return (1.0,) * ndim
    if isinstance(spacing, bool):
        raise ValueError(f"spacing: expected positive numbers, got {spacing!r}")
    if isinstance(spacing, (int, float)):
        spacing = (float(spacing),) * ndim
    values = tuple(spacing)
    if len(values) != ndim:
        raise ValueError(
            f"spacing: expected {ndim} values (one per spatial axis of a {ndim}D image), got {len(values)}: {values}"
        )
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < math.inf for v in values):
        raise ValueError(f"spacing: expected positive numbers (finite, > 0), got {values}")
    return tuple(float(v) for v in values)


class _Transform:
    """Euclidean distance transforms of one backend: ``binary(mask)`` and ``multilabel(labels)``."""

    def __init__(self, backend: str, spacing: tuple[float, ...], threads: int) -> None:
        self.backend, self.spacing, self.threads = backend, spacing, threads
        if backend == "edt":
            import edt

            self._edt = edt.edt
        else:
            from scipy.ndimage import distance_transform_edt

            self._scipy = distance_transform_edt

    @property
    def _anisotropy(self) -> tuple[float, ...] | float:
        # edt takes a number, not a 1-tuple, for 1-D arrays
        return self.spacing[0] if len(self.spacing) == 1 else self.spacing

    def binary(self, mask: np.ndarray) -> np.ndarray:
        """Distance from each True pixel to the nearest False pixel (0 on False pixels)."""
        if self.backend == "edt":
            return self._edt(np.ascontiguousarray(mask, dtype=np.uint8), anisotropy=self._anisotropy,
                             black_border=False, parallel=self.threads)
        return self._scipy(mask, sampling=self.spacing)

    def multilabel(self, labels: np.ndarray) -> np.ndarray:
        """Distance from each pixel to the nearest pixel of another label (labels >= 1; edt only)."""
        return self._edt(np.ascontiguousarray(labels), anisotropy=self._anisotropy, black_border=False,
                         parallel=self.threads)


def _edt_pass(f: torch.Tensor, axis: int, step: float) -> torch.Tensor:
    """One separable pass of the exact squared EDT along ``axis``: ``g[x] = min_i ((x - i) * step)^2 + f[i]``."""
    n = f.shape[axis]
    moved = f.movedim(axis, -1)
    rows = moved.reshape(-1, n)
    idx = torch.arange(n, device=f.device, dtype=f.dtype)
    cost = ((idx[:, None] - idx[None, :]) * step) ** 2  # (x, i)
    out = torch.empty_like(rows)
    chunk = max(1, _BLOCK // (n * n))
    for start in range(0, rows.shape[0], chunk):
        out[start : start + chunk] = (rows[start : start + chunk, None, :] + cost).amin(-1)
    return out.reshape(moved.shape).movedim(-1, axis)


def squared_edt(features: torch.Tensor, spacing: Sequence[float]) -> torch.Tensor:
    r"""Exact squared Euclidean distance from every pixel to the nearest ``True`` pixel, on the tensor's device.

    Separable over the spatial axes (Saito and Toriwaki; Meijster et al.): the first axis gives each pixel's
    distance to the nearest feature on its line (two running scans, :math:`+\infty` on a line without one);
    then, with :math:`f` the squared result so far, one pass per further axis computes
    :math:`g(x) = \min_i\, (x - i)^2 s^2 + f(i)` along every line of that axis, which composes to the squared
    Euclidean distance with pixel spacing :math:`s` per axis. Each pass is a batched min over a
    :math:`(n, n)` cost matrix per line (memory bounded by chunking), so it runs as a few large kernels on any
    device; the cost is :math:`O(n)` per pixel and axis.

    Args:
        features: ``(B, *spatial)`` bool; the distance is measured to the ``True`` pixels.
        spacing: Pixel size per spatial axis.

    Returns:
        ``(B, *spatial)`` squared distances (``inf`` in an image without features), float64 where the device
        supports it, else float32.
    """
    dtype = torch.float32 if features.device.type == "mps" else torch.float64
    # first axis: the distance to the nearest feature on the same line, from two running scans (O(n) per line)
    n = features.shape[1]
    idx = torch.arange(n, dtype=dtype, device=features.device).reshape(n, *([1] * (features.dim() - 2)))
    left = torch.where(features, idx, -math.inf).cummax(1).values
    right = torch.where(features, idx, math.inf).flip(1).cummin(1).values.flip(1)
    f = (torch.minimum(idx - left, right - idx) * float(spacing[0])) ** 2
    # the other axes: the exact min-plus pass over each line
    for k, s in enumerate(spacing[1:], start=1):
        f = _edt_pass(f, k + 1, float(s))
    return f


def _torch_maps(masks: torch.Tensor, spacing: tuple[float, ...]) -> torch.Tensor:
    """Signed maps of bool masks ``(N, C, *spatial)`` on their device (zeros for empty and full masks)."""
    n, c = masks.shape[:2]
    flat = masks.reshape(n, c, -1)
    present = flat.any(-1) & ~flat.all(-1)
    if masks.numel() == 0:
        return torch.zeros(masks.shape, dtype=torch.float64, device=masks.device)
    both = torch.stack([masks, ~masks]).reshape(2 * n * c, *masks.shape[2:])
    dist = squared_edt(both, spacing).sqrt().reshape(2, *masks.shape)
    outside, inside = dist[0], dist[1]  # to the object; to the background
    phi = torch.where(masks, 1.0 - inside, outside)
    return torch.where(present.reshape(n, c, *([1] * (masks.dim() - 2))), phi, torch.zeros((), dtype=phi.dtype,
                                                                                             device=phi.device))


def _signed(mask: np.ndarray, inside: np.ndarray, outside: np.ndarray, out: np.ndarray) -> None:
    # outside: distance to the object; inside: -(distance to the background - 1), so the inner ring is 0.
    np.copyto(out, outside, where=~mask)
    np.copyto(out, 1.0 - inside, where=mask)


def _image_index(tr: _Transform, labels: np.ndarray, num_classes: int, out: np.ndarray) -> None:
    """Maps of one label image ``(*spatial)`` into ``out`` ``(C, *spatial)`` (zeros for empty/full classes)."""
    masks = [labels == k for k in range(num_classes)]
    present = [bool(m.any()) and not bool(m.all()) for m in masks]
    if not any(present):
        return
    if tr.backend == "edt":
        # one multi-label pass: every pixel's distance to the nearest pixel of another class = EDT inside its class
        inner = tr.multilabel(labels.astype(np.uint32) + 1)
        for k, m in enumerate(masks):
            if not present[k]:
                continue
            # with two classes, outside class k is inside the other one: the same pass gives both
            outside = inner if num_classes == 2 else tr.binary(~m)
            _signed(m, inner, outside, out[k])
        return
    if num_classes == 2:
        e = [tr.binary(masks[0]), tr.binary(masks[1])]  # e[k] = inside of k = outside of 1 - k
        for k in range(2):
            if present[k]:
                _signed(masks[k], e[k], e[1 - k], out[k])
        return
    for k, m in enumerate(masks):
        if present[k]:
            _signed(m, tr.binary(m), tr.binary(~m), out[k])


def _image_dense(tr: _Transform, masks: np.ndarray, out: np.ndarray) -> None:
    for k, m in enumerate(masks):
        if m.any() and not m.all():
            _signed(m, tr.binary(m), tr.binary(~m), out[k])


def signed_distance_map(
    target: torch.Tensor | np.ndarray,
    *,
    num_classes: int | None = None,
    spacing: Sequence[float] | float | None = None,
    backend: str | None = None,
    dtype: Any = None,
    threads: int = 1,
) -> torch.Tensor | np.ndarray:
    r"""Signed Euclidean distance map of every class of every image, for :func:`losslab.boundary_loss`.

    The authors' convention [Kervadec2019]_ (their ``one_hot2dist``), for the mask :math:`M` of class
    :math:`k` in one image, with :math:`\mathrm{EDT}(X)(x)` the distance from a pixel of :math:`X` to the
    nearest pixel outside :math:`X` (in units of ``spacing``):

    .. math::
        \phi_k(x) = \begin{cases} \mathrm{EDT}(\bar M)(x) & x \notin M \quad(\ge \text{one pixel}, > 0)\\
                                  -\big(\mathrm{EDT}(M)(x) - 1\big) & x \in M \quad(\le 0) \end{cases}

    Outside the object the map is the distance to the nearest object pixel (1 next to it); inside, the
    distance to the nearest background pixel *minus one pixel*, so the inner boundary ring is exactly 0 and
    deeper pixels are negative. The zero level is the inner boundary, not the mid-point between pixels: the
    first outside pixel is +1, the first inside pixel 0. The one-pixel shift is in raw units (1), not scaled by
    ``spacing``, as in the authors' code: with anisotropic spacing an inner boundary pixel whose nearest
    background neighbour lies along an axis of spacing :math:`s` gets :math:`1 - s`.

    Policy for degenerate classes: a class absent from an image (empty mask) and a class covering the whole
    image (full mask) both get an all-zero map: there is no boundary to measure, and neither infinities nor a
    distance to the image border are returned. (The authors' code gives zeros for empty masks and a SciPy
    artefact for full ones.)

    Args:
        target: Class indices ``(N, *spatial)`` (integer, with ``num_classes``) or one-hot/binary masks
            ``(N, C, *spatial)`` (bool, integer 0/1, or float thresholded at 0.5; a float mask must be finite:
            NaN or inf raise while validation is on). ``spatial`` is 1D, 2D or 3D.
            A ``torch.Tensor`` or a NumPy array; the result has the same type.
        num_classes: Number of classes ``C`` for index targets; ``None`` for one-hot masks.
        spacing: Pixel (voxel) size per spatial axis, in array axis order, or one number for all axes.
        backend: ``"scipy"`` (``scipy.ndimage.distance_transform_edt``), ``"edt"`` (the ``edt`` package:
            one multi-label pass per image for index targets), ``"torch"`` (exact separable EDT on the
            tensor's device, batched over images and classes: :func:`squared_edt`), or ``None``: ``"torch"``
            for a tensor on an accelerator, else ``"edt"`` when installed, else ``"scipy"`` (the fastest
            measured on a CPU).
        dtype: Result dtype (torch or NumPy), default float32.
        threads: Threads for the ``edt`` backend.

    Returns:
        Maps of shape ``(N, C, *spatial)``.

    Raises:
        ValueError: wrong shapes, labels out of range, ``spacing`` of the wrong length or not positive, unknown
            or unavailable ``backend``, or index labels passed without ``num_classes`` (an integer tensor with
            values above 1, or 0/1 values whose dim 1 is not one-hot): the message says to pass it.
        TypeError: float index targets, or a target that is neither a tensor nor an array.

    Note:
        The ``edt`` backend computes in float32 (agreement with SciPy to ~1e-6 relative); ``"scipy"`` and
        ``"torch"`` compute in float64 (float32 on MPS) and agree exactly on the tests' masks. The authors' data loader stores maps as int32, truncating every distance toward 0
        (``sqrt 2 -> 1``); this function returns the real-valued maps.

    Example:
        >>> import torch
        >>> sq = torch.zeros(1, 5, 5, dtype=torch.long); sq[0, 1:4, 1:4] = 1
        >>> signed_distance_map(sq, num_classes=2, backend="scipy")[0, 1]
        tensor([[ 1.4142,  1.0000,  1.0000,  1.0000,  1.4142],
                [ 1.0000,  0.0000,  0.0000,  0.0000,  1.0000],
                [ 1.0000,  0.0000, -1.0000,  0.0000,  1.0000],
                [ 1.0000,  0.0000,  0.0000,  0.0000,  1.0000],
                [ 1.4142,  1.0000,  1.0000,  1.0000,  1.4142]])
        >>> on_device = signed_distance_map(sq, num_classes=2, backend="torch")  # the tensor's device (here CPU)
        >>> torch.equal(on_device, signed_distance_map(sq, num_classes=2, backend="scipy"))
        True

    References:
        .. [Kervadec2019] H. Kervadec et al. "Boundary loss for highly unbalanced segmentation." MIDL 2019.
           https://arxiv.org/abs/1812.07032 (code: github.com/LIVIAETS/boundary-loss, ``utils.one_hot2dist``).
    """
    is_torch = isinstance(target, torch.Tensor)
    if isinstance(target, torch.Tensor):
        t = target.detach()
    elif isinstance(target, np.ndarray):
        t = torch.from_numpy(np.ascontiguousarray(target))
    else:
        raise TypeError(f"target: expected a torch.Tensor or numpy.ndarray, got {type(target).__name__}")
    kind = "bool" if t.dtype == torch.bool else ("float" if t.dtype.is_floating_point else "int")
    if num_classes is not None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes: expected a positive int, got {num_classes!r}")
        if kind != "int":
            raise TypeError(
                f"target: class indices (num_classes={num_classes}) must have an integer dtype, got "
                f"{target.dtype}; for one-hot masks (N, C, *spatial) pass num_classes=None"
            )
        if t.dim() not in (2, 3, 4):
            raise ValueError(
                f"target: expected class indices of shape (N, *spatial) with 1-3 spatial dims, got {tuple(t.shape)}"
            )
        if t.numel():
            lo, hi = (int(v) for v in torch.aminmax(t))
            if lo < 0 or hi >= num_classes:
                raise ValueError(
                    f"target: expected class indices in [0, {num_classes - 1}], got values in [{lo}, {hi}]"
                )
        spatial = tuple(t.shape[1:])
        c = num_classes
    else:
        if t.dim() not in (3, 4, 5):
            raise ValueError(
                f"target: expected one-hot masks of shape (N, C, *spatial) with 1-3 spatial dims, got "
                f"{tuple(t.shape)}; for class indices (N, *spatial) pass num_classes"
            )
        if kind == "int" and t.numel():
            hi = int(t.max())
            if hi > 1:
                raise ValueError(
                    f"target: an integer tensor with values up to {hi} holds class indices, not 0/1 masks; pass "
                    f"num_classes (e.g. num_classes={hi + 1}) for index labels of shape (N, *spatial)"
                )
            if t.dim() == 3 and bool((t.sum(1) != 1).any()):
                raise ValueError(
                    f"target: an integer 0/1 tensor of shape {tuple(t.shape)} without num_classes is read as "
                    f"one-hot masks (N, C, L), but its dim 1 is not one-hot; for index labels (N, H, W) pass "
                    f"num_classes=2, for 1-D multi-label masks pass a bool tensor"
                )
        if kind == "float":
            # a NaN would threshold to background (NaN > 0.5 is False) and an inf to foreground: reject both
            check_finite(t, "target", "signed_distance_map")
        spatial = tuple(t.shape[2:])
        c = t.shape[1]
    sp = _check_spacing(spacing, len(spatial))
    name = _resolve_backend(backend, t.device if is_torch else None)
    if name == "torch":
        if num_classes is not None:
            masks = torch.nn.functional.one_hot(t.long(), c).movedim(-1, 1).bool()
        else:
            masks = t > 0.5 if kind == "float" else t != 0
        maps = _torch_maps(masks, sp)
        if is_torch:
            return maps.to(dtype=torch.float32 if dtype is None else dtype)
        return maps.numpy().astype(np.float32 if dtype is None else dtype, copy=False)
    arr = t.cpu().numpy()
    if num_classes is None:
        arr = arr > 0.5 if kind == "float" else arr != 0
    tr = _Transform(name, sp, threads)
    out = np.zeros((arr.shape[0], c, *spatial), dtype=np.float64)
    for n in range(arr.shape[0]):
        if num_classes is not None:
            _image_index(tr, arr[n], c, out[n])
        else:
            _image_dense(tr, arr[n], out[n])
    if is_torch:
        return torch.from_numpy(out).to(device=target.device, dtype=torch.float32 if dtype is None else dtype)
    return out.astype(np.float32 if dtype is None else dtype, copy=False)


class SignedDistanceMap:
    """:func:`signed_distance_map` with its options bound: a picklable transform for Dataset and DataLoader code.

    It takes **the same layout as the function**, batch first: index labels ``(N, *spatial)`` (with
    ``num_classes``) or masks ``(N, C, *spatial)``, and returns ``(N, C, *spatial)``; there is no per-sample
    guessing, so a batch is never misread as a volume. In ``Dataset.__getitem__`` (so the work runs in the
    DataLoader's worker processes) pass one sample as a batch of one, on the whole image, *then* crop the image,
    the labels and the maps together: a crop that misses the object would otherwise get an all-zero map.

    Args:
        num_classes: Number of classes for index labels ``(N, *spatial)``; ``None`` for masks ``(N, C, *spatial)``.
        spacing, backend, dtype, threads: As in :func:`signed_distance_map` (``backend=None`` is resolved when the
            transform is built: ``"edt"`` when installed, else ``"scipy"``; pass ``"torch"`` for the tensor's device).

    Example:
        >>> import torch
        >>> to_dist = SignedDistanceMap(num_classes=2, backend="scipy")
        >>> labels = torch.zeros(6, 6, dtype=torch.long); labels[2:4, 2:4] = 1
        >>> dist = to_dist(labels[None])[0]     # one sample as a batch of one; whole image first
        >>> dist.shape, dist[1, 2:4, 2:4].tolist()
        (torch.Size([2, 6, 6]), [[0.0, 0.0], [0.0, 0.0]])
        >>> crop = dist[:, 1:5, 1:5]            # then crop labels and maps alike
    """

    def __init__(
        self,
        num_classes: int | None = None,
        *,
        spacing: Sequence[float] | float | None = None,
        backend: str | None = None,
        dtype: Any = None,
        threads: int = 1,
    ) -> None:
        if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int)
                                        or num_classes < 1):
            raise ValueError(f"num_classes: expected a positive int or None, got {num_classes!r}")
        self.num_classes = num_classes
        self.spacing = spacing if spacing is None or isinstance(spacing, (int, float)) else tuple(spacing)
        self.backend = _resolve_backend(backend)
        self.dtype = dtype
        self.threads = threads

    def __call__(self, target: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        """Maps ``(N, C, *spatial)`` of a batch, exactly as :func:`signed_distance_map` with the bound options."""
        return signed_distance_map(
            target, num_classes=self.num_classes, spacing=self.spacing, backend=self.backend, dtype=self.dtype,
            threads=self.threads,
        )

    def __repr__(self) -> str:
        return (
            f"SignedDistanceMap(num_classes={self.num_classes}, spacing={self.spacing}, backend={self.backend!r}, "
            f"dtype={self.dtype}, threads={self.threads})"
        )
