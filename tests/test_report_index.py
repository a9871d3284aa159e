"""The report's index at the scale of a real study: a second report over unchanged records reads
none of them, a changed one is read again, a removed one drops out, a damaged index is made anew;
and no export is larger than the records it came from (histories only on request).

No timings here (scripts/bench_report.py measures them: ``make bench-report``)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, run_cli

import nnbench.report.commands.report as report_command
from nnbench.record import write_result
from nnbench.report.__main__ import main as report_main
from nnbench.report.commands import aside
from nnbench.report.render import curves
from nnbench.results import collect as collect_module
from nnbench.results import index
from nnbench.results.collect import collect

KEPT = "(unchanged since its last report: kept as it is)"


def _script():
    spec = importlib.util.spec_from_file_location("make_records",
                                                  REPO / "scripts" / "make_records.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seed_record(framework: str, epochs: int = 30) -> dict:
    """A record shaped as the harness writes one: config, histories, counters, raw samples."""
    rng = np.random.default_rng(len(framework))
    times = list(0.001 * (1 + 0.05 * rng.random(epochs)))
    return {
        "status": "ok", "experiment_name": "load", "framework": framework, "device": "cpu",
        "precision": "float32", "dataset": "moons", "arch": "2x32x16x1", "loss": "bce",
        "layer_sizes": [2, 32, 16, 1], "n_params": 657, "batch_size": None, "epochs": epochs,
        "lr": 0.5, "init": "he_normal", "rounds": 1, "round": 0, "n_test": 400,
        "warmup_epochs": 1, "epoch_times_s": [times], "train_time_per_epoch_s": 0.001,
        "loss_history": list(np.geomspace(0.7, 0.1, epochs)),
        "test_accuracy_history": list(np.linspace(0.5, 0.9, epochs)), "test_accuracy": 0.9,
        "epoch_counters": {"minor_faults": [1.0] * epochs, "cpu_s": times},
        "inference_samples_s": {"batched_call": list(1e-4 * (1 + rng.random(40))),
                                "batch1": list(2e-5 * (1 + rng.random(60)))},
        "inference_latency_per_sample_s": 3e-7, "inference_latency_batch1_s": 3e-5,
        "peak_rss_mb": 100.0, "train_flops_per_epoch": 1e6, "matmul_peak_gflops": 100.0,
        "confusion_matrix": [[180, 20], [15, 185]], "classes": ["0", "1"],
        "config": {"arch": {"name": "2x32x16x1", "layer_sizes": [2, 32, 16, 1]},
                   "precision": {"name": "float32"},
                   "train": {"epochs": epochs, "batch_size": None, "lr": 0.5},
                   "bench": {"rounds": 1, "round": 0}},
        "environment": {"hostname": "hostA", "time_utc": "2026-01-01T00:00:00Z"},
    }


@pytest.fixture
def tree(tmp_path, monkeypatch) -> Path:
    """4 configurations x 2 frameworks x 2 rounds, made by scripts/make_records.py."""
    monkeypatch.setenv("NNBENCH_CACHE_DIR", str(tmp_path / "cache"))
    for framework in ("numpy", "torch"):
        write_result(tmp_path / "seed" / framework, seed_record(framework))
    assert _script().main([str(tmp_path / "seed"), str(tmp_path / "runs"), "--configs", "4",
                           "--rounds", "2", "--epochs", "40"]) == 0
    return tmp_path / "runs"


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The result.json files the report reads (not the ones it takes from its index)."""
    seen: list[str] = []
    real = collect_module.read_checked

    def counted(path):
        seen.append(str(path))
        return real(path)

    monkeypatch.setattr(collect_module, "read_checked", counted)
    return seen


def _report(runs: Path, out: Path, capsys, *flags: str) -> str:
    capsys.readouterr()
    assert report_main([str(runs), "--out", str(out), "--no-progress", *flags]) == 0
    return capsys.readouterr().out


def test_a_second_report_over_unchanged_records_reads_none_and_keeps_the_report(
        tree, tmp_path, reads, capsys):
    out = tmp_path / "report"
    first = _report(tree, out, capsys)
    assert len(reads) == 16 and KEPT not in first
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}
    reads.clear()
    second = _report(tree, out, capsys)
    assert reads == [] and second.splitlines()[0].endswith(KEPT)
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()} == before
    # the index lives in the cache folder: nothing beside the records or in --out
    assert index.location(out).is_file() and str(index.cache_root()) in str(index.location(out))
    assert not [p for p in tree.rglob("*") if p.suffix == ".sqlite"]
    # a report file gone, or other options: drawn again, still without reading a record
    (out / "scaling.png").unlink()
    assert KEPT not in _report(tree, out, capsys) and (out / "scaling.png").is_file()
    assert KEPT not in _report(tree, out, capsys, "--small") and reads == []
    # --rebuild: every record read afresh
    assert KEPT not in _report(tree, out, capsys, "--rebuild") and len(reads) == 16


def test_a_report_kept_as_it_was_prints_its_cost_models_without_fitting_them_again(
        tree, tmp_path, capsys, monkeypatch):
    """The lines the cost models print (their fits take SciPy's import and a bootstrap) are
    kept with the report in the index: printed again as they were, not fitted again."""
    out, fits = tmp_path / "report", ["cost model demo: numpy: a 1 µs/step, b 2 GFLOP/s"]
    monkeypatch.setattr(report_command.cost_model, "terminal", lambda collection: fits)
    first = _report(tree, out, capsys)
    assert fits[0] in first.splitlines()

    def fitted(collection):
        raise AssertionError("fitted again")

    monkeypatch.setattr(report_command.cost_model, "terminal", fitted)
    second = _report(tree, out, capsys)
    assert second.replace(f" {KEPT}", "", 1) == first
    (out / "scaling.png").unlink()  # drawn again: fitted again
    with pytest.raises(AssertionError, match="fitted again"):
        _report(tree, out, capsys)


def test_records_from_the_index_are_the_records_read(tree, tmp_path):
    with index.opened(tmp_path / "report") as kept:
        read = collect([tree], progress=False, index=kept)
    with index.opened(tmp_path / "report") as kept:
        again = collect([tree], progress=False, index=kept)
    assert read.digest == again.digest and len(again.records) == 16
    for x, y in zip(read.records, again.records, strict=True):
        a, b = x.stored(), y.stored()  # the fields each file had, as read
        assert a.keys() == b.keys()
        for key in a:
            if key in ("loss_history", "test_accuracy_history"):
                assert list(a[key]) == list(b[key])
            elif key == "epoch_times_s":
                assert [list(t) for t in a[key]] == [list(t) for t in b[key]]
            elif key == "inference_samples_s":
                assert {k: list(v) for k, v in a[key].items()} == \
                    {k: list(v) for k, v in b[key].items()}
            else:
                assert a[key] == b[key], key
    assert "epoch_counters" not in again.records[0].stored()  # no table or figure shows them
    assert read.frame.equals(again.frame)


def test_a_changed_record_is_read_again_and_a_removed_one_drops_out(tree, tmp_path, reads,
                                                                    capsys):
    out = tmp_path / "report"
    _report(tree, out, capsys)
    files = sorted(tree.rglob("result.json"))
    changed = json.loads(files[0].read_text())
    changed["test_accuracy"] = 0.123
    write_result(files[0].parent, changed)
    files[1].unlink()
    (files[2]).write_text(json.dumps({**json.loads(files[2].read_text()), "lr": "fast"}))
    reads.clear()
    text = _report(tree, out, capsys)
    assert reads == [str(files[0]), str(files[2])]  # only those two
    assert text.startswith("14 records, 0 unreadable, 1 invalid") and KEPT not in text
    rows = json.loads((out / "results.json").read_text())
    assert [r["test_accuracy"] for r in rows if r["result_file"] == str(files[0])] == [0.123]
    assert str(files[1]) not in {r["result_file"] for r in rows}
    with index.opened(out) as kept:
        assert str(files[1]) not in kept.keys() and str(files[0]) in kept.keys()
    reads.clear()
    assert _report(tree, out, capsys).splitlines()[0].endswith(KEPT) and reads == []


@pytest.mark.parametrize("damage", [b"not a database at all" * 100, b""])
def test_a_damaged_index_is_made_anew(tree, tmp_path, reads, capsys, damage):
    out = tmp_path / "report"
    _report(tree, out, capsys)
    index.location(out).write_bytes(damage)
    reads.clear()
    assert KEPT not in _report(tree, out, capsys) and len(reads) == 16
    reads.clear()
    assert _report(tree, out, capsys).splitlines()[0].endswith(KEPT) and reads == []


def test_without_a_place_for_the_index_every_record_is_read_and_the_report_comes_out(
        tree, tmp_path, reads, capsys, monkeypatch):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("NNBENCH_CACHE_DIR", str(tmp_path / "a-file"))
    out = tmp_path / "report"
    for _ in range(2):
        assert report_main([str(tree), "--out", str(out), "--no-progress"]) == 0
        assert "warning: no index of the records" in capsys.readouterr().err
    assert len(reads) == 32 and (out / "summary.md").is_file()


def test_no_export_is_larger_than_its_input_and_histories_come_on_request(tree, tmp_path,
                                                                          capsys):
    inputs = sum(p.stat().st_size for p in tree.rglob("result.json"))
    out = tmp_path / "report"
    _report(tree, out, capsys)
    for name in ("results.json", "results.csv"):
        assert (out / name).stat().st_size < inputs / 2, name
    rows = json.loads((out / "results.json").read_text())
    assert len(rows) == 16 and not set(index.HISTORIES) & set(rows[0])
    _report(tree, out, capsys, "--histories")
    assert (out / "results.json").stat().st_size <= inputs
    for row in json.loads((out / "results.json").read_text()):
        original = json.loads(Path(row.pop("result_file")).read_text())
        assert {k: original[k] for k in index.HISTORIES} == \
            {k: row[k] for k in index.HISTORIES}


def test_make_records_writes_valid_records_in_hydra_like_job_folders(tree):
    found = collect([tree], progress=False)
    assert (len(found.records), found.invalid, found.unreadable) == (16, [], [])
    configs = {(r.arch, r.precision, r.batch_size, r.lr) for r in found.records}
    assert len(configs) == 4
    assert sorted(r.round for r in found.records) == [0] * 8 + [1] * 8
    for job in {Path(r.result_file).parent for r in found.records}:
        assert (job / ".hydra" / "config.yaml").is_file()


def test_reading_and_drawing_in_a_second_process_give_the_same_report(tree, tmp_path, capsys,
                                                                     monkeypatch, host_cores):
    if not aside.can_fork():
        pytest.skip(f"needs fork and a second CPU ({host_cores} here)")
    one = tmp_path / "one"
    _report(tree, one, capsys)
    monkeypatch.setattr(collect_module, "PARALLEL_FROM", 1)  # 16 records: as if 2,000
    monkeypatch.setattr(report_command, "ASIDE_FROM", 1)

    def broken(*args, **kwargs):
        raise ValueError("no curves")

    monkeypatch.setattr(curves, "loss_curves", broken)  # one of the figures drawn aside
    two = tmp_path / "two"
    capsys.readouterr()
    assert report_main([str(tree), "--out", str(two), "--no-progress"]) == 0
    # said by the process that draws, printed by the report's own
    assert "warning: loss_curves.png not drawn: ValueError: no curves" in capsys.readouterr().err
    assert {p.name for p in two.iterdir()} == {p.name for p in one.iterdir()} - {"loss_curves.png"}
    for name in ("results.csv", "results.json"):
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    drawn = (two / "summary.md").read_text()
    assert drawn == (one / "summary.md").read_text().replace(
        "![loss_curves.png](loss_curves.png)\n", "")


def test_a_read_only_tree_of_records_is_reported_and_indexed_all_the_same(tree, tmp_path):
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a folder read-only")
        prefix = (setpriv, "--inh-caps=-all",
                  "--bounding-set=-dac_override,-dac_read_search,-fowner")
    folders = [tree, *(p for p in tree.rglob("*") if p.is_dir())]
    before = sorted(map(str, tree.rglob("*")))
    env = {**os.environ, "NNBENCH_CACHE_DIR": str(tmp_path / "cache")}
    for folder in folders:
        folder.chmod(0o555)
    try:
        runs = [run_cli(str(tree), "--out", str(tmp_path / "report"), "--no-progress",
                        module="nnbench.report", prefix=prefix, env=env) for _ in range(2)]
    finally:
        for folder in folders:
            folder.chmod(0o755)
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    assert runs[1].stdout.splitlines()[0].endswith(KEPT)
    assert sorted(map(str, tree.rglob("*"))) == before  # nothing written beside the records
