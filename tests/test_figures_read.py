"""Figures that hold from one configuration to a hundred: legends outside the data, tick
labels that never run into each other, sizes in numeric order, lines only within one family,
log axes where values span decades."""

from __future__ import annotations

import pytest
from test_identity import _record

from nnbench.report.render import curves, pages, phases, plots, scaling
from nnbench.results.collect import Collection
from nnbench.results.read import as_records


def _configs(archs: list[str], frameworks=("numpy", "torch"), **extra) -> list[dict]:
    out = []
    for i, arch in enumerate(archs):
        for framework in frameworks:
            rec = _record(framework, 0.001 * (i + 1) * (2 if framework == "numpy" else 1),
                          seed=i, arch=arch, **extra)
            rec["identity"]["config"]["setting"] = f"{arch}{extra}"
            out.append(rec)
    return out


def _overlap(a, b) -> bool:
    return a.x1 > b.x0 and b.x1 > a.x0 and a.y1 > b.y0 and b.y1 > a.y0


def test_sizes_are_in_numeric_order_in_the_comparison_figure():
    records = _configs(["2x1024x1", "2x64x1", "2x256x1"])
    _, configs = pages.comparison_configs(Collection(records=records).frame)
    assert [c["arch"] for c in configs] == ["2x64x1", "2x256x1", "2x1024x1"]


@pytest.mark.parametrize("n", [4, 8])
def test_the_comparison_legend_covers_no_panel_and_its_tick_labels_never_meet(tmp_path,
                                                                            drawn, n):
    # long experiment names and several keys that vary: the labels once ran 7-8 lines tall
    records = _configs([f"2x{2 ** (i // 2 + 4)}x1" for i in range(n)])  # two per size
    for i, rec in enumerate(records):  # what tells the two of a size apart: long words
        rec["epochs"] = 20000 + 10 * (i // 2 % 2)
        rec["experiment_name"] = ("case_study_moons", "study_of_widths")[i // 2 % 2]
    frame = Collection(records=records).frame
    plots.comparison_summary(frame, tmp_path / "c.png", records=records)
    fig = drawn["c.png"]
    renderer = fig.canvas.get_renderer()
    assert fig.legends and not any(ax.get_legend() for ax in fig.axes)
    legend = fig.legends[0].get_window_extent(renderer)
    assert not any(_overlap(legend, ax.get_window_extent(renderer)) for ax in fig.axes)
    assert len([t for t in fig.axes[0].get_xticklabels() if t.get_text()]) == n
    for ax in fig.axes:  # a panel of a figure not measured here has no ticks
        boxes = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()]
        assert all(a.x1 <= b.x0 for a, b in zip(boxes, boxes[1:], strict=False)), \
            [t.get_text() for t in ax.get_xticklabels()]
        # and short: a label of 7-8 lines pushed the panels apart
        assert all(t.get_text().count("\n") < 5 for t in ax.get_xticklabels())
    # every configuration named: on its tick, or (numbered ticks) in the key below
    named = " ".join(t.get_text() for t in [*fig.texts, *fig.axes[0].get_xticklabels()])
    assert all(f"2x{2 ** (i // 2 + 4)}x1" in named for i in range(n))


def test_scaling_joins_only_the_sizes_of_one_family_and_keeps_its_legend_outside(tmp_path,
                                                                               drawn):
    moons = _configs(["2x16x1", "2x64x1"])
    mnist = _configs(["784x64x10", "784x256x10"], dataset="fashion_mnist")
    records = moons + mnist
    for rec in records:
        sizes = [int(n) for n in rec["arch"].split("x")]
        pairs = zip(sizes, sizes[1:], strict=False)
        rec["train_flops_per_epoch"] = float(sum(a * b for a, b in pairs))
    scaling.scaling(Collection(records=records).frame, tmp_path / "s.png")
    fig = drawn["s.png"]
    [ax] = fig.axes
    flops = {ds: {r["train_flops_per_epoch"] for r in records if r["dataset"] == ds}
             for ds in ("moons", "fashion_mnist")}
    lines = [line for line in ax.get_lines() if len(line.get_xdata()) >= 2
             and line.get_linestyle() != ":"]
    assert len(lines) == 4  # two frameworks, two families
    for line in lines:
        assert any(set(line.get_xdata()) <= family for family in flops.values())
    renderer = fig.canvas.get_renderer()
    assert ax.get_legend().get_window_extent(renderer).x0 >= \
        ax.get_window_extent(renderer).x1


def test_phases_of_epochs_a_decade_apart_are_on_a_log_axis(tmp_path, drawn):
    records = _configs(["2x16x1"])
    for rec, epoch in zip(records, (0.070, 0.001), strict=True):
        rec["train_time_per_epoch_s"] = epoch
        rec["phases_epoch_s"] = {"median": epoch}
        rec["phases_s"] = {p: {"median": epoch / len(phases.PHASES)} for p in phases.PHASES}
    phases.figure(as_records(records), tmp_path / "p.png")
    assert drawn["p.png"].axes[0].get_yscale() == "log"
    for rec in records:  # within a decade: linear, stacked from 0
        rec["phases_s"] = {p: {"median": 0.001} for p in phases.PHASES}
        rec["phases_epoch_s"] = {"median": 0.005}
        rec["train_time_per_epoch_s"] = 0.005
    phases.figure(as_records(records), tmp_path / "q.png")
    assert drawn["q.png"].axes[0].get_yscale() == "linear"


def test_one_configurations_loss_curves_use_the_whole_canvas(tmp_path, drawn):
    records = _configs(["2x16x1"])
    for rec in records:
        rec["loss_history"] = [0.7, 0.5, 0.4]
    curves.loss_curves(as_records(records), tmp_path / "l.png")
    fig = drawn["l.png"]
    renderer = fig.canvas.get_renderer()
    widest = max(ax.get_window_extent(renderer).width for ax in fig.axes)
    assert widest > 0.7 * fig.bbox.width


def test_a_pages_legend_stays_clear_of_its_title(tmp_path, drawn):
    """phases.png of more configurations than it draws: the title's third line (what is not
    drawn) ran under the legend."""
    records = _configs([f"2x{2 ** (i + 2)}x1" for i in range(10)])
    for rec in records:
        rec["phases_epoch_s"] = {"median": 0.001}
        rec["phases_s"] = {p: {"median": 0.0002} for p in phases.PHASES}
    phases.figure(as_records(records), tmp_path / "p.png")
    fig = drawn["p.png"]
    renderer = fig.canvas.get_renderer()
    assert "not drawn" in fig._suptitle.get_text()
    assert not _overlap(fig.legends[0].get_window_extent(renderer),
                        fig._suptitle.get_window_extent(renderer))
