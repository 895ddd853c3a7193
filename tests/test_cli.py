"""The ``losslab`` command, through ``main(argv)``: list, info, plot, recommend, reproduce."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest

import losslab
from losslab import experiments, registry
from losslab.cli import activation_warning, main, recommend


def _png(path: Path) -> None:
    assert path.is_file()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5_000


# ---------------------------------------------------------------------------------------------------------------
# list / info (the lead's behaviour, kept)


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["name", "family", "input", "target", "tasks"]
    assert "mse_loss" in out and f"{len(registry.all_specs())} losses" in out


def test_list_filters_by_task(capsys):
    assert main(["list", "--task", "detection"]) == 0
    out = capsys.readouterr().out
    assert "smooth_l1_loss" in out and "mse_loss" not in out


def test_info(capsys):
    assert main(["info", "huber_loss"]) == 0
    out = capsys.readouterr().out
    assert "huber_loss  (regression)" in out and "delta" in out and "Huber" in out


@pytest.mark.parametrize("command", [["info", "mse_los"], ["plot", "mse_los"], ["plot", "mse_loss", "hubr_loss"]])
def test_unknown_loss_exits_2_with_suggestion(command, capsys):
    assert main(command) == 2
    err = capsys.readouterr().err
    assert "unknown loss" in err and "did you mean" in err
    assert "'mse_los'; did you mean 'mse_loss'?" in err or "'hubr_loss'; did you mean 'huber_loss'?" in err


# ---------------------------------------------------------------------------------------------------------------
# plot


def test_plot_writes_png(tmp_path, capsys):
    out = tmp_path / "curves.png"
    assert main(["plot", "mse_loss", "mae_loss", "huber_loss", "--target", "0.5", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    _png(out)


def test_plot_default_file_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["plot", "mse_loss"]) == 0
    _png(tmp_path / "mse_loss.png")


def test_plot_special_plate_must_stand_alone(capsys):
    assert main(["plot", "tempered", "mse_loss"]) == 2
    assert "plot it without other names" in capsys.readouterr().err


def test_plot_without_curve_is_a_clear_error(monkeypatch, capsys):
    spec = registry.get("mse_loss")
    monkeypatch.setitem(registry.LOSSES, "mse_loss", type(spec)(**{**spec.__dict__, "curve": None}))
    assert main(["plot", "mse_loss"]) == 2
    assert "no curve to plot for mse_loss" in capsys.readouterr().err


def test_plot_tempered(tmp_path):
    out = tmp_path / "t.png"
    assert main(["plot", "tempered", "--out", str(out)]) == 0
    _png(out)


def test_plot_bce_soft_and_keras_numbers(tmp_path):
    import torch

    from losslab.plot import KERAS_VALUES, KERAS_Y_PRED, KERAS_Y_TRUE

    out = tmp_path / "b.png"
    assert main(["plot", "bce-soft", "--out", str(out)]) == 0
    _png(out)
    # the numbers the plate prints: Keras' worked example (the Q&A seed), reproduced by the library
    yt = torch.tensor(KERAS_Y_TRUE, dtype=torch.float64)
    got = losslab.binary_cross_entropy(torch.tensor(KERAS_Y_PRED, dtype=torch.float64), yt)
    torch.testing.assert_close(got, torch.tensor(KERAS_VALUES[0], dtype=torch.float64), atol=1e-6, rtol=0)
    got = losslab.binary_cross_entropy(yt.clone(), yt)
    torch.testing.assert_close(got, torch.tensor(KERAS_VALUES[1], dtype=torch.float64), atol=1e-6, rtol=0)


# ---------------------------------------------------------------------------------------------------------------
# recommend


def test_recommend_regression_with_outliers(capsys):
    assert main(["recommend", "--task", "regression", "--outliers"]) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln[:3].strip().rstrip(".").isdigit()]
    assert lines[0].split()[1] == "huber_loss"  # outliers: the robust losses first
    assert lines.index(next(ln for ln in lines if " mse_loss " in ln)) > lines.index(
        next(ln for ln in lines if " mae_loss " in ln)
    )
    assert "outliers" in lines[0] or "linear" in lines[0]


def test_recommend_without_outliers_puts_mse_first():
    ranked = recommend("regression")
    assert ranked[0][0].name == "mse_loss"
    assert {s.name for s, _ in ranked} >= {"mse_loss", "mae_loss", "huber_loss", "smooth_l1_loss"}
    assert all(reason for _, reason in ranked)


def test_recommend_every_ranked_loss_is_registered_for_the_task():
    for task in ("regression", "detection", "single-label", "segmentation"):
        for spec, _ in recommend(task, imbalanced=True, noisy_labels=True, outliers=True):
            assert spec.name in registry.LOSSES
            assert task in spec.tasks or spec.name in {"mae_loss", "mse_loss", "softmax_cross_entropy",
                                                       "sigmoid_binary_cross_entropy", "huber_loss", "msle_loss"}


def test_recommend_activation_warning_in_output(capsys):
    assert main(["recommend", "--task", "regression", "--activation", "tanh"]) == 0
    out = capsys.readouterr().out
    assert "warning: tanh outputs lie in [-1, 1]; mse loss can only fit targets inside that range" in out


def test_recommend_single_label_with_tanh_warns_and_points_to_a_fit(capsys):
    assert main(["recommend", "--task", "single-label", "--activation", "softmax"]) == 0
    out = capsys.readouterr().out
    assert "1. softmax_cross_entropy" in out
    assert "with a softmax output, categorical_cross_entropy (#" in out
    assert main(["recommend", "--task", "single-label", "--activation", "tanh"]) == 0
    out = capsys.readouterr().out
    assert "warning: tanh outputs lie in [-1, 1]; categorical cross-entropy needs softmax probabilities" in out


def test_recommend_unknown_activation(capsys):
    assert main(["recommend", "--task", "regression", "--activation", "swishy"]) == 2
    assert "unknown activation 'swishy'" in capsys.readouterr().err


def _spec(name: str, input_kind: str, activation: str) -> registry.LossSpec:
    base = registry.get("mse_loss")
    return type(base)(**{**base.__dict__, "name": name, "input_kind": input_kind, "activation": activation})


@pytest.mark.parametrize(
    ("name", "kind", "pairs", "act", "expected"),
    [
        ("categorical_cross_entropy", "probabilities", "softmax", "tanh",
         "tanh outputs lie in [-1, 1]; categorical cross-entropy needs softmax probabilities"),
        ("categorical_cross_entropy", "probabilities", "softmax", "softmax", None),
        ("binary_cross_entropy", "probabilities", "sigmoid", "sigmoid", None),
        ("binary_cross_entropy", "probabilities", "sigmoid", "softmax",
         "softmax couples the outputs (they sum to 1); binary cross-entropy needs an independent sigmoid per output"),
        ("softmax_cross_entropy", "logits", "none (logits; softmax inside)", "softmax",
         "softmax cross-entropy takes raw scores (logits) and applies its own link; a softmax before it squashes "
         "them twice — use a linear output layer"),
        ("softmax_cross_entropy", "logits", "none (logits)", "linear", None),
        ("poisson_loss", "real values", "exp or softplus (positive rate)", "tanh",
         "tanh outputs can be negative; poisson loss needs positive predictions (use exp or softplus)"),
        ("squared_hinge_loss", "real values", "tanh", "sigmoid",
         "sigmoid outputs lie in (0, 1); squared hinge loss expects signed scores (targets in {-1, 1}), e.g. tanh"),
        ("mse_loss", "real values", "none (linear output)", "relu", None),
    ],
)
def test_activation_warning(name, kind, pairs, act, expected):
    assert activation_warning(_spec(name, kind, pairs), act) == expected


# ---------------------------------------------------------------------------------------------------------------
# reproduce


def _fake(name: str, fail: bool = False) -> types.ModuleType:
    from losslab.experiments import Result

    module = types.ModuleType(name)
    module.NAME, module.TITLE, module.PAPER, module.EXPECTED = name, f"Fake {name}", "Someone 2020", "It works."
    module.PROFILES = {"smoke": {}, "quick": {}, "full": {}}

    def run(profile="quick", *, seed=0, out_dir=None, progress=None):
        if fail:
            raise ValueError("no data")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot([1, 2, 3])
        fig.savefig(Path(out_dir) / "fig.png")
        plt.close(fig)
        return Result(name=name, title=module.TITLE, paper=module.PAPER, expected=module.EXPECTED, profile=profile,
                      seed=seed, metrics={"x": 1.0}, holds=True, verdict="x = 1.0", table="| x |\n|---|\n| 1.0 |",
                      figures=["fig.png"])

    module.run = run
    return module


def test_reproduce_smoke_with_fakes(monkeypatch, tmp_path, capsys):
    mods = {"one": _fake("one"), "two": _fake("two")}
    monkeypatch.setattr(experiments, "available", lambda: dict(mods))
    out = tmp_path / "rep"
    assert main(["reproduce", "--profile", "smoke", "--out", str(out), "--jobs", "1", "--no-progress"]) == 0
    stdout = capsys.readouterr().out
    assert f"report: {(out / 'report.html').resolve()}" in stdout
    results = json.loads((out / "results.json").read_text())
    assert list(results["experiments"]) == ["one", "two"]
    assert results["experiments"]["one"]["figures"] == ["one/fig.png"]
    assert (out / "one" / "fig.png").is_file() and (out / "report.md").is_file()
    assert "data:image/png;base64," in (out / "report.html").read_text()


def test_reproduce_failure_is_recorded_and_exit_nonzero(monkeypatch, tmp_path, capsys):
    mods = {"good": _fake("good"), "bad": _fake("bad", fail=True)}
    monkeypatch.setattr(experiments, "available", lambda: dict(mods))
    out = tmp_path / "rep"
    assert main(["reproduce", "--profile", "smoke", "--out", str(out), "--jobs", "1", "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "1 experiment(s) failed: bad" in captured.err
    results = json.loads((out / "results.json").read_text())
    assert results["experiments"]["bad"]["error"] == "ValueError: no data"
    assert results["experiments"]["good"]["holds"] is True
    assert "The experiment failed to run" in (out / "report.md").read_text()


def test_reproduce_unknown_experiment(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(experiments, "available", lambda: {"imbalance": _fake("imbalance")})
    assert main(["reproduce", "imbalanc", "--out", str(tmp_path)]) == 2
    assert "unknown experiment 'imbalanc'; did you mean 'imbalance'?" in capsys.readouterr().err


def test_reproduce_real_smoke_in_parallel_jobs(tmp_path):
    """Two real experiments in their smoke profile, as two single-threaded worker processes."""
    cheap = ("box-regression", "imbalance", "gradient")  # the fastest smoke profiles first
    names = sorted(experiments.available(), key=lambda n: (cheap.index(n) if n in cheap else len(cheap), n))[:2]
    out = tmp_path / "rep"
    code = main(["reproduce", *names, "--profile", "smoke", "--out", str(out), "--jobs", "2", "--no-progress"])
    results = json.loads((out / "results.json").read_text())
    assert code == 0, {n: r.get("error") for n, r in results["experiments"].items()}
    assert results["jobs"] == 2 and list(results["experiments"]) == names
    for name, rec in results["experiments"].items():
        assert rec["error"] is None and isinstance(rec["holds"], bool)
        assert rec["expected"] and rec["verdict"] and rec["profile"] == "smoke"
        for fig in rec["figures"]:
            assert fig.startswith(f"{name}/") and (out / fig).is_file()
    assert (out / "report.md").is_file() and (out / "report.html").is_file()
