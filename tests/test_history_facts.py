"""The history says what changed and nothing else: a value is bold only where it differs from
the set before, and each step's annotation stays inside its panel of history.png."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_gate_and_history import result_set

from nnbench.report.__main__ import main as report_main


def threads_sets(root: Path, step_at: int) -> list[Path]:
    """Six sets, torch 2.14.1 in every one; from ``step_at`` torch runs two threads (and a
    new commit), and its epochs take twice as long."""
    folders = []
    for i in range(6):
        moved = i + 1 >= step_at
        folder = result_set(root / f"set{i + 1}", {"numpy": 0.02,
                                                   "torch": 0.01 * (2 if moved else 1)},
                            n=3, seed=i, time_utc=f"2026-01-0{i + 1}T00:00:00Z",
                            torch="2.14.1")
        for path in folder.rglob("result.json"):
            rec = json.loads(path.read_text())
            rec["environment"].update(torch_threads=2 if moved else 1,
                                      git_commit=("b" if moved else "a") * 40,
                                      cpu_model="AMD EPYC 7763 64-Core Processor")
            path.write_text(json.dumps(rec))
        folders.append(folder)
    return folders


def test_only_values_that_changed_from_the_set_before_are_bold(tmp_path):
    out = tmp_path / "history"
    assert report_main(["--history", *map(str, threads_sets(tmp_path / "runs", 4)),
                        "--out", str(out), "--no-progress"]) == 0
    summary = (out / "summary.md").read_text()
    row = next(line for line in summary.splitlines() if line.startswith("| 4 set4"))
    assert "torch threads 1 → 2" in row  # the change is said...
    assert "**" not in row, row  # ...but torch's version and numpy's did not change



def inside(inner, outer, slack: float = 1.0) -> bool:
    return (inner.x0 >= outer.x0 - slack and inner.x1 <= outer.x1 + slack
            and inner.y0 >= outer.y0 - slack and inner.y1 <= outer.y1 + slack)


@pytest.mark.parametrize("step_at", [2, 5, 6])
def test_each_step_annotation_lies_within_its_panel_and_the_key_within_the_figure(
        tmp_path, drawn, step_at):
    out = tmp_path / "history"
    assert report_main(["--history", *map(str, threads_sets(tmp_path / "runs", step_at)),
                        "--out", str(out), "--no-progress"]) == 0
    [fig] = drawn.values()
    renderer = fig.canvas.get_renderer()
    annotated = [ax for ax in fig.axes if ax.texts]
    assert annotated  # each step is marked
    for ax in annotated:
        box = ax.get_window_extent(renderer)
        for text in ax.texts:
            assert inside(text.get_window_extent(renderer), box), text.get_text()
    for text in fig.texts:
        assert inside(text.get_window_extent(renderer), fig.bbox), text.get_text()
    # what changed is said in full somewhere in the figure, not cut to a panel's width
    said = " ".join(t.get_text() for t in [*fig.texts, *(t for ax in fig.axes
                                                          for t in ax.texts)])
    assert "torch threads 1 → 2" in said
