"""The scripts in examples/ run (their --smoke mode, in this process) and learn something."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(name: str) -> dict[str, float]:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    assert module.__doc__ and "--smoke" in module.__doc__
    metrics = module.main(["--smoke"])
    assert all(math.isfinite(v) for v in metrics.values()), metrics
    return metrics


def test_every_example_is_tested():
    assert {p.stem for p in EXAMPLES.glob("*.py")} == {
        "classification_noisy_labels", "segmentation_dice_boundary", "detection_focal_ciou", "gan_step",
        "perceptual_sr",
    }


def test_classification_noisy_labels(capsys):
    acc = _run("classification_noisy_labels")
    assert set(acc) == {"softmax_cross_entropy", "bi_tempered (t1=0.8, t2=1.2)"}
    assert min(acc.values()) > 0.5  # 10 classes: chance is 0.1, even with 40 % wrong training labels
    assert "clean test accuracy" in capsys.readouterr().out


def test_segmentation_dice_boundary():
    m = _run("segmentation_dice_boundary")
    assert 0.0 <= m["dice"] <= 1.0
    assert m["first_loss"] != m["last_loss"]


def test_detection_focal_ciou():
    m = _run("detection_focal_ciou")
    assert m["last_cls_loss"] < m["first_cls_loss"]  # the focal term falls from the prior-bias start
    assert 0.0 <= m["mean_iou"] <= 1.0 and 0.0 < m["last_box_loss"] < 2.0


def test_gan_step():
    m = _run("gan_step")
    assert 0.1 < m["d_loss"] < 5.0 and m["radius"] > 0


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_perceptual_sr():
    m = _run("perceptual_sr")
    assert m["frozen"] == 1.0 and m["first_loss"] > 0 and m["first_loss"] != m["last_loss"]
