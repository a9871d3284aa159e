"""The report's figures as PNGs: the comparison summary (in pages), and what every figure shares
(colours, titles, log ticks); scaling is ``scaling``'s, the loss curves ``curves``', the
confusion matrices ``confusion``'s."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from nnbench.report.render import pages  # noqa: E402
from nnbench.report.render.tables import DEFAULT_PAIR  # noqa: E402
from nnbench.results import pooling  # noqa: E402
from nnbench.results.read import ReadRecord, as_records  # noqa: E402

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
    # the title hangs from 2% of the height below the top (matplotlib's suptitle y=0.98)
    pad = max(0.15, 0.02 * fig.get_figheight()) + 0.05
    return 1 - (pad + 0.19 * (1 + title.count("\n") + len(lines))) / fig.get_figheight()


def save(fig: plt.Figure, path: Path, dpi: int, rect: tuple | None = None) -> Path:
    fig.tight_layout(rect=rect)
    # laid out once: no layout engine left, or savefig would draw the figure once to lay it
    # out (tight_layout leaves a placeholder engine that does nothing) and again to save it
    fig.set_layout_engine(None)
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
                  pair: tuple[str, str], records: dict[str, ReadRecord]) -> None:
    """The pair's ratio per configuration and device with its 95% interval: filled markers
    over rounds, open ones over the samples of one process per side."""
    devices = sorted(set(ok["device"]))
    width = 0.8 / max(len(devices), 1)
    drawn = set()
    for i, device in enumerate(devices):
        for j, (_, cfg) in enumerate(configs.iterrows()):
            here = ok[(ok["_config"] == cfg["_config"]) & (ok["device"] == device)]
            sides, recs_of = [], []
            for framework in pair:
                runs = here[(here["framework"] == framework) & here[metric].notna()]
                recs = [records[f] for f in runs.get("result_file", []) if f in records]
                recs_of.append(recs)
                sides.append(pooling.Side.of(recs, metric) if len(recs) == len(runs)
                             else pooling.Side([float(v) for v in runs[metric]],
                                              [None] * len(runs)))
            xpos = j + (i - (len(devices) - 1) / 2) * width
            # the host's contention picks the figure (stats.robust), or leaves no ratio
            result, used = pooling.host_ratio(*recs_of, metric, (sides[0], sides[1]))
            if used is None:
                ax.text(xpos, 0.5, "cannot tell:\nhost busy", ha="center", va="center",
                        fontsize=8, color="dimgray", transform=ax.get_xaxis_transform())
                continue
            if result is None:
                continue
            r, lo, hi, mark = result
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
                        xytext=(8, -3), fontsize=8, annotation_clip=True)
    ax.axhline(1.0, color="gray", lw=0.8, ls="--")
    ax.set_yscale("log")
    ax.set_xlim(-0.6, len(configs) - 0.4)
    ax.margins(y=0.1)  # a point at the edge of the range keeps its whole marker and label
    ratio_ticks(ax)  # its markers' legend: the page's, above the panels (legend_above)


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
                       records: list[ReadRecord] | None = None) -> list[Path] | None:
    """Every configuration's figures, ``pages.PER_PAGE`` to a page (``path``, then
    ``<stem>_2.png``, ...); the pages written, or None without an ok record."""
    ok, configs = pages.comparison_configs(frame)
    if not configs:
        return None
    by_file = {r.result_file: r for r in as_records(records or []) if r.result_file}
    pairs = sorted({(f, d) for f, d in zip(ok["framework"], ok["device"], strict=True)},
                   key=lambda p: (p[1], p[0]))
    names = pages.labels(configs)  # over all pages: a key that varies across pages is shown
    flat = pages.labels(configs, wrap=False)
    chunks, _ = pages.split(list(range(len(configs))))
    written = []
    for number, chunk in enumerate(chunks, 1):
        note = pages.page_note(len(configs), pages.PER_PAGE, len(chunks), number, path,
                               pages.TABLES)
        ticks, key = tick_labels([names[i] for i in chunk], [flat[i] for i in chunk],
                                 chunk[0] + 1)
        written.append(_summary_page(ok, pd.DataFrame([configs[i] for i in chunk]), ticks,
                                     pairs, pair, by_file, pages.page_path(path, number), note,
                                     key))
    return written


# Characters of 8 pt tick label that fit side by side under one panel of the summary page
PANEL_CHARS = 90
TALL = 5  # lines of a tick label beyond which the configurations are numbered, with a key


def tick_labels(wrapped: list[str], flat: list[str], first: int) -> tuple[list[str], list[str]]:
    """The tick labels of a page, and its key: the labels themselves where they fit side by
    side (at most ``TALL`` lines, each within its share of the panel's width); else the
    configurations' numbers (``first`` on), each named in full in a key below the panels,
    so that neighbours never run into each other ("epochs 2000epochs 2000")."""
    share = PANEL_CHARS / max(len(wrapped), 1)
    widest = max((len(line) for label in wrapped for line in label.split("\n")), default=0)
    if max((label.count("\n") + 1 for label in wrapped), default=0) <= TALL and \
            widest <= 0.8 * share:
        return wrapped, []
    numbers = [str(first + i) for i in range(len(wrapped))]
    return numbers, [f"{n}: {name.replace(chr(10), ' ')}" for n, name in zip(numbers, flat,
                                                                              strict=True)]


def _summary_page(ok: pd.DataFrame, configs: pd.DataFrame, labels: list[str], pairs: list,
                  pair: tuple[str, str], by_file: dict[str, ReadRecord], path: Path,
                  note: str, key: list[str]) -> Path:
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
                seconds_axis(ax)
        ax.set_xticks(x, labels, fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    top = page_title(fig, f"{pair[0]} vs {pair[1]} per configuration (median of the rounds' "
                          "medians; error bars: range over rounds, or with one round the IQR "
                          "of its samples)", note)
    top = legend_above(fig, axes.flat, top)
    rows = (len(key) + 1) // 2  # the key in two columns, under the panels
    for i, line in enumerate(key):
        fig.text(0.02 + 0.5 * (i // max(rows, 1)), 0.03 + 0.16 * (rows - i % rows) / 13.5,
                 textwrap.shorten(line, 95), fontsize=8, va="bottom", family="monospace")
    bottom = 0.03 + 0.16 * (rows + 1.2) / 13.5 if key else 0.02
    fig.text(0.5, 0.005, "Memory: RSS only, the one probe that sees both frameworks; "
             "tracemalloc and CUDA peaks are in the tables.", ha="center", fontsize=9)
    return save(fig, path, 100, rect=(0, bottom, 1, top))


def seconds_axis(ax: plt.Axes) -> None:
    """Durations as 200 µs and 5 ms; on a log axis, labels at 1-2-5 steps where it spans three
    decades or less (its decades alone left a lone "1 ms"), and no minor labels (they read
    4x10^-3 beside a "1 ms")."""
    ax.yaxis.set_major_formatter(matplotlib.ticker.EngFormatter(unit="s"))
    if ax.get_yscale() != "log":
        return
    low, high = ax.get_ylim()
    decades = np.log10(high / low) if low > 0 else np.inf
    if decades <= 3:
        subs = (1.0, 2.0, 3.0, 5.0, 7.0) if decades <= 1 else (1.0, 2.0, 5.0)
        ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=subs))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def legend_above(fig: plt.Figure, axes, top: float) -> float:
    """One legend for every panel (bars and interval markers), outside them under the title,
    where it covers no data; returns the top of the room left for the panels."""
    handles, names = [], []
    for ax in axes:
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            if name not in names:
                handles.append(handle)
                names.append(name)
    if not handles:
        return top
    columns = min(len(names), 4)
    fig.legend(handles, names, loc="upper center", ncol=columns, fontsize=9,
               bbox_to_anchor=(0.5, top), frameon=False)
    return top - (0.05 + 0.22 * -(-len(names) // columns)) / fig.get_figheight()
