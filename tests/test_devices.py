"""Real training conditions, over the whole catalogue: mixed precision, no host syncs, no CPU-only tricks elsewhere.

* **AMP contract**: under ``torch.autocast`` with half-precision inputs (what a model under autocast produces), a
  loss returns float32 like ``F.cross_entropy``, finite, with finite gradients close to the float32 computation.
  Tested here on CPU with bfloat16 and float16; on CUDA by the ``device`` fixture when a GPU is present.
* **No host sync with validation off**: no ``.item()``/``bool(tensor)`` (``aten._local_scalar_dense``) and no
  tensor built from a Python number (``aten.lift_fresh``, which is a host-to-device copy on an accelerator).
  A ``.tolist()`` read does not dispatch on CPU; the ``meta`` run below catches it (reading a meta tensor raises).
* **Validation on, on CPU**: at most one host read per checked tensor.
* **Device-aware paths**: on the ``meta`` device (standing in for any accelerator) the focal losses dispatch a
  handful of ops, not a CPU chunk loop.
"""

from __future__ import annotations

import copy
import inspect

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import losslab
from cases import case
from losslab import registry

SPECS = registry.all_specs()
IDS = [s.name for s in SPECS]
HALF = [torch.bfloat16, torch.float16]


def _call(spec, n=6, dtype=torch.float32, seed=0):
    return case(spec.name).sample(n, dtype, torch.Generator().manual_seed(seed))


def _to(args, dtype=None, device=None, modules=True):
    def conv(a):
        if isinstance(a, torch.nn.Module) and modules:  # a network argument (GAN penalties) moves with the inputs
            a = copy.deepcopy(a)
            return a.to(dtype=dtype, device=device) if dtype is not None else a.to(device=device)
        if not isinstance(a, torch.Tensor):
            return a
        if dtype is not None and a.is_floating_point():
            a = a.to(dtype)
        return a.to(device) if device is not None else a

    return tuple(conv(a) for a in args)


def _kwargs_to(kwargs, device):
    return {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in kwargs.items()}


class CountOps(TorchDispatchMode):
    """Counts ATen ops by name."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: dict[str, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        self.ops[name] = self.ops.get(name, 0) + 1
        return func(*args, **(kwargs or {}))

    def total(self) -> int:
        return sum(self.ops.values())

    def syncs(self) -> int:
        return self.ops.get("_local_scalar_dense", 0) + self.ops.get("lift_fresh", 0)


def _takes_network(spec) -> bool:
    params = inspect.signature(spec.function).parameters
    return any(name in params for name in ("discriminator", "critic", "network", "net", "extractor"))


# ---------------------------------------------------------------------------------------------------------------
# mixed precision


@pytest.mark.parametrize("half", HALF, ids=["bf16", "fp16"])
@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_autocast_returns_float32_close_to_float32(spec, half):
    args, kwargs = _call(spec)
    grad_idx = [i for i in case(spec.name).grad_args if isinstance(args[i], torch.Tensor) and args[i].is_floating_point()]
    # the float32 computation on the half-rounded inputs is the reference
    rounded = _to(args, half, modules=False)  # under autocast the network keeps its float32 weights
    ref_args = [a.float().requires_grad_() if i in grad_idx else (a.float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a)
                for i, a in enumerate(rounded)]
    with losslab.validation(False):  # half-rounded probabilities may miss the float32 simplex tolerance
        ref = spec.function(*ref_args, **kwargs)
    ref_grads = torch.autograd.grad(ref.sum(), [ref_args[i] for i in grad_idx], allow_unused=True) if grad_idx else []

    half_args = [a.clone().requires_grad_() if i in grad_idx else a for i, a in enumerate(rounded)]
    with torch.autocast("cpu", dtype=half):
        out = spec.function(*half_args, **kwargs)
    assert out.dtype == torch.float32, f"{spec.name} returned {out.dtype} under autocast"
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, ref, rtol=3e-2, atol=3e-2)
    if grad_idx:
        grads = torch.autograd.grad(out.sum(), [half_args[i] for i in grad_idx], allow_unused=True)
        for g, r in zip(grads, ref_grads):
            if g is None:
                continue
            assert torch.isfinite(g).all()
            torch.testing.assert_close(g.float(), r, rtol=5e-2, atol=5e-2)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_half_inputs_outside_autocast_keep_their_dtype(spec):
    args, kwargs = _call(spec)
    kwargs = dict(zip(kwargs, _to(tuple(kwargs.values()), torch.bfloat16)))
    out = spec.function(*_to(args, torch.bfloat16), **kwargs)
    assert out.dtype == torch.bfloat16


# ---------------------------------------------------------------------------------------------------------------
# host syncs


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_no_host_sync_with_validation_off(spec):
    args, kwargs = _call(spec)
    grad_args = case(spec.name).grad_args
    args = [a.requires_grad_() if i in grad_args and isinstance(a, torch.Tensor) and a.is_floating_point() else a
            for i, a in enumerate(args)]
    with losslab.validation(False), CountOps() as ops:
        out = spec.function(*args, **kwargs)
        if out.requires_grad:
            out.sum().backward()
    assert ops.syncs() == 0, f"{spec.name}: host syncs {ops.ops.get('_local_scalar_dense', 0)}, " \
                             f"tensors from Python numbers {ops.ops.get('lift_fresh', 0)}"


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_validation_reads_each_checked_tensor_at_most_once(spec):
    args, kwargs = _call(spec)
    tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
    with CountOps() as ops:
        spec.function(*args, **kwargs)
    assert ops.ops.get("_local_scalar_dense", 0) <= max(1, len(tensors)), ops.ops


# ---------------------------------------------------------------------------------------------------------------
# device-aware paths (meta stands in for an accelerator)


@pytest.mark.parametrize(
    "name,shape,index",
    [("sigmoid_focal_loss", (100_000, 80), False), ("softmax_focal_loss", (65_536, 1000), True)],
)
def test_focal_on_an_accelerator_dispatches_few_ops(name, shape, index):
    fn = getattr(losslab, name)
    logits = torch.empty(shape, device="meta", requires_grad=True)
    if index:
        target = torch.empty(shape[:1], dtype=torch.long, device="meta")
    else:
        target = torch.empty(shape, device="meta")
    with losslab.validation(False), CountOps() as ops:
        fn(logits, target).backward()
    assert ops.total() < 100, f"{name}: {ops.total()} ops on meta"


@pytest.mark.parametrize("spec", [s for s in SPECS if not _takes_network(s)], ids=[s.name for s in SPECS if not _takes_network(s)])
def test_runs_on_meta(spec):
    """Every loss runs on a non-CPU device without reading data (validation off) or touching CPU-only paths."""
    args, kwargs = _call(spec)
    meta_args = _to(args, device="meta")
    with losslab.validation(False), CountOps() as ops:
        out = spec.function(*meta_args, **_kwargs_to(kwargs, "meta"))
    assert out.device.type == "meta"
    assert ops.total() < 1000, f"{spec.name}: {ops.total()} ops"


# ---------------------------------------------------------------------------------------------------------------
# the validation policy on accelerators


def test_accelerator_tensors_are_validated_on_the_first_calls_only(monkeypatch):
    from losslab import _checks

    reads = []
    monkeypatch.setattr(_checks, "_extremes", lambda x, *extra: reads.append(x.device.type) or [0.0, 0.0])

    def loss_step(x):
        _checks.check_finite(x, "logits", "some_loss")

    meta = torch.empty(4, device="meta")
    with losslab.validation(True):
        for _ in range(20):
            loss_step(meta)
            loss_step(torch.zeros(4))
    assert reads.count("meta") == _checks._FIRST_CALLS and reads.count("cpu") == 20
    reads.clear()
    with losslab.validation("always"):
        for _ in range(20):
            loss_step(meta)
    assert reads.count("meta") == 20
    reads.clear()
    with losslab.validation(False):
        loss_step(meta)
    assert reads == []
    with pytest.raises(TypeError, match="enabled: expected True, False or 'always'"):
        losslab.set_validation("sometimes")


CUDA = torch.cuda.is_available()


@pytest.mark.skipif(not CUDA, reason="no GPU: the CUDA contracts run where torch.cuda.is_available()")
@pytest.mark.parametrize("spec", [s for s in SPECS if not _takes_network(s)], ids=[s.name for s in SPECS if not _takes_network(s)])
def test_cuda_equals_cpu_without_host_syncs(spec):
    """On CUDA: the same value as on CPU, float32 under autocast, and no host sync with validation off."""
    args, kwargs = _call(spec, dtype=torch.float32)
    expected = spec.function(*args, **kwargs)
    cuda_args, cuda_kwargs = _to(args, device="cuda"), _kwargs_to(kwargs, "cuda")
    torch.testing.assert_close(spec.function(*cuda_args, **cuda_kwargs).cpu(), expected, rtol=1e-4, atol=1e-5)
    with torch.autocast("cuda", dtype=torch.float16):
        assert spec.function(*_to(cuda_args, torch.float16), **cuda_kwargs).dtype == torch.float32
    with losslab.validation(False):
        torch.cuda.set_sync_debug_mode("error")
        try:
            out = spec.function(*cuda_args, **cuda_kwargs)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    assert out.device.type == "cuda"
