"""The documentation generator (docs/_ext): every public name gets an API page, and the generated tables follow
the catalogue and the recommendation rules. These run the generator's functions, not Sphinx (``make docs`` does the
full build with warnings as errors)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import torch

import losslab
from losslab import guide, registry

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docs" / "_ext"))

import losslab_docs as docs  # noqa: E402
import losslab_migration as migration  # noqa: E402


def test_every_public_name_has_an_api_page():
    pages = docs.api_pages()
    assert set(pages) == set(losslab.__all__)
    for name, text in pages.items():
        obj = getattr(losslab, name)
        directive = "autoclass" if isinstance(obj, type) else "autofunction" if callable(obj) else "py:data"
        assert f".. {directive}:: {name}\n" in text, name
        assert text.startswith(f"{name}\n{'=' * len(name)}\n")


def test_api_groups_place_each_name_once_and_losses_in_their_family():
    groups = docs.api_groups()
    placed = [n for names in groups.values() for n in names]
    assert sorted(placed) == sorted(losslab.__all__)
    for spec in registry.all_specs():
        assert spec.name in groups[spec.family]
        if spec.module is not None:
            assert spec.module.__name__ in groups[spec.family]
    assert "set_validation" in groups["core"]
    # every family page links each of its names, and the index links every family page
    index = docs.api_index()
    for family, names in groups.items():
        assert f":doc:`family-{family}`" in index
        page = docs.api_family_page(family, names)
        assert all(f"   {n}\n" in page for n in names)


def test_home_counts_the_catalogue():
    text = docs.home_fragment()
    assert f"**{len(registry.all_specs())} losses**" in text and f"{len(losslab.__all__)} public names" in text
    for family in {s.family for s in registry.all_specs()}:
        assert f"(generated/api/family-{family}.rst)" in text


def test_a_loss_page_shows_its_catalogue_entry_and_curve():
    spec = registry.get("sigmoid_focal_loss")
    page = docs.api_page("sigmoid_focal_loss")
    assert "In the catalogue" in page and spec.formula in page
    assert "../gallery/sigmoid_focal_loss.png" in page
    assert ":class:`SigmoidFocalLoss`" in page
    assert "../gallery/" not in docs.api_page("dice_loss")  # no curve, no figure


def test_constants_get_their_value_and_comment():
    page = docs.api_page("MS_SSIM_WEIGHTS")
    assert ".. py:data:: MS_SSIM_WEIGHTS" in page and repr(losslab.MS_SSIM_WEIGHTS) in page
    assert "scale weights" in page  # the comment above the assignment


def test_gallery_draws_every_curve_and_lists_the_rest():
    page = docs.gallery_page()
    for spec in registry.all_specs():
        if spec.curve is not None:
            assert f"gallery/{spec.name}.png" in page
        else:
            assert f"- :func:`~losslab.{spec.name}` ({spec.family})" in page


def test_choosing_tables_follow_losslab_recommend():
    text = docs.choosing_tasks()
    for task in guide.recommend_tasks():
        section = text.split(f"### {task}\n", 1)[1].split("\n### ", 1)[0]
        listed = re.findall(r"^\| \d+ \| \{py:\w+\}`~losslab\.(\w+)`", section, re.M)
        assert listed == [r.spec.name for r in guide.recommend(task)], task
    # single-label leaves the one-sigmoid-per-output losses out, and says so
    single = text.split("### single-label\n", 1)[1].split("\n### ", 1)[0]
    assert "sigmoid_binary_cross_entropy" in single.split("Left out", 1)[1]


def test_activation_pairs_match_the_guide():
    text = docs.choosing_pairs()
    assert re.search(r"categorical_cross_entropy` \| tanh \| mismatch \|", text)
    assert re.search(r"categorical_cross_entropy` \| softmax \| fits \|", text)
    matrix = docs.choosing_activations()
    row = next(line for line in matrix.splitlines() if "~losslab.softmax_cross_entropy`" in line)
    cells = [c.strip() for c in row.strip().strip("|").split("|")]
    fits = dict(zip(guide.OUTPUT_ACTIVATIONS, cells[1:]))
    assert fits["linear"] == "✓" and fits["softmax"] == ""


def test_bce_numbers_reproduce_keras_and_the_kl_identity():
    n = docs.bce_numbers()
    # Keras computes in float32; losslab in float64 here
    assert n["bce_off"] == pytest.approx(n["keras_off"], abs=1e-6)
    assert n["bce_at"] == pytest.approx(n["keras_at"], abs=1e-6)
    assert n["bce_at"] == pytest.approx(n["entropy"], abs=1e-9)
    assert n["kl_at"] == pytest.approx(0.0, abs=1e-9)
    assert n["kl_off"] == pytest.approx(n["bce_off"] - n["entropy"], abs=1e-9)
    assert n["bce_half"] > n["bce_at"]


def test_migration_table_names_exist():
    assert migration.check() == []
    assert migration.names() <= set(losslab.__all__)
    # a wrong keyword is caught
    migration.ROWS["_probe"] = [("x", "mse_loss(pred, target, gamma=)", "")]
    try:
        assert migration.check() == ["_probe: x: mse_loss has no argument 'gamma'"]
    finally:
        del migration.ROWS["_probe"]


def test_citations_become_page_footnotes_and_missing_definitions_are_added():
    lines = ["Focal loss [Lin2017]_ with Dice [Milletari2016]_.", "", ".. rubric:: References", "",
             ".. [Lin2017] T.-Y. Lin et al. ICCV 2017."]
    docs.citations_to_footnotes(lines)
    assert lines[0] == "Focal loss [#Lin2017]_ with Dice [#Milletari2016]_."
    assert ".. [#Lin2017] T.-Y. Lin et al. ICCV 2017." in lines
    # Milletari2016 is defined in dice_loss's docstring: appended here as a footnote
    assert any(line.startswith(".. [#Milletari2016] F. Milletari") for line in lines)


def test_lab_page_has_endpoints_and_outcomes(tmp_path):
    experiments = docs.lab_experiments()
    declared = [e for e in experiments if e["claims"]]
    assert declared, "no experiment declares sub-claims"
    text = docs.lab_fragment(results_path=tmp_path / "absent.json")
    assert "LOSSLAB_RESULTS=report/results.json make docs" in text
    exp = declared[0]
    for claim in exp["claims"]:
        assert f"`{claim.key}`" in text
    claims = [{"key": c.key, "claim": c.claim, "endpoint": c.endpoint, "smallest_effect": c.smallest_effect,
               "n_seeds": 3, "differences": [0.2, 0.3, 0.25], "mean": 0.25, "sd": 0.05, "lower": 0.19,
               "upper": float("inf"), "level": 0.05, "n_positive": 3, "outcome": "holds"} for c in exp["claims"]]
    results = {"profile": "quick", "seed": 0, "environment": {"torch": torch.__version__},
               "experiments": {exp["name"]: {"claims": claims, "verdict": "All sub-claims hold.", "outcome": "holds"}}}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results), encoding="utf-8")
    text = docs.lab_fragment(results_path=path)
    assert "All sub-claims hold." in text and "| sub-claim | primary endpoint" in text


def test_migration_rows_marked_same_values_match_torch():
    """The torch.nn rows that the table calls equal, computed by torch (the peer) and by losslab."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 5, generator=g, dtype=torch.float64), torch.randn(64, 5, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 5, (64,), generator=g)
    q, p = x.softmax(1), y.softmax(1)
    nn = torch.nn
    pairs = {
        "MSELoss": (nn.MSELoss()(x, y), losslab.mse_loss(x, y)),
        "L1Loss": (nn.L1Loss()(x, y), losslab.mae_loss(x, y)),
        "HuberLoss": (nn.HuberLoss(delta=0.5)(x, y), losslab.huber_loss(x, y, delta=0.5)),
        "SmoothL1Loss": (nn.SmoothL1Loss(beta=0.5)(x, y), losslab.smooth_l1_loss(x, y, beta=0.5)),
        "huber == b * smooth_l1": (losslab.huber_loss(x, y, delta=0.5), 0.5 * losslab.smooth_l1_loss(x, y, beta=0.5)),
        "CrossEntropyLoss": (nn.CrossEntropyLoss(label_smoothing=0.1)(x, labels),
                             losslab.softmax_cross_entropy(x, labels, label_smoothing=0.1)),
        "NLLLoss": (nn.NLLLoss()(x.log_softmax(1), labels), losslab.softmax_cross_entropy(x.log_softmax(1), labels)),
        "KLDivLoss batchmean": (nn.KLDivLoss(reduction="batchmean")(q.log(), p), losslab.categorical_kl_divergence(q, p)),
        "MultiMarginLoss": (nn.MultiMarginLoss(p=2, margin=0.5)(x, labels),
                            losslab.multiclass_hinge_loss(x, labels, p=2, margin=0.5)),
        "PoissonNLLLoss(log_input=True)": (nn.PoissonNLLLoss(log_input=True)(x, y.abs().round()),
                                           losslab.poisson_loss(x, y.abs().round(), log_input=True)),
    }
    for name, (theirs, ours) in pairs.items():
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12, msg=name)
