"""The recommendation rules (losslab.guide): derived from the catalogue, no binary losses for single-label, no
"fits" for pairs that do not fit, new entries recommended without editing the guide."""

from __future__ import annotations

import dataclasses

import pytest

from losslab import guide, registry
from losslab.registry import LossSpec


def _names(recs) -> list[str]:
    return [r.spec.name for r in recs]


def _clone(base: str, **changes) -> LossSpec:
    return dataclasses.replace(registry.get(base), **changes)


# ---------------------------------------------------------------------------------------------------------------
# the typed activation vocabulary on LossSpec


@pytest.mark.parametrize(
    ("text", "kind", "activation", "domain"),
    [
        ("softmax", "logits", "softmax", "real"),
        ("sigmoid", "probabilities", "sigmoid", "unit"),
        ("softmax (the caller applies it)", "probabilities", "softmax", "simplex"),
        ("none", "logits", "linear", "real"),  # a raw-score input: the network's output as it is
        ("none (decoded boxes)", "boxes", "none", "boxes"),
        ("none (linear output)", "real values", "linear", "real"),
        ("softplus or exp (a rate >= 0)", "real values", "positive", "positive"),
        ("tanh or none (a score whose sign is the decision)", "real values", "tanh", "signed"),
        ("any image range", "images", "none", "images"),
    ],
)
def test_free_text_activations_are_normalized(text, kind, activation, domain):
    spec = _clone("mse_loss", activation=text, input_kind=kind, input_domain=None, activation_note="")
    assert (spec.activation, spec.input_domain) == (activation, domain)
    assert spec.activation_note == ("" if text == activation else text)
    assert dataclasses.replace(spec).activation == activation  # idempotent


def test_every_entry_has_a_typed_activation_and_domain():
    for spec in registry.all_specs():
        assert spec.activation in registry.ACTIVATIONS, spec.name
        assert spec.input_domain in registry.INPUT_DOMAINS, spec.name


def test_unknown_activation_and_domain_are_rejected():
    with pytest.raises(ValueError, match=r"activation: expected one of \('softmax'.*got 'swish' \(for mse_loss\)"):
        _clone("mse_loss", activation="swish")
    with pytest.raises(ValueError, match=r"input_domain: expected one of .* got 'reals' for mse_loss"):
        _clone("mse_loss", input_domain="reals")


# ---------------------------------------------------------------------------------------------------------------
# which losses are listed


def test_single_label_lists_no_binary_losses():
    recs = guide.recommend("single-label")
    names = _names(recs)
    assert names[0] == "softmax_cross_entropy"
    assert {"categorical_cross_entropy", "softmax_focal_loss", "bi_tempered_logistic_loss"} <= set(names)
    for r in recs:
        assert r.spec.activation in ("softmax", "linear"), r.spec.name
    left_out = {s.name for s in guide.excluded("single-label")}
    assert {"sigmoid_binary_cross_entropy", "binary_cross_entropy", "hinge_loss", "squared_hinge_loss"} <= left_out
    assert not left_out & set(names)


def test_multi_label_lists_no_softmax_losses():
    names = _names(guide.recommend("multi-label"))
    assert "sigmoid_binary_cross_entropy" in names and "sigmoid_focal_loss" in names
    assert all(registry.get(n).activation != "softmax" for n in names)


def test_every_listed_loss_is_tagged_with_the_task():
    for task in guide.recommend_tasks():
        for r in guide.recommend(task, modifiers=tuple(guide.MODIFIERS), outliers=True):
            assert task in r.spec.tasks
            assert r.reason.startswith(r.spec.summary)


@pytest.mark.parametrize(
    ("task", "modifier", "first"),
    [("single-label", "noisy-labels", "bi_tempered_logistic_loss"),
     ("single-label", "imbalanced", "softmax_focal_loss"),
     ("multi-label", "imbalanced", "sigmoid_focal_loss"),
     ("multi-label", "noisy-labels", "bi_tempered_binary_logistic_loss")],
)
def test_modifier_tagged_losses_rank_first(task, modifier, first):
    recs = guide.recommend(task, modifiers=(modifier,))
    tagged = [r.spec.name for r in recs if modifier in r.spec.tasks]
    assert recs[0].spec.name == first or recs[0].spec.name in tagged
    assert _names(recs)[: len(tagged)] == tagged  # every tagged loss before every untagged one
    assert "suited to " + modifier.replace("-", " ") in recs[0].reason


def test_outliers_are_measured_from_the_curve():
    # squared error: the gradient grows with the residual (10x from 10 to 100); absolute/Huber: bounded
    assert guide.bounded_influence(registry.get("mse_loss")) is False
    for name in ("mae_loss", "huber_loss", "log_cosh_loss", "smooth_l1_loss"):
        assert guide.bounded_influence(registry.get(name)) is True, name
    assert guide.bounded_influence(registry.get("softmax_cross_entropy")) is None  # not a regression loss
    names = _names(guide.recommend("regression", outliers=True))
    assert names.index("mse_loss") > names.index("mae_loss") and names.index("mse_loss") > names.index("huber_loss")
    assert _names(guide.recommend("regression"))[0] == "mse_loss"


def test_a_new_entry_is_recommended_without_editing_the_guide(monkeypatch):
    # entries arriving during the session, registered with free text as other engineers write it
    new = _clone("softmax_cross_entropy", name="fake_noisy_loss", tasks=("single-label", "noisy-labels"),
                 activation="softmax (applied inside)", input_domain=None, activation_note="", default_for=(),
                 summary="A bounded loss between CE and MAE; robust to noisy labels.")
    binary = _clone("sigmoid_binary_cross_entropy", name="fake_binary_loss", tasks=("multi-label", "imbalanced"),
                    activation="sigmoid", input_domain=None, activation_note="", default_for=(), summary="ASL.")
    monkeypatch.setitem(registry.LOSSES, new.name, new)
    monkeypatch.setitem(registry.LOSSES, binary.name, binary)
    assert new.activation == "softmax" and new.activation_note == "softmax (applied inside)"
    noisy = guide.recommend("single-label", modifiers=("noisy-labels",))
    tagged = [r.spec.name for r in noisy if "noisy-labels" in r.spec.tasks]
    assert "fake_noisy_loss" in tagged and _names(noisy)[: len(tagged)] == tagged
    clean = guide.recommend("single-label")
    assert "fake_binary_loss" not in _names(clean)  # a sigmoid loss is not for single-label
    fake = next(r for r in clean if r.spec.name == "fake_noisy_loss")
    assert fake.group == "noisy-labels" and clean[-1].group != ""  # listed after the main list, in its group
    imbalanced = _names(guide.recommend("multi-label", modifiers=("imbalanced",)))
    assert imbalanced.index("fake_binary_loss") < imbalanced.index("sigmoid_binary_cross_entropy")


def test_defaults_come_first():
    for task in guide.recommend_tasks():
        recs = guide.recommend(task)
        defaults = [s.name for s in registry.all_specs() if task in s.default_for]
        assert set(_names(recs)[: len(defaults)]) == set(defaults), task
        for r in recs[: len(defaults)]:
            assert r.reason.endswith(f"[the usual first choice for {task}]")
    assert set(_names(guide.recommend("segmentation"))[:2]) == {"dice_loss", "softmax_cross_entropy"}
    assert set(_names(guide.recommend("detection"))[:2]) == {"sigmoid_focal_loss", "complete_box_iou_loss"}


def test_default_for_must_be_among_the_tasks():
    with pytest.raises(ValueError, match=r"default_for: \('detection',\) must be among the tasks \('regression',\)"):
        _clone("mse_loss", default_for=("detection",))


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"task: expected one of .* got 'imbalanced'"):
        guide.recommend("imbalanced")  # a modifier, not a task
    with pytest.raises(ValueError, match=r"modifiers: expected from \('imbalanced', 'noisy-labels'\), got \['x'\]"):
        guide.recommend("regression", modifiers=("x",))
    with pytest.raises(ValueError, match=r"activation: expected one of softmax, .* got 'tahn' \(did you mean 'tanh'\?\)"):
        guide.parse_activation("tahn")
    assert guide.parse_activation("None") == "linear" and guide.parse_activation("identity") == "linear"


# ---------------------------------------------------------------------------------------------------------------
# the activation fit


@pytest.mark.parametrize(
    ("name", "act", "fit", "note"),
    [
        ("categorical_cross_entropy", "tanh", "mismatch",
         "tanh outputs lie in [-1, 1]; categorical cross-entropy needs softmax probabilities"),
        ("categorical_cross_entropy", "softmax", "fits", None),
        ("binary_cross_entropy", "sigmoid", "fits", None),
        ("binary_cross_entropy", "softmax", "mismatch",
         "softmax couples the outputs (they sum to 1); binary cross-entropy needs an independent sigmoid per output"),
        ("softmax_cross_entropy", "softmax", "mismatch",
         "softmax cross-entropy takes raw scores (logits) and applies its own link; a softmax before it squashes "
         "them twice — use a linear output layer"),
        ("softmax_cross_entropy", "none", "fits", None),
        ("poisson_loss", "tanh", "mismatch",
         "tanh outputs can be negative; poisson loss needs positive predictions (use exp or softplus)"),
        ("poisson_loss", "softplus", "fits", None),
        ("squared_hinge_loss", "sigmoid", "mismatch",
         "sigmoid outputs lie in (0, 1); squared hinge loss expects signed scores (targets in {-1, 1}), e.g. tanh"),
        ("squared_hinge_loss", "tanh", "fits", None),
        ("mse_loss", "relu", "fits", None),
        ("msle_loss", "sigmoid", "mismatch",
         "sigmoid outputs lie in (0, 1); msle loss can only fit targets inside that range (rescale them)"),
    ],
)
def test_activation_fit(name, act, fit, note):
    assert guide.activation_fit(registry.get(name), act) == (fit, note)
    assert guide.activation_warning(registry.get(name), act) == (note if fit == "mismatch" else None)


@pytest.mark.parametrize("name", ["gradient_difference_loss", "complete_box_iou_loss", "style_loss"])
@pytest.mark.parametrize("act", ["tanh", "sigmoid", "linear"])
def test_inputs_that_are_not_network_outputs_never_fit_as_they_are(name, act):
    fit, note = guide.activation_fit(registry.get(name), act)
    assert fit == "n/a" and note


def test_tanh_segmentation_offers_no_fit_for_gradient_difference():
    recs = guide.recommend("segmentation", activation="tanh")
    assert all(r.fit != "fits" for r in recs)
    gdl = next(r for r in recs if r.spec.name == "gradient_difference_loss")
    assert gdl.fit == "n/a"
