"""A folder the user names for a run (``hydra.run.dir``) or a sweep (``hydra.sweep.dir``) is
never written over, and ``nnbench.run(..., runs_dir=R)`` keeps its run inside R: each run for
real, twice."""

from __future__ import annotations

import json

import pytest
from helpers import run_cli

import nnbench
from nnbench.errors import ConfigError

SHORT = ["train.epochs=2", "bench.warmup_epochs=1", "bench.mfu=false",
         "bench.memory_probe=false", "bench.phases=false", "bench.isolate=false"]


def test_a_second_run_into_a_named_folder_is_refused_and_the_first_record_kept(tmp_path):
    folder = tmp_path / "X"
    first = run_cli(*SHORT, f"hydra.run.dir={folder}", f"runs_dir={tmp_path / 'runs'}")
    assert first.returncode == 0, first.stderr
    record = (folder / "result.json").read_bytes()
    second = run_cli(*SHORT, "train.epochs=3", f"hydra.run.dir={folder}",
                     f"runs_dir={tmp_path / 'runs'}")
    assert second.returncode == 2
    assert second.stderr == (f"nnbench: error: hydra.run.dir={folder} already holds .hydra, "
                             f"__main__.log, result.json; nnbench writes only into a new or "
                             f"empty folder: name another, or leave hydra.run.dir out for a new "
                             f"one under runs_dir\n")
    assert (folder / "result.json").read_bytes() == record
    assert json.loads(record)["epochs"] == 2


def test_an_empty_named_folder_takes_a_run(tmp_path):
    (tmp_path / "X").mkdir()
    done = run_cli(*SHORT, f"hydra.run.dir={tmp_path / 'X'}", f"runs_dir={tmp_path / 'runs'}")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "X" / "result.json").is_file()


def test_a_second_sweep_into_a_named_folder_is_refused(tmp_path):
    folder = tmp_path / "S"
    args = ["-m", *SHORT, "framework=numpy", f"hydra.sweep.dir={folder}",
            "hydra.sweep.subdir=${hydra.job.num}", f"runs_dir={tmp_path / 'runs'}"]
    assert run_cli(*args).returncode == 0
    records = {p: p.read_bytes() for p in folder.rglob("result.json")}
    assert len(records) == 1
    again = run_cli(*args)
    assert again.returncode == 2
    assert again.stderr == (f"nnbench: error: hydra.sweep.dir={folder} already holds 0, "
                            f"multirun.yaml; nnbench writes only into a new or empty folder: name "
                            f"another, or leave hydra.sweep.dir out for a new one under runs_dir\n")
    assert {p: p.read_bytes() for p in folder.rglob("result.json")} == records


def test_the_api_keeps_a_run_inside_runs_dir_and_never_over_another(tmp_path):
    runs, outside = tmp_path / "runs", tmp_path / "elsewhere"
    with pytest.raises(ConfigError) as caught:
        nnbench.run([*SHORT, f"hydra.run.dir={outside}"], runs_dir=runs)
    assert str(caught.value) == (
        f"hydra.run.dir={outside} lies outside runs_dir={runs}, where nnbench.run(..., "
        f"runs_dir=...) keeps its runs; name a folder inside it, or leave hydra.run.dir out for "
        f"a new one there")
    assert not outside.exists()
    inside = runs / "mine"
    record = nnbench.run([*SHORT, f"hydra.run.dir={inside}"], runs_dir=runs)
    assert record.status == "ok" and (inside / "result.json").is_file()
    kept = (inside / "result.json").read_bytes()
    with pytest.raises(ConfigError, match=r"^hydra.run.dir=.* already holds \.hydra, "):
        nnbench.run([*SHORT, f"hydra.run.dir={inside}"], runs_dir=runs)
    assert (inside / "result.json").read_bytes() == kept
