"""The loss-curve figure: per configuration, both frameworks' loss from the same start and
batches, how far they drift apart, and the test accuracy after each epoch; configurations in a
grid of ``COLUMNS``, ``pages.PER_PAGE`` to a page.

Where the repeats trained from starts of their own (``bench.vary_seed``), the loss and accuracy
are drawn as the median over the repeats with a band from their minimum to their maximum; the
difference panel stays the first repeat's, the one both frameworks trained from one start."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from nnbench.report.render import pages
from nnbench.report.render.plots import DEFAULT_PAIR, color, log_ticks, page_title, plt
from nnbench.results.read import ReadRecord

COLUMNS = 4
FLOOR = 1e-18  # where an exact 0 difference is drawn on the log axis
# The page's margins, in inches: the first column's two-line y labels and tick labels on the
# left, a cell's two-line title above it and its x label below, log tick labels between columns
LEFT, RIGHT, BOTTOM, TITLE_ROOM = 1.05, 0.15, 0.45, 0.45
ROW_GAP, COLUMN_GAP, PANEL_GAP = 0.85, 0.62, 0.25


def loss_curves(records: list[ReadRecord], path: Path,
                pair: tuple[str, str] = DEFAULT_PAIR) -> list[Path] | None:
    """The pages written (``path``, then ``<stem>_2.png``, ...), or None without a pair of
    loss histories."""
    pairs = pages.pairs_by_config(records, "loss_history", pair)
    if not pairs:
        return None
    titles = [t.replace("\n", " ") for t in pages.labels([a for a, _ in pairs], wrap=False)]
    with_accuracy = any(len(a.test_accuracy_history) or len(b.test_accuracy_history)
                        for a, b in pairs)
    chunks, _ = pages.split(list(range(len(pairs))))
    where = ("loss_history of each record in its result.json (and in results.json with "
             "--histories)")
    return [_page([pairs[i] for i in chunk], [titles[i] for i in chunk], pair, with_accuracy,
                  pages.page_path(path, number),
                  pages.page_note(len(pairs), pages.PER_PAGE, len(chunks), number, path, where))
            for number, chunk in enumerate(chunks, 1)]


def _page(pairs: list[tuple[ReadRecord, ReadRecord]], titles: list[str], pair: tuple[str, str],
          with_accuracy: bool, path: Path, note: str) -> Path:
    ratios = [2, 1, 1.3] if with_accuracy else [2, 1]
    columns = min(len(pairs), COLUMNS)  # one configuration: one panel the canvas's width
    rows = -(-len(pairs) // columns)
    width, height = max(4.2 * columns, 8.4), 1.4 * sum(ratios) * rows + 1.2
    fig = plt.figure(figsize=(width, height))
    title = "Loss curves from the same start and batches;\nbelow, how far they drift apart"
    top = page_title(fig, title + (" and the test accuracy after each epoch" if with_accuracy
                                   else ""), note)
    # Laid out by hand, in inches: every cell holds the same panels, so one set of margins
    # fits them all (a layout engine measured all 72 panels' ticks, half the figure's time)
    cell_h = (top * height - TITLE_ROOM - BOTTOM - (rows - 1) * ROW_GAP) / rows
    cell_w = (width - LEFT - RIGHT - (columns - 1) * COLUMN_GAP) / columns
    grid = fig.add_gridspec(rows, columns, left=LEFT / width, right=1 - RIGHT / width,
                            top=top - TITLE_ROOM / height, bottom=BOTTOM / height,
                            hspace=ROW_GAP / cell_h, wspace=COLUMN_GAP / cell_w)
    for n, ((first, second), title) in enumerate(zip(pairs, titles, strict=True)):
        row, col = divmod(n, columns)
        cell = grid[row, col].subgridspec(len(ratios), 1, height_ratios=ratios,
                                          hspace=PANEL_GAP * len(ratios) / cell_h)
        panels = [fig.add_subplot(cell[0])]
        panels += [fig.add_subplot(cell[i], sharex=panels[0]) for i in range(1, len(ratios))]
        for panel in panels[:-1]:
            panel.tick_params(labelbottom=False)
        _curves(panels, first, second, pair, first_column=col == 0)
        panels[0].set_title(textwrap.fill(title, 48), fontsize=9)
        panels[-1].set_xlabel("epoch")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _curves(panels: list, first: ReadRecord, second: ReadRecord, pair: tuple[str, str],
            first_column: bool) -> None:
    """One configuration: the loss of each, their absolute difference, their accuracy."""
    a = np.asarray(first.loss_history, dtype=float)
    b = np.asarray(second.loss_history, dtype=float)
    n = min(a.size, b.size)
    epochs = np.arange(1, n + 1)
    top, middle = panels[0], panels[1]
    colors = (color(pair[0], first.device), color(pair[1], second.device))
    for rec, series, line, style, name in ((first, a, colors[0], "-", pair[0]),
                                           (second, b, colors[1], "--", pair[1])):
        _band(top, rec.loss_histories, series[:n], line, style, name)
    top.set_yscale("log")
    log_ticks(top)
    top.legend(fontsize=8)
    top.grid(alpha=0.3)
    diff = np.abs(a[:n] - b[:n])
    # a line through the epochs that differ; an exact 0 is a tick at the floor, not a plunge
    # to it and back that turns the panel into a black block
    middle.plot(epochs, np.where(diff > 0, diff, np.nan), color="black", lw=0.8)
    middle.plot(epochs[diff == 0], np.full(int((diff == 0).sum()), FLOOR), "|", color="gray",
                ms=5)
    middle.set_yscale("log")
    middle.set_ylim(FLOOR / 2, max(1.0, diff.max() * 2) if diff.size else 1.0)
    middle.grid(alpha=0.3)
    if (diff == 0).any():  # the floor's ticks said in words where they are drawn
        middle.text(0.01, 0.04, "gray ticks at the bottom: epochs where the two losses are "
                    "exactly equal", transform=middle.transAxes, fontsize=7, color="gray")
    if first_column:
        top.set_ylabel("training loss")
        middle.set_ylabel(f"|{pair[0]} - {pair[1]}|\n(absolute difference)")
    if len(panels) < 3:
        return
    bottom = panels[2]
    for rec, line, style, name in ((first, colors[0], "-", pair[0]),
                                   (second, colors[1], "--", pair[1])):
        acc = np.asarray(rec.test_accuracy_history, dtype=float)
        if acc.size:
            _band(bottom, rec.test_accuracy_histories, acc, line, style, name)
    if first_column:
        bottom.set_ylabel("test accuracy\n(after each epoch)")
    bottom.grid(alpha=0.3)


def _band(ax, histories, first: np.ndarray, line: str, style: str, name: str) -> None:
    """``first`` as a line; or, over repeats that differ (their own starts), their median as
    the line and their minimum to maximum as a band."""
    runs = [np.asarray(h, dtype=float) for h in (histories or []) if len(h)]
    n = min((r.size for r in runs), default=0)
    if len(runs) < 2 or n == 0 or all(np.array_equal(runs[0][:n], r[:n]) for r in runs[1:]):
        ax.plot(np.arange(1, first.size + 1), first, style, color=line, label=name)
        return
    stacked = np.vstack([r[:n] for r in runs])
    epochs = np.arange(1, n + 1)
    ax.fill_between(epochs, np.nanmin(stacked, axis=0), np.nanmax(stacked, axis=0),
                    color=line, alpha=0.2, lw=0)
    ax.plot(epochs, np.nanmedian(stacked, axis=0), style, color=line,
            label=f"{name} (median of {len(runs)} seeds; band min-max)")
