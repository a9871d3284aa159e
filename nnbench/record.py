"""The result record: one flat JSON object per job, written so it is never half there."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

STATUSES = ("ok", "skipped", "diverged", "oom", "failed")
RESULT_FILE = "result.json"


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: store them as null (the status says why)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_result(directory: str | os.PathLike, record: dict) -> Path:
    """Write ``result.json`` atomically: a temporary file in the same folder, then a rename.

    A reader sees either no result or the whole one, even if the process dies mid-write.
    """
    if record.get("status") not in STATUSES:
        raise ValueError(f"status {record.get('status')!r} is not one of {STATUSES}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_finite(record), indent=2, allow_nan=False, default=str)
    fd, tmp = tempfile.mkstemp(prefix=".result-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        target = directory / RESULT_FILE
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read_result(path: str | os.PathLike) -> dict:
    with open(path) as f:
        return json.load(f)


def label_variants(record: dict) -> dict:
    """Fold the settings that make a different contender into the labels the report groups by:
    a compiled torch model is its own framework column ("torch+compile"), TF32 its own
    precision ("float32+tf32"). The result file keeps the settings as they were."""
    mode = record.get("compile_mode")
    if mode and record.get("framework") == "torch":
        record["framework"] = "torch+compile" + ("" if mode == "default" else f":{mode}")
    if record.get("tf32") and record.get("precision"):
        record["precision"] = f"{record['precision']}+tf32"
    return record
