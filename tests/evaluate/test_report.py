"""report.html: every section present, every image a real picture, nothing external, renders in Chromium."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import netfit
from netfit.errors import RunError
from netfit.evaluate.report import write_report

QUICK = {"evaluate.bootstrap": 50, "evaluate.baselines": True}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Page(HTMLParser):
    """Section ids, image sources and every attribute value of a page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.sections, self.images, self.attrs, self.tags = [], [], [], set()
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        attrs = dict(attrs)
        self.attrs += [v for v in attrs.values() if v]
        if tag == "section":
            self.sections.append(attrs.get("id"))
        if tag == "img":
            self.images.append((attrs.get("src", ""), attrs.get("alt", "")))


def decode(src: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), src[:40]
    return Image.open(io.BytesIO(base64.b64decode(src[len(prefix):]))).convert("L")


def assert_self_contained(text: str, page: Page) -> None:
    assert "http://" not in text and "https://" not in text and "file:" not in text
    assert not page.tags & {"script", "link", "iframe", "object", "embed"}
    assert "url(" not in text and "@import" not in text
    assert all(not v.startswith(("//", "http")) for v in page.attrs)


def assert_pictures(page: Page, at_least: int) -> None:
    assert len(page.images) >= at_least
    for src, alt in page.images:
        image = decode(src)
        assert image.width > 200 and image.height > 150, alt
        assert np.asarray(image, dtype=float).std() > 5, f"blank image: {alt}"  # lines and text, not one colour
        assert alt


@pytest.fixture(scope="module")
def regression_cli_run(tmp_path_factory):
    """A regression run trained through the CLI (its output is checked too)."""
    folder = tmp_path_factory.mktemp("regression")
    (folder / "c.yaml").write_text("data: {source: 'sklearn:diabetes'}\nmodel: {hidden: [16]}\n"
                                   "train: {epochs: 6}\nevaluate: {bootstrap: 50}\n")
    proc = subprocess.run([sys.executable, "-m", "netfit", "train", "c.yaml"], cwd=folder, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (run,) = (folder / "runs").iterdir()
    return run, proc.stdout


def test_classification_report_has_every_section_and_real_images(digits_run):
    text = (digits_run.path / "report.html").read_text()
    page = Page(text)
    assert page.sections == ["summary", "warnings", "curves", "health", "classification", "calibration", "conformal",
                             "selective", "importance", "slices", "data", "config"]  # digits: constant pixels dropped
    for needle in ("Test metrics", "model [95% interval]", "dummy", "linear", "Confusion matrix", "Per class",
                   "precision", "Duplicates across splits", "Resolved config", "Environment", "stop: ", "parameters"):
        assert needle in text, needle
    alts = [alt for _, alt in page.images]
    for alt in ("train and validation loss per epoch", "learning rate per epoch", "ROC curves",
                "precision-recall curves", "reliability diagram",
                "reliability diagram before and after temperature scaling", "risk-coverage curve"):
        assert alt in alts
    assert_pictures(page, at_least=8)
    assert_self_contained(text, page)
    accuracy = digits_run.metrics["accuracy"]
    assert f"{accuracy['value']:.4f} [{accuracy['ci_low']:.4f}, {accuracy['ci_high']:.4f}]" in text


def test_test_predictions_match_the_report(digits_run):
    frame = pd.read_csv(digits_run.path / "test_predictions.csv")
    test = digits_run.report["test"]
    assert len(frame) == test["n"] == digits_run.report["split_sizes"]["test"]
    assert list(frame.columns) == ["y_true", "prediction", *(f"proba_{c}" for c in test["classes"])]
    assert (frame["y_true"] == frame["prediction"]).mean() == pytest.approx(test["metrics"]["accuracy"]["value"], abs=1e-9)
    np.testing.assert_allclose(frame.filter(like="proba_").sum(axis=1), 1.0, atol=1e-4)


def test_regression_report_and_the_cli_ends_with_its_path(regression_cli_run):
    run, stdout = regression_cli_run
    assert f"report: {Path('runs') / run.name / 'report.html'}" in stdout
    text = (run / "report.html").read_text()
    page = Page(text)
    # the slices section shows only where some slice of the 66 test rows stands out: it depends on the model
    assert [s for s in page.sections if s != "slices"] == ["summary", "curves", "health", "regression", "conformal",
                                                           "importance", "data", "config"]
    assert {"predicted against true values", "residual histogram", "val_rmse per epoch"} <= {a for _, a in page.images}
    assert "rmse" in text and "r2" in text and "Confusion" not in text
    assert_pictures(page, at_least=4)
    assert_self_contained(text, page)


def test_netfit_report_rebuilds_the_page_without_retraining(regression_cli_run):
    run, _ = regression_cli_run
    (run / "report.html").unlink()
    before = (run / "model.safetensors").stat().st_mtime_ns
    proc = subprocess.run([sys.executable, "-m", "netfit", "report", str(run)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "test metrics" in proc.stdout and f"report: {run / 'report.html'}" in proc.stdout
    assert "residual histogram" in (run / "report.html").read_text()
    assert (run / "model.safetensors").stat().st_mtime_ns == before


def test_leakage_is_highlighted_and_missing_values_counted(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3)).round(1)
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=(x[:, 0] > 0).astype(int))
    frame.loc[:5, "b"] = np.nan
    frame = pd.concat([frame, frame.iloc[:30]], ignore_index=True)  # 30 duplicated rows spread over the splits
    run = netfit.fit({"data": {"target": "y"}, "train": {"epochs": 2}}, data=frame, output_dir=str(tmp_path), **QUICK)
    text = (run.path / "report.html").read_text()
    total = sum(run.report["data"]["duplicates_across_splits"].values())
    assert total > 0 and f"Leakage warning: {total} row(s)" in text and 'class="warn"' in text
    missing = run.report["data"]["missing_in_train"]["b"]
    assert missing > 0 and f'<td>b</td><td>numeric</td><td class="num">{missing}</td>' in text


def test_tuning_section_reads_the_parent_tune_report(digits_run, tmp_path):
    final = tmp_path / "digits-tune-20261125-000000-abc123" / "final" / digits_run.path.name
    shutil.copytree(digits_run.path, final)
    trials = [{"number": i, "state": "COMPLETE", "value": v, "params": {"train.optimizer.lr": lr}}
              for i, (v, lr) in enumerate([(0.31, 1e-2), (0.12, 1e-3), (0.2, 3e-3)])]
    (final.parent.parent / "tune_report.json").write_text(json.dumps({
        "metric": "val_loss", "direction": "minimize", "best": {"number": 1, "value": 0.12},
        "trials": trials, "importances": {"train.optimizer.lr": 1.0}}))
    text = (write_report(final)).read_text()
    page = Page(text)
    assert "tuning" in page.sections
    assert "train.optimizer.lr" in text and "best trial 1" in text and "0.3100" in text
    assert {"optimisation history", "hyperparameter importances"} <= {a for _, a in page.images}
    assert_pictures(page, at_least=8)


def test_a_run_without_epochs_or_test_predictions_still_gets_a_report(digits_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(digits_run.path, run)
    (run / "history.csv").write_text("\n")  # diverged in its first epoch: no rows
    (run / "test_predictions.csv").unlink()  # a run from before the report existed
    text = write_report(run).read_text()
    assert "No history recorded." in text and "No test_predictions.csv" in text and "Confusion matrix" in text


def test_report_of_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(RunError) as e:
        write_report(tmp_path)
    assert "not a finished netfit run folder" in str(e.value) and str(tmp_path) in str(e.value)
    assert "no report.json" in str(e.value) and "how to fix" in str(e.value)


@pytest.mark.slow
def test_report_renders_in_headless_chromium(digits_run, tmp_path):
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but chromium is not installed (.ci/run installs it with apt)")
        pytest.skip("chromium is not installed (apt-get install chromium); CI runs this test")
    shot = tmp_path / "shot.png"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           f"--screenshot={shot}", "--window-size=1200,2000", (digits_run.path / "report.html").resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert shot.is_file(), proc.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (2000, 1200)
    assert pixels.std() > 20, "the screenshot is blank"
    assert (pixels < 100).mean() > 0.005  # dark text and plot lines, not just the page background


def one_class_table(path: Path) -> Path:
    """An order split whose training rows (the first 70%) all hold label `a`; `b` only later."""
    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame({"t": np.arange(n), "x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    frame["y"] = np.where(np.arange(n) < 100, "a", np.where(rng.random(n) < 0.5, "a", "b"))
    frame.to_csv(path, index=False)
    return path


def test_a_one_class_training_split_reports_the_linear_baseline_as_not_fitted(tmp_path):
    from rich.console import Console
    from typer.testing import CliRunner

    from netfit.cli import app
    from netfit.train.progress import summary_table

    config = {"data": {"source": str(one_class_table(tmp_path / "d.csv")), "target": "y", "split": {"order_column": "t"}},
              "model": {"hidden": [8]}, "train": {"epochs": 2}, "evaluate": {"bootstrap": 20},
              "output_dir": str(tmp_path / "runs")}
    run = netfit.fit(config, quiet=True)  # crashed writing report.html
    assert run.report["data"]["class_balance"]["train"]["b"] == 0
    assert run.report["baselines"]["linear"] is None and run.report["baselines"]["dummy"]["metrics"]
    html = (run.path / "report.html").read_text()
    assert "linear: not fitted (the training split holds one class" in html
    console = Console(width=200, record=True)
    console.print(summary_table(run.report))
    assert "linear: not fitted" in console.export_text()
    result = CliRunner().invoke(app, ["report", str(run.path)])
    assert result.exit_code == 0, result.output
    assert "linear: not fitted" in " ".join(result.output.split())


def test_a_report_whose_linear_baseline_is_null_renders_everywhere(digits_run, tmp_path):
    from typer.testing import CliRunner

    from netfit.cli import app

    run = tmp_path / "run"
    shutil.copytree(digits_run.path, run)
    report = json.loads((run / "report.json").read_text())
    report["baselines"]["linear"] = None  # what a one-class training split records
    (run / "report.json").write_text(json.dumps(report))
    text = write_report(run).read_text()
    assert "linear: not fitted" in text and "Confusion matrix" in text
    result = CliRunner().invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert "linear: not fitted" in " ".join(result.output.split())


def test_every_run_writes_a_model_card_from_its_evidence(digits_run, regression_cli_run):
    card = (digits_run.path / "model_card.md").read_text()
    report = digits_run.report
    headings = [line[3:] for line in card.splitlines() if line.startswith("## ")]
    assert headings == ["Model", "Data", "Performance", "Probabilities and intervals", "Training health",
                        "Which columns matter", "Slices", "Variance across seeds", "Intended use", "Limitations"]
    accuracy = report["test"]["metrics"]["accuracy"]
    assert f"| accuracy | {accuracy['value']:.4f} [{accuracy['ci_low']:.4f}, {accuracy['ci_high']:.4f}] |" in card
    assert report["verdict"]["against"]["linear"]["text"] in card  # the verdict, as the console printed it
    assert f"one temperature ({report['calibration']['temperature']:.3f})" in card
    assert f"test coverage {report['conformal']['test']['coverage']:.3f}" in card
    assert report["importance"]["columns"][0]["column"] in card
    assert report["fingerprint"]["data"][:16] in card and card.count("_To fill in._") == 2
    run, _ = regression_cli_run
    regression = (run / "model_card.md").read_text()
    assert "mean interval width" in regression and "| rmse |" in regression and "one temperature" not in regression
    (run / "model_card.md").unlink()  # `netfit report` writes it again
    proc = subprocess.run([sys.executable, "-m", "netfit", "report", str(run)], capture_output=True, text=True)
    assert proc.returncode == 0 and f"model card: {run / 'model_card.md'}" in proc.stdout, proc.stderr
    assert (run / "model_card.md").read_text() == regression
