"""The confusion-matrix figure: the pair side by side per configuration, a class that is never
predicted marked in red."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnbench.report.render import pages
from nnbench.report.render.plots import DEFAULT_PAIR, page_title, plt, save
from nnbench.results.labels import LABELLED, key_values, varying


def confusion_matrices(records: list[dict], path: Path,
                       pair: tuple[str, str] = DEFAULT_PAIR) -> Path | None:
    """The first ``pages.CONFUSION_PAIRS`` configurations; the figure names how many more
    there are and where (``pages.left_out`` names them)."""
    every = pages.confusion_pairs(records, pair)
    pairs = every[:pages.CONFUSION_PAIRS]
    if not pairs:
        return None
    fig, axes = plt.subplots(len(pairs), 2, figsize=(11, 5 * len(pairs)), squeeze=False)
    more = len(every) - len(pairs)
    top = page_title(fig, "Confusion matrices (test set, newest run per configuration)",
                     f"{more} more configurations are not drawn: named under \"Configurations "
                     f"not drawn in the figures\" in summary.md and report.html, with their "
                     f"per-class precision and recall there." if more else "")
    extra = varying([a for a, _ in pairs], LABELLED)
    for row, both in enumerate(pairs):
        for col, rec in enumerate(both):
            ax = axes[row, col]
            cm = np.asarray(rec.confusion_matrix)
            k = cm.shape[0]
            ax.imshow(cm, cmap="Blues")
            classes = rec.classes or [str(i) for i in range(k)]
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
            ax.set_title(f"{rec.framework} {rec.device} · {rec.dataset} {rec.arch} "
                         f"{rec.precision} {key_values(rec, ['batch_size', *extra])}"
                         f"\ntest accuracy {rec.test_accuracy:.4f}{note}",
                         fontsize=9, color="red" if never.any() else "black")
            ax.set_xlabel("predicted")
            ax.set_ylabel("true")
    return save(fig, path, 100, rect=(0, 0, 1, top))
