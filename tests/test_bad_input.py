"""The bad-input contract, run over the whole catalogue (issue 12): a bad input raises, it never becomes a number.

For every registered loss, with validation on (the default):

* NaN, +inf or -inf in any floating tensor argument (predictions, targets, IoUs, distance maps, per-class and
  per-sample weights) raises a ``ValueError`` whose message names the argument and the loss;
* a negative per-sample weight raises a ``ValueError`` naming the weight;
* NaN, +inf or -inf as any float hyperparameter raises a ``ValueError`` naming it, in the function and in the
  module's constructor;
* integer predictions raise a ``TypeError`` naming the argument; a target of the wrong shape a ``ValueError``;
* zero classes on dim 1 raise a ``ValueError`` naming an argument (not an ``IndexError`` from deep inside).

The arguments come from each loss's case (``tests/cases``) and the function's signature, so a new loss is covered
by registering it with its case. Exceptions are listed explicitly below with the reason.
"""

from __future__ import annotations

import inspect
import math
import sys

import pytest
import torch
from torch.overrides import TorchFunctionMode

import losslab
from cases import case
from losslab import registry

SPECS = registry.all_specs()
IDS = [s.name for s in SPECS]
BAD = {"nan": math.nan, "+inf": math.inf, "-inf": -math.inf}

# Losses whose value does not depend on any shape relation between their arguments, so no argument can have a
# "wrong shape" (a generator loss takes one batch of scores of any shape; a discriminator loss takes a real and
# a fake batch of independent sizes, as a GAN step may).
NO_SHAPE_CONTRACT = {
    "minimax_generator_loss",
    "non_saturating_generator_loss",
    "least_squares_generator_loss",
    "wasserstein_generator_loss",
    "hinge_generator_loss",
    "minimax_discriminator_loss",
    "least_squares_discriminator_loss",
    "wasserstein_critic_loss",
    "hinge_discriminator_loss",
    # Gram matrices compare feature maps of any spatial size (style of a different-size image); the batch and
    # channel checks are pinned in test_perceptual.py
    "style_loss",
}


def _sample(spec, n: int = 3):
    args, kwargs = case(spec.name).sample(n, torch.float64, torch.Generator().manual_seed(0))
    return list(args), dict(kwargs)


def _positional_names(spec, args) -> list[str]:
    return list(inspect.signature(spec.function).parameters)[: len(args)]


def _weight_name(spec) -> str:
    return "sample_weight"


def _float_hyperparameters(fn) -> list[str]:
    """Keyword-only parameters with a float default, or annotated as taking a float (``alpha: float | None``,
    ``spacing: Sequence[float] | float | None``): the float hyperparameters."""
    return [
        name
        for name, p in inspect.signature(fn).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
        and (isinstance(p.default, float) or (p.default is None and "float" in str(p.annotation)))
    ]


# (loss, hyperparameter) pairs where an infinity has a documented meaning (``check_scalar(..., allow_inf=True)``),
# with the reason. None today: every float hyperparameter of the catalogue rejects NaN and ±inf.
ACCEPTS_INF: dict[tuple[str, str], str] = {}


def _with_bad(t: torch.Tensor, value: float) -> torch.Tensor:
    bad = t.detach().clone()
    bad.view(-1)[bad.numel() // 2] = value
    return bad


def _tensor_cases():
    """(spec, where, name): every floating tensor argument of every loss, positional or keyword."""
    for spec in SPECS:
        args, kwargs = _sample(spec)
        for i, (name, a) in enumerate(zip(_positional_names(spec, args), args)):
            if isinstance(a, torch.Tensor) and a.is_floating_point() and a.numel():
                yield pytest.param(spec, i, name, id=f"{spec.name}-{name}")
        for name, v in kwargs.items():
            if isinstance(v, torch.Tensor) and v.is_floating_point() and v.numel():
                yield pytest.param(spec, name, name, id=f"{spec.name}-{name}")
        if case(spec.name).weighted:
            w = _weight_name(spec)
            yield pytest.param(spec, w, w, id=f"{spec.name}-{w}")


def _raises_naming(fn, names: tuple[str, ...], exc=(ValueError, TypeError)) -> str:
    with pytest.raises(exc) as info:
        fn()
    message = str(info.value)
    for name in names:
        assert name in message, f"the message does not name {name!r}: {message}"
    return message


@pytest.mark.parametrize("spec, where, name", list(_tensor_cases()))
@pytest.mark.parametrize("bad", list(BAD), ids=list(BAD))
def test_non_finite_tensor_argument_raises_naming_it(spec, where, name, bad):
    args, kwargs = _sample(spec)
    if isinstance(where, int):
        args[where] = _with_bad(args[where], BAD[bad])
    elif where in kwargs:
        kwargs[where] = _with_bad(kwargs[where], BAD[bad])
    else:  # the per-sample weight: ones over the unreduced loss, one entry bad
        none = spec.function(*args, **kwargs, reduction="none")
        kwargs[where] = _with_bad(torch.ones_like(none), BAD[bad])
    # the message names the argument and the loss (for every argument, predictions or not)
    _raises_naming(lambda: spec.function(*args, **kwargs), (name, spec.name), ValueError)


@pytest.mark.parametrize("spec", [s for s in SPECS if case(s.name).weighted], ids=[s.name for s in SPECS if case(s.name).weighted])
def test_negative_weight_raises(spec):
    args, kwargs = _sample(spec)
    w = _weight_name(spec)
    none = spec.function(*args, **kwargs, reduction="none")
    kwargs[w] = _with_bad(torch.ones_like(none), -0.5)
    message = _raises_naming(lambda: spec.function(*args, **kwargs), ("weight",), ValueError)
    assert "non-negative" in message
    # a weight of 0 is allowed (it removes the position)
    kwargs[w] = _with_bad(torch.ones_like(none), 0.0)
    assert torch.isfinite(spec.function(*args, **kwargs))


def _hyperparameter_cases():
    for spec in SPECS:
        for name in _float_hyperparameters(spec.function):
            yield pytest.param(spec, name, id=f"{spec.name}-{name}")


@pytest.mark.parametrize("spec, name", list(_hyperparameter_cases()))
@pytest.mark.parametrize("bad", list(BAD), ids=list(BAD))
def test_non_finite_float_hyperparameter_raises_naming_it(spec, name, bad):
    if bad != "nan" and (spec.name, name) in ACCEPTS_INF:
        pytest.skip(ACCEPTS_INF[(spec.name, name)])
    args, kwargs = _sample(spec)
    kwargs[name] = BAD[bad]
    _raises_naming(lambda: spec.function(*args, **kwargs), (name,), ValueError)
    if spec.module is not None and name in inspect.signature(spec.module).parameters:
        module_kwargs = {k: v for k, v in kwargs.items() if k in inspect.signature(spec.module).parameters}
        _raises_naming(lambda: spec.module(**module_kwargs), (name,), ValueError)


def test_every_loss_has_its_hyperparameters_covered():
    # a guard on the introspection above: the catalogue's float hyperparameters are found (a test that finds
    # none would pass vacuously)
    found = {spec.name: _float_hyperparameters(spec.function) for spec in SPECS}
    assert "gamma" in found["sigmoid_focal_loss"] and "eps" in found["iou_loss"]
    assert "alpha" in found["sigmoid_focal_loss"] and "pos_weight" in found["sigmoid_binary_cross_entropy"]
    assert {"eta", "lam", "beta", "loc_weight"} <= set(found["iou_balanced_smooth_l1_loss"]) | set(
        found["iou_balanced_sigmoid_focal_loss"]
    )
    assert sum(len(v) for v in found.values()) >= 30


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_integer_prediction_raises_type_error(spec):
    args, kwargs = _sample(spec)
    i = case(spec.name).grad_args[0]
    name = _positional_names(spec, args)[i]
    args[i] = args[i].round().long()
    _raises_naming(lambda: spec.function(*args, **kwargs), (name,), TypeError)


def _shape_cases():
    for spec in SPECS:
        if spec.name not in NO_SHAPE_CONTRACT:
            yield pytest.param(spec, id=spec.name)


@pytest.mark.parametrize("spec", list(_shape_cases()))
def test_wrong_shape_raises_value_error(spec):
    args, kwargs = _sample(spec)
    names = _positional_names(spec, args)
    tensors = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor)]
    if len(tensors) >= 2:
        # the second tensor argument (the target) gains a trailing dim: it matches no layout
        i = tensors[1]
        args[i] = args[i].unsqueeze(-1).expand(*args[i].shape, 2)
    else:
        # a single input (images): one dim short
        i = tensors[0]
        args[i] = args[i][0]
    _raises_naming(lambda: spec.function(*args, **kwargs), (), ValueError)
    # the weight: a shape that does not broadcast to the unreduced loss
    if case(spec.name).weighted:
        args, kwargs = _sample(spec)
        kwargs[_weight_name(spec)] = torch.ones(7, 5, dtype=torch.float64)
        _raises_naming(lambda: spec.function(*args, **kwargs), ("weight",), ValueError)
    assert names


def _class_cases():
    for spec in SPECS:
        args, _ = _sample(spec)
        target = args[1] if len(args) > 1 else None
        # classes on dim 1 of the input, with index targets (N, *) or dense targets of the input's shape
        if (
            isinstance(target, torch.Tensor)
            and isinstance(args[0], torch.Tensor)
            and args[0].ndim >= 2
            and (target.shape == args[0].shape[:1] + args[0].shape[2:] and not target.is_floating_point())
        ):
            yield pytest.param(spec, id=spec.name)


@pytest.mark.parametrize("spec", list(_class_cases()))
@pytest.mark.parametrize("target_kind", ["index", "dense"])
def test_zero_classes_raise_value_error(spec, target_kind):
    args, kwargs = _sample(spec)
    names = _positional_names(spec, args)
    args[0] = args[0][:, :0]
    if target_kind == "dense":  # probabilities over no class, shaped like the input
        args[1] = torch.zeros(args[0].shape, dtype=args[0].dtype)
    # a ValueError (a TypeError where a loss takes index targets only) naming an argument, not an IndexError
    message = _raises_naming(
        lambda: spec.function(*args, **kwargs), (), ValueError if target_kind == "index" else (ValueError, TypeError)
    )
    assert any(n in message for n in names), message


# ---------------------------------------------------------------------------------------------------------------
# one host read per checked tensor (the finiteness check folded into the range check)

_HOST_READS = {"tolist", "item", "__bool__", "__float__", "__int__", "__index__"}

# Losses whose checks read more than their arguments, with the reason.
EXTRA_READS = {
    # the extractor's feature maps are checked too (an overflow to inf in half precision is caught there): one
    # read per loss term on top of pred and target
    "perceptual_loss": 5,
    # the focal term calls softmax_focal_loss, which checks logits and target again
    "dice_focal_loss": 4,
}


def _in_a_check(frame) -> bool:
    for _ in range(8):
        if frame is None:
            return False
        name = frame.f_code.co_name
        if frame.f_globals.get("__name__") == "losslab._checks" or name.startswith(("check_", "_check")):
            return True
        frame = frame.f_back
    return False


class HostReads(TorchFunctionMode):
    """Counts the calls made by value checks that copy tensor data to the host (``.tolist()``, ``.item()``,
    ``bool(t)``, ...); reads by the numerics (e.g. a solver's early exit on CPU) are not value checks."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in _HOST_READS and _in_a_check(sys._getframe(1)):
            self.count += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_validation_reads_each_tensor_once(spec):
    args, kwargs = _sample(spec)
    tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
    with HostReads() as reads:
        spec.function(*args, **kwargs)
    assert 0 < reads.count <= EXTRA_READS.get(spec.name, len(tensors)), f"{reads.count} reads of {len(tensors)} tensors"
    with losslab.validation(False), HostReads() as reads:
        spec.function(*args, **kwargs)
    assert reads.count == 0


def test_host_reads_counter_counts():
    # the counter above sees the reads the checks make, and only those
    with HostReads() as reads:
        losslab._checks.check_finite(torch.zeros(2), "x")
        losslab._checks.check_in_range(torch.zeros(2), "x", 0.0, 1.0)
        torch.zeros(2).tolist()
    assert reads.count == 2


# ---------------------------------------------------------------------------------------------------------------
# which loss the message names


def test_message_names_the_loss_the_user_called():
    logits = torch.tensor([[0.0, math.nan]])
    target = torch.tensor([[1.0, 0.0]])
    # the IoU-balanced loss is built on sigmoid_focal_loss: the message names the one called
    with pytest.raises(ValueError, match=r"logits: expected finite values, found NaN \(in iou_balanced_sigmoid_focal"):
        losslab.iou_balanced_sigmoid_focal_loss(logits, target, torch.tensor([0.5]))
    with pytest.raises(ValueError, match=r"logits: expected finite values, found NaN \(in sigmoid_focal_loss\)"):
        losslab.sigmoid_focal_loss(logits, target)
    with pytest.raises(ValueError, match=r"logits: expected finite values, found NaN \(in sigmoid_focal_loss\)"):
        losslab.SigmoidFocalLoss()(logits, target)
    with pytest.raises(ValueError, match=r"pred: expected finite values, found -inf \(in mse_loss\)"):
        losslab.mse_loss(torch.tensor([-math.inf]), torch.tensor([0.0]))


# ---------------------------------------------------------------------------------------------------------------
# item 5: inputs accepted before that now raise (one regression test each)


def test_gradient_penalty_alpha_outside_unit_interval():
    critic = torch.nn.Linear(2, 1)
    real, fake = torch.randn(3, 2), torch.randn(3, 2)
    for alpha in ([0.5, 1.5, 0.0], [-0.1, 0.5, 1.0]):
        with pytest.raises(ValueError, match=r"alpha: expected values in \[0, 1\]"):
            losslab.gradient_penalty(critic, real, fake, alpha=torch.tensor(alpha))
    with pytest.raises(ValueError, match="alpha: expected finite values, found NaN"):
        losslab.gradient_penalty(critic, real, fake, alpha=torch.tensor([0.5, math.nan, 0.5]))
    losslab.gradient_penalty(critic, real, fake, alpha=torch.tensor([0.0, 0.5, 1.0]))  # the ends are allowed


@pytest.mark.parametrize("value, found", [(math.nan, "NaN"), (math.inf, "inf")])
def test_signed_distance_map_non_finite_float_mask(value, found):
    mask = torch.zeros(1, 2, 5, 5)
    mask[0, 1, 1:4, 1:4] = 1.0
    mask[0, 0] = 1.0 - mask[0, 1]
    mask[0, 1, 2, 2] = value  # NaN would threshold to background, inf to foreground
    with pytest.raises(ValueError, match=f"target: expected finite values, found {found} \\(in signed_distance_map\\)"):
        losslab.signed_distance_map(mask, backend="scipy")


@pytest.mark.parametrize("fn", ["feature_reconstruction_loss", "style_loss"])
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_perceptual_target_features_non_finite(fn, value):
    pred = {"a": torch.randn(2, 3, 4, 4)}
    target = {"a": torch.randn(2, 3, 4, 4)}
    target["a"][1, 2, 0, 0] = value
    with pytest.raises(ValueError, match=rf"target_features\['a'\]: expected finite values, found .* \(in {fn}\)"):
        getattr(losslab, fn)(pred, target)


@pytest.mark.parametrize("name", ["boundary_loss", "ssim_loss", "ms_ssim_loss"])
def test_zero_channels_raise_naming_the_input(name):
    # losses over classes or channels of dense inputs: no channel was a silent 0 (boundary), NaN (SSIM) or a
    # RuntimeError from a pooling op (MS-SSIM)
    spec = registry.get(name)
    args, kwargs = _sample(spec)
    args = [a[:, :0] if isinstance(a, torch.Tensor) and a.ndim >= 2 else a for a in args]
    first = _positional_names(spec, args)[0]
    _raises_naming(lambda: spec.function(*args, **kwargs), (first, "dim 1"), ValueError)


def _per_class_cases():
    for spec in SPECS:
        params = inspect.signature(spec.function).parameters
        for name in ("class_weight", "pos_weight"):
            if name in params:
                yield pytest.param(spec, name, id=f"{spec.name}-{name}")


@pytest.mark.parametrize("spec, name", list(_per_class_cases()))
@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0], ids=["nan", "inf", "negative"])
def test_bad_per_class_weight_raises_naming_it(spec, name, value):
    # per-class weights are rarely in the samplers' calls: one weight per class (dim 1, or the last dim for
    # pos_weight), one entry bad
    args, kwargs = _sample(spec)
    size = args[0].shape[1] if name == "class_weight" else args[0].shape[-1]
    w = torch.ones(size, dtype=torch.float64)
    kwargs[name] = w
    spec.function(*args, **kwargs)  # the good weight is accepted
    w = w.clone()
    w[0] = value
    kwargs[name] = w
    _raises_naming(lambda: spec.function(*args, **kwargs), (name,), ValueError)


def _ignore_index_cases():
    for spec in SPECS:
        if "ignore_index" in inspect.signature(spec.function).parameters:
            yield pytest.param(spec, id=spec.name)


@pytest.mark.parametrize("spec", list(_ignore_index_cases()))
@pytest.mark.parametrize("bad", [True, 1.5, "255"], ids=["bool", "float", "str"])
def test_ignore_index_must_be_an_int(spec, bad):
    # True would compare equal to class 1 and 1.5 to nothing: both were silently accepted by some losses
    args, kwargs = _sample(spec)
    kwargs["ignore_index"] = bad
    _raises_naming(lambda: spec.function(*args, **kwargs), ("ignore_index",), (TypeError, ValueError))
