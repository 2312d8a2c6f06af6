"""Your own pieces by import path: modules, losses and metrics named `package.module:name`.

A config names them as strings so it stays plain YAML that a later process (predict, resume,
serve) can read again; in Python a class or function may be given instead and is turned into
its import path. Importing a path runs that module's code: this is by design (it is your code),
so only load run folders whose custom modules you trust.

Contracts:
  module   `Class(n_num=, cat_cardinalities=, n_out=, **kwargs)`, an `nn.Module` called as
           `forward(x_num (B, n_num) float32, x_cat (B, n_cat) int64 | None) -> (B, n_out)`.
  loss     `fn(output, target) -> scalar tensor`, or `fn(output, target, weight)` for sample weights.
  metric   `fn(output, target) -> scalar tensor`, logged as `val_<name>` and scored once on the
           test split; which way it improves is never guessed: monitoring it needs
           `train.early_stopping.mode` (`max` or `min`), tuning it that or `tune.direction`.
  a loss sees what the model trains on: raw output (logits for classification, standardized values for
  regression) and class indices (int64) or the standardized target (float32); a metric sees logits
  and class indices, or for regression output and target in the target's own units (float32).
"""

from __future__ import annotations

import importlib
import inspect
import re
from typing import TYPE_CHECKING, Any, Callable

from netfit.errors import ConfigError

if TYPE_CHECKING:  # the config package imports this module; torch loads only where a component is built
    import torch

IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def import_path_of(obj: Any) -> Any:
    """`package.module:Name` for a class or function; other values pass through unchanged."""
    if not (inspect.isclass(obj) or inspect.isfunction(obj)):
        return obj
    qualname = obj.__qualname__
    if "<" in qualname:  # a lambda or a function defined inside another function
        raise ValueError(
            f"{qualname} cannot be named by an import path; define it at the top level of a module "
            f"and pass it (or its `package.module:name` string) instead"
        )
    return f"{obj.__module__}:{qualname}"


def check_import_path(value: Any) -> Any:
    """Pydantic validator: a string that looks like `package.module:name`."""
    if isinstance(value, str) and not IMPORT_PATH.match(value):
        raise ValueError("expected an import path like `package.module:name`")
    return value


def import_object(path: str, where: str) -> Any:
    """Import `package.module:name`; a ConfigError naming the field when it cannot be found."""
    module_name, _, attr = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError("cannot import the module of a custom component", where=where, found=f"{path}: {e}",
                          hint="check the spelling, and that its folder is on PYTHONPATH (or the package is installed)") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError("custom component not found in its module", where=where,
                              expected=f"a name `{attr}` in {module_name}", found=f"no attribute {part!r}",
                              hint=f"names defined there: {', '.join(n for n in dir(obj) if not n.startswith('_'))[:200]}")
        obj = getattr(obj, part)
    return obj


def metric_name(path: str) -> str:
    """`pkg.mod:top3_accuracy` -> `top3_accuracy`: the name logged as `val_<name>`."""
    return path.rpartition(":")[2].rpartition(".")[2]


def build_metrics(paths: list[str]) -> dict[str, Callable]:
    """{name: fn} for `train.metrics`."""
    metrics = {}
    for i, path in enumerate(paths):
        fn = import_object(path, f"train.metrics[{i}]")
        if not callable(fn):
            raise ConfigError("a custom metric must be callable", where=f"train.metrics[{i}]", found=path,
                              hint="name a function fn(output, target) -> scalar tensor")
        metrics[metric_name(path)] = fn
    return metrics


def custom_loss(path: str, has_weights: bool) -> Callable:
    """A netfit loss `(output, target, weight | None) -> scalar` around the user's function."""
    fn = import_object(path, "train.loss")
    takes_weight = _n_positional(fn) >= 3
    if has_weights and not takes_weight:
        raise ConfigError("the custom loss takes no sample weights, but data.weight_column is set",
                          where="train.loss", found=f"{path} takes (output, target)",
                          hint="add a third argument `weight` to the loss, or drop data.weight_column")

    def loss(out: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        if out.ndim == 3:  # an ensemble's members in training (B, k, n_out): the mean of their losses
            return sum(loss(out[:, j], y, w) for j in range(out.shape[1])) / out.shape[1]
        return fn(out, y, w) if takes_weight else fn(out, y)

    return loss


def _n_positional(fn: Callable) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # some builtins have no signature; assume (output, target)
        return 2
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return 3
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def score_metrics(metrics: dict[str, Callable], out: "torch.Tensor", y: "torch.Tensor") -> dict[str, "torch.Tensor"]:
    """Each custom metric as a 0-d float tensor on the output's device (read later, in one sync)."""
    import torch

    with torch.inference_mode():
        return {name: torch.as_tensor(fn(out, y), dtype=torch.float32, device=out.device).reshape(())
                for name, fn in metrics.items()}
