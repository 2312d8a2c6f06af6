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
                          calibration=loaded.calibration)  # as Run.predict computes them
    np.testing.assert_allclose(softmax, proba, atol=1e-5)


def test_export_refuses_an_unknown_format(iris_run):
    proc = netfit_cli("export", str(iris_run.path), "--format", "tflite")
    assert proc.returncode == 2 and "--format" in proc.stderr and "onnx" in proc.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(run_path, *args, stdout=subprocess.PIPE, env=None):
    """`netfit serve` on a free port of 127.0.0.1: the process and its URL, once /health answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "netfit", "serve", str(run_path), "--host", "127.0.0.1",
                             "--port", str(port), *args], stdout=stdout, stderr=subprocess.PIPE, env=env)
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
    return proc, url


@pytest.fixture(scope="module")
def served(iris_run):
    """One server for the module's tests: the process and its URL."""
    proc, url = start_server(iris_run.path, "--max-rows", "5", "--max-body", "4096", "--quiet")
    yield proc, url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(served):
    return served[1]


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


def test_server_answers_each_rows_warnings_and_carries_kept_columns(server, iris_run):
    rows = [{**ROW, "id": "a"}, {**ROW, "petal width (cm)": None, "id": "b"}, {**ROW, "petal length (cm)": 50.0, "id": 7}]
    r = httpx.post(f"{server}/predict", json={"rows": rows, "keep": ["id"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kept"] == [{"id": "a"}, {"id": "b"}, {"id": 7}]
    warnings = body["warnings"]
    assert warnings[0] == []
    assert [w["where"] for w in warnings[1]] == ["body: column 'petal width (cm)'"]
    assert warnings[1][0]["message"].startswith("missing value filled in with")
    assert "50 is outside the training range" in warnings[2][0]["message"] and warnings[2][0]["hint"]
    # a CSV body keeps through the query string; a row without the column is a 422 naming it
    csv = "id,sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)\nx1,5.1,3.5,1.4,0.2\n"
    r = httpx.post(f"{server}/predict", params={"keep": "id"}, content=csv, headers={"content-type": "text/csv"})
    assert r.json()["kept"] == [{"id": "x1"}] and r.json()["warnings"] == [[]], r.text
    r = httpx.post(f"{server}/predict", json={"rows": [{**ROW, "id": 1}, ROW], "keep": ["id"]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "rows", 1, "id"], r.text


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


def test_server_refuses_an_over_size_body_with_413_before_parsing(server):
    big = b'{"rows": [' + b"0," * 5000 + b"0]}"
    r = httpx.post(f"{server}/predict", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "--max-body" in r.json()["detail"]
    # a chunked body (no Content-Length) is counted while it is read
    r = httpx.post(f"{server}/predict", content=iter([b"x" * 1024] * 8), headers={"content-type": "text/csv"})
    assert r.status_code == 413
    assert httpx.post(f"{server}/predict", json={"rows": [ROW]}).status_code == 200


def test_server_prints_where_it_listens_and_one_access_log_line_per_request(iris_run, tmp_path):
    log = tmp_path / "out.log"
    with open(log, "wb") as out:
        proc, url = start_server(iris_run.path, "--log-format", "json", stdout=out)
        try:
            httpx.post(f"{url}/predict", json={"rows": [ROW, ROW, ROW]})
            httpx.post(f"{url}/predict", json={"rows": [{"sepal length (cm)": 1}]})
            httpx.get(f"{url}/schema")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    first, *lines = log.read_text().splitlines()
    assert f"listening on {url}" in first
    entries = [json.loads(line) for line in lines]
    health = [e for e in entries if e["path"] == "/health"]  # the start-up polls
    rest = [(e["method"], e["path"], e["status"], e["rows"]) for e in entries if e["path"] != "/health"]
    assert health and all(e["status"] == 200 and e["ms"] >= 0 for e in health)
    assert rest == [("POST", "/predict", 200, 3), ("POST", "/predict", 422, None), ("GET", "/schema", 200, None)]


HOLD_MODULE = """
import os, pathlib, time
import torch
from torch import nn


class Net(nn.Module):
    # in the server (NETFIT_TEST_HOLD set), forward waits while the test's hold file exists
    def __init__(self, n_num, cat_cardinalities, n_out):
        super().__init__()
        self.lin = nn.Linear(n_num, n_out)

    def forward(self, x_num, x_cat=None):
        hold = os.environ.get("NETFIT_TEST_HOLD")
        if hold and pathlib.Path(hold).exists():
            with open(hold + ".log", "a") as log:  # one line per prediction that reached the model
                log.write("entered\\n")
            pathlib.Path(hold + ".entered").touch()
            while pathlib.Path(hold).exists():
                time.sleep(0.01)
        return self.lin(x_num)
"""


@pytest.fixture(scope="module")
def hold_run(tmp_path_factory):
    """A run whose model waits in forward while a hold file exists (in a server given NETFIT_TEST_HOLD)."""
    tmp = tmp_path_factory.mktemp("hold")
    (tmp / "holdmods.py").write_text(HOLD_MODULE)
    sys.path.insert(0, str(tmp))
    try:
        run = netfit.fit({"data": {"source": "sklearn:iris"}, "model": {"module": "holdmods:Net"}},
                         output_dir=str(tmp / "runs"), train__epochs=2, evaluate__bootstrap=0,
                         evaluate__baselines=False)
    finally:
        sys.path.remove(str(tmp))
    return run, tmp


def hold_server(hold_run, tmp_path, *args):
    """A server of `hold_run` whose predictions wait while the returned hold file exists."""
    import os

    run, module_dir = hold_run
    hold = tmp_path / "hold"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(module_dir), os.environ.get("PYTHONPATH", "")]),
           "NETFIT_TEST_HOLD": str(hold)}
    proc, url = start_server(run.path, "--quiet", *args, env=env)
    return proc, url, hold


def test_server_answers_health_during_a_held_prediction_and_sigterm_lets_it_finish(hold_run, tmp_path):
    import signal
    import threading

    proc, url, hold = hold_server(hold_run, tmp_path)
    answers = []
    try:
        hold.touch()
        worker = threading.Thread(target=lambda: answers.append(httpx.post(f"{url}/predict", json={"rows": [ROW]},
                                                                            timeout=60)))
        worker.start()
        deadline = time.monotonic() + 60
        while not (tmp_path / "hold.entered").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert (tmp_path / "hold.entered").exists(), "the prediction never reached the model"
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200  # while /predict is held
        assert httpx.get(f"{url}/schema", timeout=10).status_code == 200
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # let the server take the signal while the request is still held
        assert proc.poll() is None  # it waits for the in-flight request
        hold.unlink()
        worker.join(timeout=60)
        assert answers and answers[0].status_code == 200 and len(answers[0].json()["predictions"]) == 1
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once drained
    finally:
        hold.unlink(missing_ok=True)
        if proc.poll() is None:
            proc.kill()


def test_server_runs_at_most_threads_predictions_at_once(hold_run, tmp_path):
    import threading

    proc, url, hold = hold_server(hold_run, tmp_path, "--threads", "2")
    log = tmp_path / "hold.log"
    answers = []
    try:
        hold.touch()
        workers = [threading.Thread(target=lambda: answers.append(
            httpx.post(f"{url}/predict", json={"rows": [ROW]}, timeout=60))) for _ in range(3)]
        for w in workers:
            w.start()
        deadline = time.monotonic() + 60
        while (not log.exists() or len(log.read_text().splitlines()) < 2) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)  # time enough for a third prediction to reach the model, were the pool larger
        assert len(log.read_text().splitlines()) == 2  # two held in the model, the third waits for a thread
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200  # the pool does not block /health
        hold.unlink()
        for w in workers:
            w.join(timeout=60)
        assert [a.status_code for a in answers] == [200, 200, 200]
    finally:
        hold.unlink(missing_ok=True)
        proc.terminate()
        proc.wait(timeout=30)


def metric_values(url: str) -> dict[tuple, float]:
    """The samples of GET /metrics: {(name, sorted labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    r = httpx.get(f"{url}/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def test_server_metrics_count_what_was_sent(server):
    before = metric_values(server)
    for n in (1, 2, 3):
        assert httpx.post(f"{server}/predict", json={"rows": [ROW] * n}).status_code == 200
    assert httpx.post(f"{server}/predict", json={"rows": [{"sepal length (cm)": 1}]}).status_code == 422
    after = metric_values(server)

    def delta(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert delta("netfit_requests_total", method="POST", path="/predict", status="200") == 3
    assert delta("netfit_requests_total", method="POST", path="/predict", status="422") == 1
    assert delta("netfit_rows_predicted_total") == 6
    assert delta("netfit_errors_total", path="/predict", kind="client") == 1
    assert delta("netfit_errors_total", path="/predict", kind="server") == 0
    assert delta("netfit_request_duration_seconds_count", path="/predict") == 4
    assert delta("netfit_request_duration_seconds_bucket", path="/predict", le="+Inf") == 4
    assert delta("netfit_request_duration_seconds_sum", path="/predict") > 0
    assert after[("process_resident_memory_bytes", ())] > 0  # the process's own figures, one worker
    httpx.get(f"{server}/no-such-page")  # unknown URLs share one label, not one series each
    assert metric_values(server)[("netfit_requests_total", (("method", "GET"), ("path", "other"),
                                                            ("status", "404")))] >= 1


def rss_kb(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/status")
def test_server_refuses_a_30_mb_body_without_holding_it(served):
    proc, url = served
    size, chunk = 30 * 1024 * 1024, b"1," * 32 * 1024
    httpx.post(f"{url}/predict", json={"rows": [ROW]})  # warm: the first request's allocations are not the body's
    before = rss_kb(proc.pid)
    stream = lambda: (chunk for _ in range(size // len(chunk)))  # noqa: E731 - streamed, never whole here either
    # declared (Content-Length) and chunked (counted while read)
    declared = httpx.post(f"{url}/predict", content=stream(), timeout=60,
                          headers={"content-type": "application/json", "content-length": str(size)})
    chunked = httpx.post(f"{url}/predict", content=stream(), timeout=60, headers={"content-type": "text/csv"})
    grown_mb = (rss_kb(proc.pid) - before) / 1024
    assert declared.status_code == chunked.status_code == 413 and "--max-body" in chunked.json()["detail"]
    # (with --max-body above 30 MB the same body, as a JSON list, grew this server by ~120 MB)
    assert grown_mb < 5, f"the server grew by {grown_mb:.1f} MB for a refused 30 MB body"
    assert httpx.post(f"{url}/predict", json={"rows": [ROW]}).status_code == 200


@pytest.mark.parametrize("flag", ["--threads", "--workers", "--max-body"])
def test_serve_refuses_a_pool_size_below_one_with_exit_code_2(iris_run, flag):
    proc = netfit_cli("serve", str(iris_run.path), flag, "0")
    assert proc.returncode == 2 and flag in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow  # three processes load torch and the model: ~15 s on a quiet 2-core machine, 40 s on a busy one
def test_server_with_two_workers_predicts_and_sums_metrics(iris_run):
    proc, url = start_server(iris_run.path, "--workers", "2", "--quiet")
    try:
        for _ in range(4):  # a new connection each: the workers share them out
            r = httpx.post(f"{url}/predict", json={"rows": [ROW, ROW]})
            assert r.status_code == 200 and len(r.json()["predictions"]) == 2
        values = metric_values(url)
        assert values[("netfit_rows_predicted_total", ())] == 8  # both workers' rows, whichever answered
        assert values[("netfit_requests_total", (("method", "POST"), ("path", "/predict"), ("status", "200")))] == 4
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow  # trains a CNN and starts a server: ~30 s on a busy 2-core machine
def test_server_predicts_an_image_run_given_its_pixel_columns(tmp_path):
    from sklearn.datasets import load_digits

    run = netfit.fit({"data": {"source": "sklearn:digits", "image_shape": [8, 8]},
                      "model": {"type": "cnn", "channels": [8], "hidden": [16]}},
                     output_dir=str(tmp_path), train__epochs=1, evaluate__bootstrap=0, evaluate__baselines=False)
    proc, url = start_server(run.path, "--quiet")
    try:
        columns = [c["name"] for c in httpx.get(f"{url}/schema").json()["columns"]]
        frame = load_digits(as_frame=True).frame
        assert len(columns) == 64 and set(columns) <= set(frame.columns)  # every pixel, constant ones included
        rows = [{c: float(frame[c].iloc[i]) for c in columns} for i in range(3)]
        r = httpx.post(f"{url}/predict", json={"rows": rows})
        assert r.status_code == 200, r.text
        expected = run.predict(frame[columns].iloc[:3])["prediction"].tolist()
        assert r.json()["predictions"] == expected
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def array_runs(tmp_path):
    """A text cnn, a variable-length sequence gru and an image-array cnn, each trained briefly."""
    from netfit.data.synthetic import load_synthetic

    quick = {"train": {"epochs": 2, "threads": 1},
             "evaluate": {"bootstrap": 0, "baselines": False, "importance": False, "slices": False}}
    text = load_synthetic("synthetic:sentences").iloc[:300]
    order = load_synthetic("synthetic:order").iloc[:300]
    rng = np.random.default_rng(0)
    images = rng.random((120, 8, 8)).astype(np.float32)
    runs = {
        "text": (netfit.fit({"data": {"text_column": "text"}, "model": {"type": "cnn", "channels": [8]}, **quick},
                            data=text, output_dir=str(tmp_path), quiet=True), text.drop(columns="target")),
        "sequence": (netfit.fit({"model": {"type": "rnn", "cell": "gru", "units": 8}, **quick}, data=order,
                                output_dir=str(tmp_path), quiet=True), order.drop(columns="target")),
        "image": (netfit.fit({"model": {"type": "cnn", "channels": [4]}, **quick}, data=(images, np.arange(120) % 2),
                             output_dir=str(tmp_path), quiet=True), None),
    }
    import pandas as pd

    runs["image"] = (runs["image"][0], pd.DataFrame({"image": list(images[:5])}))
    return runs


@pytest.mark.slow  # trains three small models and starts three servers: ~1 min on a busy 2-core machine
def test_text_sequence_and_image_runs_are_served_like_run_predict(tmp_path):
    for kind, (run, frame) in array_runs(tmp_path).items():
        proc, url = start_server(run.path, "--quiet")
        try:
            schema = httpx.get(f"{url}/schema").json()["columns"]
            assert [c["type"] for c in schema] == [kind], schema
            column = schema[0]["name"]
            values = frame[column].iloc[:5].tolist()
            rows = [{column: v.tolist() if isinstance(v, np.ndarray) else v} for v in values]
            r = httpx.post(f"{url}/predict", json={"rows": rows})
            assert r.status_code == 200, (kind, r.text)
            expected = run.predict(frame.iloc[:5])
            assert r.json()["predictions"] == expected["prediction"].tolist(), kind
            got = np.array([[p[str(c)] for c in r.json()["classes"]] for p in r.json()["probabilities"]])
            np.testing.assert_allclose(got, expected.filter(like="proba_").to_numpy(), atol=1e-5)
            assert r.json()["warnings"] == [[]] * 5, (kind, r.json()["warnings"])
            if kind == "text":  # a text longer than any in training is cut, and the answer says so
                long = httpx.post(f"{url}/predict", json={"rows": [{column: "the film " * 500}]}).json()
                assert "1000 tokens cut to the first" in long["warnings"][0][0]["message"], long
            if kind == "sequence":  # variable lengths: the rows differ in steps
                assert len({len(row[column]) for row in rows}) > 1
                bad = httpx.post(f"{url}/predict", json={"rows": [{column: [[1.0, "x"]]}]})
                assert bad.status_code == 422 and column in bad.text
            if kind == "image":  # the wrong size names the row and what the model expects
                bad = httpx.post(f"{url}/predict", json={"rows": [rows[0], {column: [[0.0] * 4] * 4}]})
                assert bad.status_code == 422 and "(8, 8, 1)" in bad.text, bad.text
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.mark.slow  # trains a small CNN on an image folder and starts a server: ~20 s
def test_an_image_folder_run_serves_png_uploads_and_json_arrays_like_run_predict(tmp_path, served):
    import pandas as pd
    from PIL import Image
    from sklearn.datasets import load_digits

    from netfit.data.images import read_image_folder

    x, y = load_digits(return_X_y=True)
    folder = tmp_path / "digits"
    for i in range(200):
        path = folder / f"d{y[i]}" / f"{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((x[i].reshape(8, 8) * 255 / 16).astype(np.uint8), mode="L").save(path)
    run = netfit.fit({"data": {"source": str(folder), "image_size": [12, 12]},  # trained resized: uploads are too
                      "model": {"type": "cnn", "channels": [4], "hidden": [16]},
                      "train": {"epochs": 2, "threads": 1},
                      "evaluate": {"bootstrap": 0, "baselines": False, "importance": False, "slices": False}},
                     output_dir=str(tmp_path / "runs"), quiet=True)
    files = sorted(folder.glob("*/*.png"))[:3]
    frame = read_image_folder(folder, run.config.data, str(folder)).set_index("file")
    pixels = [frame.loc[str(f.relative_to(folder)), "image"] for f in files]
    expected = run.predict(pd.DataFrame({"image": pd.Series(pixels, dtype=object)}))
    proc, url = start_server(run.path, "--quiet")
    try:
        schema = httpx.get(f"{url}/schema").json()["columns"]
        assert schema == [{"name": "image", "type": "image"}]
        upload = [("files", (f.name, f.read_bytes(), "image/png")) for f in files]
        by_file = httpx.post(f"{url}/predict", params={"keep": "file"}, files=upload)
        by_json = httpx.post(f"{url}/predict", json={"rows": [{"image": p.tolist()} for p in pixels]})
        for r in (by_file, by_json):
            assert r.status_code == 200, r.text
            assert r.json()["predictions"] == expected["prediction"].tolist()
            got = np.array([[p[str(c)] for c in r.json()["classes"]] for p in r.json()["probabilities"]])
            np.testing.assert_allclose(got, expected.filter(like="proba_").to_numpy(), atol=1e-5)
        assert by_file.json()["kept"] == [{"file": f.name} for f in files]
        bad = httpx.post(f"{url}/predict", files=[("files", ("notes.png", b"not an image", "image/png"))])
        assert bad.status_code == 422 and "notes.png" in bad.text and "PNG or JPEG" in bad.text, bad.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # a table run takes no upload, and says what it takes
    r = httpx.post(f"{served[1]}/predict", files=[("files", ("a.png", files[0].read_bytes(), "image/png"))])
    assert r.status_code == 415 and "/schema" in r.text
