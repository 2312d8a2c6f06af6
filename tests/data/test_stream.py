"""Streaming: a Parquet folder larger than data.memory_budget trains without loading whole.

The streamed path must hold the same rows in each split as the in-memory path with
`split.method: hash`, fit the same statistics (exactly where they are moments, counts and
categories; from a sample where they are medians), and read every training row once per epoch
in a seeded, well-mixed order.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import netfit
from netfit.config import load_config
from netfit.data import prepare
from netfit.data.synthetic import write_linear_parquet
from netfit.errors import ConfigError, DataError

ROWS, FILES, GROUP = 20_000, 3, 1_000
BUDGET = "1MB"  # the folder holds about 2 MB uncompressed: it streams


def write_folder(folder: Path, frame, files: int = FILES, group: int = GROUP) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(np.array_split(np.arange(len(frame)), files)):
        pq.write_table(pa.Table.from_pandas(frame.iloc[part], preserve_index=False), folder / f"part-{i}.parquet",
                       row_group_size=group)
    return folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory, make_mixed) -> Path:
    return write_folder(tmp_path_factory.mktemp("stream") / "table", make_mixed(ROWS))


def data_cfg(folder: Path, **data) -> dict:
    return {"source": str(folder), "target": "y", **data}


def prepared_both(folder: Path, preprocess: dict) -> tuple:
    with pytest.warns(netfit.data.DataWarning):
        memory = prepare(load_config({"data": data_cfg(folder, split={"method": "hash"}, preprocess=preprocess)}).data, seed=0)
        streamed = prepare(load_config({"data": data_cfg(folder, memory_budget=BUDGET, preprocess=preprocess)}).data, seed=0)
    return memory, streamed


@pytest.fixture(scope="module")
def both(folder):
    """The same folder prepared in memory (hash split) and streamed, scaled by mean and std (moments:
    exact in one streaming pass; the default robust scaling's quartiles come from a sample)."""
    return prepared_both(folder, {"numeric": "standardize"})


def test_streamed_robust_scaling_comes_close_to_the_quartiles_of_every_training_row(folder):
    """The default `numeric: robust` streams with median and quartiles of a seeded sample of the
    training rows (a twentieth of the 1 MB budget here: some hundreds of rows): each column's centre
    and scale within about three standard errors of such a sample (15% of the interquartile range)."""
    memory, streamed = (p.preprocessor for p in prepared_both(folder, {}))
    assert memory.cfg.numeric == streamed.cfg.numeric == "robust"
    for a, b in zip(memory.numeric, streamed.numeric, strict=True):
        assert abs(a.center - b.center) < 0.15 * a.scale and b.scale == pytest.approx(a.scale, rel=0.15), a.name


def test_streamed_and_in_memory_hash_splits_hold_the_same_rows(both):
    memory, streamed = both
    assert memory.stream is None and streamed.stream is not None
    assert streamed.summary["split_method"] == memory.summary["split_method"] == "hash"
    assert streamed.sizes() == memory.sizes()
    assert abs(streamed.sizes()["train"] / ROWS - 0.7) < 0.02  # the hash spreads rows by the fractions
    for name in ("val", "test"):  # no row is dropped by cleaning here, so positions are row numbers
        s, m = streamed.splits[name], memory.splits[name]
        np.testing.assert_array_equal(s.rows, m.rows)
        np.testing.assert_array_equal(s.y, m.y)
        np.testing.assert_array_equal(s.x_cat, m.x_cat)
        # scaling agrees to float32 precision; only cells filled with a median (from a sample) may differ
        differ = np.abs(s.x_num - m.x_num) > 1e-5
        imputed = memory.preprocessor.feature_names.index("age")  # whole years, 10% missing
        assert set(np.flatnonzero(differ.any(axis=0))) <= {imputed}
        assert differ[:, imputed].mean() < 0.15
    assert streamed.summary["class_balance"] == memory.summary["class_balance"]


def test_blocks_read_ahead_on_a_thread_are_the_blocks_read_in_line(both):
    """Reading the next block on a background thread changes when it is read, never what is read."""
    stream = both[1].stream
    ahead = list(stream.blocks(seed=5, batch_size=64))
    inline = list(stream.blocks(seed=5, batch_size=64, read_ahead=False))
    assert len(ahead) == len(inline) > 1
    for a, b in zip(ahead, inline, strict=True):
        np.testing.assert_array_equal(a.rows, b.rows)
        np.testing.assert_array_equal(a.x_num, b.x_num)
        np.testing.assert_array_equal(a.y, b.y)


def test_a_read_that_fails_on_the_read_ahead_thread_raises_in_the_training_thread():
    import threading

    from netfit.data.shuffle import ahead

    def reads():
        yield 1
        raise DataError("row group 2 is unreadable", where="part-2.parquet")

    got = []
    with pytest.raises(DataError, match="row group 2 is unreadable"):
        for item in ahead(reads()):
            got.append(item)
    assert got == [1]
    # stopping early (a stop mid-epoch) ends the thread before the iterator returns: no read runs on
    items = ahead(iter(range(1000)))
    assert next(items) == 0
    items.close()
    assert not [t for t in threading.enumerate() if t.name == "netfit-read-ahead"]


def test_streamed_statistics_are_exact_where_they_can_be(both):
    mem, st = (p.preprocessor for p in both)
    assert mem.input_columns == st.input_columns and mem.classes == st.classes
    assert mem.dropped == st.dropped  # id and date columns, from the head of the data
    for a, b in zip(mem.numeric, st.numeric, strict=True):
        assert (a.center, a.scale) == pytest.approx((b.center, b.scale), rel=1e-9)
        assert abs(a.fill - b.fill) < 0.1 * a.scale, a.name  # a median from a seeded sample of training rows
    assert [dataclasses.astuple(c) for c in mem.categoricals] == [dataclasses.astuple(c) for c in st.categoricals]
    assert [b.fill for b in mem.booleans] == [b.fill for b in st.booleans]


def test_an_epoch_reads_every_training_row_once_in_a_seeded_mixed_order(both):
    memory, streamed = both
    stream = streamed.stream
    blocks = list(stream.blocks(seed=3, batch_size=64))
    rows = np.concatenate([b.rows for b in blocks])
    np.testing.assert_array_equal(np.sort(rows), memory.splits["train"].rows)
    assert all(len(b) % 64 == 0 for b in blocks[:-1])
    assert max(len(b) for b in blocks) <= stream.buffer_rows + GROUP  # the buffer bounds memory
    again = np.concatenate([b.rows for b in stream.blocks(seed=3, batch_size=64)])
    other = np.concatenate([b.rows for b in stream.blocks(seed=4, batch_size=64)])
    np.testing.assert_array_equal(rows, again)
    assert not np.array_equal(rows, other)
    # well mixed: every batch draws on several row groups, the epoch's first tenth on many
    assert min(len(np.unique(rows[lo:lo + 64] // GROUP)) for lo in range(0, len(rows) - 64, 64)) >= 3
    first = rows[:len(rows) // 10] // GROUP
    assert len(np.unique(first)) > stream.buffer_rows // GROUP, "mixing should reach across the shuffle buffer"


def test_streamed_training_matches_in_memory_training(folder, tmp_path):
    common = {"model": {"hidden": [32]}, "train": {"epochs": 4, "batch_size": 128},
              "evaluate": {"bootstrap": 0, "report_html": False}, "output_dir": str(tmp_path)}
    reports = {}
    for mode, data in {"memory": {"split": {"method": "hash"}}, "streamed": {"memory_budget": BUDGET}}.items():
        run = netfit.fit({**common, "data": data_cfg(folder, **data)}, quiet=True)
        reports[mode] = json.loads((run.path / "report.json").read_text())
    mem, st = reports["memory"], reports["streamed"]
    assert st["split_sizes"] == mem["split_sizes"]
    assert st["data"]["streaming"]["row_groups"] == sum(pq.ParquetFile(f).num_row_groups for f in folder.iterdir())
    assert "streaming" not in mem["data"]
    acc = {k: r["test"]["metrics"]["accuracy"]["value"] for k, r in reports.items()}
    assert acc["streamed"] > 0.75 and abs(acc["streamed"] - acc["memory"]) < 0.03, acc
    assert st["baselines"]["linear"]["metrics"]["accuracy"]["value"] > 0.7  # fitted on the training sample


def test_a_streamed_run_lends_one_core_to_its_read_ahead_thread_and_gives_it_back(folder, tmp_path):
    import torch

    seen = {}

    class Threads(netfit.Callback):
        def on_train_begin(self, logs):
            seen["training"] = torch.get_num_threads()

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        netfit.fit({"model": {"hidden": [8]}, "train": {"epochs": 1}, "data": data_cfg(folder, memory_budget=BUDGET),
                    "evaluate": {"bootstrap": 0, "report_html": False, "baselines": False, "importance": False,
                                 "slices": False}, "output_dir": str(tmp_path)}, quiet=True, callbacks=[Threads()])
        assert seen["training"] == 1 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_hash_split_by_id_column_keeps_an_id_in_one_split(tmp_path, make_mixed):
    frame = make_mixed(600)
    frame["customer"] = [f"c{i % 150}" for i in range(600)]  # each id on 4 rows
    folder = write_folder(tmp_path / "t", frame, files=2, group=100)
    cfg = load_config({"data": data_cfg(folder, memory_budget="20KB", split={"method": "hash", "id_column": "customer"},
                                        preprocess={"drop_constant": False})}).data
    prepared = prepare(cfg, seed=0)
    assert prepared.stream is not None
    ids = {name: set(frame["customer"].iloc[prepared.splits[name].rows]) for name in ("val", "test")}
    train = set(frame["customer"].iloc[np.concatenate([b.rows for b in prepared.stream.blocks(0, 32)])])
    assert not (ids["val"] & ids["test"]) and not (train & ids["val"]) and not (train & ids["test"])


@pytest.mark.parametrize("data, error, words", [
    ({"preprocess": {"drop_duplicates": True}}, ConfigError, "data.preprocess.drop_duplicates"),
    ({"split": {"group_column": "city"}}, ConfigError, "data.split.group_column"),
    ({"memory_budget": "200KB"}, DataError, "validation and test splits do not fit"),
])
def test_what_streaming_cannot_do_is_a_clear_error(folder, data, error, words):
    cfg = load_config({"data": data_cfg(folder, **{"memory_budget": BUDGET, **data})}).data
    with pytest.raises(error) as e:
        prepare(cfg, seed=0)
    assert words in str(e.value) and "memory_budget" in str(e.value)


def test_a_corrupt_file_in_the_folder_exits_2_naming_it(tmp_path, make_mixed):
    broken = write_folder(tmp_path / "broken", make_mixed(3000), files=2, group=500)
    (broken / "part-9.parquet").write_bytes(b"PAR1 not really parquet")
    config = tmp_path / "c.yaml"
    config.write_text(json.dumps({"data": data_cfg(broken, memory_budget="10KB")}))
    done = subprocess.run([sys.executable, "-m", "netfit", "train", str(config), "-q"], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "cannot read Parquet data" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------- the memory test
RSS_SCRIPT = textwrap.dedent("""
    import json, sys
    import netfit

    def rss(field):
        for line in open("/proc/self/status"):
            if line.startswith(field):
                return int(line.split()[1]) * 1024

    cfg, warm_up = json.loads(sys.argv[1]), sys.argv[2]
    # the baseline: after imports and a small run that loads every module and library a run uses
    netfit.fit({**cfg, "data": {**cfg["data"], "source": warm_up, "memory_budget": "1MB"}}, quiet=True)
    base = rss("VmRSS")
    run = netfit.fit(cfg, quiet=True)
    report = json.loads((run.path / "report.json").read_text())
    print(json.dumps({"growth": rss("VmHWM") - base, "report": report}))
""")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak RSS from /proc")
def test_two_million_rows_train_within_a_100_mb_budget(tmp_path):
    folder, warm_up = tmp_path / "big", tmp_path / "small"
    write_linear_parquet(folder, 2_000_000)  # 16 features, a noisy linear label, 50,000-row groups
    write_linear_parquet(warm_up, 20_000, files=2, group=5_000)
    common = {"model": {"hidden": [32]}, "train": {"epochs": 1, "batch_size": 1024, "threads": 2},
              "evaluate": {"bootstrap": 200, "report_html": False}, "output_dir": str(tmp_path / "runs")}
    results = {}
    for mode, data in {"streamed": {"memory_budget": "100MB"}, "memory": {"split": {"method": "hash"}}}.items():
        cfg = {**common, "data": {"source": str(folder), "target": "y", **data}}
        done = subprocess.run([sys.executable, "-W", "ignore", "-c", RSS_SCRIPT, json.dumps(cfg), str(warm_up)],
                              capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
        results[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    streamed, memory = results["streamed"], results["memory"]
    assert streamed["report"]["data"]["streaming"]["memory_budget"] == 100_000_000
    assert streamed["growth"] < 3 * 100e6, f"streaming grew RSS by {streamed['growth'] / 1e6:.0f} MB"
    assert memory["growth"] > streamed["growth"]  # the in-memory run of the same data needs more
    acc = {mode: r["report"]["test"]["metrics"]["accuracy"]["value"] for mode, r in results.items()}
    assert acc["streamed"] > 0.93 and abs(acc["streamed"] - acc["memory"]) < 0.01, acc


def test_a_streamed_source_decides_its_task_from_every_row_as_in_memory(tmp_path):
    """The first 50,000 rows (what streaming reads to infer column types) hold 15 integer labels, the
    rest 15 more: 30 in all, a quantity; in memory and streamed alike."""
    rng = np.random.default_rng(0)
    n = 60_000
    y = np.concatenate([rng.integers(0, 15, 50_000), rng.integers(15, 30, n - 50_000)])
    folder = write_folder(tmp_path / "t", pd.DataFrame({"x0": rng.normal(size=n), "x1": rng.normal(size=n), "y": y}),
                          files=2, group=10_000)
    with pytest.warns(netfit.data.DataWarning, match="hash"):
        streamed = prepare(load_config({"data": data_cfg(folder, memory_budget=BUDGET)}).data, seed=0)
    memory = prepare(load_config({"data": data_cfg(folder, split={"method": "hash"})}).data, seed=0)
    assert streamed.stream is not None and memory.stream is None
    assert streamed.task == memory.task == "regression"  # streamed was multiclass, from its first rows
    assert streamed.preprocessor.target_mean == pytest.approx(memory.preprocessor.target_mean, rel=1e-9)
    declared = {"task": "multiclass"}
    with pytest.warns(netfit.data.DataWarning, match="hash"):
        streamed = prepare(load_config({"data": data_cfg(folder, memory_budget=BUDGET, **declared)}).data, seed=0)
    memory = prepare(load_config({"data": data_cfg(folder, split={"method": "hash"}, **declared)}).data, seed=0)
    assert streamed.preprocessor.classes == memory.preprocessor.classes == list(range(30))
    assert streamed.summary["class_balance"]["train"] == memory.summary["class_balance"]["train"]


@pytest.mark.parametrize("target", ["class", "text class", "quantity"])
def test_a_table_of_numbers_streams_without_pandas_to_the_same_encoding(tmp_path, target):
    """Numbers only (float32, float64 with NaN and +/-inf, integers with nulls): an epoch's blocks come
    straight from Arrow (`Preprocessor.numbers_only`), equal to `transform` of the same rows read whole;
    rows with a missing or infinite target are left out as the table path leaves them."""
    rng = np.random.default_rng(1)
    n = 30_000
    f64 = rng.normal(size=n)
    f64[rng.random(n) < 0.05] = np.nan
    f64[:3] = [np.inf, -np.inf, 1e6]  # +/-inf read as missing; 1e6 an outlier
    ints = pa.array(rng.integers(-5, 50, n), mask=rng.random(n) < 0.05)
    y = rng.integers(0, 3, n).astype(float) if "class" in target else rng.normal(size=n)
    y[[10, 20]] = [np.nan, np.inf]
    if target == "text class":  # labels "a", "b", "c"; None in rows 10 and 20
        y = pa.array(np.array(["a", "b", "c"], dtype=object)[np.nan_to_num(y, posinf=0).astype(int)], mask=~np.isfinite(y))
    table = pa.table({"a": rng.normal(size=n).astype(np.float32), "b": f64, "c": ints, "y": y})
    folder = tmp_path / "numbers"
    folder.mkdir()
    pq.write_table(table, folder / "part.parquet", row_group_size=5_000)
    with pytest.warns(netfit.data.DataWarning, match="hash"):
        streamed = prepare(load_config({"data": data_cfg(folder, memory_budget="500KB", task="multiclass" if "class" in
                                                         target else "regression")}).data, seed=0)
    pre = streamed.preprocessor
    assert streamed.stream is not None and pre.numbers_only
    blocks = list(streamed.stream.blocks(seed=3, batch_size=64, read_ahead=False))
    rows = np.concatenate([b.rows for b in blocks])
    order = np.argsort(rows)
    whole = pd.read_parquet(folder).iloc[rows[order]].reset_index(drop=True)
    assert 10 not in rows and 20 not in rows and {0, 1, 2} & set(rows)
    expected = pre.transform(whole, where="whole")
    np.testing.assert_array_equal(np.concatenate([b.x_num for b in blocks])[order], expected.x_num)
    np.testing.assert_array_equal(np.concatenate([b.y for b in blocks])[order], expected.y)
    assert np.concatenate([b.x_cat for b in blocks]).shape == (len(rows), 0)
