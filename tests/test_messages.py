"""What a newcomer reads: warnings printed like errors and kept in the report, tables that do not
wrap in a log, and headings that say what was measured (issue 22, items 1, 2, 6, 7)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

INTERVAL = r"\d\.\d{4} \[\d\.\d{4}, \d\.\d{4}\]"


def netfit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}  # rich's default width (80) in a pipe
    return subprocess.run([sys.executable, "-m", "netfit", *args], capture_output=True, text=True, cwd=cwd, env=env)


def python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A CSV as a newcomer has one: missing values, a text category, an id and a constant column."""
    folder = tmp_path_factory.mktemp("newcomer")
    rng = np.random.default_rng(0)
    n = 120
    df = pd.DataFrame({"id": range(n), "age": rng.normal(40, 10, n).round(), "color": rng.choice(["red", "green", "blue"], n),
                       "const": 1})
    df.loc[::7, "age"] = np.nan
    df["y"] = ((df["age"].fillna(40) > 40) ^ (df["color"] == "red")).astype(int)
    df.to_csv(folder / "d.csv", index=False)
    new = df.drop(columns="y").head(6)
    new.loc[2, "color"], new.loc[4, "color"] = "purple", "teal"
    new.to_csv(folder / "new.csv", index=False)
    df.head(4).to_csv(folder / "four.csv", index=False)
    (folder / "c.yaml").write_text("data: {source: d.csv, target: y}\ntrain: {epochs: 3, threads: 1}\n"
                                   "evaluate: {bootstrap: 50}\n")
    proc = netfit("train", "c.yaml", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    (run,) = (folder / "runs").iterdir()
    return folder, run, proc


def test_warnings_print_like_errors_once_each_and_are_kept_in_the_report(trained):
    _, run, proc = trained
    assert "warning: 1 column(s) dropped: a single value in the training split: 'const'\n" \
           "  where: d.csv (train split)\n" \
           "  how to change it: set data.preprocess.drop_constant: false to keep them" in proc.stderr
    assert proc.stderr.count("'const'") == 1
    assert "DataWarning" not in proc.stderr and ".py:" not in proc.stderr, proc.stderr  # no raw Python warning
    report = json.loads((run / "report.json").read_text())
    const = [w for w in report["warnings"] if "'const'" in w["message"]]
    assert const == [{"category": "DataWarning",
                      "message": "1 column(s) dropped: a single value in the training split: 'const'",
                      "where": "d.csv (train split)",
                      "hint": "set data.preprocess.drop_constant: false to keep them"}]
    html = (run / "report.html").read_text()
    assert "<h2>Warnings</h2>" in html and "data.preprocess.drop_constant: false" in html


def test_python_api_warnings_are_catchable_and_print_without_source_lines(trained):
    folder, _, _ = trained
    code = ("import warnings, netfit\n"
            "from netfit.data import DataWarning\n"
            "netfit.fit('c.yaml', train__epochs=1, evaluate__report_html=False)\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n"
            "    netfit.fit('c.yaml', train__epochs=1, evaluate__report_html=False)\n"
            "assert any(issubclass(w.category, DataWarning) and 'const' in str(w.message) for w in caught)\n")
    proc = python(code, folder)
    assert proc.returncode == 0, proc.stderr
    assert "warning: 1 column(s) dropped" in proc.stderr and "  where: d.csv (train split)" in proc.stderr
    assert "DataWarning" not in proc.stderr and ".py:" not in proc.stderr, proc.stderr


def test_unseen_categories_at_predict_name_column_values_rows_and_what_was_done(trained):
    folder, run, _ = trained
    proc = netfit("predict", str(run), "new.csv", "-o", "p.csv", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    assert "warning: column 'color': 2 row(s) hold categories not seen in training: 'purple', 'teal'; " \
           "encoded as unknown" in proc.stderr
    assert "where: new.csv: column 'color', rows 3, 5 (lines 4, 6)" in proc.stderr
    assert "'blue', 'green', 'red'" in proc.stderr  # the known categories, for a typo


def test_a_table_written_to_a_pipe_never_wraps_a_row(trained):
    _, _, proc = trained
    rows = [line for line in proc.stdout.splitlines() if line.startswith("│")]
    assert rows and all(len(re.findall(INTERVAL, line)) == 3 for line in rows), proc.stdout  # model, dummy, linear
    assert max(len(line) for line in rows) > 80


def test_evaluate_on_a_few_rows_names_the_data_and_warns_the_interval_means_little(trained):
    folder, run, _ = trained
    proc = netfit("evaluate", str(run), "four.csv", "--resamples", "50", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    assert "metrics on four.csv (4 rows; 95% bootstrap interval)" in proc.stdout
    assert "test metrics" not in proc.stdout
    assert "warning: only 4 labelled rows: a 95% bootstrap interval from fewer than 30 rows means little" in proc.stderr
