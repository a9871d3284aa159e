"""How the report names what it shows: a contender (``label_variants``: a compiled model or TF32
is a contender of its own) and a configuration (dataset, architecture, precision and batch, plus
whatever else tells it from the others in the same figure).

Light on purpose: a job's console line uses ``label_variants``, and a job imports no pandas.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# One configuration = everything but the framework and device that are compared across it.
CONFIG_KEYS = ["experiment_name", "dataset", "arch", "precision", "loss", "batch_size", "epochs",
               "lr", "init"]
LABELLED = ("dataset", "arch", "precision", "batch_size")  # what every configuration label shows


def key_text(key: str, value: object) -> object:
    """Configuration values as a reader writes them: batch 64, not 64.0; null batch = full."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "full" if key == "batch_size" else ""
    if isinstance(value, float) and value.is_integer() and key in ("batch_size", "epochs"):
        return int(value)
    return value


def varying(rows: list[dict], shown: tuple[str, ...]) -> list[str]:
    """The configuration keys, other than those a label always ``shown``, that tell apart rows
    whose ``shown`` keys are the same: what a label must add so that no two read alike."""
    def text(row: dict, key: str) -> str:
        return str(key_text(key, row.get(key)))

    alike: dict[tuple, list[dict]] = {}
    for row in rows:
        alike.setdefault(tuple(text(row, k) for k in shown), []).append(row)
    return [k for k in CONFIG_KEYS if k not in shown
            and any(len({text(r, k) for r in group}) > 1 for group in alike.values())]


def key_values(row: dict, keys: list[str]) -> str:
    """``epochs 200 lr 0.5``: the values of ``keys`` in a label."""
    return " ".join(f"{'batch' if k == 'batch_size' else k} {key_text(k, row.get(k))}"
                    for k in keys)


def label(row: pd.Series | dict, wrap: bool = True, extra: list[str] | None = None) -> str:
    """dataset, architecture, precision and batch on three lines, and on a fourth the ``extra``
    keys that tell this configuration from others in the figure (see ``tables.varying``)."""
    row = dict(row)
    arch = str(row.get("arch"))
    text = (f"{row.get('dataset')}\n{wrap_arch(arch) if wrap else arch}\n"
            f"{row.get('precision')} {key_values(row, ['batch_size'])}")
    return f"{text}\n{key_values(row, extra)}" if extra else text


def wrap_arch(arch: str, width: int = 14) -> str:
    """A long architecture on two lines, split at the 'x' nearest its middle, so that the
    tick labels of neighbouring bars do not run into each other."""
    cuts = [i for i, ch in enumerate(arch) if ch == "x"]
    if len(arch) <= width or not cuts:
        return arch
    cut = min(cuts, key=lambda i: abs(i - len(arch) / 2))
    return f"{arch[:cut + 1]}\n{arch[cut + 1:]}"


def label_variants(record: dict) -> dict:
    """Fold the settings that make a different contender into the labels the report groups by:
    a compiled model is its own framework column ("torch+compile"), TF32 its own precision
    ("float32+tf32"). The result file keeps the settings as they were."""
    mode = record.get("compile_mode")
    if mode and record.get("framework"):
        record["framework"] = f"{record['framework']}+compile" + \
            ("" if mode == "default" else f":{mode}")
    if record.get("tf32") and record.get("precision"):
        record["precision"] = f"{record['precision']}+tf32"
    return record
