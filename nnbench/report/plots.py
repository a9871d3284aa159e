"""The report's figures as PNGs: comparison summary, scaling, loss curves, confusion matrices."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from nnbench.report import pooling  # noqa: E402
from nnbench.report.collect import CONFIG_KEYS  # noqa: E402
from nnbench.report.labels import (  # noqa: E402
    LABELLED,
    label,
    varying,  # noqa: E402
)
from nnbench.report.sections import latest_ok  # noqa: E402
from nnbench.report.tables import DEFAULT_PAIR  # noqa: E402

COLORS = {("numpy", "cpu"): "#1f77b4", ("torch", "cpu"): "#ff7f0e",
          ("torch", "cuda"): "#d62728", ("numpy", "cuda"): "#2ca02c",
          ("torch+compile", "cpu"): "#9467bd", ("torch+compile", "cuda"): "#8c564b"}
MAX_CONFIGS = 8


def _color(framework: str, device: str) -> str:
    return COLORS.get((framework, device), "#7f7f7f")


def _config_ids(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    """One string per configuration; missing values (a full batch) compare equal as 'nan'."""
    return frame[keys].astype(object).apply(lambda r: "|".join(map(str, r.tolist())), axis=1)


def save(fig: plt.Figure, path: Path, dpi: int, rect: tuple | None = None) -> Path:
    fig.tight_layout(rect=rect)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def _log_if_wide(ax: plt.Axes, values: np.ndarray) -> None:
    values = values[np.isfinite(values) & (values > 0)]
    if values.size and values.max() / values.min() > 20:
        ax.set_yscale("log")


def _bars(ax: plt.Axes, ok: pd.DataFrame, configs: pd.DataFrame, pairs: list, metric: str,
          stats: str | None) -> list[float]:
    """Bars per configuration and framework/device: the median over rounds; error bars the
    range of the round medians, or with one round the IQR of its samples."""
    width = 0.8 / max(len(pairs), 1)
    x = np.arange(len(configs))
    plotted = []
    for i, (framework, device) in enumerate(pairs):
        values, low, high = [], [], []
        for _, cfg in configs.iterrows():
            mask = (ok["framework"] == framework) & (ok["device"] == device)
            runs = ok[mask & (ok["_config"] == cfg["_config"])]
            v = float(runs[metric].median()) if not runs.empty else np.nan
            values.append(v)
            if stats and len(runs) == 1 and f"{stats}.q1" in runs \
                    and runs[f"{stats}.q1"].notna().all():
                low.append(v - float(runs[f"{stats}.q1"].iloc[0]))
                high.append(float(runs[f"{stats}.q3"].iloc[0]) - v)
            elif len(runs) > 1:  # several rounds: the range of their medians
                low.append(v - float(runs[metric].min()))
                high.append(float(runs[metric].max()) - v)
            else:
                low.append(0.0)
                high.append(0.0)
        errors = np.nan_to_num(np.array([low, high]))
        ax.bar(x + (i - (len(pairs) - 1) / 2) * width, np.array(values), width,
               yerr=errors if np.any(errors > 0) else None, capsize=3,
               color=_color(framework, device), label=f"{framework} {device}")
        plotted.extend(values)
    return plotted


def _ratio_points(ax: plt.Axes, ok: pd.DataFrame, configs: pd.DataFrame, metric: str,
                  pair: tuple[str, str], records: dict[str, dict]) -> None:
    """The pair's ratio per configuration and device with its 95% interval: filled markers
    over rounds, open ones over the samples of one process per side."""
    devices = sorted(set(ok["device"]))
    width = 0.8 / max(len(devices), 1)
    drawn = set()
    for i, device in enumerate(devices):
        for j, (_, cfg) in enumerate(configs.iterrows()):
            here = ok[(ok["_config"] == cfg["_config"]) & (ok["device"] == device)]
            sides = []
            for framework in pair:
                runs = here[(here["framework"] == framework) & here[metric].notna()]
                recs = [records[f] for f in runs.get("result_file", []) if f in records]
                sides.append(pooling.Side.of(recs, metric) if len(recs) == len(runs)
                             else pooling.Side([float(v) for v in runs[metric]],
                                              [None] * len(runs)))
            result = pooling.ratio(*sides)
            if result is None:
                continue
            r, lo, hi, mark = result
            xpos = j + (i - (len(devices) - 1) / 2) * width
            err = [[r - lo], [hi - r]] if np.isfinite(lo) else None
            filled = mark == pooling.ROUNDS_MARK
            legend = {pooling.ROUNDS_MARK: f"{device}: 95% CI over rounds",
                      pooling.SAMPLES_MARK: f"{device}: 95% CI over samples of one process",
                      "": f"{device}: one value per side, no interval"}[mark]
            ax.errorbar([xpos], [r], yerr=err, fmt="o", capsize=4, ms=6,
                        color=_color(pair[0], device),
                        mfc=_color(pair[0], device) if filled else "white",
                        label=None if legend in drawn else legend)
            drawn.add(legend)
            ax.annotate(f"{pooling.ratio_number(r)}x", (xpos, r), textcoords="offset points",
                        xytext=(8, -3), fontsize=8)
    ax.axhline(1.0, color="gray", lw=0.8, ls="--")
    ax.set_yscale("log")
    plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}x")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)
    ax.tick_params(axis="y", which="both", labelsize=9)  # minor labels as legible as 1x
    ax.set_xlim(-0.6, len(configs) - 0.4)
    ax.margins(y=0.1)  # a point at the edge of the range keeps its whole marker and label
    if drawn:
        ax.legend(fontsize=8)


def comparison_summary(frame: pd.DataFrame, path: Path, pair: tuple[str, str] = DEFAULT_PAIR,
                       records: list[dict] | None = None) -> Path | None:
    ok = frame[frame["status"] == "ok"] if not frame.empty else frame
    if ok.empty:
        return None
    by_file = {r["result_file"]: r for r in records or [] if r.get("result_file")}
    keys = [k for k in CONFIG_KEYS if k in ok.columns]
    ok = ok.assign(_config=_config_ids(ok, keys))
    configs = ok.drop_duplicates("_config").head(MAX_CONFIGS)
    pairs = sorted({(f, d) for f, d in zip(ok["framework"], ok["device"], strict=True)},
                   key=lambda p: (p[1], p[0]))
    ratio = f"{pair[0]}/{pair[1]}"
    panels = [
        ("train_time_per_epoch_s", "time per epoch", "train_time_per_epoch_stats_s", None),
        ("train_time_per_epoch_s", f"{ratio}: time per epoch, with 95% CI", None, "ratio"),
        ("inference_latency_per_sample_s", "inference latency per sample", None, None),
        ("inference_latency_per_sample_s", f"{ratio}: inference latency, with 95% CI", None,
         "ratio"),
        ("peak_rss_mb", "peak RSS, whole process (MB)", None, None),
        ("test_accuracy", "test accuracy", None, None),
    ]
    fig, axes = plt.subplots(3, 2, figsize=(13, 12.5))
    x = np.arange(len(configs))
    rows = [dict(c) for _, c in configs.iterrows()]
    labels = [label(c, extra=varying(rows, LABELLED)) for c in rows]
    for ax, (metric, title, stats, kind) in zip(axes.flat, panels, strict=True):
        ax.set_title(title, fontsize=11)
        if metric not in ok or ok[metric].isna().all():
            ax.text(0.5, 0.5, "not measured in these runs", ha="center", va="center",
                    transform=ax.transAxes, color="gray")
            ax.set_xticks([])
            continue
        if kind == "ratio":
            _ratio_points(ax, ok, configs, metric, pair, by_file)
        else:
            plotted = _bars(ax, ok, configs, pairs, metric, stats)
            if metric != "test_accuracy":
                _log_if_wide(ax, np.array(plotted, dtype=float))
            if metric.endswith("_s"):  # 200 µs, 5 ms: not 0.0002 or 5e-3
                ax.yaxis.set_major_formatter(matplotlib.ticker.EngFormatter(unit="s"))
        ax.set_xticks(x, labels, fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    axes.flat[0].legend(fontsize=9)
    fig.suptitle(f"{pair[0]} vs {pair[1]} per configuration (median of the rounds' medians; "
                 "error bars: range over rounds, or with one round the IQR of its samples)",
                 fontsize=11)
    fig.text(0.5, 0.005, "Memory: RSS only, the one probe that sees both frameworks; "
             "tracemalloc and CUDA peaks are in the tables.", ha="center", fontsize=9)
    return save(fig, path, 100, rect=(0, 0.02, 1, 0.97))


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
    return save(fig, path, 110)


def pairs_by_config(records: list[dict], need: str,
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
    """Per configuration: both loss curves; their absolute difference; and, where the records
    have it, the test accuracy after each epoch."""
    pairs = pairs_by_config(records, "loss_history", pair)[:MAX_CONFIGS]
    if not pairs:
        return None
    with_accuracy = any(a.get("test_accuracy_history") or b.get("test_accuracy_history")
                        for a, b in pairs)
    ratios = [2, 1, 1.3] if with_accuracy else [2, 1]
    # at least two panels wide, so that the title fits over a single pair
    fig, axes = plt.subplots(len(ratios), len(pairs),
                             figsize=(4.2 * max(len(pairs), 2), 3.25 * sum(ratios) / 1.5),
                             squeeze=False, sharex="col", gridspec_kw={"height_ratios": ratios})
    extra = varying([a for a, _ in pairs], LABELLED)
    for col, (np_rec, torch_rec) in enumerate(pairs):
        a = np.asarray(np_rec["loss_history"], dtype=float)
        b = np.asarray(torch_rec["loss_history"], dtype=float)
        n = min(a.size, b.size)
        epochs = np.arange(1, n + 1)
        top, middle = axes[0, col], axes[1, col]
        colors = (_color(pair[0], np_rec["device"]), _color(pair[1], torch_rec["device"]))
        top.plot(epochs, a[:n], color=colors[0], label=pair[0])
        top.plot(epochs, b[:n], "--", color=colors[1], label=pair[1])
        top.set_yscale("log")
        top.set_title(label(np_rec, wrap=False, extra=extra).replace("\n", " "), fontsize=9)
        top.legend(fontsize=8)
        top.grid(alpha=0.3)
        diff = np.abs(a[:n] - b[:n])
        floor = 1e-18
        # a line through the epochs that differ; an exact 0 is a tick at the floor, not a
        # plunge to it and back that turns the panel into a black block
        middle.plot(epochs, np.where(diff > 0, diff, np.nan), color="black", lw=0.8)
        middle.plot(epochs[diff == 0], np.full(int((diff == 0).sum()), floor), "|",
                    color="gray", ms=5)
        middle.set_yscale("log")
        middle.set_ylim(floor / 2, max(1.0, diff.max() * 2) if diff.size else 1.0)
        middle.grid(alpha=0.3)
        axes[-1, col].set_xlabel("epoch")
        if col == 0:
            top.set_ylabel("training loss")
            middle.set_ylabel(f"|{pair[0]} - {pair[1]}|\n(equal: ticks at 1e-18)")
        if not with_accuracy:
            continue
        bottom = axes[2, col]
        for rec, color, style, name in ((np_rec, colors[0], "-", pair[0]),
                                        (torch_rec, colors[1], "--", pair[1])):
            acc = np.asarray(rec.get("test_accuracy_history") or [], dtype=float)
            if acc.size:
                bottom.plot(np.arange(1, acc.size + 1), acc, style, color=color, label=name)
        if col == 0:
            bottom.set_ylabel("test accuracy\n(after each epoch)")
        bottom.grid(alpha=0.3)
    title = "Loss curves from the same start and batches;\nbelow, how far they drift apart"
    fig.suptitle(title + (" and the test accuracy after each epoch" if with_accuracy else ""),
                 fontsize=11)
    return save(fig, path, 110)
