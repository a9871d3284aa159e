"""Every result record under some folders, as one DataFrame, with what could not be read."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from nnbench.record import RESULT_FILE, checked
from nnbench.report.labels import CONFIG_KEYS, label_variants

# Nested fields kept out of the flat table (they stay in results.json and feed the figures).
NESTED = {"config", "environment", "scheduler", "loss_history", "epoch_times_s",
          "confusion_matrix", "classes", "layer_sizes", "activations", "matmul_peak", "warnings",
          "test_accuracy_history", "epoch_counters", "inference_samples_s"}


@dataclass
class Collection:
    records: list[dict] = field(default_factory=list)
    unreadable: list[dict] = field(default_factory=list)  # {"path", "error"}
    invalid: list[dict] = field(default_factory=list)  # read, but not a valid record
    incomplete: list[str] = field(default_factory=list)  # job folders with no result

    @property
    def frame(self) -> pd.DataFrame:
        return to_frame(self.records)


def _flat(record: dict) -> dict:
    row = {}
    for key, value in record.items():
        if key in NESTED:
            continue
        if isinstance(value, dict):  # statistics blocks: keep them as prefixed columns
            for sub, inner in value.items():
                if isinstance(inner, dict):
                    row.update({f"{key}.{sub}.{k}": v for k, v in inner.items()
                                if not isinstance(v, (dict, list))})
                elif not isinstance(inner, list):
                    row[f"{key}.{sub}"] = inner
        elif not isinstance(value, list):
            row[key] = value
    env = record.get("environment") or {}
    row["host"] = env.get("hostname")
    row["node"] = (record.get("scheduler") or {}).get("node")  # a scheduler's name for it
    row["cpu_model"] = env.get("cpu_model")
    row["gpu"] = (env.get("gpu") or {}).get("name") if isinstance(env.get("gpu"), dict) else None
    row["git_commit"] = env.get("git_commit")
    row["warnings"] = "; ".join(record.get("warnings") or []) or None
    return row


def to_frame(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame([_flat(r) for r in records])
    if frame.empty:
        return frame
    first = ["status", "reason", *CONFIG_KEYS, "framework", "device"]
    ordered = [c for c in first if c in frame.columns]
    return frame[ordered + [c for c in frame.columns if c not in ordered]]


def _job_folders(root: Path) -> list[Path]:
    """Folders Hydra made for a job (they hold .hydra/), whether or not a result came out."""
    return [p.parent for p in root.rglob(".hydra") if p.is_dir()]


def collect(roots: list[str | Path], exclude: list[Path] | None = None,
            progress: bool = True) -> Collection:
    out = Collection()
    exclude = [Path(e).resolve() for e in (exclude or [])]
    files: list[Path] = []
    for root in map(Path, roots):
        if root.is_file():
            files.append(root)
            continue
        files.extend(sorted(root.rglob(RESULT_FILE)))
        for job in _job_folders(root):
            finished = (job / RESULT_FILE).exists() or (job / "resumed.json").exists()
            if not finished and not any(e in job.resolve().parents for e in exclude):
                out.incomplete.append(str(job))
    files = [f for f in files if not any(e in f.resolve().parents for e in exclude)]
    for path in tqdm(files, desc="reading results", unit="file", disable=not progress,
                     leave=False):
        try:
            record = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as err:
            out.unreadable.append({"path": str(path), "error": f"{type(err).__name__}: {err}"})
            continue
        record, wrong = checked(record)  # against the record schema, before any use
        if wrong is not None:
            out.invalid.append({"path": str(path), "error": wrong})
            continue
        record["result_file"] = str(path)
        out.records.append(label_variants(record))
    return out
