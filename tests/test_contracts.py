"""Contracts every registered loss keeps (DESIGN.md §3), run over the whole catalogue.

A loss is covered here by adding its registry entry (``src/losslab/registry/<file>.py``) and its case
(``tests/cases/<file>.py``: how to call it); family tests add golden values and limit cases.
"""

from __future__ import annotations

import inspect
import os

import pytest
import torch

import losslab
from cases import CASE_FILES, CASES, case, registry_files
from losslab import registry

SPECS = registry.all_specs()
IDS = [s.name for s in SPECS]
WEIGHTED = [s for s in SPECS if case(s.name).weighted]
PER_SAMPLE = [s for s in WEIGHTED if case(s.name).per_sample]
MODULE_CALL = [s for s in SPECS if s.module is not None and case(s.name).module_call]


def _call(spec, n=6, dtype=torch.float64, seed=0, **overrides):
    args, kwargs = case(spec.name).sample(n, dtype, torch.Generator().manual_seed(seed))
    kwargs.update(overrides)
    return args, kwargs


def _batch_weight(loss_none: torch.Tensor, per_sample: torch.Tensor) -> torch.Tensor:
    """Per-sample weights shaped to broadcast over the unreduced loss (batch on dim 0)."""
    return per_sample.reshape(-1, *([1] * (loss_none.ndim - 1))).to(loss_none.dtype)


def _index(args, spec, rows):
    """Select batch rows of every tensor argument (all of them carry the batch on dim 0)."""
    return tuple(a[rows] if isinstance(a, torch.Tensor) and a.ndim > 0 else a for a in args)


def test_public_names_are_explicit_and_complete():
    """``losslab.__all__`` is a literal list (no dynamic namespace) naming every family's public names."""
    import ast

    tree = ast.parse(open(inspect.getsourcefile(losslab)).read())
    literal = next(
        node.value for node in tree.body
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets)
    )
    assert isinstance(literal, ast.List)
    family_names = {name for family in losslab._FAMILIES for name in family.__all__}
    assert family_names <= set(losslab.__all__), sorted(family_names - set(losslab.__all__))
    assert len(losslab.__all__) == len(set(losslab.__all__))
    for name in losslab.__all__:
        assert hasattr(losslab, name), name


def test_every_registered_loss_has_one_case():
    """The catalogue and the test cases name the same losses, each case in the file named like its entry's."""
    registered = {s.name for s in SPECS}
    missing = sorted(registered - set(CASES))
    assert not missing, "no contract-test case for " + "; ".join(
        f"{name}: add Case({name!r}, sample=...) to tests/cases/{registry_files()[name]}.py" for name in missing
    )
    stale = sorted(set(CASES) - registered)
    assert not stale, f"cases name no registered loss (renamed or removed from losslab.registry?): {stale}"
    # one case per loss (``cases.add`` refuses a second), in the cases file named like the entry's registry file
    misplaced = {name: (CASE_FILES[name], registry_files()[name]) for name in registered
                 if CASE_FILES[name] != registry_files()[name]}
    assert not misplaced, "cases not in the file named like their registry file (case file, registry file): " + str(
        misplaced)


def test_registry_is_complete():
    public = {name: getattr(losslab, name) for name in losslab.__all__}
    for spec in SPECS:
        assert public.get(spec.name) is spec.function, f"{spec.name} is not exported by losslab"
        if spec.module is not None:
            assert public.get(spec.module.__name__) is spec.module, f"{spec.module.__name__} is not exported"
    registered = {s.function for s in SPECS}
    not_losses = {"reduce_loss"}
    for name, obj in public.items():
        if inspect.isfunction(obj) and name.endswith(("_loss", "_cross_entropy", "_penalty")) and name not in not_losses:
            assert obj in registered, f"public loss {name} has no registry entry"


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_spec_metadata(spec):
    assert spec.summary and spec.formula and spec.reference
    params = inspect.signature(spec.function).parameters
    if case(spec.name).weighted:
        assert params["reduction"].default == "mean"
        assert params["reduction"].kind is inspect.Parameter.KEYWORD_ONLY
        assert params["sample_weight"].kind is inspect.Parameter.KEYWORD_ONLY


def _public_callables():
    """Every public function, and every public class's constructor and call methods."""
    for name in losslab.__all__:
        obj = getattr(losslab, name)
        if inspect.isfunction(obj):
            yield name, obj
        elif inspect.isclass(obj):
            for method in ("__init__", "forward", "generator"):
                if method in vars(obj) or (method == "__init__" and hasattr(obj, "_hyperparameters")):
                    yield f"{name}.{method}", obj if method == "__init__" else getattr(obj, method)


def test_no_argument_is_named_weight():
    """torch's ``weight`` is per-class in cross-entropy: no public loss, module or method takes a bare ``weight``
    (per-element weights are ``sample_weight``, per-class ``class_weight``)."""
    offenders = [name for name, fn in _public_callables() if "weight" in inspect.signature(fn).parameters]
    assert offenders == []


@pytest.mark.parametrize("spec", WEIGHTED, ids=[s.name for s in WEIGHTED])
def test_old_weight_name_raises_naming_the_new_one(spec):
    args, kwargs = _call(spec)
    params = inspect.signature(spec.function).parameters
    new = "class_weight" if "class_weight" in params and spec.name.endswith("dice_loss") and "generalized" not in spec.name else "sample_weight"
    with pytest.raises(TypeError, match=f"`weight` was renamed to `{new}`"):
        spec.function(*args, **kwargs, weight=torch.ones(()))
    if spec in MODULE_CALL:
        with pytest.raises(TypeError, match=f"`weight` was renamed to `{new}`"):
            spec.module(**kwargs)(*args, weight=torch.ones(()))


@pytest.mark.parametrize("spec", WEIGHTED, ids=[s.name for s in WEIGHTED])
def test_reductions_agree(spec):
    args, kwargs = _call(spec)
    none = spec.function(*args, **kwargs, reduction="none")
    torch.testing.assert_close(spec.function(*args, **kwargs, reduction="sum"), none.sum())
    if "ignore_index" not in kwargs and "normalizer" not in kwargs:
        torch.testing.assert_close(spec.function(*args, **kwargs, reduction="mean"), none.mean())
    with pytest.raises(ValueError, match="reduction: expected one of"):
        spec.function(*args, **kwargs, reduction="avg")


@pytest.mark.parametrize("spec", PER_SAMPLE, ids=[s.name for s in PER_SAMPLE])
def test_weight_invariances(spec):
    args, kwargs = _call(spec)
    w = "sample_weight"
    n = args[0].shape[0]
    none = spec.function(*args, **kwargs, reduction="none")
    # unit weights == no weights
    ones = _batch_weight(none, torch.ones(n))
    for red in ("mean", "sum"):
        torch.testing.assert_close(
            spec.function(*args, **kwargs, **{w: ones}, reduction=red), spec.function(*args, **kwargs, reduction=red)
        )
    # integer weights == repeated samples
    counts = torch.tensor([1, 2, 0, 3, 1, 2][:n])
    rows = torch.repeat_interleave(torch.arange(n), counts)
    weighted = spec.function(*args, **kwargs, **{w: _batch_weight(none, counts)}, reduction="mean")
    repeated = spec.function(*_index(args, spec, rows), **kwargs, reduction="mean")
    torch.testing.assert_close(weighted, repeated)
    # zero weight == removed sample
    keep = counts > 0
    removed = spec.function(*_index(args, spec, keep), **kwargs, reduction="sum")
    zero = spec.function(*args, **kwargs, **{w: _batch_weight(none, keep.double())}, reduction="sum")
    torch.testing.assert_close(zero, removed)


@pytest.mark.parametrize("spec", [s for s in WEIGHTED if case(s.name).empty_batch],
                         ids=[s.name for s in WEIGHTED if case(s.name).empty_batch])
def test_empty_batch_is_zero_with_gradient(spec):
    args, kwargs = _call(spec, n=0)
    grads = [args[i].requires_grad_() for i in case(spec.name).grad_args]
    for red in ("mean", "sum"):
        loss = spec.function(*args, **kwargs, reduction=red)
        assert loss.shape == () and loss.item() == 0.0
        (g,) = torch.autograd.grad(loss, grads[:1], allow_unused=True)
        assert g is None or g.numel() == 0


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
def test_dtype_kept_and_finite(spec, dtype):
    args, kwargs = _call(spec, dtype=dtype)
    grads = [args[i].requires_grad_() for i in case(spec.name).grad_args]
    loss = spec.function(*args, **kwargs)
    assert loss.dtype == dtype
    assert torch.isfinite(loss).all()
    for g in torch.autograd.grad(loss.float().sum(), grads, allow_unused=True):
        assert g is None or torch.isfinite(g).all()


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_gradcheck_float64(spec):
    args, kwargs = _call(spec, n=3)
    grad_args = case(spec.name).grad_args
    inputs = [args[i].detach().clone().requires_grad_() for i in grad_args]

    def fn(*xs):
        a = list(args)
        for i, x in zip(grad_args, xs):
            a[i] = x
        return spec.function(*a, **kwargs)

    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("spec", MODULE_CALL, ids=[s.name for s in MODULE_CALL])
def test_module_equals_function(spec):
    args, kwargs = _call(spec)
    module = spec.module(**kwargs)
    torch.testing.assert_close(module(*args), spec.function(*args, **kwargs))
    assert spec.module.__name__ in repr(module)
    if case(spec.name).weighted:
        none = spec.module(**kwargs, reduction="none")(*args)
        torch.testing.assert_close(none, spec.function(*args, **kwargs, reduction="none"))


# Modules whose behaviour is more than one function call stay hand-written: a schedule's state, a loss pair,
# networks (a feature extractor, LPIPS' linear heads).
HAND_WRITTEN = {"RebalancedLoss", "GANLoss", "PerceptualLoss", "LPIPSNetwork", "VGG16Features", "SignedDistanceMap"}


def test_modules_come_from_loss_module():
    from losslab._module import LossModule

    modules = {name: getattr(losslab, name) for name in losslab.__all__}
    modules = {n: c for n, c in modules.items() if inspect.isclass(c) and issubclass(c, torch.nn.Module)}
    by_hand = {n for n, c in modules.items() if not issubclass(c, LossModule)}
    assert by_hand <= HAND_WRITTEN, by_hand - HAND_WRITTEN


@pytest.mark.parametrize("spec", [s for s in SPECS if s.module is not None and s.module.__name__ not in HAND_WRITTEN],
                         ids=[s.name for s in SPECS if s.module is not None and s.module.__name__ not in HAND_WRITTEN])
def test_module_checks_at_construction(spec):
    _, kwargs = _call(spec)
    if "reduction" in spec.module._hyperparameters:
        with pytest.raises(ValueError, match="reduction: expected one of"):
            spec.module(**kwargs, reduction="avg")
    module = spec.module(**kwargs)
    assert module.__doc__ and spec.function.__name__ in module.__doc__
    for name, value in kwargs.items():
        if isinstance(value, torch.Tensor):
            assert name in dict(module.named_buffers()), f"{name} is not a buffer"


COMPILE_BACKEND = os.environ.get("LOSSLAB_COMPILE_BACKEND", "aot_eager")


@pytest.mark.parametrize("spec", [s for s in SPECS if case(s.name).compile], ids=[s.name for s in SPECS if case(s.name).compile])
def test_compile_equals_eager(spec):
    torch._dynamo.reset()
    args, kwargs = _call(spec, dtype=torch.float32)
    compiled = torch.compile(lambda *a: spec.function(*a, **kwargs), backend=COMPILE_BACKEND)
    torch.testing.assert_close(compiled(*args), spec.function(*args, **kwargs), rtol=1e-4, atol=1e-5)
