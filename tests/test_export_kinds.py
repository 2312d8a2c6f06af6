"""ONNX for every built-in model type: each run exports, and its graph, loaded by onnxruntime in a
fresh process, predicts the test split as PyTorch does (calibrated logits within 1e-5, same classes)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import netfit
from netfit.data import prepare
from netfit.export import export_onnx
from netfit.train.tensors import predict_split

QUICK = {"train": {"epochs": 2, "threads": 1},
         "evaluate": {"bootstrap": 0, "baselines": False, "report_html": False, "importance": False, "slices": False}}
SERIES = np.sin(np.linspace(0, 6, 40))[None, :, None] * np.linspace(0.5, 2, 120)[:, None, None]

KINDS = {
    "cnn 2-D images": ({"data": {"source": "sklearn:digits", "image_shape": [8, 8]},
                        "model": {"type": "cnn", "channels": [8]}}, None),
    "cnn 1-D series": ({"model": {"type": "cnn", "channels": [8]}},
                       (SERIES.astype(np.float32), np.arange(120) % 3)),
    "cnn text": ({"data": {"source": "synthetic:sentences", "text_column": "text"},
                  "model": {"type": "cnn", "channels": [8]}}, None),
    "lstm bidirectional packed": ({"data": {"source": "synthetic:order"},
                                   "model": {"type": "rnn", "cell": "lstm", "units": 8, "bidirectional": True}}, None),
    "gru unpacked": ({"data": {"source": "synthetic:order"},
                      "model": {"type": "rnn", "cell": "gru", "units": 8, "packed": False}}, None),
    "transformer text": ({"data": {"source": "synthetic:sentences", "text_column": "text"},
                          "model": {"type": "transformer", "d_model": 16, "heads": 2, "num_layers": 1}}, None),
}

CHECK = """
import json, sys
import numpy as np, onnxruntime as ort
saved = np.load(sys.argv[2])
session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
(out,) = session.run(["output"], {i.name: saved[i.name] for i in session.get_inputs()})
out = out.astype(np.float64)
if out.shape[1] == 1:  # binary: the logit of the second class (preprocessing.json's postprocess)
    p1 = 1 / (1 + np.exp(-out[:, 0])); proba = np.stack([1 - p1, p1], axis=1)
else:
    proba = np.exp(out - out.max(1, keepdims=True)); proba /= proba.sum(1, keepdims=True)
print(json.dumps({"diff": float(np.abs(proba - saved["expected"]).max()),
                  "same_class": bool((proba.argmax(1) == saved["expected"].argmax(1)).all()),
                  "inputs": [i.name for i in session.get_inputs()]}))
"""


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_model_type_exports_and_onnxruntime_predicts_like_pytorch_in_a_fresh_process(kind, tmp_path):
    cfg, data = KINDS[kind]
    run = netfit.fit({**cfg, **QUICK, "data": {**cfg.get("data", {}), **({"source": None} if data is not None else {})}},
                     data=data, output_dir=str(tmp_path), quiet=True)
    loaded = run._loaded()
    found = export_onnx(run.path, tmp_path / "onnx")
    assert found["max_abs_diff"] <= 1e-5, found
    meta = json.loads((tmp_path / "onnx" / "preprocessing.json").read_text())
    spec = loaded.preprocessor.array.spec
    assert meta["inputs"]["x"]["kind"] == spec["kind"] and meta["inputs"]["x"]["shape"][1:] == spec["shape"]
    # the test split, rebuilt from the saved config and seed, as Run.predict's probabilities
    test = prepare(loaded.config.data, loaded.config.seed, data=data).splits["test"]
    expected = predict_split(loaded.model, test, loaded.task, loaded.preprocessor, torch.device("cpu"),
                             calibration=loaded.calibration)
    names = ["x_num", "x_cat", "x", "lengths"]
    np.savez(tmp_path / "test.npz", expected=expected, **dict(zip(names, test.inputs())))
    if test.lengths is not None:
        assert len(set(test.lengths.tolist())) > 1 or kind.startswith("cnn 1-D")  # variable lengths reach the graph
    proc = subprocess.run([sys.executable, "-c", CHECK, str(tmp_path / "onnx" / "model.onnx"), str(tmp_path / "test.npz")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["diff"] <= 1e-5 and result["same_class"], result
    assert result["inputs"] == list(meta["inputs"]) and "x" in result["inputs"]
