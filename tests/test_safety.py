"""Safe files: atomic writes under a full disk, checksummed checkpoints, no code run on load,
model.json checked against its schema and format version."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
from pathlib import Path

import pytest
import torch

from netfit.errors import RunError
from netfit.runfolder import check_model_json
from netfit.io import atomic_write, write_text
from netfit.train.checkpoint import MAGIC, latest_valid, load_checkpoint, save_checkpoint


class Planted:
    """A pickle that creates a marker file when unpickled: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_disk_full_leaves_the_previous_file_intact_and_no_temp(tmp_path):
    target = write_text(tmp_path / "model.safetensors", "the previous model")

    def write_half_then_disk_full(tmp: Path) -> None:
        tmp.write_bytes(b"half a model")
        with open("/dev/full", "wb") as full:  # every write to /dev/full fails with ENOSPC, for every user
            full.write(b"the rest")
            full.flush()

    with pytest.raises(RunError) as e:
        atomic_write(target, write_half_then_disk_full)
    text = str(e.value)
    assert "cannot write file" in text and str(target) in text and "No space left" in text and "free disk space" in text
    assert target.read_text() == "the previous model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_unwritable_folder_is_a_clear_error(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(RunError, match="cannot write file") as e:
        write_text(tmp_path / "afile" / "sub" / "report.json", "{}")
    assert "afile" in str(e.value) and e.value.hint


def test_checkpoint_round_trip_and_header(tmp_path):
    path = save_checkpoint(tmp_path / "step-000000001.pt", {"w": torch.arange(4.0), "n": 3})
    assert path.read_bytes().startswith(MAGIC)
    loaded = load_checkpoint(path)
    assert loaded["n"] == 3 and torch.equal(loaded["w"], torch.arange(4.0))


@pytest.mark.parametrize("damage, needle", [
    (lambda b: b[: len(b) - 50], "sha256 mismatch"),
    (lambda b: b[:10], "no netfit checkpoint header"),
    (lambda b: b[:-7] + bytes([b[-7] ^ 1]) + b[-6:], "sha256 mismatch"),
])
def test_damaged_checkpoint_is_refused(tmp_path, damage, needle):
    path = save_checkpoint(tmp_path / "step-000000001.pt", {"w": torch.ones(100)})
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(RunError, match="cannot be read") as e:
        load_checkpoint(path)
    assert needle in str(e.value) and str(path) in str(e.value)


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "code-ran"
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    good = save_checkpoint(folder / "step-000000001.pt", {"w": torch.ones(2)})
    # a bare pickle where a checkpoint is expected: no header, refused before parsing
    (folder / "step-000000003.pt").write_bytes(pickle.dumps(Planted(marker)))
    # the worst case: a torch file with a valid header and checksum, carrying the same payload
    buf = io.BytesIO()
    torch.save({"model": Planted(marker)}, buf)
    body = buf.getvalue()
    (folder / "step-000000002.pt").write_bytes(MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
    with pytest.raises(RunError, match="cannot be read") as e:
        load_checkpoint(folder / "step-000000002.pt")
    assert "weights_only" in str(e.value) or "Unpickling" in str(e.value)
    with pytest.warns(UserWarning, match="skipping checkpoint"):
        path, payload, skipped = latest_valid(folder)
    assert path == good and len(skipped) == 2
    assert not marker.exists(), "unpickling ran code"


def test_no_valid_checkpoint_lists_what_was_found(tmp_path):
    (tmp_path / "step-000000001.pt").write_bytes(b"junk")
    with pytest.warns(UserWarning), pytest.raises(RunError, match="no valid checkpoint") as e:
        latest_valid(tmp_path)
    assert "step-000000001.pt" in str(e.value) and "without --resume" in str(e.value)


META = {"format_version": 1, "netfit_version": "0.1.0", "task": "multiclass", "model": {}, "n_num": 4,
        "cat_cardinalities": [], "n_out": 3, "classes": [0, 1, 2], "preprocessor": {}}


@pytest.mark.parametrize("change, needles", [
    ({"format_version": 2, "netfit_version": "9.0"}, ["newer netfit", "format_version <= 1", "9.0"]),
    ({"task": "ranking", "n_out": 0}, ["does not match its schema", "task", "n_out"]),
    ({"classes": None}, ["classes"]),
    ({"calibration": {"method": "temperature", "temperature": -1.0}}, ["calibration.temperature"]),
])
def test_model_json_is_checked_against_schema_and_version(change, needles):
    meta = {**META, **change}
    with pytest.raises(RunError) as e:
        check_model_json(meta, Path("run/model.json"), 1)
    for needle in needles:
        assert needle in str(e.value), (needle, str(e.value))


def test_model_json_must_be_an_object():
    with pytest.raises(RunError, match="not a JSON object"):
        check_model_json(json.loads("[1, 2]"), Path("run/model.json"), 1)
    assert check_model_json(dict(META), Path("m.json"), 1) == META
    calibrated = {**META, "calibration": {"method": "temperature", "temperature": 1.3}}  # an optional key, same format
    assert check_model_json(calibrated, Path("m.json"), 1) == calibrated
