"""A prediction server for a run: `netfit serve RUN --host 127.0.0.1 --port 8000`.

Endpoints: `POST /predict` (JSON `{"rows": [{column: value, ...}, ...]}` or a CSV body with a
header row), `GET /health`, `GET /schema` (the expected columns and their types, from
model.json), and the OpenAPI spec at `/openapi.json` (browsable at `/docs`). Rows go through the
run's saved preprocessing (`netfit.load(run).predict`). A missing column, a value of the wrong
type (`true`/`false` where a number is expected included) or more rows than `max_rows` get a 422
whose `detail[].loc` names the row and column.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Annotated, Any, Optional, Union

import numpy as np
import pandas as pd
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr,
                      TypeAdapter, ValidationError, create_model)

from netfit._version import __version__
from netfit.errors import DataError


def _not_a_boolean(value: Any) -> Any:
    """true/false is not a number, though Python (and pydantic's float) would take it as 1/0."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"a number is expected, not a boolean ({value!r}): the column is numeric")
    return value


# the JSON value each column type accepts (null is a missing value, imputed like in training)
VALUE_TYPES: dict[str, Any] = {
    "numeric": Optional[Annotated[float, BeforeValidator(_not_a_boolean)]],
    "boolean": Optional[bool],
    "categorical": Optional[Union[StrictStr, StrictInt, StrictFloat, StrictBool]],
}


class Prediction(BaseModel):
    """The answer of POST /predict: one prediction per row, and class probabilities."""

    predictions: list[Any] = Field(description="The predicted class label, or value, of each row.")
    probabilities: Optional[list[dict[str, float]]] = Field(None, description="Per row, each class's probability.")
    classes: Optional[list[Any]] = Field(None, description="The class labels (classification).")
    sets: Optional[list[list[Any]]] = Field(None, description="Per row, the conformal prediction set's labels "
                                            "(classification, when the run fitted `evaluate.conformal`).")
    abstain: Optional[list[bool]] = Field(None, description="Per row, true where the top-class probability is below "
                                          "the request's `min_confidence` (classification).")
    lower: Optional[list[Optional[float]]] = Field(None, description="Per row, the conformal interval's lower end "
                                                   "(regression; null: unbounded).")
    upper: Optional[list[Optional[float]]] = Field(None, description="Per row, the conformal interval's upper end "
                                                   "(regression; null: unbounded).")


def row_model(types: dict[str, str]) -> type[BaseModel]:
    """A pydantic model of one input row: every column required, extra columns ignored."""
    fields = {f"c{i}": (VALUE_TYPES[kind], Field(..., alias=name, description=f"{kind} column"))
              for i, (name, kind) in enumerate(types.items())}
    return create_model("Row", __config__=ConfigDict(extra="ignore"), **fields)


def create_app(run_dir: str | Path, max_rows: int = 10000) -> FastAPI:
    """The FastAPI app serving one run (loaded once, at start-up).

    Example:
        >>> import uvicorn; uvicorn.run(create_app("runs/iris-..."), port=8000)  # doctest: +SKIP
    """
    from netfit.api import load

    run = load(run_dir)
    loaded = run._loaded()
    pre = loaded.preprocessor
    types = {c: pre.types[c] for c in pre.input_columns}
    Row = row_model(types)
    rows_adapter = TypeAdapter(list[Row])
    app = FastAPI(title="netfit prediction server", version=__version__,
                  description=f"Predictions of the run {run.path.name} ({loaded.task}).")
    request_schema = {"type": "object", "required": ["rows"], "properties": {
        "rows": {"type": "array", "minItems": 1, "maxItems": max_rows, "items": Row.model_json_schema(by_alias=True)}}}

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Liveness: the model is loaded and answers."""
        return {"status": "ok", "run": run.path.name, "task": loaded.task}

    @app.get("/schema")
    def schema() -> dict[str, Any]:
        """The columns a row must hold, with their types, and what the answer holds."""
        return {"columns": [{"name": c, "type": t} for c, t in types.items()], "target": pre.target,
                "task": loaded.task, "classes": list(loaded.classes), "max_rows": max_rows}

    @app.post("/predict", response_model=Prediction, openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": request_schema},
        "text/csv": {"schema": {"type": "string", "description": "CSV with a header row naming the columns"}}}}})
    async def predict(request: Request, min_confidence: Optional[float] = None) -> Prediction:
        """Predict rows given as JSON `{"rows": [...]}` or as a CSV body (Content-Type: text/csv).

        `?min_confidence=P` (classification): `abstain` is true for rows whose top-class probability is below P."""
        records, loc = await _records(request)
        if len(records) > max_rows:
            _reject(loc, f"too many rows: {len(records)}, at most {max_rows} per request", "too_long")
        if not records:
            _reject(loc, "no rows given", "too_short")
        try:
            rows = rows_adapter.validate_python(records)
        except ValidationError as e:
            raise RequestValidationError([{**err, "loc": (*loc, *err["loc"])}
                                          for err in e.errors(include_url=False, include_context=False)]) from None
        frame = pd.DataFrame([r.model_dump(by_alias=True) for r in rows], columns=list(types))
        return _answer(run, frame, loaded, min_confidence)

    return app


async def _records(request: Request) -> tuple[list[dict[str, Any]], tuple]:
    """The request's rows as dicts, and the location to name in errors."""
    body = await request.body()
    if request.headers.get("content-type", "").startswith("text/csv"):
        try:
            frame = pd.read_csv(io.BytesIO(body))
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            _reject(("body",), f"the CSV body cannot be read: {e}", "csv_parsing")
        # NaN (an empty CSV cell) is a missing value: null, like in JSON
        return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
                for r in frame.to_dict("records")], ("body",)
    try:
        payload = TypeAdapter(dict[str, Any]).validate_json(body)
    except ValidationError:
        _reject(("body",), 'expected a JSON object {"rows": [{column: value, ...}, ...]} or a CSV body', "json_invalid")
    if not isinstance(payload.get("rows"), list):
        _reject(("body", "rows"), 'expected "rows": a list of objects, one per row', "list_type")
    return payload["rows"], ("body", "rows")


def _reject(loc: tuple, msg: str, kind: str) -> None:
    raise RequestValidationError([{"loc": loc, "msg": msg, "type": kind}])


def _answer(run: Any, frame: pd.DataFrame, loaded: Any, min_confidence: float | None = None) -> Prediction:
    try:
        result = run.predict(frame, min_confidence=min_confidence)
    except DataError as e:  # a value the saved preprocessing refuses: the caller's to fix
        raise HTTPException(status_code=422, detail=str(e)) from None
    preds = result["prediction"].tolist()
    if loaded.task == "regression":
        bounds = {k: [v if math.isfinite(v) else None for v in result[k].astype(float)] for k in ("lower", "upper")
                  if k in result}
        return Prediction(predictions=preds, **bounds)
    proba = result[[f"proba_{c}" for c in loaded.classes]].to_numpy()
    sets = None
    if "set" in result:
        by_text = {str(c): c for c in loaded.classes}
        sets = [[by_text[t] for t in s.split("|")] if s else [] for s in result["set"]]
    abstain = result["abstain"].astype(bool).tolist() if "abstain" in result else None
    return Prediction(predictions=preds, classes=list(loaded.classes), sets=sets, abstain=abstain,
                      probabilities=[dict(zip(map(str, loaded.classes), map(float, p))) for p in proba])
