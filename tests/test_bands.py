"""Repeats from starts of their own (bench.vary_seed): their histories drawn as a band, their
times to target as a spread."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nnbench.report.render import curves, targets  # noqa: E402
from nnbench.results.read import ReadRecord  # noqa: E402


def test_repeats_that_differ_are_drawn_as_a_median_line_and_a_min_max_band():
    fig, ax = plt.subplots()
    runs = [[1.0, 0.5, 0.2], [1.2, 0.6, 0.3], [0.8, 0.4, 0.1]]
    curves._band(ax, runs, np.asarray(runs[0]), "C0", "-", "numpy")
    (band,) = ax.collections
    edge = band.get_paths()[0].vertices[:, 1]
    lows, highs = edge.min(), edge.max()
    assert (lows, highs) == (0.1, 1.2)
    (line,) = ax.get_lines()
    assert list(line.get_ydata()) == [1.0, 0.5, 0.2]  # the median of each epoch
    assert "median of 3 seeds" in line.get_label()
    plt.close(fig)


def test_replicas_of_one_start_are_one_line_without_a_band():
    fig, ax = plt.subplots()
    same = [[1.0, 0.5], [1.0, 0.5]]
    curves._band(ax, same, np.asarray(same[0]), "C0", "-", "numpy")
    assert len(ax.collections) == 0 and len(ax.get_lines()) == 1
    assert ax.get_lines()[0].get_label() == "numpy"
    plt.close(fig)


def _record(framework: str, per_repeat: list[float | None]) -> ReadRecord:
    reached = [t for t in per_repeat if t is not None]
    return ReadRecord.of({
        "status": "ok", "experiment_name": "e", "dataset": "moons", "arch": "2x32x16x1",
        "precision": "float32", "batch_size": None, "framework": framework, "device": "cpu",
        "target_accuracy": 0.95, "epochs_to_target": 130,
        "time_to_target_s": float(np.median(reached)) if reached else None,
        "target_reached_in_repeats": f"{len(reached)}/{len(per_repeat)}",
        "time_to_target_per_repeat_s": per_repeat,
        "environment": {"time_utc": "2026-11-29T00:00:00"}})


def test_time_to_target_is_a_median_with_the_repeats_spread():
    table = targets.table([_record("numpy", [0.2, 0.1, 0.3, None]),
                           _record("torch", [0.5])])
    rows = table.set_index("framework")
    assert rows.loc["numpy", "time to target"] == "200 ms [100 ms, 300 ms]"
    assert rows.loc["numpy", "reached"] == "3/4"
    assert rows.loc["torch", "time to target"] == "500 ms"  # one repeat: no spread to show
