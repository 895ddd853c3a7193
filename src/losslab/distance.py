r"""Signed distance maps for the boundary loss (Kervadec et al.), computed on the CPU with SciPy or ``edt``.

The maps are computed outside the loss, ideally in DataLoader workers on whole images before any cropping
(:class:`SignedDistanceMap`), because a crop that misses the object would see no boundary at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["signed_distance_map", "SignedDistanceMap", "edt_available"]

BACKENDS = ("scipy", "edt")


def edt_available() -> bool:
    """Whether the ``edt`` package (multi-label, multi-threaded Euclidean distance transform) is importable."""
    try:
        import edt  # noqa: F401
    except ImportError:
        return False
    return True


def _resolve_backend(backend: str | None) -> str:
    if backend is None:
        return "edt" if edt_available() else "scipy"
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS} or None, got {backend!r}")
    if backend == "edt" and not edt_available():
        raise ValueError("backend: 'edt' needs the edt package (pip install edt); use backend='scipy'")
    return backend


def _check_spacing(spacing: Sequence[float] | float | None, ndim: int) -> tuple[float, ...]:
    if spacing is None:
        return (1.0,) * ndim
    if isinstance(spacing, (int, float)) and not isinstance(spacing, bool):
        spacing = (float(spacing),) * ndim
    values = tuple(spacing)
    if len(values) != ndim:
        raise ValueError(
            f"spacing: expected {ndim} values (one per spatial axis of a {ndim}D image), got {len(values)}: {values}"
        )
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in values):
        raise ValueError(f"spacing: expected positive numbers, got {values}")
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

    def binary(self, mask: np.ndarray) -> np.ndarray:
        """Distance from each True pixel to the nearest False pixel (0 on False pixels)."""
        if self.backend == "edt":
            return self._edt(np.ascontiguousarray(mask, dtype=np.uint8), anisotropy=self.spacing,
                             black_border=False, parallel=self.threads)
        return self._scipy(mask, sampling=self.spacing)

    def multilabel(self, labels: np.ndarray) -> np.ndarray:
        """Distance from each pixel to the nearest pixel of another label (labels >= 1; edt only)."""
        return self._edt(np.ascontiguousarray(labels), anisotropy=self.spacing, black_border=False,
                         parallel=self.threads)


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
            ``(N, C, *spatial)`` (bool, integer 0/1, or float thresholded at 0.5). ``spatial`` is 1D, 2D or 3D.
            A ``torch.Tensor`` or a NumPy array; the result has the same type.
        num_classes: Number of classes ``C`` for index targets; ``None`` for one-hot masks.
        spacing: Pixel (voxel) size per spatial axis, in array axis order, or one number for all axes.
        backend: ``"scipy"`` (``scipy.ndimage.distance_transform_edt``), ``"edt"`` (the ``edt`` package:
            one multi-label pass per image for index targets), or ``None``: ``"edt"`` when installed.
        dtype: Result dtype (torch or NumPy), default float32.
        threads: Threads for the ``edt`` backend.

    Returns:
        Maps of shape ``(N, C, *spatial)``.

    Raises:
        ValueError: wrong shapes, labels out of range, ``spacing`` of the wrong length or not positive, unknown
            or unavailable ``backend``.
        TypeError: float index targets, or a target that is neither a tensor nor an array.

    Note:
        The ``edt`` backend computes in float32 (agreement with SciPy to ~1e-6 relative); use ``"scipy"`` for
        float64-exact maps. The authors' data loader stores maps as int32, truncating every distance toward 0
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

    References:
        .. [Kervadec2019] H. Kervadec et al. "Boundary loss for highly unbalanced segmentation." MIDL 2019.
           https://arxiv.org/abs/1812.07032 (code: github.com/LIVIAETS/boundary-loss, ``utils.one_hot2dist``).
    """
    is_torch = isinstance(target, torch.Tensor)
    if is_torch:
        device = target.device
        arr = target.detach().cpu().numpy()
    elif isinstance(target, np.ndarray):
        arr = target
    else:
        raise TypeError(f"target: expected a torch.Tensor or numpy.ndarray, got {type(target).__name__}")
    if num_classes is not None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes: expected a positive int, got {num_classes!r}")
        if arr.dtype.kind not in "iu":
            raise TypeError(
                f"target: class indices (num_classes={num_classes}) must have an integer dtype, got {arr.dtype}; "
                f"for one-hot masks (N, C, *spatial) pass num_classes=None"
            )
        if arr.ndim not in (2, 3, 4):
            raise ValueError(f"target: expected class indices of shape (N, *spatial) with 1-3 spatial dims, got {arr.shape}")
        if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
            raise ValueError(
                f"target: expected class indices in [0, {num_classes - 1}], got values in [{arr.min()}, {arr.max()}]"
            )
        spatial = arr.shape[1:]
        c = num_classes
    else:
        if arr.ndim not in (3, 4, 5):
            raise ValueError(
                f"target: expected one-hot masks of shape (N, C, *spatial) with 1-3 spatial dims, got {arr.shape}; "
                f"for class indices pass num_classes"
            )
        spatial = arr.shape[2:]
        c = arr.shape[1]
        arr = arr > 0.5 if arr.dtype.kind == "f" else arr != 0
    sp = _check_spacing(spacing, len(spatial))
    tr = _Transform(_resolve_backend(backend), sp, threads)
    out = np.zeros((arr.shape[0], c, *spatial), dtype=np.float64)
    for n in range(arr.shape[0]):
        if num_classes is not None:
            _image_index(tr, arr[n], c, out[n])
        else:
            _image_dense(tr, arr[n], out[n])
    if is_torch:
        return torch.from_numpy(out).to(device=device, dtype=torch.float32 if dtype is None else dtype)
    return out.astype(np.float32 if dtype is None else dtype, copy=False)


class SignedDistanceMap:
    """A Dataset/DataLoader transform: the signed distance maps of one sample's label map.

    Call it on the whole label image inside ``Dataset.__getitem__`` (so the work runs in the DataLoader's worker
    processes), *then* crop the image, the labels and the maps together: a crop that misses the object would
    otherwise get an all-zero map. It is a plain picklable object, so workers can use it.

    Args:
        num_classes: Number of classes for index label maps ``(*spatial)``; ``None`` for one-hot masks
            ``(C, *spatial)``.
        spacing, backend, dtype, threads: As in :func:`signed_distance_map`.

    Example:
        >>> import torch
        >>> to_dist = SignedDistanceMap(num_classes=2, backend="scipy")
        >>> labels = torch.zeros(6, 6, dtype=torch.long); labels[2:4, 2:4] = 1
        >>> dist = to_dist(labels)             # whole image first
        >>> dist.shape, dist[1, 2:4, 2:4].tolist()
        (torch.Size([2, 6, 6]), [[0.0, 0.0], [0.0, 0.0]])
        >>> crop = dist[:, 1:5, 1:5]           # then crop labels and maps alike
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
        self.num_classes = num_classes
        self.spacing = None if spacing is None or isinstance(spacing, (int, float)) else tuple(spacing)
        if isinstance(spacing, (int, float)):
            self.spacing = spacing
        self.backend = _resolve_backend(backend)
        self.dtype = dtype
        self.threads = threads

    def __call__(self, target: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        batched = target[None]
        out = signed_distance_map(
            batched, num_classes=self.num_classes, spacing=self.spacing, backend=self.backend, dtype=self.dtype,
            threads=self.threads,
        )
        return out[0]

    def __repr__(self) -> str:
        return (
            f"SignedDistanceMap(num_classes={self.num_classes}, spacing={self.spacing}, backend={self.backend!r}, "
            f"dtype={self.dtype}, threads={self.threads})"
        )
