"""The ``losslab`` command, through ``main(argv)``: list, info, plot, recommend, reproduce."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import losslab
from losslab import experiments, registry
from losslab.cli import main, plain_text


def _png(path: Path) -> None:
    assert path.is_file()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5_000


# ---------------------------------------------------------------------------------------------------------------
# list / info (the lead's behaviour, kept)


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["name", "family", "input", "tasks"]
    assert "mse_loss" in out and f"{len(registry.all_specs())} losses" in out


@pytest.mark.parametrize("command", [["list"], ["info", "sigmoid_focal_loss"], ["info", "boundary_loss"],
                                     ["recommend", "--task", "segmentation", "--imbalanced", "--activation", "tanh"]])
def test_output_fits_100_columns_without_trailing_spaces(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal still gets at most 100 columns
    assert main(command) == 0
    for line in capsys.readouterr().out.splitlines():
        assert len(line) <= 100, line
        assert line == line.rstrip(), line


def test_list_unknown_family_is_one_line_exit_2(capsys):
    assert main(["list", "--family", "focl"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "losslab list: unknown family 'focl'; did you mean 'focal'?\n"
    assert main(["list", "--family", "focal"]) == 0
    assert "sigmoid_focal_loss" in capsys.readouterr().out


def test_info_renders_formulas_as_text(capsys):
    assert main(["info", "bi_tempered_logistic_loss"]) == 0
    out = capsys.readouterr().out
    for raw in ("``", ":math:", ":func:", "\\frac", "\\varepsilon", "\\log", ":class:"):
        assert raw not in out, raw
    assert "reduction: \"none\" | \"mean\" | \"sum\"" in out


@pytest.mark.parametrize(
    ("rst", "text"),
    [
        (r"``reduction``", "reduction"),
        (r":math:`\varepsilon/(C-1)`", "ε/(C-1)"),
        (r":func:`losslab.tempered_softmax`", "losslab.tempered_softmax"),
        (r":math:`\frac{1}{2} \lVert x \rVert^2`", "1/2 ‖ x ‖^2"),
        (r":math:`\log_t(x) = \frac{x^{1-t} - 1}{1 - t}`", "log_t(x) = (x^(1-t) - 1)/(1 - t)"),
        (r"see [Lin2017]_", "see [Lin2017]"),
    ],
)
def test_plain_text(rst, text):
    assert plain_text(rst) == text


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


def test_plot_without_curve_is_a_clear_error(capsys):
    assert main(["plot", "dice_loss"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("losslab plot: dice_loss cannot be drawn as a curve") and "mse_loss" in err
    assert err.count("\n") == 1


def test_plot_panels_and_legend(tmp_path, monkeypatch):
    import matplotlib.figure

    from losslab import plot as plotting

    seen = {}

    def capture(fig, out):
        seen["axes"] = [(ax.get_xlabel(), ax.get_title(), [t.get_text() for t in ax.get_legend().get_texts()],
                         [ln.get_xdata() for ln in ax.get_lines()]) for ax in fig.axes]
        return tmp_path / "x.png"

    monkeypatch.setattr(plotting, "_save", capture)
    plotting.plot_losses(["sigmoid_focal_loss", "binary_cross_entropy", "mse_loss", "bi_tempered_binary_logistic_loss"])
    (zl, zt, zleg, zx), (pl, pt, pleg, px), (vl, vt, vleg, vx) = seen["axes"]
    assert "logit" in zl and "probability" in pl and "prediction" in vl  # one input axis per kind
    assert "sigmoid_focal_loss (gamma=2, alpha=0.25)" in zleg  # hyperparameters in the legend
    assert "bi_tempered_binary_logistic_loss ((t1, t2) = (0.5, 4))" in zleg or any("t1" in t for t in zleg)
    assert not any(t.startswith("input = target") for t in zleg)  # no target line on a logit axis
    assert "input = target (1)" in pleg and "input = target (1)" in vleg
    assert min(px[0]) > 0 and max(px[0]) < 1 and min(zx[0]) < 0  # probabilities in (0, 1), logits signed
    assert isinstance(matplotlib.figure.Figure, type)


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
# recommend (the rules live in losslab.guide; tests/test_guide.py tests them directly)


def _ranked(out: str) -> list[str]:
    return [ln.split()[1] for ln in out.splitlines() if re.match(r"^ ?\d+\. ", ln)]


def test_recommend_regression_with_outliers(capsys):
    assert main(["recommend", "--task", "regression", "--outliers"]) == 0
    names = _ranked(capsys.readouterr().out)
    assert names[:2] == ["mae_loss", "huber_loss"]  # bounded-gradient losses first
    assert names.index("mse_loss") > names.index("huber_loss")


def test_recommend_single_label_lists_no_binary_losses(capsys):
    assert main(["recommend", "--task", "single-label"]) == 0
    out = capsys.readouterr().out
    names = _ranked(out)
    assert names[0] == "softmax_cross_entropy"
    assert not {"sigmoid_binary_cross_entropy", "binary_cross_entropy", "hinge_loss"} & set(names)
    assert "not listed: sigmoid_binary_cross_entropy" in out.replace("\n", " ")


def test_recommend_activation_warning_in_output(capsys):
    assert main(["recommend", "--task", "regression", "--activation", "tanh"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "warning: tanh outputs lie in [-1, 1]; mse loss can only fit targets inside that range" in out


def test_recommend_points_to_a_fit_only_when_one_fits(capsys):
    assert main(["recommend", "--task", "single-label", "--activation", "softmax"]) == 0
    out = capsys.readouterr().out
    assert "with a softmax output, categorical_cross_entropy (#2) fits as it is" in out
    assert main(["recommend", "--task", "single-label", "--activation", "tanh"]) == 0
    out = capsys.readouterr().out
    assert "fits as it is" not in out and "no loss listed for single-label fits a tanh output as it is" in out
    # tanh with an image-to-image loss: never "fits as it is"
    assert main(["recommend", "--task", "segmentation", "--activation", "tanh"]) == 0
    out = capsys.readouterr().out
    block = out[out.index("gradient_difference_loss"):]
    assert "activation: gradient difference loss compares images" in " ".join(block.split())
    assert "fits as it is" not in out


def test_recommend_says_when_a_modifier_changes_nothing(capsys):
    assert main(["recommend", "--task", "gan", "--noisy-labels"]) == 0
    assert "no loss for gan in the catalogue is tagged noisy-labels; the ranking ignores it" in capsys.readouterr().out


def test_recommend_unknown_activation_is_one_line_exit_2(capsys):
    assert main(["recommend", "--task", "regression", "--activation", "tahn"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing printed before the error
    assert captured.err.strip().count("\n") == 0
    assert "got 'tahn' (did you mean 'tanh'?)" in captured.err


@pytest.mark.parametrize(
    ("name", "act", "code", "text"),
    [
        ("categorical_cross_entropy", "softmax", 0, "categorical_cross_entropy fits a softmax output as it is"),
        ("categorical_cross_entropy", "tanh", 1,
         "categorical_cross_entropy does not fit a tanh output: tanh outputs lie in [-1, 1]; categorical "
         "cross-entropy needs softmax probabilities it wants a softmax (probabilities)"),
        ("softmax_cross_entropy", "softmax", 1, "squashes them twice"),
        ("complete_box_iou_loss", "sigmoid", 0, "the output activation does not apply"),
    ],
)
def test_check(name, act, code, text, capsys):
    assert main(["check", name, "--activation", act]) == code
    assert text in " ".join(capsys.readouterr().out.split())


def test_recommend_modifier_flags_come_from_the_guide():
    from losslab.cli import build_parser

    args = build_parser().parse_args(["recommend", "--task", "single-label", "--noisy-labels", "--imbalanced"])
    assert args.noisy_labels and args.imbalanced


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
        # holds is None when the evidence is inconclusive or the run invalid (the lab's evidence standard)
        assert rec["error"] is None and rec["holds"] in (True, False, None)
        assert rec.get("outcome", "holds") in ("holds", "does not hold", "inconclusive", "invalid")
        assert rec["expected"] and rec["verdict"] and rec["profile"] == "smoke"
        for fig in rec["figures"]:
            assert fig.startswith(f"{name}/") and (out / fig).is_file()
    assert (out / "report.md").is_file() and (out / "report.html").is_file()


# ---------------------------------------------------------------------------------------------------------------
# user mistakes and missing extras: one line, no traceback


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["reproduce", "--jobs", "-2"], "losslab reproduce: error: argument --jobs: expected a positive integer"),
        (["reproduce", "--jobs", "0"], "losslab reproduce: error: argument --jobs: expected a positive integer"),
        (["reproduce", "--out", "{file}"], "is an existing file; name a folder for the report"),
        (["list", "--family", "focl"], "losslab list: unknown family 'focl'; did you mean 'focal'?"),
        (["recommend", "--task", "regression", "--activation", "swishy"], "got 'swishy'"),
        (["plot", "mse_loss", "--out", "{dir}"], "is a folder; name the PNG file to write"),
    ],
)
def test_user_mistakes_are_one_line_exit_2(argv, message, tmp_path, capsys):
    existing = tmp_path / "results.txt"
    existing.write_text("x")
    argv = [a.format(file=existing, dir=tmp_path) for a in argv]
    with pytest.raises(SystemExit) if argv[0] == "reproduce" else _no_raise() as exit_info:
        code = main(argv)
    code = exit_info.value.code if argv[0] == "reproduce" else code
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert message in err


class _no_raise:
    value = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"losslab {losslab.__version__}"


@pytest.mark.parametrize("command", [["plot", "mse_loss"], ["plot", "tempered"], ["reproduce", "--profile", "smoke"]])
def test_missing_lab_extra_names_the_extra(command, monkeypatch, tmp_path, capsys):
    # the core install has no matplotlib / tqdm: None in sys.modules makes `import` raise ModuleNotFoundError
    monkeypatch.chdir(tmp_path)
    for name in ("matplotlib", "matplotlib.pyplot", "tqdm", "tqdm.auto"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "losslab.plot", raising=False)
    monkeypatch.delitem(sys.modules, "losslab.experiments.runner", raising=False)
    assert main(command) == 1
    err = capsys.readouterr().err
    assert "needs the lab extra" in err and "pip install 'losslab[lab]'" in err and err.count("\n") == 1


def _run(code: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(losslab.__file__).parents[1])}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, **kw)


def test_subprocess_missing_extra_and_mistakes():
    # one interpreter (importing torch takes seconds): a plot without matplotlib, then a bad --jobs
    r = _run("import sys; sys.modules['matplotlib'] = None\n"
             "from losslab.cli import main\n"
             "print('plot', main(['plot', 'mse_loss', '--out', '/nonexistent/x.png']))\n"
             "main(['reproduce', '--jobs', '-2'])")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stdout == "plot 1\n"
    plot_err, jobs_err = r.stderr.splitlines()
    assert plot_err == ("losslab plot: needs the lab extra (missing module 'matplotlib'); install it with: "
                        "pip install 'losslab[lab]'")
    assert jobs_err.startswith("losslab reproduce: error: argument --jobs: expected a positive integer")


def test_list_into_a_closed_pipe_ends_quietly():
    # `losslab list | head -1`: the reader closes the pipe after one line
    env = {**os.environ, "PYTHONPATH": str(Path(losslab.__file__).parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "losslab", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert first.split()[0] == b"name"
    assert err == "", err
