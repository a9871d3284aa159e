"""How the figures name a configuration: dataset, architecture, precision and batch, plus
whatever else tells it from the others in the same figure."""

from __future__ import annotations

import pandas as pd

from nnbench.report.tables import key_values

LABELLED = ("dataset", "arch", "precision", "batch_size")  # what every configuration label shows


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
