"""Ship a run: ONNX export with parity on the test split, and the HTTP prediction server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
import torch

import netfit
from netfit.data import prepare
from netfit.train.tensors import predict_split, to_tensors


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ship")
    return netfit.fit({"data": {"source": "sklearn:iris"}, "model": {"hidden": [32, 16]}},
                      output_dir=str(out), train__epochs=40, evaluate__bootstrap=0, evaluate__baselines=False)


def netfit_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netfit", *args], capture_output=True, text=True)


def test_onnx_export_matches_pytorch_on_the_test_split(iris_run, tmp_path):
    import onnxruntime as ort

    proc = netfit_cli("export", str(iris_run.path), "--format", "onnx", "-o", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "max abs difference" in proc.stdout
    meta = json.loads((tmp_path / "preprocessing.json").read_text())
    assert meta["task"] == "multiclass" and meta["classes"] == [0, 1, 2] and "softmax" in meta["postprocess"]
    assert meta["inputs"]["x_num"]["columns"] == iris_run._loaded().preprocessor.feature_names
    # the test split, rebuilt from the saved config and seed, preprocessed as in training
    cfg = iris_run.config
    test = prepare(cfg.data, cfg.seed).splits["test"]
    x = to_tensors(test, torch.device("cpu"), "multiclass").inputs[0]
    loaded = iris_run._loaded()
    assert loaded.temperature != 1.0 and meta["temperature"] == loaded.temperature  # calibrated by default
    assert meta["conformal"]["threshold"] == loaded.conformal["threshold"]
    with torch.inference_mode():
        expected = loaded.model.cpu()(x).numpy() / loaded.temperature  # the graph divides the logits by T
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    (got,) = session.run(["output"], {"x_num": x.numpy()})
    assert got.shape == expected.shape == (len(test), 3)
    assert np.abs(got - expected).max() <= 1e-5
    # softmax of the graph's output is what predict gives: the calibrated probabilities
    softmax = np.exp(got - got.max(1, keepdims=True))
    softmax /= softmax.sum(1, keepdims=True)
    proba = predict_split(loaded.model, test, "multiclass", loaded.preprocessor, torch.device("cpu"),
                          temperature=loaded.temperature)  # as Run.predict computes them
    np.testing.assert_allclose(softmax, proba, atol=1e-5)


def test_export_refuses_an_unknown_format(iris_run):
    proc = netfit_cli("export", str(iris_run.path), "--format", "tflite")
    assert proc.returncode == 2 and "--format" in proc.stderr and "onnx" in proc.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(iris_run):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "netfit", "serve", str(iris_run.path), "--host", "127.0.0.1",
                             "--port", str(port), "--max-rows", "5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # a busy machine may take a while to import torch
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.3)
        if proc.poll() is not None:
            pytest.fail(f"server exited: {proc.stderr.read().decode()}")
    else:
        proc.kill()
        pytest.fail("server did not start within 120 s")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


ROW = {"sepal length (cm)": 5.1, "sepal width (cm)": 3.5, "petal length (cm)": 1.4, "petal width (cm)": 0.2}


def test_server_predicts_json_and_csv_like_the_python_api(server, iris_run):
    import pandas as pd

    rows = [ROW, {**ROW, "petal length (cm)": 5.5, "petal width (cm)": 2.1}]
    r = httpx.post(f"{server}/predict", json={"rows": rows})
    assert r.status_code == 200, r.text
    body = r.json()
    expected = iris_run.predict(pd.DataFrame(rows))
    assert body["predictions"] == expected["prediction"].tolist() == [0, 2]
    assert body["classes"] == [0, 1, 2]
    np.testing.assert_allclose([p["2"] for p in body["probabilities"]], expected["proba_2"], rtol=1e-6)
    csv = pd.DataFrame(rows).to_csv(index=False)
    r = httpx.post(f"{server}/predict", content=csv, headers={"content-type": "text/csv"})
    assert r.status_code == 200 and r.json()["predictions"] == [0, 2], r.text
    # the conformal sets and abstentions, as predict writes them
    r = httpx.post(f"{server}/predict", params={"min_confidence": 0.999}, json={"rows": rows})
    body = r.json()
    assert body["sets"] == [[int(c) for c in s.split("|")] if s else [] for s in expected["set"]]
    assert body["abstain"] == list(iris_run.predict(pd.DataFrame(rows), min_confidence=0.999)["abstain"])


def test_server_health_schema_and_openapi(server):
    assert httpx.get(f"{server}/health").json()["status"] == "ok"
    schema = httpx.get(f"{server}/schema").json()
    assert {"name": "petal width (cm)", "type": "numeric"} in schema["columns"] and schema["max_rows"] == 5
    spec = httpx.get(f"{server}/openapi.json").json()
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert "petal width (cm)" in body["application/json"]["schema"]["properties"]["rows"]["items"]["properties"]
    assert "text/csv" in body


@pytest.mark.parametrize("payload, loc, needle", [
    ({"rows": [{k: v for k, v in ROW.items() if k != "petal width (cm)"}]}, ["body", "rows", 0, "petal width (cm)"], "required"),
    ({"rows": [ROW, {**ROW, "sepal width (cm)": "wide"}]}, ["body", "rows", 1, "sepal width (cm)"], "number"),
    ({"rows": [ROW, {**ROW, "sepal width (cm)": True}]}, ["body", "rows", 1, "sepal width (cm)"], "not a boolean"),
    ({"rows": [ROW] * 6}, ["body", "rows"], "at most 5"),
    ({"data": [ROW]}, ["body", "rows"], "list"),
])
def test_server_rejects_bad_rows_with_422_naming_the_field(server, payload, loc, needle):
    r = httpx.post(f"{server}/predict", json=payload)
    assert r.status_code == 422, r.text
    (err,) = r.json()["detail"]
    assert err["loc"] == loc and needle in err["msg"], err


def test_server_rejects_a_csv_missing_a_column(server):
    r = httpx.post(f"{server}/predict", content="sepal length (cm),sepal width (cm)\n5.1,3.5\n",
                   headers={"content-type": "text/csv"})
    assert r.status_code == 422
    assert {tuple(e["loc"]) for e in r.json()["detail"]} == {("body", 0, "petal length (cm)"), ("body", 0, "petal width (cm)")}


def test_server_refuses_booleans_in_a_numeric_column_of_a_csv_body(server):
    """A CSV column of True/False reads as booleans: each row's field is named."""
    r = httpx.post(f"{server}/predict", content="sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)\n"
                   "5.1,True,1.4,0.2\n5.1,False,1.4,0.2\n", headers={"content-type": "text/csv"})
    assert r.status_code == 422, r.text
    errors = r.json()["detail"]
    assert [e["loc"] for e in errors] == [["body", 0, "sepal width (cm)"], ["body", 1, "sepal width (cm)"]], errors
    assert all("not a boolean" in e["msg"] for e in errors), errors
