"""The report's figures as PNGs: comparison summary (in pages) and scaling; the loss curves are
``curves``', the confusion matrices ``confusion``'s."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from nnbench.report import pages, pooling  # noqa: E402
from nnbench.report.labels import IDENTITY, key_values  # noqa: E402
from nnbench.report.tables import DEFAULT_PAIR, config_columns  # noqa: E402

COLORS = {("numpy", "cpu"): "#1f77b4", ("torch", "cpu"): "#ff7f0e",
          ("torch", "cuda"): "#d62728", ("numpy", "cuda"): "#2ca02c",
          ("torch+compile", "cpu"): "#9467bd", ("torch+compile", "cuda"): "#8c564b"}


def color(framework: str, device: str) -> str:
    return COLORS.get((framework, device), "#7f7f7f")


def page_title(fig: plt.Figure, title: str, note: str) -> float:
    """The figure's title and, on a figure in pages, what this page holds and where the rest
    is (``pages.page_note``); returns the top of the room left for the panels."""
    lines = textwrap.wrap(note, int(fig.get_figwidth() * 10.5)) if note else []  # 11 pt
    fig.suptitle("\n".join([title, *lines]), fontsize=11)
    return 1 - (0.15 + 0.19 * (1 + title.count("\n") + len(lines))) / fig.get_figheight()


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
               color=color(framework, device), label=f"{framework} {device}")
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
                        color=color(pair[0], device),
                        mfc=color(pair[0], device) if filled else "white",
                        label=None if legend in drawn else legend)
            drawn.add(legend)
            ax.annotate(f"{pooling.ratio_number(r)}x", (xpos, r), textcoords="offset points",
                        xytext=(8, -3), fontsize=8)
    ax.axhline(1.0, color="gray", lw=0.8, ls="--")
    ax.set_yscale("log")
    ax.set_xlim(-0.6, len(configs) - 0.4)
    ax.margins(y=0.1)  # a point at the edge of the range keeps its whole marker and label
    ratio_ticks(ax)
    if drawn:
        ax.legend(fontsize=8)


def ratio_ticks(ax: plt.Axes) -> None:
    """A log axis of ratios labelled ``0.5x``, ``2x`` (see ``log_ticks``)."""
    log_ticks(ax, "x")
    ax.tick_params(axis="y", which="major", labelsize=9)


def log_ticks(ax: plt.Axes, unit: str = "") -> None:
    """Labels on a log y axis as dense as its range allows, and only there: within half a
    decade four or five plain steps (1.40, 1.45), within one and a half 1-2-5, else the
    decades alone; never minor labels, which pile up where a panel spans decades and print
    1.46x10^0 where it spans none."""
    low, high = ax.get_ylim()
    decades = np.log10(high / low) if low > 0 else np.inf
    if decades <= 0.5:
        locator = matplotlib.ticker.MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10])
    else:
        locator = matplotlib.ticker.LogLocator(
            base=10, subs=(1.0, 2.0, 5.0) if decades <= 1.5 else (1.0,), numticks=12)
    ax.yaxis.set_major_locator(locator)
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}{unit}"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def comparison_summary(frame: pd.DataFrame, path: Path, pair: tuple[str, str] = DEFAULT_PAIR,
                       records: list[dict] | None = None) -> list[Path] | None:
    """Every configuration's figures, ``pages.PER_PAGE`` to a page (``path``, then
    ``<stem>_2.png``, ...); the pages written, or None without an ok record."""
    ok, configs = pages.comparison_configs(frame)
    if not configs:
        return None
    by_file = {r["result_file"]: r for r in records or [] if r.get("result_file")}
    pairs = sorted({(f, d) for f, d in zip(ok["framework"], ok["device"], strict=True)},
                   key=lambda p: (p[1], p[0]))
    names = pages.labels(configs)  # over all pages: a key that varies across pages is shown
    chunks, _ = pages.split(list(range(len(configs))))
    written = []
    for number, chunk in enumerate(chunks, 1):
        note = pages.page_note(len(configs), pages.PER_PAGE, len(chunks), number, path,
                               pages.TABLES)
        written.append(_summary_page(ok, pd.DataFrame([configs[i] for i in chunk]),
                                     [names[i] for i in chunk], pairs, pair, by_file,
                                     pages.page_path(path, number), note))
    return written


def _summary_page(ok: pd.DataFrame, configs: pd.DataFrame, labels: list[str], pairs: list,
                  pair: tuple[str, str], by_file: dict[str, dict], path: Path,
                  note: str) -> Path:
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
    fig, axes = plt.subplots(3, 2, figsize=(14, 13.5))
    x = np.arange(len(configs))
    ok = ok[ok["_config"].isin(set(configs["_config"]))]
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
    top = page_title(fig, f"{pair[0]} vs {pair[1]} per configuration (median of the rounds' "
                          "medians; error bars: range over rounds, or with one round the IQR "
                          "of its samples)", note)
    fig.text(0.5, 0.005, "Memory: RSS only, the one probe that sees both frameworks; "
             "tracemalloc and CUDA peaks are in the tables.", ha="center", fontsize=9)
    return save(fig, path, 100, rect=(0, 0.02, 1, top))


def scaling(frame: pd.DataFrame, path: Path) -> Path | None:
    needed = {"train_flops_per_epoch", "train_time_per_epoch_s"}
    ok = frame[frame["status"] == "ok"] if not frame.empty else frame
    if ok.empty or not needed <= set(ok.columns):
        return None
    ok = ok.dropna(subset=sorted(needed))  # records that did not count their FLOPs
    if ok.empty:
        return None
    fig, ax = plt.subplots(figsize=(8.5, 6))
    ok, keys = pooling.separate(ok, ["experiment_name", *config_columns(ok)])
    versions = [k for k in IDENTITY if k in keys]  # a line per version: never one median
    groups = ok.groupby(["framework", "device", "precision", *versions], dropna=False)
    for (framework, device, precision, *_), runs in groups:
        pts = runs.groupby("train_flops_per_epoch")["train_time_per_epoch_s"].median()
        style = "-" if precision == "float32" else "--"
        line = color(framework, device)
        name = " ".join([framework, device, precision,
                         key_values(runs.iloc[0].to_dict(), versions)]).strip()
        ax.plot(pts.index, pts.values, style, marker="o", color=line, label=name)
        peak = runs["matmul_peak_gflops"].dropna() if "matmul_peak_gflops" in runs else []
        if len(peak):
            flops = np.geomspace(pts.index.min() / 2, pts.index.max() * 2, 20)
            ax.plot(flops, flops / (float(peak.median()) * 1e9), ":", color=line, alpha=0.7,
                    label=f"limit: {name} matmul peak {float(peak.median()):.0f} GFLOP/s")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("FLOPs per training epoch (matmuls)")
    ax.set_ylabel("time per epoch (s)")
    ax.set_title("Scaling: time per epoch against work, with this host's matmul limit")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return save(fig, path, 110)
