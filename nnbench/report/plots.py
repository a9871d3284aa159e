"""The report's figures as PNGs: comparison summary, scaling, loss curves, confusion matrices."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from nnbench.report.collect import CONFIG_KEYS  # noqa: E402
from nnbench.report.tables import DEFAULT_PAIR, latest_ok  # noqa: E402

COLORS = {("numpy", "cpu"): "#1f77b4", ("torch", "cpu"): "#ff7f0e",
          ("torch", "cuda"): "#d62728", ("numpy", "cuda"): "#2ca02c",
          ("torch+compile", "cpu"): "#9467bd", ("torch+compile", "cuda"): "#8c564b"}
MAX_CONFIGS = 8


def _color(framework: str, device: str) -> str:
    return COLORS.get((framework, device), "#7f7f7f")


def _label(row: pd.Series | dict) -> str:
    batch = row.get("batch_size")
    batch_text = "full" if batch is None or (isinstance(batch, float) and np.isnan(batch)) \
        else f"{int(batch)}"
    return f"{row.get('dataset')}\n{row.get('arch')}\n{row.get('precision')} batch {batch_text}"


def _config_ids(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    """One string per configuration; missing values (a full batch) compare equal as 'nan'."""
    return frame[keys].astype(object).apply(lambda r: "|".join(map(str, r.tolist())), axis=1)


def _save(fig: plt.Figure, path: Path, dpi: int, rect: tuple | None = None) -> Path:
    fig.tight_layout(rect=rect)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def _log_if_wide(ax: plt.Axes, values: np.ndarray) -> None:
    values = values[np.isfinite(values) & (values > 0)]
    if values.size and values.max() / values.min() > 20:
        ax.set_yscale("log")


def comparison_summary(frame: pd.DataFrame, path: Path) -> Path | None:
    ok = frame[frame["status"] == "ok"] if not frame.empty else frame
    if ok.empty:
        return None
    keys = [k for k in CONFIG_KEYS if k in ok.columns]
    ok = ok.assign(_config=_config_ids(ok, keys))
    configs = ok.drop_duplicates("_config").head(MAX_CONFIGS)
    pairs = sorted({(f, d) for f, d in zip(ok["framework"], ok["device"], strict=True)},
                   key=lambda p: (p[1], p[0]))
    panels = [
        ("train_time_per_epoch_s", "time per epoch (s)", "train_time_per_epoch_stats_s"),
        ("inference_latency_per_sample_s", "inference latency per sample (s)", None),
        ("peak_rss_mb", "peak RSS, whole process (MB)", None),
        ("test_accuracy", "test accuracy", None),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    width = 0.8 / max(len(pairs), 1)
    x = np.arange(len(configs))
    for ax, (metric, title, stats) in zip(axes.flat, panels, strict=True):
        ax.set_title(title, fontsize=11)
        if metric not in ok or ok[metric].isna().all():
            ax.text(0.5, 0.5, "not measured in these runs", ha="center", va="center",
                    transform=ax.transAxes, color="gray")
            ax.set_xticks([])
            continue
        plotted = []
        for i, (framework, device) in enumerate(pairs):
            values, low, high = [], [], []
            for _, cfg in configs.iterrows():
                mask = (ok["framework"] == framework) & (ok["device"] == device)
                runs = ok[mask & (ok["_config"] == cfg["_config"])]
                v = float(runs[metric].median()) if not runs.empty else np.nan
                values.append(v)
                if stats and not runs.empty and len(runs) == 1 and f"{stats}.q1" in runs:
                    low.append(v - float(runs[f"{stats}.q1"].iloc[0]))
                    high.append(float(runs[f"{stats}.q3"].iloc[0]) - v)
                elif not runs.empty and len(runs) > 1:  # several records: their range
                    low.append(v - float(runs[metric].min()))
                    high.append(float(runs[metric].max()) - v)
                else:
                    low.append(0.0)
                    high.append(0.0)
            errors = np.array([low, high])
            ax.bar(x + (i - (len(pairs) - 1) / 2) * width, np.array(values), width,
                   yerr=errors if np.any(errors > 0) else None, capsize=3,
                   color=_color(framework, device), label=f"{framework} {device}")
            plotted.extend(values)
        ax.set_xticks(x, [_label(c) for _, c in configs.iterrows()], fontsize=8)
        if metric != "test_accuracy":
            _log_if_wide(ax, np.array(plotted, dtype=float))
        ax.grid(axis="y", alpha=0.3)
    axes.flat[0].legend(fontsize=9)
    fig.suptitle("NumPy vs torch per configuration (median; error bars: IQR of epochs, or "
                 "range over runs)", fontsize=12)
    fig.text(0.5, 0.005, "Memory: RSS only, the one probe that sees both frameworks; "
             "tracemalloc and CUDA peaks are in the tables.", ha="center", fontsize=9)
    return _save(fig, path, 110, rect=(0, 0.02, 1, 0.96))


def scaling(frame: pd.DataFrame, path: Path) -> Path | None:
    needed = {"train_flops_per_epoch", "train_time_per_epoch_s"}
    ok = frame[frame["status"] == "ok"] if not frame.empty else frame
    if ok.empty or not needed <= set(ok.columns):
        return None
    fig, ax = plt.subplots(figsize=(8.5, 6))
    groups = ok.groupby(["framework", "device", "precision"], dropna=False)
    for (framework, device, precision), runs in groups:
        pts = runs.groupby("train_flops_per_epoch")["train_time_per_epoch_s"].median()
        style = "-" if precision == "float32" else "--"
        color = _color(framework, device)
        ax.plot(pts.index, pts.values, style, marker="o", color=color,
                label=f"{framework} {device} {precision}")
        peak = runs["matmul_peak_gflops"].dropna() if "matmul_peak_gflops" in runs else []
        if len(peak):
            flops = np.geomspace(pts.index.min() / 2, pts.index.max() * 2, 20)
            ax.plot(flops, flops / (float(peak.median()) * 1e9), ":", color=color, alpha=0.7,
                    label=f"limit: {framework} {device} {precision} matmul peak "
                          f"{float(peak.median()):.0f} GFLOP/s")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("FLOPs per training epoch (matmuls)")
    ax.set_ylabel("time per epoch (s)")
    ax.set_title("Scaling: time per epoch against work, with this host's matmul limit")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _save(fig, path, 110)


def _pairs_by_config(records: list[dict], need: str,
                     pair: tuple[str, str]) -> list[tuple[dict, dict]]:
    """(first record, second record) of the pair per configuration, on the same device where
    possible."""
    by_key: dict[tuple, dict[str, dict]] = {}
    for rec in latest_ok(records):
        if not rec.get(need):
            continue
        key = tuple(str(rec.get(k)) for k in CONFIG_KEYS)
        slot = by_key.setdefault(key, {})
        current = slot.get(rec["framework"])
        if current is None or rec.get("device") == "cpu":
            slot[rec["framework"]] = rec
    first, second = pair
    return [(s[first], s[second]) for s in by_key.values() if first in s and second in s]


def loss_curves(records: list[dict], path: Path,
                pair: tuple[str, str] = DEFAULT_PAIR) -> Path | None:
    pairs = _pairs_by_config(records, "loss_history", pair)[:MAX_CONFIGS]
    if not pairs:
        return None
    # at least two panels wide, so that the title fits over a single pair
    fig, axes = plt.subplots(2, len(pairs), figsize=(4.2 * max(len(pairs), 2), 6.5), squeeze=False,
                             sharex="col", gridspec_kw={"height_ratios": [2, 1]})
    for col, (np_rec, torch_rec) in enumerate(pairs):
        a = np.asarray(np_rec["loss_history"], dtype=float)
        b = np.asarray(torch_rec["loss_history"], dtype=float)
        n = min(a.size, b.size)
        epochs = np.arange(1, n + 1)
        top, bottom = axes[0, col], axes[1, col]
        top.plot(epochs, a[:n], color=_color(pair[0], np_rec["device"]), label=pair[0])
        top.plot(epochs, b[:n], "--", color=_color(pair[1], torch_rec["device"]), label=pair[1])
        top.set_yscale("log")
        top.set_title(_label(np_rec).replace("\n", " "), fontsize=9)
        top.legend(fontsize=8)
        top.grid(alpha=0.3)
        diff = np.abs(a[:n] - b[:n])
        floor = 1e-18
        bottom.plot(epochs, np.maximum(diff, floor), color="black", lw=0.8)
        bottom.set_yscale("log")
        bottom.set_ylim(floor / 2, max(1.0, diff.max() * 2) if diff.size else 1.0)
        bottom.set_xlabel("epoch")
        bottom.grid(alpha=0.3)
        if col == 0:
            top.set_ylabel("training loss")
            bottom.set_ylabel(f"|{pair[0]} - {pair[1]}|\n(0 drawn at 1e-18)")
    fig.suptitle("Loss curves from the same start and batches; below, how far they drift apart")
    return _save(fig, path, 110)


def confusion_matrices(records: list[dict], path: Path,
                       pair: tuple[str, str] = DEFAULT_PAIR) -> Path | None:
    pairs = [p for p in _pairs_by_config(records, "confusion_matrix", pair)
             if len(p[0]["confusion_matrix"]) <= 20][:4]
    if not pairs:
        return None
    fig, axes = plt.subplots(len(pairs), 2, figsize=(11, 5 * len(pairs)), squeeze=False)
    for row, both in enumerate(pairs):
        for col, rec in enumerate(both):
            ax = axes[row, col]
            cm = np.asarray(rec["confusion_matrix"])
            k = cm.shape[0]
            ax.imshow(cm, cmap="Blues")
            classes = rec.get("classes") or [str(i) for i in range(k)]
            short = [str(c)[:12] for c in classes]
            ax.set_xticks(range(k), short, rotation=60, ha="right", fontsize=8)
            ax.set_yticks(range(k), short, fontsize=8)
            never = cm.sum(axis=0) == 0
            for j in np.flatnonzero(never):  # a class the model never predicts stands out
                ax.get_xticklabels()[j].set_color("red")
                ax.axvspan(j - 0.5, j + 0.5, fill=False, edgecolor="red", lw=2)
            if k <= 12:
                for i in range(k):
                    for j in range(k):
                        ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                                color="white" if cm[i, j] > cm.max() / 2 else "black")
            note = f"; never predicted: {', '.join(np.array(short)[never])}" if never.any() \
                else ""
            ax.set_title(f"{rec['framework']} {rec['device']} · {rec['dataset']} {rec['arch']} "
                         f"{rec['precision']}\ntest accuracy {rec['test_accuracy']:.4f}{note}",
                         fontsize=9, color="red" if never.any() else "black")
            ax.set_xlabel("predicted")
            ax.set_ylabel("true")
    return _save(fig, path, 100)
