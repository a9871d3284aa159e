"""cost_model.png joins only sizes of one family: an experiment that ran two batch sizes has a
fitted curve per batch size, not one that jumps between them at the same FLOPs."""

from __future__ import annotations

import numpy as np
import test_cost_model

from nnbench.report.__main__ import main as report_main


def test_no_drawn_line_of_the_cost_model_joins_two_batch_sizes(tmp_path, drawn, monkeypatch):
    runs = tmp_path / "runs"
    models = {"numpy": (50e-6, 100e9), "torch": (300e-6, 150e9)}
    for batch in (128, 32):  # one experiment, the same widths at two batch sizes
        monkeypatch.setattr(test_cost_model, "BATCH", batch)
        test_cost_model.sweep_tree(runs / f"batch{batch}", 2, models)
    assert report_main([str(runs), "--out", str(tmp_path / "report"), "--no-progress"]) == 0
    [fig] = [f for f in drawn.values() if "Cost model" in (f._suptitle.get_text() if f._suptitle
                                                  else "")]
    for ax in fig.axes:
        for line in ax.get_lines():
            x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
            if line.get_linestyle() == "None" or line.get_linewidth() == 0 or len(x) < 2 \
                    or np.all(x == x[0]):
                continue  # points only, or a vertical marker
            # two consecutive points at one x and different y: a jump from one family to another
            jumps = (np.diff(x) == 0) & (np.diff(y) != 0)
            assert not jumps.any(), f"{ax.get_title()}: {line.get_label()}"
