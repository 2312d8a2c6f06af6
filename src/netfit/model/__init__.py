"""Model: config -> nn.Module (build.py) from reusable blocks (layers.py)."""

from netfit.model.build import build_model, count_parameters, model_for, output_size, resolve_model

__all__ = ["build_model", "count_parameters", "model_for", "output_size", "resolve_model"]
