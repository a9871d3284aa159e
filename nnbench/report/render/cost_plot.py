"""cost_model.png: each experiment's sweep with its fitted cost models
(``report.analyse.cost_model``).

A column per experiment: time per epoch against FLOPs per epoch with the fitted lines and the
crossings; the residuals of each fit (a model that misses a term shows it as a trend, not as
scatter); and each line's time over the time of the pair's second framework on the same device,
measured and fitted, which crosses 1 where the faster one changes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nnbench.report.analyse import cost_model
from nnbench.report.render.plots import color, matplotlib, plt, ratio_ticks, save
from nnbench.report.render.tables import DEFAULT_PAIR
from nnbench.results import pooling
from nnbench.stats import cost_model as cm

MAX_COLUMNS = 3  # experiments side by side; the tables hold every one


def _path(sizes: list[cm.Size], per_segment: int = 24) -> list[cm.Size]:
    """The sizes in order of FLOPs with points in between, each term moving in a straight line
    from one size to the next (as ``cm.crossings`` takes it)."""
    order = sorted(set(sizes), key=lambda s: (s.flops, s.steps))
    out = []
    for a, b in zip(order[:-1], order[1:], strict=True):
        for t in np.linspace(0, 1, per_segment, endpoint=False):
            out.append(cm.Size(a.steps + t * (b.steps - a.steps),
                               a.flops + t * (b.flops - a.flops),
                               a.elements + t * (b.elements - a.elements)))
    return [*out, order[-1]]


def _families(sizes: list[cm.Size]) -> list[list[cm.Size]]:
    """The sizes by steps per epoch (one batch size over one data set): a drawn line joins
    only sizes of one family; from a full-batch size to a batch-64 one of the same FLOPs
    it would draw a jump that no network between them has."""
    out: dict[float, list[cm.Size]] = {}
    for size in dict.fromkeys(sizes):
        out.setdefault(size.steps, []).append(size)
    return list(out.values())


def _ticks(ax) -> None:
    """``ratio_ticks``, with 1-2-5 steps where its decades alone would leave one label."""
    ratio_ticks(ax)
    low, high = ax.get_ylim()
    if sum(low <= t <= high for t in ax.get_yticks()) < 3:
        ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))


def _medians(line: cost_model.Line) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    flops = np.array([s.flops for s in line.sizes])
    mid = np.array([np.median(r) for r in line.rounds])
    low = np.array([min(r) for r in line.rounds])
    high = np.array([max(r) for r in line.rounds])
    order = np.argsort(flops)
    return flops[order], mid[order], low[order], high[order]


def _style(line: cost_model.Line) -> dict:
    return {"color": color(line.framework, line.device),
            "ls": "-" if line.precision == "float32" else "--"}


def _column(axes, experiment: str, found: cost_model.Experiment,
            pair: tuple[str, str]) -> None:
    top, middle, bottom = axes
    for ax in axes:
        ax.set_xscale("log")
    top.set_yscale("log")
    middle.set_yscale("log")  # a point twice as slow as its fit and one half as slow, alike
    fitted = [line for line in found.lines if line.model is not None]
    for line in fitted:
        style = _style(line)
        flops, mid, low, high = _medians(line)
        top.errorbar(flops, mid, yerr=[mid - low, high - mid], fmt="o", ms=4, capsize=2,
                     color=style["color"], label=f"{line.name}: median, range over rounds")
        m = line.model.fit
        label = (f"{line.name} fit: a {m.a * 1e6:.3g} µs/step, b {m.b / 1e9:.3g} GFLOP/s"
                 + (f", c {m.c * 1e9:.2g} ns/value" if m.c is not None else ""))
        for family in _families(line.sizes):
            path = _path(family)
            top.plot([s.flops for s in path], m.predict(path), **style, lw=1.2, alpha=0.8,
                     marker="_" if len(path) == 1 else None, label=label)
            label = None  # one legend entry per line
        order = np.argsort([s.flops for s in line.sizes])
        # points only: several configurations (learning rates, batch sizes) share a size
        middle.plot(flops, 1 + m.residuals[order], marker="o", ms=4, lw=0, **style,
                    label=f"{line.name}: R² (log time) {m.r2_log:.3f}")
    _ratios(bottom, fitted, pair)
    for cross in found.crossings:
        for x in cross.flops:
            for ax in axes:
                ax.axvline(x, color="gray", lw=0.8, ls=":")
            top.text(x, 0.02, " " + cross.lines.replace(" vs ", "\n = "), fontsize=7,
                     color="dimgray", transform=top.get_xaxis_transform(), va="bottom")
    top.set_ylabel("time per epoch (s)")
    top.set_title(f"{experiment}: time per epoch = steps · a + FLOPs / b "
                  f"(dotted: where the faster changes)", fontsize=10)
    middle.axhline(1, color="gray", lw=0.8)
    _ticks(middle)
    middle.set_ylabel("measured / fitted")
    middle.set_title("residuals of each fit: a trend means a missing term, scatter noise",
                     fontsize=10)
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    bottom.set_xlabel("FLOPs per training epoch (matmuls)")


def _ratios(ax, lines: list[cost_model.Line], pair: tuple[str, str]) -> None:
    """Each line over the pair's second framework on its device and precision, with the
    measured ratios' 95% intervals over rounds."""
    drawn = False
    for line in lines:
        base = next((b for b in lines if b.framework == pair[1] and b.device == line.device
                     and b.precision == line.precision and b is not line), None)
        if base is None:
            continue
        common = [s for s in dict.fromkeys(line.sizes) if s in set(base.sizes)]
        if len(common) < 2:
            continue
        style = _style(line)
        label = f"{line.name} / {base.name}: fitted"
        for family in _families(common):
            path = _path(family)
            fitted = line.model.fit.predict(path) / base.model.fit.predict(path)
            ax.plot([s.flops for s in path], fitted, **style, lw=1.2,
                    marker="_" if len(path) == 1 else None, label=label)
            label = None
        rounds = dict(zip(line.sizes, line.rounds, strict=True))
        rounds_base = dict(zip(base.sizes, base.rounds, strict=True))
        for size in common:
            r = pooling.ratio(pooling.Side(rounds[size], [None] * len(rounds[size])),
                              pooling.Side(rounds_base[size], [None] * len(rounds_base[size])))
            if r is None:
                continue
            err = [[r[0] - r[1]], [r[2] - r[0]]] if np.isfinite(r[1]) else None
            ax.errorbar([size.flops], [r[0]], yerr=err, fmt="o", ms=4, capsize=2,
                        color=style["color"])
        drawn = True
    ax.axhline(1.0, color="gray", lw=0.8, ls="--")
    ax.set_title(f"time over {pair[1]}'s on the same device (below 1: faster; points: "
                 f"measured, 95% CI over rounds)", fontsize=10)
    if drawn:
        ax.set_yscale("log")
        _ticks(ax)
    else:
        ax.text(0.5, 0.5, f"no fitted {pair[1]} line to compare with", ha="center",
                va="center", transform=ax.transAxes, color="gray")


def draw(frame: pd.DataFrame, path: Path, collection=None,
         pair: tuple[str, str] = DEFAULT_PAIR) -> Path | None:
    """The figure, or None where no experiment has a fitted line."""
    found = cost_model.of(collection) if collection is not None else cost_model.models(frame)
    shown = [(name, e) for name, e in sorted(found.items())
             if any(line.model is not None for line in e.lines)]
    if not shown:
        return None
    more = len(shown) - MAX_COLUMNS
    shown = shown[:MAX_COLUMNS]
    fig, axes = plt.subplots(3, len(shown), figsize=(7.5 * len(shown), 13), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1.3, 2]})
    for i, (name, experiment) in enumerate(shown):
        _column(axes[:, i], name, experiment, pair)
    title = "Cost model per line, fitted over each experiment's sizes"
    if more > 0:
        title += f" ({more} more experiment(s) in summary.md)"
    fig.suptitle(title, fontsize=11)
    return save(fig, path, 100, rect=(0, 0, 1, 0.97))
