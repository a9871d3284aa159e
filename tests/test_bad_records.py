"""Bad result files beside good ones: nonsense values are invalid
with their field named, and no file (a FIFO, a 200,000-deep one, a record with nothing in it, a
ragged matrix) hangs or ends the report or a resumed run; results.json stays valid JSON."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from helpers import run_cli

from nnbench.record import write_result
from nnbench.report.__main__ import main as report_main

TINY = ("dataset=moons", "dataset.n_samples=200", "train.epochs=3", "framework=numpy",
        "bench.mfu=false", "bench.min_samples=0", "bench.memory_probe=false",
        "bench.isolate=false")


def ok_record(framework: str, epoch_s: float, **extra) -> dict:
    times = [epoch_s * (1 + 0.01 * i) for i in range(10)]
    return {
        "status": "ok", "experiment_name": "demo", "framework": framework, "device": "cpu",
        "precision": "float32", "dataset": "moons", "arch": "2x8x1", "loss": "bce",
        "epochs": 10, "lr": 0.5, "init": "he_normal", "warmup_epochs": 0,
        "epoch_times_s": [times], "train_time_per_epoch_s": times[5], "test_accuracy": 0.9,
        "batch_size": 16, "inference_latency_per_sample_s": epoch_s / 1000, "peak_rss_mb": 100.0,
        "train_flops_per_epoch": 1e6, "matmul_peak_gflops": 100.0,
        "loss_history": [1 / (i + 1) for i in range(10)], "confusion_matrix": [[40, 10], [5, 45]],
        "classes": ["a", "b"], "environment": {"hostname": "hostA"}, **extra}


def good_tree(root: Path) -> Path:
    write_result(root / "numpy", ok_record("numpy", 0.02))
    write_result(root / "torch", ok_record("torch", 0.01))
    return root


def _refuse(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def report(runs: Path, out: Path, capsys) -> list[str]:
    """The report of ``runs``: it must come out (exit 0) with a results.json that is JSON
    (no NaN, no Infinity); returns its stderr lines."""
    assert report_main([str(runs), "--out", str(out), "--no-progress"]) == 0
    json.loads((out / "results.json").read_text(), parse_constant=_refuse)
    return capsys.readouterr().err.splitlines()


def listed(err: list[str], path: Path, kind: str = "invalid") -> str:
    (line,) = [ln for ln in err if ln.startswith(f"{kind}: {path}: ")]
    return line.removeprefix(f"{kind}: {path}: ")


NONSENSE = {  # the record's fields as a hostile or broken writer left them: (fields, reason)
    "time NaN": ({"train_time_per_epoch_s": math.nan},
                 "train_time_per_epoch_s: Input should be a finite number"),
    "time negative": ({"train_time_per_epoch_s": -0.001},
                      "train_time_per_epoch_s: Input should be greater than or equal to 0"),
    "epoch times negative": ({"epoch_times_s": [[-1, -2]]},
                             "epoch_times_s.0.0: Input should be greater than 0"),
    "accuracy 1.7": ({"test_accuracy": 1.7},
                     "test_accuracy: Input should be less than or equal to 1"),
    "accuracy Infinity": ({"test_accuracy": math.inf},
                          "test_accuracy: Input should be a finite number"),
    "round 7 of 3": ({"round": 7, "rounds": 3}, "round: 7 is not below rounds (3)"),
    "schema 99": ({"schema_version": 99, "field_of_the_future": 1},
                  "schema_version: 99 is newer than this nnbench reads"),
    "ragged confusion matrix": ({"confusion_matrix": [[1, 2], [3]]},
                                "confusion_matrix: not k x k: 2 rows of 2, 1"),
}


def test_nonsense_values_are_each_invalid_with_their_field_and_the_report_comes_out(tmp_path,
                                                                                   capsys):
    runs = good_tree(tmp_path / "runs")
    for name, (fields, _) in NONSENSE.items():
        (runs / name).mkdir()
        # json.dumps writes NaN and Infinity as Python's json module reads them back
        (runs / name / "result.json").write_text(json.dumps(ok_record("numpy", 0.02, **fields)))
    err = report(runs, tmp_path / "report", capsys)
    for name, (_, reason) in NONSENSE.items():
        assert listed(err, runs / name / "result.json").startswith(reason), name
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "2 result records: 2 ok" in summary and "741472%" not in summary


def test_results_json_holds_null_where_a_free_form_field_held_nan(tmp_path, capsys):
    runs = good_tree(tmp_path / "runs")
    (runs / "odd").mkdir()
    (runs / "odd" / "result.json").write_text(json.dumps(
        ok_record("numpy", 0.03, config={"lr": math.nan}, environment={"load": math.inf})))
    report(runs, tmp_path / "report", capsys)
    records = json.loads((tmp_path / "report" / "results.json").read_text())
    (odd,) = [r for r in records if r["result_file"].endswith(f"odd{os.sep}result.json")]
    assert odd["config"] == {"lr": None} and odd["environment"]["load"] is None


@pytest.mark.parametrize("beside_good", [False, True], ids=["alone", "beside good records"])
def test_an_ok_record_with_nothing_in_it_is_invalid_and_no_table_or_figure_fails(
        tmp_path, capsys, beside_good):
    runs = good_tree(tmp_path / "runs") if beside_good else tmp_path / "runs"
    (runs / "bare").mkdir(parents=True)
    (runs / "bare" / "result.json").write_text('{"status": "ok"}')
    err = report(runs, tmp_path / "report", capsys)
    assert listed(err, runs / "bare" / "result.json").startswith(
        "framework: required in a record of status ok, as are device, precision")
    assert not [ln for ln in err if "not drawn" in ln or "Traceback" in ln], err


def test_a_file_200000_deep_is_unreadable_not_a_recursion_error(tmp_path, capsys):
    runs = good_tree(tmp_path / "runs")
    (runs / "deep").mkdir()
    (runs / "deep" / "result.json").write_text("[" * 200_000 + "]" * 200_000)
    err = report(runs, tmp_path / "report", capsys)
    assert listed(err, runs / "deep" / "result.json", "unreadable") == \
        "nested deeper than 64 levels"
    resumed = run_cli(*TINY, f"runs_dir={runs}", "bench.resume=true", timeout=240)
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr and "RecursionError" not in resumed.stderr


def test_a_fifo_named_result_json_hangs_neither_the_report_nor_a_resumed_run(tmp_path):
    runs = good_tree(tmp_path / "runs")
    (runs / "fifo").mkdir()
    os.mkfifo(runs / "fifo" / "result.json")  # opened for reading, it waits for a writer
    made = run_cli(str(runs), "--out", str(tmp_path / "report"), "--no-progress",
                   module="nnbench.report", timeout=240)
    assert made.returncode == 0, made.stderr
    assert f"unreadable: {runs / 'fifo' / 'result.json'}: not a regular file but a FIFO" \
        in made.stderr.splitlines()
    resumed = run_cli(*TINY, f"runs_dir={runs}", "bench.resume=true", timeout=240)
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr


def _outcome(read, path: Path) -> str:
    try:
        return repr(read(path))
    except (OSError, ValueError) as err:
        return f"{type(err).__name__}: {err}"


def test_a_file_reads_the_same_by_the_fast_reader_as_by_json_and_the_schema(tmp_path):
    """``read_checked`` parses and validates at once, and falls back to ``json`` and
    ``checked`` for what it does not take: whatever the file holds, the outcome (the record,
    why it is invalid, or the error reading it) is theirs."""
    from nnbench.record import checked, read_checked, read_result

    good = ok_record("numpy", 0.02, config={"lr": math.nan, "big": 10**30, "e": 1e-320},
                     environment={"hostname": "h\u00e9", "note": "\U0001f600"})
    texts = {
        "indented": json.dumps(good, indent=2),
        "unknown field": json.dumps({**good, "a_field_since_dropped": [1, 2]}),
        "duplicate key": json.dumps(good)[:-1] + ', "test_accuracy": 0.5}',
        "a list": "[1, 2]",
        "not json": "{'status': 'ok'}",
        "trailing comma": json.dumps(good)[:-1] + ",}",
        "control character": json.dumps(good).replace('"demo"', '"de\tmo"'),
        "lone surrogate": json.dumps(good).replace('"demo"', '"de\\ud800mo"'),
        **{name: json.dumps(ok_record("numpy", 0.02, **fields))
           for name, (fields, _) in NONSENSE.items()},
    }
    files = {name: tmp_path / f"{i}.json" for i, name in enumerate(texts)}
    for name, text in texts.items():
        files[name].write_text(text)
    files["byte order mark"] = tmp_path / "bom.json"
    files["byte order mark"].write_bytes(b"\xef\xbb\xbf" + texts["indented"].encode())
    files["utf-16"] = tmp_path / "utf16.json"
    files["utf-16"].write_bytes(texts["indented"].encode("utf-16"))
    files["not utf-8"] = tmp_path / "latin1.json"
    files["not utf-8"].write_bytes(texts["indented"].replace("\\u00e9", "\u00e9")
                                   .encode("latin-1", "replace"))
    for name, path in files.items():
        assert _outcome(read_checked, path) == _outcome(lambda p: checked(read_result(p)),
                                                        path), name
    assert read_checked(files["indented"])[1] is None  # the fast reader's case, checked too
    assert read_checked(files["lone surrogate"])[0]["experiment_name"] == "de\ud800mo"


def test_a_failed_record_that_names_no_framework_or_device_is_a_row_not_a_crash(tmp_path,
                                                                                capsys):
    """A job whose config never resolved leaves a failed record without framework or device;
    beside good ones, sorting the table's columns compared None with "cpu"."""
    runs = good_tree(tmp_path / "runs")
    write_result(runs / "unresolved", {"status": "failed", "reason": "no such key",
                                       "error_type": "ConfigError", "experiment_name": "demo"})
    err = report(runs, tmp_path / "report", capsys)
    assert not [ln for ln in err if "not drawn" in ln or "Traceback" in ln], err
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "in one run, torch was 2.00x faster than numpy on moons 2x8x1" in summary
    assert "| failed   | demo " in summary and "| no such key |" in summary  # the failure listed
