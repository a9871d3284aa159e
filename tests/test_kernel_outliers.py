"""The layer-kernel table flags a kernel whose time is far out of line with its work (a
one-off stall, a first call), and says what the flag means; kernels in line are not flagged."""

from __future__ import annotations

from nnbench.report.render import phases
from nnbench.results.read import ReadRecord

# A torch record's kernels as a real job measured them (moons 2x32x16x1, full batch), but for
# the first layer's bias: 7.98 ms for 51,200 FLOPs, a thousand times its neighbours' time.
TORCH = [(1, "forward", "matmul+bias", 1.34e-05, 256000),
         (1, "forward", "matmul", 8.46e-06, 204800),
         (1, "forward", "bias", 7.98e-03, 51200),
         (1, "backward", "weight grad", 5.93e-05, 204800),
         (1, "backward", "bias grad", 3.47e-06, 51200),
         (2, "forward", "matmul", 2.22e-05, 1638400),
         (2, "forward", "bias", 3.93e-06, 25600),
         (3, "forward", "matmul", 4.78e-06, 51200),
         (3, "forward", "bias", 9.10e-07, 1600),
         (3, "backward", "bias grad", 1.35e-06, 1600)]
# NumPy's, none out of line: its bias is slower than its matmul, but not tenfold
NUMPY = [(1, "forward", "matmul", 1.51e-05, 204800),
         (1, "forward", "bias", 1.83e-05, 51200),
         (1, "backward", "weight grad", 3.42e-06, 204800),
         (2, "forward", "matmul", 2.97e-05, 1638400),
         (3, "forward", "bias", 1.46e-06, 1600),
         (3, "backward", "bias grad", 6.12e-07, 1600)]


def record(framework: str, kernels: list[tuple]) -> ReadRecord:
    return ReadRecord.of({
        "status": "ok", "experiment_name": "default", "dataset": "moons",
        "arch": "2x32x16x1", "precision": "float32", "loss": "bce", "batch_size": None,
        "epochs": 10, "lr": 0.5, "init": "he_normal", "framework": framework,
        "device": "cpu", "train_time_per_epoch_s": 1e-3,
        "environment": {"time_utc": "2026-01-01T00:00:00"},
        "phases_epoch_s": {"n": 1, "median": 1e-3},
        "layer_matmuls": [{"layer": layer, "direction": direction, "op": op,
                           "seconds": s, "flops": f, "gflops": f / s / 1e9}
                          for layer, direction, op, s, f in kernels]})


def test_a_kernel_a_thousand_times_out_of_line_is_flagged_and_its_neighbours_are_not():
    table = phases.kernels_table([record("numpy", NUMPY), record("torch", TORCH)])
    flagged = [(row["layer"], row["op"], column) for _, row in table.iterrows()
               for column in ("numpy cpu", "torch cpu") if "out of line" in row[column]]
    assert flagged == [(1, "bias", "torch cpu")], table.to_string()
    bias = table[(table["layer"] == 1) & (table["op"] == "bias")].iloc[0]
    assert bias["torch cpu"].startswith("7.98 ms · 0.00642 GFLOP/s")


def test_the_flag_is_explained_where_the_table_has_one():
    notes = {title: note for _, title, _, note in
             phases.sections([record("numpy", NUMPY), record("torch", TORCH)])}
    note = notes[phases.KERNELS_TITLE]
    assert "out of line" in note and "stall" in note and "first call" in note
    plain = {title: note for _, title, _, note in phases.sections([record("numpy", NUMPY)])}
    assert "out of line" not in plain[phases.KERNELS_TITLE]
