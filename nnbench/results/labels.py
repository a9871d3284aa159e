"""How the report names what it shows: a contender (``label_variants``: a compiled model or TF32
is a contender of its own) and a configuration (dataset, architecture, precision and batch, plus
whatever else tells it from the others in the same figure).

Light on purpose: a job's console line uses ``label_variants``, and a job imports no pandas.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import TYPE_CHECKING, Any

from nnbench.record import Record
from nnbench.results.read import ReadRecord

if TYPE_CHECKING:
    import pandas as pd

# One configuration = everything but the framework and device that are compared across it:
# the keys a reader knows it by, then ``variant``, the other measured keys of its identity's
# configuration part that tell it from its namesakes (``assign_variants``: threads 1, n_samples
# 500), so that a row never pools two settings.
CONFIG_KEYS = ["experiment_name", "dataset", "arch", "precision", "loss", "batch_size", "epochs",
               "lr", "init", "variant"]
LABELLED = ("dataset", "arch", "precision", "batch_size")  # what every configuration label shows
# What a configuration's rounds must share to pool, besides the host (a column of its own when
# runs come from several): the code that ran, the libraries it ran on and the environment they
# were installed in (bench.python), then the identity's data and environment digests, which
# tell apart what the names do not (two venvs named .venv; a data file edited; results.pooling).
IDENTITY = ["code_version", "numpy_version", "torch_version", "environment_name", "data_id",
            "environment_id"]
# The measured keys CONFIG_KEYS already show (or that name the contender, not the setting).
SHOWN = {"dataset.name", "dataset._target_", "arch.layer_sizes", "precision.name",
         "precision.tf32", "train.loss", "train.batch_size", "train.epochs", "train.lr",
         "train.init", "device.name"}


def assign_variants(records: list[ReadRecord]) -> None:
    """Set each record's ``variant``: the measured keys beyond ``CONFIG_KEYS`` whose values
    differ among records that CONFIG_KEYS and the device alone would pool (``bench.threads
    1``), as ``threads 1 n_samples 500``; empty where none differ. A record without an
    identity (an older one) has none."""
    def named(rec: ReadRecord) -> tuple:
        return (*(str(getattr(rec, k)) for k in CONFIG_KEYS if k != "variant"), rec.device)

    groups: dict[tuple, list[ReadRecord]] = {}
    for rec in records:
        groups.setdefault(named(rec), []).append(rec)
    for group in groups.values():
        keys = sorted({k for rec in group for k in rec.measured
                       if k not in SHOWN and not k.startswith("framework.")})
        differ = [k for k in keys if len({repr(r.measured.get(k)) for r in group}) > 1]
        for rec in group:
            values = rec.measured
            rec.variant = " ".join(f"{k.rsplit('.', 1)[-1]} {_value(values.get(k))}"
                                   for k in differ)


def value_of(row: Record | dict | pd.Series, key: str) -> Any:
    """A configuration key's value in a record (its field; None where a record has no such
    field: ``host``, the versions) or in a table's row (its column)."""
    return getattr(row, key, None) if isinstance(row, Record) else row.get(key)


def order_value(value: object) -> tuple:
    """A configuration value in the order a reader expects: numbers by value (batch 16 before
    128), an architecture by its layer sizes (2x64x1 before 2x256x1 before 2x1024x1, where text
    would put 1024 first), then text; a missing value (a full batch) last."""
    if value is None:
        return (2, (), "")
    if not isinstance(value, str) and isinstance(value, numbers.Real) \
            and not isinstance(value, bool):  # NumPy's numbers too
        return (0, (value,), "") if value == value else (2, (), "")
    text = str(value)
    if re.fullmatch(r"\d+(x\d+)+", text):
        return (0, tuple(int(n) for n in text.split("x")), "")
    # other text with its numbers by value: a variant "threads 2" before "threads 10"
    return (1, tuple((0, int(p), "") if p.isdigit() else (1, 0, p)
                     for p in re.split(r"(\d+)", text) if p), text)


def _value(value: object) -> str:
    if isinstance(value, list):
        return "x".join(map(str, value))
    return "null" if value is None else str(value)


# Keys that count things: a count is shown as one (n_train 1600, not 1600.0, which a column
# with a missing value in it turns it into).
COUNTS = {"batch_size", "epochs", "n_train", "n_test", "threads", "rounds", "round"}


def key_text(key: str, value: object) -> object:
    """Configuration values as a reader writes them: batch 64, not 64.0; null batch = full."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "full" if key == "batch_size" else ""
    if isinstance(value, float) and value.is_integer() and key in COUNTS:
        return int(value)
    if key == "code_version" and isinstance(value, str):  # git's 7 hex of a commit, 8 of a hash
        return re.sub(r"\b([0-9a-f]{8})[0-9a-f]{4}\b", r"\1",
                      re.sub(r"\b([0-9a-f]{7})[0-9a-f]{33}\b", r"\1", value))
    return value


def varying(rows: list[Record | dict], shown: tuple[str, ...]) -> list[str]:
    """The configuration keys (then the host and the versions), other than those a label always
    ``shown``, that tell apart rows whose ``shown`` keys and the keys added before are the same:
    what a label must add so that no two read alike, and no more (a code version that differs
    only where the learning rate differs too is not added)."""
    def text(row: Record | dict, key: str) -> str:
        return str(key_text(key, value_of(row, key)))

    added: list[str] = []
    for key in [*CONFIG_KEYS, "host", *IDENTITY]:
        if key in shown:
            continue
        alike: dict[tuple, set[str]] = {}
        for row in rows:
            alike.setdefault(tuple(text(row, k) for k in (*shown, *added)), set()).add(
                text(row, key))
        if any(len(values) > 1 for values in alike.values()):
            added.append(key)
    return added


# How a key is named in a label, where its own name is long.
SHORT = {"batch_size": "batch", "experiment_name": "experiment", "code_version": "code",
         "numpy_version": "numpy", "torch_version": "torch", "environment_name": "env",
         "data_id": "data", "environment_id": "environment"}


def key_values(row: Record | dict, keys: list[str]) -> str:
    """``epochs 200 lr 0.5``: the values of ``keys`` in a label (a variant says its own keys)."""
    return " ".join(str(key_text(k, value_of(row, k))) if k == "variant"
                    else f"{SHORT.get(k, k)} {key_text(k, value_of(row, k))}" for k in keys)


def label(row: Record | pd.Series | dict, wrap: bool = True,
          extra: list[str] | None = None) -> str:
    """dataset, architecture, precision and batch, a line each (a tick label of eight side by
    side stays within its own width), then a line per ``extra`` key, those that tell this
    configuration from others in the figure (see ``varying``)."""
    row = row if isinstance(row, Record) else dict(row)
    arch = str(value_of(row, "arch"))
    lines = [str(value_of(row, "dataset")), wrap_arch(arch) if wrap else arch,
             str(value_of(row, "precision")), key_values(row, ["batch_size"])]
    for key in extra or []:  # a code version or a long experiment name: on lines of its own
        text = key_values(row, [key])
        lines += wrap_lines(text, 10) if wrap else [text]
    return "\n".join(lines)


def wrap_arch(arch: str, width: int = 12) -> str:
    """A long architecture on several lines, each cut after an 'x' and at most ``width`` long
    where the layers allow, so that the tick labels of neighbouring bars do not run into each
    other."""
    return "\n".join(wrap_lines(arch, width, after="x"))


def wrap_lines(text: str, width: int, after: str = " -_+:") -> list[str]:
    """``text`` in lines of at most ``width``, each cut after one of ``after`` (a part longer
    than a line is cut where it must); the spaces at the cuts dropped."""
    parts = re.findall(f"[^{re.escape(after)}]*[{re.escape(after)}]|.+$", text)
    lines = [""]
    for part in parts:
        while len(part) > width:
            lines += [part[:width], ""]
            part = part[width:]
        if lines[-1] and len(lines[-1].rstrip()) + len(part.rstrip()) > width:
            lines.append("")
        lines[-1] += part
    return [line.strip() for line in lines if line.strip()]


def label_variants(record: ReadRecord | Record | dict) -> ReadRecord:
    """Fold the settings that make a different contender into the labels the report groups by:
    a compiled model is its own framework column ("torch+compile"), TF32 its own precision
    ("float32+tf32"). The result file keeps the settings as they were; a read record is
    labelled in place, a job's record or a dict is left as it was and read into a new one."""
    rec = ReadRecord.of(record)
    if rec.compile_mode and rec.framework:
        rec.framework = f"{rec.framework}+compile" + \
            ("" if rec.compile_mode == "default" else f":{rec.compile_mode}")
    if rec.tf32 and rec.precision:
        rec.precision = f"{rec.precision}+tf32"
    return rec
