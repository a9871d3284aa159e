"""Markdown tables: configurations as rows, NumPy and torch per device side by side, ratios."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nnbench.results import pooling
from nnbench.results.collect import CONFIG_KEYS
from nnbench.results.labels import key_text, key_values, order_value
from nnbench.results.read import ReadRecord
from nnbench.results.verdict import HEADLINE_PAIR

# The two frameworks whose ratio the tables show: the question nnbench exists to answer, the
# pair the verdicts say first. Any other pair can be asked for (python -m nnbench.report --pair
# A,B).
DEFAULT_PAIR = HEADLINE_PAIR

# (column, title, how to compare the pair); all lower-is-better but accuracy
METRICS = [
    ("train_time_per_epoch_s", "Training time per epoch (s, median of timed epochs)", "ratio"),
    ("inference_latency_per_sample_s", "Inference latency per sample (s, whole test set per call)",
     "ratio"),
    ("inference_latency_batch1_s", "Inference latency at batch 1 (s, median call)", "ratio"),
    ("peak_rss_mb", "Peak RSS during one training epoch (MB, whole process)", "ratio"),
    ("peak_tracemalloc_mb", "Peak tracemalloc (MB; sees NumPy arrays, blind to torch's "
     "allocator: not comparable across frameworks)", None),
    ("cuda_peak_mb", "CUDA allocator peak (MB)", None),
    ("mfu", "MFU (achieved GFLOP/s over this host's matmul peak)", None),
    ("test_accuracy", "Test accuracy", "difference"),
]


def fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if abs(value) >= 1000 or (value != 0 and abs(value) < 0.01):
        return f"{value:.3g}"
    return f"{value:.4g}"


def config_columns(frame: pd.DataFrame) -> list[str]:
    """The configuration keys that vary (plus arch and precision, always shown), and the host
    when runs come from more than one: timings of different hosts are never put in one ratio.
    The code and library versions are added by ``pooling.separate`` where they keep rows
    apart."""
    keys = [k for k in CONFIG_KEYS if k != "experiment_name" and k in frame.columns]
    shown = [k for k in keys if k in ("dataset", "arch", "precision")
             or frame[k].astype(str).nunique(dropna=False) > 1]
    if "host" in frame.columns and frame["host"].nunique() > 1:
        shown.append("host")
    if "node" in frame.columns and frame["node"].notna().any():  # jobs a scheduler placed
        shown.append("node")
    return shown


PARALLEL_MARK = " (parallel)"


def _groups(frame: pd.DataFrame, keys: list[str]
            ) -> list[tuple[tuple, dict[tuple[str, str], np.ndarray]]]:
    """Per configuration (``keys``), in ``groupby``'s order: its key values and, per framework
    and device (as ``groupby`` names them), the positions of its rows in the frame's order.
    Two groupings for every metric's table, where a grouping per table and cell took seconds."""
    if frame.empty:
        return []
    by_config = frame.groupby(keys, dropna=False, sort=True)
    config_of = by_config.ngroup().to_numpy()
    by_cell = frame.groupby([*keys, "framework", "device"], dropna=False, sort=True)
    cell_of = by_cell.ngroup().to_numpy()
    out = [(key if isinstance(key, tuple) else (key,), {}) for key in by_config.size().index]
    order = np.argsort(cell_of, kind="stable")  # each cell's rows stay in the frame's order
    starts = np.flatnonzero(np.diff(cell_of[order], prepend=-1))
    for cell, rows in zip(by_cell.size().index, np.split(order, starts[1:]), strict=True):
        out[config_of[rows[0]]][1][(cell[-2], cell[-1])] = rows
    return out


class _Columns(dict):
    """A frame's columns as arrays, each made once (every cell of every table reads them)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        super().__init__()
        self.frame = frame

    def __missing__(self, name: str) -> np.ndarray:
        self[name] = self.frame[name].to_numpy()
        return self[name]

    def has(self, name: str) -> bool:
        return name in self.frame


def _cells(columns: _Columns, cells: dict[tuple[str, str], np.ndarray], metric: str
           ) -> tuple[dict[tuple[str, str], str | float], set[tuple[str, str]],
                      dict[tuple[str, str], np.ndarray]]:
    """Median per framework and device over its rounds (one ok record each; or how the runs
    ended), which medians include runs timed beside other jobs on the same host
    (``exclusive: false``), and the ok runs behind each median (their positions)."""
    out: dict[tuple[str, str], str | float] = {}
    shared: set[tuple[str, str]] = set()
    runs_of: dict[tuple[str, str], np.ndarray] = {}
    status = columns["status"]
    values = columns[metric] if columns.has(metric) else None
    exclusive = columns["exclusive"] if columns.has("exclusive") else None
    for column, rows in cells.items():
        ok = rows[status[rows] == "ok"]
        if ok.size and values is not None and pd.notna(values[ok]).any():
            ok = ok[pd.notna(values[ok])]
            out[column] = float(np.median(values[ok].astype(np.float64)))  # Series.median's
            runs_of[column] = ok
            if exclusive is not None and (exclusive[ok] == False).any():  # noqa: E712
                shared.add(column)
        elif not ok.size:
            out[column] = "/".join(sorted({str(s) for s in status[rows]}))
    return out, shared, runs_of


def _side(columns: _Columns, rows: np.ndarray | None, metric: str,
          records: dict[str, ReadRecord]) -> pooling.Side:
    """A cell's rounds: the records behind its rows (by result file), else the rows' values."""
    if rows is None:
        return pooling.Side([], [])
    files = columns["result_file"][rows] if columns.has("result_file") else None
    if files is not None and all(f in records for f in files):
        return pooling.Side.of([records[f] for f in files], metric)
    values = [float(v) for v in columns[metric][rows]]
    return pooling.Side(values, [None] * len(values))


def _ratio_cell(columns: _Columns, runs: list[np.ndarray | None], sides: list[pooling.Side],
                metric: str, records: dict[str, ReadRecord], marks: set[str]) -> str:
    """The pair's ratio as the host's contention allows (``stats.robust``): on the medians,
    on both sides' 10th percentiles where a host was busy, or "cannot tell: host busy"."""
    files = columns["result_file"] if columns.has("result_file") else None
    recs = [[records[f] for f in files[r] if f in records]
            if r is not None and files is not None else [] for r in runs]
    result, used = pooling.host_ratio(recs[0], recs[1], metric, (sides[0], sides[1]))
    if used is None:
        return "cannot tell: host busy"
    if result is not None:
        marks.add(result[3])
    return pooling.ratio_text(result) + (" (p10: host busy)" if used != metric else "")


DISAGREE = "rounds disagree"


def _cell_text(value: float, side: pooling.Side, spread_shown: bool) -> str:
    """The median of round medians and, with several rounds, their range (and a flag when
    they disagree beyond their own noise)."""
    text = fmt(value)
    if spread_shown and side.rounds >= 2:
        spread = side.spread()
        text += f" ({side.rounds} rounds: {fmt(spread['min'])}–{fmt(spread['max'])})"
        if spread["disagree"]:
            text += f" **{DISAGREE}**"
    return text


def comparison(frame: pd.DataFrame, metric: str, compare: str | None,
               pair: tuple[str, str] = DEFAULT_PAIR,
               records: dict[str, ReadRecord] | None = None) -> pd.DataFrame:
    """One row per configuration, a column per framework and device, and the pair's ratio
    (with its interval) or difference. ``records`` (by result file) give the raw samples an
    interval over one process per side needs; without them only rounds give intervals."""
    return comparison_with_marks(frame, metric, compare, pair, records)[0]


def comparison_with_marks(frame: pd.DataFrame, metric: str, compare: str | None,
                          pair: tuple[str, str] = DEFAULT_PAIR,
                          records: dict[str, ReadRecord] | None = None
                          ) -> tuple[pd.DataFrame, set[str]]:
    """``comparison``, and the interval marks its ratios use (for the table's footnote)."""
    return comparisons(frame, [(metric, compare)], pair, records)[0]


def comparisons(frame: pd.DataFrame, metrics: list[tuple[str, str | None]],
                pair: tuple[str, str] = DEFAULT_PAIR,
                records: dict[str, ReadRecord] | None = None
                ) -> list[tuple[pd.DataFrame, set[str]]]:
    """``comparison_with_marks`` of each (metric, how to compare), the rows grouped once."""
    records = records or {}
    frame, keys = pooling.separate(frame, config_columns(frame))  # no pooling across versions
    # a failed record may name no framework or device (its config never resolved): as text
    pairs = sorted({(f, d) for f, d in zip(frame["framework"], frame["device"], strict=True)},
                   key=lambda p: (str(p[1]), str(p[0])))
    groups, columns = _groups(frame, keys), _Columns(frame)
    return [_comparison(columns, keys, groups, pairs, metric, compare, pair, records)
            for metric, compare in metrics]


def _comparison(columns: _Columns, keys: list[str], groups: list, pairs: list,
                metric: str, compare: str | None, pair: tuple[str, str],
                records: dict[str, ReadRecord]) -> tuple[pd.DataFrame, set[str]]:
    rows, marks = [], set()
    for values, by_pair in groups:
        cells, shared, runs_of = _cells(columns, by_pair, metric)
        if not cells:
            continue
        row = {k: key_text(k, v) for k, v in zip(keys, values, strict=True)}
        sides = {column: _side(columns, runs_of.get(column), metric, records)
                 for column in pairs}
        for column in pairs:
            value = cells.get(column, "")
            text = value if isinstance(value, str) else \
                _cell_text(value, sides[column], compare == "ratio")
            row[f"{column[0]} {column[1]}"] = text + (PARALLEL_MARK if column in shared else "")
        for device in sorted({d for _, d in pairs}, key=str):
            a, b = cells.get((pair[0], device)), cells.get((pair[1], device))
            if compare and isinstance(a, float) and isinstance(b, float) and b:
                if compare == "ratio":
                    row[f"{pair[0]}/{pair[1]} {device}"] = _ratio_cell(
                        columns, [runs_of.get((f, device)) for f in pair],
                        [sides[(f, device)] for f in pair], metric, records, marks)
                else:
                    row[f"{pair[0]}-{pair[1]} {device}"] = f"{a - b:+.4f}"
        rows.append((tuple(order_value(v) for v in values), row))
    rows = [row for _, row in sorted(rows, key=lambda item: item[0])]  # 2x64 before 2x1024
    return pd.DataFrame(rows).fillna(""), marks  # no ratio where a side did not run


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def rounds_table(frame: pd.DataFrame, records: dict[str, ReadRecord],
                 metric: str = "train_time_per_epoch_s") -> tuple[pd.DataFrame, list[dict]]:
    """Per configuration, framework and device: the rounds' medians and their spread beside
    the spread within a run, and whether the rounds disagree beyond that noise. Also returns
    the records of every configuration whose rounds disagree."""
    frame, keys = pooling.separate(frame, config_columns(frame))
    ok = frame[frame["status"] == "ok"] if "status" in frame else frame
    if ok.empty or metric not in ok:
        return pd.DataFrame(), []
    rows, flagged = [], []
    for key, runs in ok[ok[metric].notna()].groupby([*keys, "framework", "device"],
                                                     dropna=False, sort=True):
        side = _side(_Columns(runs), np.arange(len(runs)), metric, records)
        spread = side.spread()
        values = key if isinstance(key, tuple) else (key,)
        row = {k: key_text(k, v) for k, v in zip([*keys, "framework", "device"], values,
                                                   strict=True)}
        plain = [k for k in keys if k in ("dataset", "arch", "precision")]
        words = [*(str(row[k]) for k in plain),  # then "batch 64", not "64.0"
                 key_values(row, [k for k in keys if k not in plain]),
                 str(row["framework"]), str(row["device"])]
        label = " ".join(w for w in words if w)
        n_samples = [len(s) for s in side.samples if s]
        row.update({
            "rounds": side.rounds,
            "median of round medians": fmt(spread["median"]),
            "round medians (min–max)": f"{fmt(spread['min'])}–{fmt(spread['max'])}"
            if side.rounds >= 2 else "",
            "between rounds (range/median)": _pct(spread["between"]),
            "within a run (IQR/median)": _pct(spread["within"]),
            "samples per round": "/".join(map(str, n_samples)),
            "rounds agree?": (f"**{DISAGREE}**" if spread["disagree"] else "yes")
            if side.rounds >= 2 else "one round",
        })
        rows.append(row)
        if spread["disagree"] and "result_file" in runs:
            flagged.append({"label": label,
                            "records": [records[f] for f in runs["result_file"]
                                        if f in records]})
    return pd.DataFrame(rows), flagged


def counters_table(recs: list[ReadRecord]) -> pd.DataFrame:
    """Per round of one configuration: its median epoch beside the process's page faults,
    context switches and CPU use per timed epoch: what a slow round did differently."""
    rows = []
    for rec in sorted(recs, key=lambda r: (r.round, r.started)):
        c = rec.counters_per_epoch or {}  # counter name -> mean per epoch
        rows.append({
            "round": rec.round,  # a record from before rounds were counted: round 0
            "started": rec.env("time_utc"),
            "s/epoch (median)": fmt(rec.train_time_per_epoch_s),
            "minor faults/epoch": fmt(c.get("minor_faults")),
            "major faults/epoch": fmt(c.get("major_faults")),
            "voluntary switches/epoch": fmt(c.get("voluntary_switches")),
            "involuntary switches/epoch": fmt(c.get("involuntary_switches")),
            "CPU s / wall s": fmt(c.get("cpu_per_wall")),
            "threads": rec.threads,
            "warnings": len(rec.warnings or []),
        })
    return pd.DataFrame(rows)
