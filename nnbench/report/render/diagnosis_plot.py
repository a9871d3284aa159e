"""Your network's loss curve beside torch's until they part (framework=mine): the curves of
each job's diagnosis, float64, from the job's start on its batches, newest first. A wrong
network's job is not timed, so this is the one figure that shows it train."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from nnbench.report.render.plots import color, page_title, plt
from nnbench.results.read import ReadRecord

MAX_PANELS = 8
COLUMNS = 4


def _curves(rec: ReadRecord) -> dict:
    """The diagnosis's loss curves (epochs, mine, torch, parted_at_epoch); {} without."""
    return (rec.diagnosis or {}).get("loss_curves") or {}


def _drawn(records: list[ReadRecord]) -> list[ReadRecord]:
    found = [r for r in records if _curves(r).get("epochs")]
    found.sort(key=lambda r: r.started, reverse=True)
    return found[:MAX_PANELS]


def diagnosis_curves(records: list[ReadRecord], path: Path) -> Path | None:
    """The figure, or None without a diagnosis that trained."""
    drawn = _drawn(records)
    if not drawn:
        return None
    columns = min(len(drawn), COLUMNS)
    rows = -(-len(drawn) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.4 * columns, 3.4 * rows + 1.0),
                             squeeze=False, layout="constrained")
    for ax, rec in zip(axes.flat, drawn, strict=False):
        found, curves = rec.diagnosis, _curves(rec)
        epochs = np.arange(1, curves["epochs"] + 1)
        ax.plot(epochs, curves["mine"], "-", color=color(str(rec.framework), "cpu"),
                label="yours")
        ax.plot(epochs, curves["torch"], "--", color=color("torch", "cpu"), label="torch")
        if curves.get("parted_at_epoch"):
            ax.axvline(curves["parted_at_epoch"], color="red", lw=0.8, ls=":",
                       label=f"part at epoch {curves['parted_at_epoch']}")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_xlabel("epoch")
        head = f"{rec.status} · {rec.dataset} {rec.arch}"
        ax.set_title(head + "\n" + textwrap.fill(found.get("summary", ""), 56), fontsize=8)
    for ax in list(axes.flat)[len(drawn):]:
        ax.set_visible(False)
    axes[0, 0].set_ylabel("training loss (float64)")
    page_title(fig, "Your network against torch from the same start and batches, until "
                    "the loss curves part", "")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
