"""Where an epoch's time goes: the phases table, the layer-kernel table and the stacked bars.

Each configuration's newest ok record per framework and device. A framework that cannot split
its epoch is a row all the same, without phases, its reason beside it. "Phased / timed" is the
phased epochs' median over the timed epochs' median (train_time_per_epoch_s): near 1, the
marks cost little and the split is that of a timed epoch; the table says so for each row.

Light on purpose (matplotlib only inside ``figure``): summary.md's sections use the tables.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nnbench.report.render.pages import PER_PAGE, latest_ok
from nnbench.report.render.tables import DEFAULT_PAIR
from nnbench.results.labels import CONFIG_KEYS, LABELLED, label, varying
from nnbench.results.read import ReadRecord
from nnbench.stats import format_seconds

PHASES = ("gather", "forward", "backward", "update", "rest")
COLORS = {"gather": "#8c564b", "forward": "#1f77b4", "backward": "#ff7f0e",
          "update": "#2ca02c", "rest": "#c7c7c7"}
OPS = ("matmul+bias", "matmul", "bias", "weight grad", "input grad", "bias grad")
DECADE = 10.0  # epochs of one panel this far apart: a log axis
AGREE = 0.10  # a phased epoch within this of the timed one: the marks barely change it
TITLE = "Where the time goes: one epoch by phase"
NOTE = ("Median seconds of each phase over the phased epochs (a pass of its own, after the "
        "timed runs), and its share of the median phased epoch. gather: the mini-batch's rows; "
        "forward: the layers and the loss; backward: every gradient; update: the optimizer's "
        "step; rest: the epoch less the phases (the loop, dispatch, allocation, the marks). "
        "Phased / timed: the phased epoch over the timed epoch's median; within 10% of 1, the "
        "split is that of a timed epoch. Beyond, the marks or the host changed the epoch: a "
        "noisy timed epoch (see its IQR/median) or other work on the host, more often than "
        "the marks: on the host clock a mark costs about 0.2 us, five or six of them a step.")
KERNELS_TITLE = "Layer kernels: time per call and achieved GFLOP/s"
KERNELS_NOTE = ("Each layer's work called on its own at the job's batch size (median of blocks "
                "of calls). matmul: x W^T; bias: + b; matmul+bias: torch's fused addmm (what "
                "nn.Linear runs); weight grad: dz^T x; input grad: dz W; bias grad: the batch "
                "sum of dz. FLOPs from the shapes (one per element for bias work).")
# A kernel this far below its framework's median GFLOP/s in its configuration, or this many times
# slower than its layer's matmul while doing less work, is no measure of that kernel's speed
SLOWER_THAN_MEDIAN, SLOWER_THAN_MATMUL = 100.0, 10.0
OUT_OF_LINE = "(out of line)"
OUT_OF_LINE_NOTE = (f" {OUT_OF_LINE}: its GFLOP/s is more than {SLOWER_THAN_MEDIAN:.0f}x below the "
                    "median of its framework's kernels in this configuration, or it took more "
                    f"than {SLOWER_THAN_MATMUL:.0f}x its layer's matmul for less work: most likely "
                    "a one-off stall (other work on the host), a first call, or a tiny op whose "
                    "call overhead dwarfs its work; read its time with care, not as the "
                    "kernel's speed.")


def by_config(records: list[ReadRecord],
              pair: tuple[str, str] = DEFAULT_PAIR) -> list[list[ReadRecord]]:
    """The newest ok records of each configuration that has phase figures or a reason for
    none, the pair first, then the other frameworks by name."""
    groups: dict[tuple, list[ReadRecord]] = {}
    for rec in latest_ok(records):
        if rec.phases_epoch_s or rec.phases_unavailable:
            groups.setdefault(tuple(str(getattr(rec, k)) for k in CONFIG_KEYS), []).append(rec)
    return [sorted(g, key=lambda r: _contender(r, pair))
            for _, g in sorted(groups.items(), key=_size)]


def _contender(rec: ReadRecord, pair: tuple[str, str]) -> tuple:
    """The pair first, then the other frameworks by name; CPU before CUDA."""
    rank = pair.index(rec.framework) if rec.framework in pair else len(pair)
    return rank, rec.framework, str(rec.device)


def _size(item: tuple[tuple, list[ReadRecord]]) -> tuple:
    """Configurations by experiment, then by the work of an epoch (the scaling networks
    smallest first), then by their keys."""
    key, group = item
    work = max((r.train_flops_per_epoch or 0 for r in group), default=0)
    return key[0], work, key


def _median(stats: dict | None) -> float | None:
    return (stats or {}).get("median")  # a block of statistics, as read


def ratio(rec: ReadRecord) -> float | None:
    """The phased epoch over the timed one, both medians."""
    phased, timed = _median(rec.phases_epoch_s), rec.train_time_per_epoch_s
    return phased / timed if phased and timed else None


def _names(groups: list[list[ReadRecord]]) -> list[str]:
    firsts = [g[0] for g in groups]
    extra = varying(firsts, LABELLED)
    return [label(r, wrap=False, extra=extra).replace("\n", " ") for r in firsts]


def table(records: list[ReadRecord], pair: tuple[str, str] = DEFAULT_PAIR) -> pd.DataFrame:
    groups = by_config(records, pair)
    rows = []
    for name, group in zip(_names(groups), groups, strict=True):
        for rec in group:
            row = {"experiment": rec.experiment_name, "configuration": name,
                   "framework": rec.framework, "device": rec.device}
            epoch = _median(rec.phases_epoch_s)
            for phase in PHASES:
                seconds = _median((rec.phases_s or {}).get(phase))
                row[phase] = "" if seconds is None or not epoch else \
                    f"{format_seconds(seconds)} ({seconds / epoch:.0%})"
            share = ratio(rec)
            row.update({
                "phased epoch": format_seconds(epoch) if epoch else "",
                "timed epoch": format_seconds(rec.train_time_per_epoch_s)
                if rec.train_time_per_epoch_s else "",
                "phased / timed": "" if share is None else
                f"{share:.2f}" + ("" if abs(share - 1) <= AGREE else " (differs > 10%)"),
                "phases": rec.phases_unavailable or
                f"{(rec.phases_epoch_s or {}).get('n')} phased epochs"})
            rows.append(row)
    return pd.DataFrame(rows)


def kernels_table(records: list[ReadRecord], pair: tuple[str, str] = DEFAULT_PAIR) -> pd.DataFrame:
    """One row per configuration, layer and kernel; a column per framework and device."""
    groups = by_config([r for r in records if r.layer_matmuls], pair)
    rows: dict[tuple, dict] = {}
    columns = [f"{r.framework} {r.device}" for r in
               sorted((r for g in groups for r in g), key=lambda r: _contender(r, pair))]
    for name, group in zip(_names(groups), groups, strict=True):
        for rec in group:
            column = f"{rec.framework} {rec.device}"
            odd = _out_of_line(rec.layer_matmuls)
            for i, k in enumerate(rec.layer_matmuls):  # each kernel's figures, a dict
                key = (name, k["layer"], k["direction"], k["op"])
                row = rows.setdefault(key, {"configuration": name, "layer": k["layer"],
                                            "direction": k["direction"], "op": k["op"],
                                            "FLOPs": f"{k['flops']:.3g}"})
                gflops = k.get("gflops")
                row[column] = f"{format_seconds(k['seconds'])} · " + \
                    (f"{gflops:.3g} GFLOP/s" if gflops else "") + \
                    (f" {OUT_OF_LINE}" if i in odd else "")
    names = list(dict.fromkeys(k[0] for k in rows))  # the configurations' order
    order = sorted(rows, key=lambda k: (names.index(k[0]), k[1],
                                        OPS.index(k[3]) if k[3] in OPS else len(OPS)))
    frame = pd.DataFrame([rows[k] for k in order])
    head = [c for c in frame.columns if c not in columns]
    return frame[head + list(dict.fromkeys(columns))].fillna("") if rows else frame


def _out_of_line(kernels: list[dict]) -> set[int]:
    """The indexes of one record's kernels whose time is far out of line with their work: a
    bias that took 8 ms beside an 8 µs matmul of its layer reads as 0.006 GFLOP/s, a
    thousandfold outlier that would otherwise pass for that kernel's speed."""
    rates = [k["gflops"] for k in kernels if k.get("gflops")]
    median = float(np.median(rates)) if rates else 0.0
    matmul = {k["layer"]: k for k in kernels if k["op"] == "matmul" and k.get("seconds")}
    odd = set()
    for i, k in enumerate(kernels):
        mm = matmul.get(k["layer"])
        if (k.get("gflops") and k["gflops"] * SLOWER_THAN_MEDIAN < median) or (
                mm is not None and k["flops"] < mm["flops"]
                and k["seconds"] > SLOWER_THAN_MATMUL * mm["seconds"]):
            odd.add(i)
    return odd


def sections(records: list[ReadRecord], pair: tuple[str, str] = DEFAULT_PAIR) -> list[tuple]:
    """The report's sections of this module: (level, title, table, note)."""
    out = []
    phases = table(records, pair)
    if not phases.empty:
        out.append((2, TITLE, phases, NOTE))
    kernels = kernels_table(records, pair)
    if not kernels.empty:
        flagged = kernels.map(lambda cell: OUT_OF_LINE in str(cell)).to_numpy().any()
        out.append((2, KERNELS_TITLE, kernels,
                    KERNELS_NOTE + (OUT_OF_LINE_NOTE if flagged else "")))
    return out


def figure(records: list[ReadRecord], path: Path, pair: tuple[str, str] = DEFAULT_PAIR
           ) -> Path | None:
    """Stacked bars of the phases, the frameworks of one configuration side by side, one panel
    per configuration (its own scale: a two-moons epoch and a large network's differ a
    thousandfold); the timed epoch's median as a black tick on each bar."""
    from nnbench.report.render.plots import page_title, plt, save

    groups = by_config(records, pair)
    shown = groups[:PER_PAGE]
    if not any(r.phases_s for g in shown for r in g):
        return None
    cols = 1 if len(shown) == 1 else 2
    rows = -(-len(shown) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(max(6.5 * cols, 9), 3.8 * rows),
                             squeeze=False)
    more = len(groups) - len(shown)
    top = page_title(fig, "Where the time goes: one epoch by phase\n(median of the phased "
                          "epochs; black tick: the timed epoch's median)",
                     f"{more} more configurations are not drawn; every one is in the phases "
                     f"table of summary.md and report.html." if more else "")
    for ax, name, group in zip(axes.flat, _names(groups), shown, strict=False):
        _panel(ax, name, group)
    for ax in list(axes.flat)[len(shown):]:
        ax.set_visible(False)
    # one legend for every panel, between the title and the panels
    bars = [plt.Rectangle((0, 0), 1, 1, color=COLORS[p]) for p in PHASES]
    room = 0.35 / fig.get_figheight()
    fig.legend([*bars, plt.Line2D([], [], color="black", lw=2)], [*PHASES, "timed epoch"],
               loc="upper center", bbox_to_anchor=(0.5, top), ncol=len(PHASES) + 1,
               fontsize=8, frameon=False)
    return save(fig, path, 100, rect=(0, 0, 1, top - room))


def _panel(ax, name: str, group: list[ReadRecord]) -> None:
    epochs = [_median(r.phases_epoch_s) or r.train_time_per_epoch_s or 0 for r in group]
    scale, unit = next(((s, u) for s, u in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"))
                        if max(epochs, default=0) >= s), (1e-6, "µs"))
    floor = _log_floor(group, epochs, scale)
    for x, rec in enumerate(group):
        phases = rec.phases_s or {}
        bottom = floor or 0.0
        for phase in PHASES if phases else ():
            top = bottom + (_median(phases.get(phase)) or 0) / scale
            ax.bar(x, top - bottom, 0.6, bottom=bottom, color=COLORS[phase])
            bottom = top
        timed = rec.train_time_per_epoch_s
        if timed and phases:
            ax.plot([x - 0.35, x + 0.35], [timed / scale] * 2, color="black", lw=2)
            ax.annotate(f"phased / timed {ratio(rec):.2f}", (x, max(bottom, timed / scale)),
                        xytext=(0, 4), textcoords="offset points", ha="center", fontsize=8)
        if not phases:
            ax.text(x, 0, "no phases:\n" + _wrap(rec.phases_unavailable or ""),
                    ha="center", va="bottom", fontsize=7, color="#b00")
    ax.set_xticks(range(len(group)), [f"{r.framework}\n{r.device}" for r in group])
    ax.set_xlim(-0.6, len(group) - 0.4)
    ax.set_ylabel(f"time per epoch ({unit})")
    ax.set_title(name, fontsize=9)
    ax.margins(y=0.15)
    if floor:  # epochs a decade or more apart: a 0.2 ms bar stays visible beside a 2 ms one
        from nnbench.report.render.plots import log_ticks

        ax.set_yscale("log")
        ax.set_ylim(bottom=floor)
        log_ticks(ax)  # 0.5, 1, 2, 5: not 10^0
        ax.set_ylabel(f"time per epoch ({unit}, log)")
    else:
        ax.set_ylim(bottom=0)


def _log_floor(group: list[ReadRecord], epochs: list[float], scale: float) -> float | None:
    """Where a log axis starts (in the panel's unit): a third of the smallest epoch, where
    the panel's epochs span ``DECADE`` or more; None for a linear axis, the bars stacked from
    0. On a log axis the stack's boundaries sit at the running sums from that floor: the
    totals read true, the shares are the table's."""
    positive = [e for e in epochs if e > 0]
    if len(positive) < 2 or max(positive) / min(positive) < DECADE:
        return None
    return min(positive) / scale / 3

def _wrap(text: str, width: int = 28) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)[:4])
