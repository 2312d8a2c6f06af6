"""Your own `nn.Module`, named by `model.module` (see netfit.plugins for the contract)."""

from __future__ import annotations

from torch import nn

from netfit.config import ModelConfig
from netfit.errors import ConfigError
from netfit.plugins import import_object


def build_custom(cfg: ModelConfig, n_num: int, cat_cardinalities: list[int], n_out: int) -> nn.Module:
    """Import `cfg.module` and build it with the data's sizes plus `cfg.kwargs`.

    Example:
        >>> cfg = ModelConfig(module="torch.nn:Bilinear")  # doctest: +SKIP
    """
    factory = import_object(cfg.module, "model.module")
    try:
        model = factory(n_num=n_num, cat_cardinalities=list(cat_cardinalities), n_out=n_out, **cfg.kwargs)
    except TypeError as e:  # a signature mismatch is the user's to fix; other errors keep their traceback
        if "argument" not in str(e):
            raise
        raise ConfigError("custom module cannot be built with netfit's arguments", where="model.module",
                          expected=f"{cfg.module}(n_num, cat_cardinalities, n_out, **model.kwargs)",
                          found=str(e), hint="accept n_num, cat_cardinalities and n_out (or **kwargs) in __init__, "
                          "and put other arguments under model.kwargs") from None
    if not isinstance(model, nn.Module):
        raise ConfigError("custom module is not a torch.nn.Module", where="model.module",
                          found=f"{cfg.module} returned {type(model).__name__}",
                          hint="name an nn.Module subclass, or a function returning one")
    return model
