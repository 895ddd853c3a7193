"""The lab: the runner (jobs, errors, figures), the report (from fake results) and the imbalance experiment."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import types
from pathlib import Path

import pytest

from losslab import experiments
from losslab.experiments import Result, report, runner

# ---------------------------------------------------------------------------------------------------------------
# Fake experiments: modules that follow the protocol, so the runner and report are tested without training.


def _fake_module(name: str, *, holds: bool = True, fail: bool = False) -> types.ModuleType:
    module = types.ModuleType(f"fake_{name}")
    module.NAME = name
    module.TITLE = f"Fake {name}"
    module.PAPER = "A. Author. A paper. 2024"
    module.EXPECTED = f"{name} shows the effect."
    module.PROFILES = {"smoke": {}, "quick": {}, "full": {}}

    def run(profile="quick", *, seed=0, out_dir=None, progress=None):
        if fail:
            raise RuntimeError("diverged at step 3")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        value = 0.5 + 0.01 * seed
        for _ in (progress or (lambda it, **_: it))(range(3), desc="steps", total=3):
            pass
        figures = []
        if out_dir is not None:
            fig, ax = plt.subplots(figsize=(3, 2))
            ax.plot([0, 1], [0, value])
            fig.savefig(Path(out_dir) / "curve.png")
            plt.close(fig)
            figures.append("curve.png")
        return Result(
            name=name, title=module.TITLE, paper=module.PAPER, expected=module.EXPECTED, profile=profile, seed=seed,
            metrics={"value": value, "history": [0.1, 0.2]}, holds=holds,
            verdict=f"value {value:.2f} {'>' if holds else '<='} 0.4 | ok", table="| a | b |\n|---|---|\n| x | 1.5 |",
            figures=figures,
        )

    module.run = run
    return module


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> dict[str, types.ModuleType]:
    """Replace the discovered experiments with three fakes: one holds, one does not, one raises."""
    mods = {
        "alpha": _fake_module("alpha"),
        "beta": _fake_module("beta", holds=False),
        "gamma": _fake_module("gamma", fail=True),
    }
    monkeypatch.setattr(experiments, "available", lambda: dict(mods))
    return mods


def test_run_one_records_result_and_relative_figures(fakes, tmp_path):
    rec = runner.run_one("alpha", "smoke", 3, tmp_path)
    assert rec["holds"] is True and rec["error"] is None
    assert rec["figures"] == ["alpha/curve.png"]
    assert (tmp_path / "alpha" / "curve.png").is_file()
    assert rec["metrics"]["value"] == pytest.approx(0.53)
    assert rec["profile"] == "smoke" and rec["seed"] == 3 and rec["seconds"] >= 0


def test_run_one_records_an_error_instead_of_raising(fakes, tmp_path):
    rec = runner.run_one("gamma", "smoke", 0, tmp_path)
    assert rec["holds"] is None
    assert rec["error"] == "RuntimeError: diverged at step 3"
    assert "diverged at step 3" in rec["traceback"]
    assert rec["expected"] == "gamma shows the effect."


def test_reproduce_writes_results_and_reports(fakes, tmp_path):
    results = runner.reproduce(["alpha", "beta", "gamma"], profile="smoke", seed=1, out_dir=tmp_path, jobs=1,
                               show_progress=False)
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["experiments"].keys() == {"alpha", "beta", "gamma"}
    assert on_disk["profile"] == "smoke" and on_disk["seed"] == 1
    for key in ("expected", "metrics", "holds", "verdict", "table", "figures", "seconds", "profile", "seed"):
        assert key in on_disk["experiments"]["alpha"]
    assert results["experiments"]["beta"]["holds"] is False
    assert on_disk["experiments"]["gamma"]["error"].startswith("RuntimeError")
    md = (tmp_path / "report.md").read_text()
    assert "1 of 3 claims hold; 1 does not hold (beta); 1 failed to run (gamma)." in md
    assert "The claim does not hold here." in md and "The experiment failed to run" in md
    assert "![alpha: curve](alpha/curve.png)" in md


def test_reproduce_rejects_unknown_names(fakes, tmp_path):
    with pytest.raises(KeyError, match="unknown experiment"):
        runner.reproduce(["nope"], out_dir=tmp_path, jobs=1, show_progress=False)


def test_run_experiments_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="profile: expected one of"):
        runner.run_experiments(["x"], profile="medium", out_dir=tmp_path)
    with pytest.raises(ValueError, match="jobs: expected >= 1, got 0"):
        runner.run_experiments(["x"], out_dir=tmp_path, jobs=0)


def test_queue_progress_reports_each_step():
    class Q(list):
        def put_nowait(self, item):
            self.append(item)

    q = Q()
    assert list(runner._QueueProgress("exp", q)(range(2), desc="train")) == [0, 1]
    assert q == [("exp", "train", 0, 2), ("exp", "train", 1, 2), ("exp", "train", 2, 2)]


# ---------------------------------------------------------------------------------------------------------------
# The report, from fake results


def _fake_results(tmp_path: Path) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (tmp_path / "ok").mkdir()
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [1, 0])
    fig.savefig(tmp_path / "ok" / "fig.png")
    plt.close(fig)

    def rec(name, holds, error=None, figures=()):
        return {
            "name": name, "title": f"Title of {name}", "paper": "Paper <2020>", "expected": f"Claim of {name}.",
            "profile": "quick", "seed": 0, "metrics": {"ap": [0.1, 0.2]}, "holds": holds,
            "verdict": f"`x` is **{name}** & 0.5 < 0.7", "table": "| loss | AP |\n|---|---:|\n| CE | 0.379 |\n| focal | 40% |",
            "figures": list(figures), "paper_numbers": None, "seconds": 12.34, "cpu_seconds": 3.21, "error": error,
        }

    return {
        "profile": "quick", "seed": 0, "jobs": 2, "total_seconds": 99.0,
        "environment": {"losslab": "0.1.0", "torch": "2.x", "python": "3.11"},
        "experiments": {
            "ok": rec("ok", True, figures=["ok/fig.png"]),
            "no": rec("no", False),
            "broken": rec("broken", None, error="ValueError: boom"),
        },
    }


def test_status_and_summary_rows(tmp_path):
    results = _fake_results(tmp_path)
    rows = report.summary_rows(results)
    assert [r["status"] for r in rows] == ["holds", "does not hold", "error"]
    assert rows[2]["key"] == "ValueError: boom"
    assert rows[0]["seconds"] == "12.3" and rows[0]["cpu"] == "3.2"


def test_markdown_report(tmp_path):
    md = report.render_markdown(_fake_results(tmp_path))
    lines = md.splitlines()
    assert lines[0] == "# losslab: do the papers' claims hold here?"
    assert "**1 of 3 claims hold; 1 does not hold (no); 1 failed to run (broken).**" in md
    assert "| [ok](#ok) | Claim of ok. | ✅ holds |" in md
    assert "| [no](#no) | Claim of no. | ❌ does not hold |" in md
    assert "> ❌ **The claim does not hold here.**" in md
    assert "![ok: fig](ok/fig.png)" in md
    assert "| 12.3 | 3.2 |" in md and "10 CPU s in the experiments" in md


def test_html_report_is_self_contained(tmp_path):
    results = _fake_results(tmp_path)
    md_path, html_path = report.write_report(results, tmp_path)
    page = html_path.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert 'src="data:image/png;base64,' in page and "ok/fig.png\"" not in page
    assert "The claim does not hold here." in page and "The experiment failed to run:" in page
    assert "❌ does not hold" in page and "same machine and wheel" in page
    # text is escaped; inline markdown becomes tags (markdown-it-py)
    assert "Paper &lt;2020&gt;" in page and "<code>x</code>" in page and "<strong>no</strong> &amp; 0.5 &lt; 0.7" in page
    assert '<td style="text-align:right">0.379</td>' in page and '<td style="text-align:right">40%</td>' in page
    assert "src=\"http" not in page and "href=\"http" not in page  # nothing fetched from the network
    assert md_path.read_text() == report.render_markdown(results)


def test_missing_figure_is_reported_not_fatal(tmp_path):
    results = _fake_results(tmp_path)
    results["experiments"]["ok"]["figures"] = ["ok/absent.png"]
    assert "(figure absent.png is missing)" in report.render_html(results, tmp_path)


def test_report_main_rebuilds_from_results_json(tmp_path, capsys):
    results = _fake_results(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps(results))
    assert report.main([str(tmp_path)]) == 0
    assert (tmp_path / "report.html").is_file() and (tmp_path / "report.md").is_file()
    assert report.main([]) == 2


def test_markdown_to_html_table_and_paragraph():
    out = report.markdown_to_html("| a | b \\| c |\n|---|---|\n| `x` | 1.5 |\n\nSome *text*.").replace("\n", "")
    assert out == (
        '<table><thead><tr><th>a</th><th>b | c</th></tr></thead><tbody><tr><td><code>x</code></td>'
        '<td>1.5</td></tr></tbody></table><p>Some <em>text</em>.</p>'
    )


CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")
def test_html_report_renders_in_headless_chromium(tmp_path):
    _, page = report.write_report(_fake_results(tmp_path), tmp_path)
    shot = tmp_path / "shot.png"
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1200,1600", f"--screenshot={shot}",
        page.resolve().as_uri(),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=90)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)
    assert img.shape[0] >= 1000 and img.shape[1] >= 1000
    # the page drew something: not a blank white screenshot
    assert float(img[..., :3].std()) > 0.02


# ---------------------------------------------------------------------------------------------------------------
# The imbalance experiment


def test_imbalance_is_discovered_with_the_protocol():
    module = importlib.import_module("losslab.experiments.imbalance")
    assert module.NAME == "imbalance"
    assert set(module.PROFILES) == {"smoke", "quick", "full"}
    assert module.EXPECTED and module.PAPER.startswith("T.-Y. Lin")
    assert experiments.load("imbalance") is module


def test_imbalance_anchors_are_deterministic_and_imbalanced():
    import torch

    from losslab.experiments.imbalance import EASY, HARD, anchors

    x1, y1 = anchors(5, torch.Generator().manual_seed(7))
    x2, y2 = anchors(5, torch.Generator().manual_seed(7))
    torch.testing.assert_close(x1, x2)
    assert int(y1.sum()) == 5 and len(y1) == 5 * (1 + HARD + EASY)


def test_imbalance_smoke_run(tmp_path):
    from losslab.experiments import imbalance

    r = imbalance.run("smoke", seed=0, out_dir=tmp_path)
    assert r.name == "imbalance" and r.profile == "smoke"
    assert set(r.metrics["mean_ap"]) == set(imbalance.ARMS)
    assert all(0.0 <= v <= 1.0 for v in r.metrics["mean_ap"].values())
    # focal's modulating factor must shrink the easiest negatives' share of the loss as gamma grows
    easy = r.metrics["easiest80_negative_loss_share_gamma"]
    for k in range(2):
        assert easy["0"][k] > easy["2"][k] > easy["5"][k]
    fig4, train = r.claims
    assert fig4["differences"] == pytest.approx([a - b for a, b in zip(easy["0"], easy["2"])])
    share = r.metrics["easy_negative_training_loss_share"]
    assert train["differences"] == pytest.approx([a - b for a, b in zip(share["CE"], share["focal gamma=2"])])
    # the deterministic gate: Figure 1's identity focal / CE = (1 - p_t)^gamma
    assert r.metrics["figure1_identity_max_relative_error"] < 1e-9
    assert all(all(c["gates"].values()) for c in r.claims)
    for fig in r.figures:
        assert (tmp_path / fig).stat().st_size > 10_000
    assert r.figures == ["focal_figure1.png", "imbalance_ap_and_loss_share.png"]
    assert "| CE |" in r.table and r.verdict


def test_imbalance_same_seed_same_numbers():
    from losslab.experiments import imbalance

    a = imbalance.run("smoke", seed=3).to_dict()
    b = imbalance.run("smoke", seed=3).to_dict()
    a.pop("seconds"), b.pop("seconds")
    assert a == b


def test_smoke_report_warns_that_verdicts_mean_little(tmp_path):
    results = _fake_results(tmp_path)
    results["profile"] = "smoke"
    assert report.SMOKE_NOTE in report.render_markdown(results)
    assert "only checks that every experiment runs" in report.render_html(results, tmp_path)
    results["profile"] = "quick"
    assert "only checks that every experiment runs" not in report.render_html(results, tmp_path)


def test_pool_submits_the_slowest_previous_experiments_first(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({
        "profile": "quick",
        "experiments": {"a": {"cpu_seconds": 5.0}, "b": {"cpu_seconds": 50.0}, "c": {"seconds": 20.0}},
    }))
    assert runner._longest_first(["a", "b", "c", "new"], tmp_path, "quick") == ["new", "b", "c", "a"]
    assert runner._longest_first(["a", "b", "c"], tmp_path, "smoke") == ["a", "b", "c"]  # other profile: no hint
    assert runner._longest_first(["a", "b"], tmp_path / "absent", "quick") == ["a", "b"]


# ---------------------------------------------------------------------------------------------------------------
# The experiment base, the endpoint table and the README table


def _toy_experiment():
    from losslab.experiments import _base, stats

    claim = stats.SubClaim("gain", "B beats A.", "acc(B) - acc(A)", 0.01, {"smoke": 3, "quick": 5, "full": 8})

    def measure(ctx):
        seeds = ctx.seeds(claim)
        diffs = [0.02 + 0.001 * (s % 3) for s in seeds]
        return _base.Measurement(metrics={"seeds": seeds}, claims=[stats.judge(claim, diffs)], table="| a |\n|---|\n| 1 |")

    return _base.Experiment("toy", "Toy", "A. Author. 2024", "B beats A.", {"smoke": {}, "quick": {}, "full": {}},
                            (claim,), measure)


def test_experiment_base_derives_holds_from_claims_and_uses_the_judging_seeds():
    exp = _toy_experiment()
    r = exp.run("smoke", seed=1)
    assert r.metrics["seeds"] == [11_000, 11_001, 11_002]
    assert r.outcome == "holds" and r.holds is True
    c = r.claims[0]
    assert set(c) >= {"claim", "endpoint", "smallest_effect", "n_seeds", "differences", "lower", "upper", "outcome"}
    assert c["n_seeds"] == 3 and c["lower"] > 0 and r.verdict.startswith("gain: holds")
    assert r.metrics["declared_claims"][0]["key"] == "gain"
    with pytest.raises(ValueError, match="profile: expected one of"):
        exp.run("medium")


def test_experiment_base_rejects_undeclared_claims():
    from losslab.experiments import _base, stats

    exp = _toy_experiment()
    other = stats.SubClaim("other", "x", "x", 0.1, {"smoke": 1, "quick": 1, "full": 1})
    bad = _base.Experiment("bad", "", "", "", exp.profiles, exp.claims,
                           lambda ctx: _base.Measurement({}, [stats.judge(other, [1.0, 1.0])]))
    with pytest.raises(KeyError, match="not declared"):
        bad.run("smoke")


def test_report_shows_endpoint_table_and_differences_and_readme_table(tmp_path):
    exp = _toy_experiment()
    rec = exp.run("quick", seed=0).to_dict()
    rec["seconds"] = 1.0
    results = {"profile": "quick", "seed": 0, "jobs": 2, "total_seconds": 3.0,
               "environment": runner.environment(), "experiments": {"toy": rec}}
    md = report.render_markdown(results)
    assert "| gain: B beats A. | acc(B) - acc(A) | 0.01 | 5 |" in md and "✅ holds |" in md
    assert "- `gain`: +0.021, +0.022, +0.02, +0.021, +0.022" in md
    assert "AVX" in md or results["environment"]["cpu_capability"] in md
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n\n{report.README_BEGIN}\nold numbers\n{report.README_END}\n\nafter\n")
    report.write_readme_table(results, readme)
    text = readme.read_text()
    assert "old numbers" not in text and text.startswith("intro") and text.endswith("after\n")
    assert "| `toy` | B beats A. |" in text and "same machine and wheel" in text
    report.write_readme_table(results, readme)  # idempotent
    assert readme.read_text() == text
    # a full run fills its own block and leaves the quick one alone
    begin, end = report.readme_markers("full")
    assert begin.startswith("<!-- lab-results-full:begin") and end == "<!-- lab-results-full:end -->"
    readme.write_text(text + f"\n{begin}\nold full numbers\n{end}\n")
    report.write_readme_table({**results, "profile": "full"}, readme)
    both = readme.read_text()
    assert both.startswith(text) and "old full numbers" not in both and "Generated from a `full` run" in both
    with pytest.raises(ValueError, match="readme: expected the markers"):
        report.write_readme_table({**results, "profile": "smoke"}, readme)


def test_environment_records_the_platform():
    env = runner.environment()
    for key in ("cpu_model", "cpu_capability", "mkl", "onednn", "torch", "env"):
        assert key in env
    import torch

    assert env["cpu_capability"] == torch.backends.cpu.get_cpu_capability()


def test_lab_check_flags_only_holds_vs_does_not_hold_moves():
    from losslab.experiments import check

    def results(**outcomes):
        return {"experiments": {
            "e": {"claims": [{"key": k, "outcome": o} for k, o in outcomes.items()], "error": None},
            "old": {"claims": [], "holds": True, "error": None},
        }}

    base = check.outcomes(results(a="holds", b="inconclusive", c="does not hold"))
    assert base == {"e/a": "holds", "e/b": "inconclusive", "e/c": "does not hold", "old": "holds"}
    other = check.outcomes(results(a="holds", b="holds", c="inconclusive"))
    flipped = check.outcomes(results(a="does not hold", b="inconclusive", c="does not hold"))
    failures, notes = check.flips({"base": base, "seed1": other})
    assert failures == [] and len(notes) == 2  # moves to/from inconclusive are allowed, and reported
    failures, _ = check.flips({"base": base, "seed1": other, "avx2": flipped})
    assert failures == ["e/a: base holds, seed1 holds, avx2 does not hold"]
    assert set(check.RUNS["avx2"][1]) == {"MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA"}
