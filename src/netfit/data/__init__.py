"""Data: load a source, clean it, split it, and preprocess it with statistics fitted on train only.

The run asks for one thing: `prepare(cfg.data, seed, data=...) -> Prepared`::

    from netfit.config import load_config
    cfg = load_config({"data": {"source": "sklearn:digits"}})
    prepared = prepare(cfg.data, seed=cfg.seed)
    prepared.splits["train"].x_num.shape          # (1257, 60): 4 pixels are constant in train

Warnings (dropped columns, unseen categories, rows shared across splits) are emitted as
`DataWarning` and also listed in `prepared.summary["warnings"]`.
"""

from netfit.data.messages import DataWarning
from netfit.data.preparation import prepare
from netfit.data.prepared import Prepared, Split
from netfit.data.preprocess import Preprocessor
from netfit.data.sources import frame_from_data, list_datasets, load_table

__all__ = ["prepare", "Prepared", "Split", "Preprocessor", "DataWarning", "load_table", "frame_from_data",
           "list_datasets"]
