"""nnbench: the same MLP from scratch in NumPy and in PyTorch, measured side by side.

The command line is ``python -m nnbench``; from Python::

    import nnbench
    record = nnbench.run(["framework=torch", "train.epochs=5"])   # one job -> nnbench.Record
    frame = nnbench.load("runs")                                   # every record -> DataFrame

The API's names are imported on first use, so ``python -m nnbench`` pays for none of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["ConfigError", "DataError", "Record", "load", "run"]

if TYPE_CHECKING:
    from nnbench.api import load, run
    from nnbench.errors import ConfigError, DataError
    from nnbench.record import Record

_WHERE = {"load": "nnbench.api", "run": "nnbench.api", "Record": "nnbench.record",
          "ConfigError": "nnbench.errors", "DataError": "nnbench.errors"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'nnbench' has no attribute {name!r}")
