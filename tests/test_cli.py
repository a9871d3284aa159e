"""``python -m nnbench`` end to end, in a subprocess, as a user runs it."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from helpers import run_cli


def nnbench(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return run_cli(*args, f"runs_dir={tmp_path}")


def results(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(root.rglob("result.json"))]


@pytest.mark.slow
def test_sweep_over_frameworks_and_devices_records_every_job(tmp_path):
    proc = nnbench(tmp_path, "-m", "framework=numpy,torch", "device=cpu,cuda", "train.epochs=50")
    assert proc.returncode == 0, proc.stderr
    records = results(tmp_path)
    assert len(records) == 4
    by_job = {(r["framework"], r["device"]): r for r in records}
    for framework in ("numpy", "torch"):
        ok = by_job[(framework, "cpu")]
        assert ok["status"] == "ok" and ok["reason"] is None
        assert len(ok["loss_history"]) == 50 and ok["train_time_per_epoch_s"] > 0
        assert 0.5 < ok["test_accuracy"] <= 1
        assert ok["arch"] == "2x32x16x1" and ok["n_params"] == 641
        assert ok["environment"]["torch"] and ok["environment"]["numpy"]
        assert ok["config"]["train"]["epochs"] == 50
    if any(r["status"] == "ok" for r in records if r["device"] == "cuda"):
        pytest.skip("this host has CUDA; the skip path is tested on CPU-only hosts")
    for framework in ("numpy", "torch"):
        skipped = by_job[(framework, "cuda")]
        assert skipped["status"] == "skipped" and "CUDA" in skipped["reason"]
    # one console line per job, naming how it ended
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith(("numpy", "torch"))]
    assert len(lines) == 4 and sum(" skipped " in ln for ln in lines) == 2


@pytest.mark.parametrize(
    "args, expected",
    [
        (["train.lr=-1"], "train.lr=-1.0 must be > 0"),
        (["framework=jax"],
         "framework=jax is not an option; allowed: mine, numpy, textbook, torch"),
        (["arch.layer_sizes=[3,32,16,1]"], "arch.layer_sizes[0]=3 does not fit dataset 'moons'"),
        (["trian.lr=0.1"], "trian.lr is not a configuration key; the configuration has arch"),
    ],
)
def test_bad_input_exits_nonzero_with_one_line_and_no_traceback(tmp_path, args, expected):
    proc = nnbench(tmp_path, *args)
    assert proc.returncode == 2
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output
    lines = [ln for ln in output.splitlines() if ln.strip()]
    assert len(lines) == 1, output
    assert expected in lines[0]
    # a rejected configuration trains nothing and leaves nothing
    assert list(tmp_path.iterdir()) == []


def test_rounds_run_the_whole_sweep_round_after_round(tmp_path):
    proc = nnbench(tmp_path, "-m", "bench.rounds=2", "framework=numpy,torch", "train.epochs=2",
                   "bench.mfu=false", "bench.memory_probe=false", "bench.isolate=false",
                   "bench.min_samples=0")
    assert proc.returncode == 0, proc.stderr
    jobs = sorted((p.parent for p in tmp_path.rglob("result.json")),
                  key=lambda job: int(job.name.split("-")[0]))  # Hydra's job number
    order = [(r["round"], r["framework"]) for r in map(
        lambda job: json.loads((job / "result.json").read_text()), jobs)]
    assert order == [(0, "numpy"), (0, "torch"), (1, "numpy"), (1, "torch")]
    records = results(tmp_path)
    assert {r["rounds"] for r in records} == {2}
    assert len({r["job_key"] for r in records}) == 4  # the round is part of a job's identity
    # the sweep ends with the ratio of each configuration, pooled over its rounds
    [line] = [ln for ln in proc.stdout.splitlines() if " on moons 2x32x16x1, " in ln]
    assert re.match(r"nnbench: (numpy is .* than torch|torch is .* than numpy|no clear "
                    r"difference between numpy and torch) ", line), line
    assert re.search(r" on moons 2x32x16x1, float32, full batch, cpu[ :]", line), line
    assert ("per epoch; 95% CI over 2 vs 2 rounds of fresh processes, a rough one: 5+ a side "
            "for a sound interval)") in line, line


def test_rounds_is_a_number_not_a_sweep(tmp_path):
    proc = nnbench(tmp_path, "-m", "bench.rounds=2,3", "train.epochs=2")
    assert proc.returncode == 2
    assert "bench.rounds is how many rounds the sweep runs" in proc.stderr
    assert results(tmp_path) == []


def test_a_job_key_includes_its_round_but_not_the_number_of_rounds():
    from nnbench.identity import configuration, job_key

    def key(round_: int, rounds: int) -> str:
        config = {"bench": {"round": round_, "rounds": rounds, "resume": False},
                  "runs_dir": "x"}
        return job_key({"config": configuration(config), "code": {"digest": "v"}}, round_)

    assert key(1, 3) == key(1, 5)
    assert key(1, 3) != key(2, 3)


# Runs kept short: a few epochs, no matmul-peak measurement, no memory probe, in this process.
SHORT = ["train.epochs=3", "bench.mfu=false", "bench.memory_probe=false", "bench.isolate=false"]


def refused(tmp_path: Path, *args: str) -> str:
    """Run a command that must be refused: exit 2, one line on stderr, no traceback, and no
    folder under runs_dir; return the line."""
    runs = tmp_path / "runs"
    flags = [a for a in args if a.startswith("-")]
    overrides = [a for a in args if not a.startswith("-")]  # after SHORT: they win
    proc = run_cli(*flags, *SHORT, *overrides, f"runs_dir={runs}")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert "Traceback" not in output and "Warning" not in output, output
    lines = [ln for ln in output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("nnbench: error: "), output
    assert not runs.exists(), sorted(str(p) for p in runs.rglob("*"))
    return lines[0].removeprefix("nnbench: error: ")


TRAIN_KEYS = "train has epochs, batch_size, lr, loss, shuffle, seed, init"


@pytest.mark.parametrize("args, expected", [
    (["+train.lrr=0.1"], f"train.lrr is not a configuration key; {TRAIN_KEYS}"),
    (["++train.lrr=0.1"], f"train.lrr is not a configuration key; {TRAIN_KEYS}"),
    (["train.lrr=0.1"], f"train.lrr is not a configuration key; {TRAIN_KEYS}"),
    (["-m", "+train.lrr=0.1,0.2"], f"train.lrr is not a configuration key; {TRAIN_KEYS}"),
    (["+device.fast=true"], "device.fast is not a configuration key; device has name"),
    (["++foo=1"], "foo is not a configuration key; the configuration has arch, dataset, "),
    (["+dataset.nois=0.3"], "dataset.nois is not a configuration key; dataset=moons has name, "
                            "n_samples, noise"),
    (["dataset.n_train=100"], "dataset.n_train is not a configuration key of the chosen "
                              "dataset; only dataset=fashion_mnist, mnist, synthetic have it"),
    (["+framework.compile=true"], "framework.compile is not a configuration key; "
                                  "framework=numpy takes no options"),
], ids=["+", "++", "plain", "sweep+", "+device", "++top", "+dataset", "dataset", "+framework"])
def test_unknown_keys_are_refused_however_they_are_added(tmp_path, args, expected):
    line = refused(tmp_path, *args)
    assert expected in line
    assert "append" not in line and "=..." not in line  # no advice to append the key


@pytest.mark.parametrize("args, expected", [
    (["train.lr=inf"], "train.lr=inf is not a finite number"),
    (["train.lr=-inf"], "train.lr=-inf is not a finite number"),
    (["train.lr=nan"], "train.lr=nan is not a finite number"),
    (["train.lr=1e309"], "train.lr=inf is not a finite number"),
    (["bench.target_accuracy=nan"], "bench.target_accuracy=nan is not a finite number"),
    (["bench.target_accuracy=0.9", "bench.accuracy_per_epoch=false"],
     "bench.target_accuracy=0.9 needs the test accuracy after every epoch: set "
     "bench.accuracy_per_epoch=true, or bench.target_accuracy=null"),
    (["dataset.noise=inf"], "dataset.noise=inf is not a finite number"),
    (["train.seed=-1"], "train.seed=-1 is out of range; allowed: 0 to 4294967295"),
    # a single run would record rounds or a round that never ran
    (["bench.rounds=3"], "bench.rounds=3 replicates a sweep in rounds of fresh processes: add -m"),
    (["bench.round=3"], "bench.round=3 is past bench.rounds=1; allowed: 0 (a sweep"),
    (["-m", "bench.round=1"], "bench.round=1 is past bench.rounds=1; allowed: 0 (a sweep"),
    (["train.epochs=1"], "bench.warmup_epochs=1 leaves no timed epoch out of train.epochs=1; "
                         "allowed: bench.warmup_epochs=0, or train.epochs of 2 or more"),
    (["bench.mfu=maybe"], "bench.mfu=maybe is not true or false"),
    (["train.lr=fast"], "train.lr=fast is not a number"),
])
def test_values_no_job_could_use_are_refused(tmp_path, args, expected):
    assert expected in refused(tmp_path, *args)


def test_a_sweep_setting_is_refused_for_the_sweep_not_for_its_first_job(tmp_path):
    line = refused(tmp_path, "-m", "framework=numpy,torch", "bench.rounds=0")
    assert line == "bench.rounds=0 must be > 0"


@pytest.mark.parametrize(("args", "expected"), [
    # train.epochs=1 would be refused too: the sweep's own setting is told first
    (["bench.rounds=auto", "bench.max_rounds=1001", "train.epochs=1"],
     "bench.max_rounds=1001 must be at most 1000: a sweep lists every round's jobs before the "
     "first starts"),
    (["bench.rounds=1001", "train.epochs=1"],
     "bench.rounds=1001 must be at most 1000: a sweep lists every round's jobs before the "
     "first starts"),
    (["bench.rounds=auto", "bench.max_rounds=0"],
     "bench.max_rounds=0 must be at least 5 with bench.rounds=auto (no interval is trusted on "
     "fewer rounds)"),
])
def test_a_sweeps_rounds_are_bounded_before_its_jobs_are_listed(tmp_path, args, expected):
    line = refused(tmp_path, "-m", "framework=numpy,torch", *args)
    assert line == expected


def test_only_the_first_rounds_jobs_are_checked_before_a_sweep_starts(tmp_path):
    # rounds differ only in bench.round: 25 rounds of 2 jobs check 2, not 50 (~0.1 s each)
    line = refused(tmp_path, "-m", "framework=numpy,torch", "bench.rounds=25", "train.epochs=1")
    assert line == ("job 1 of 50 (bench.round=0 framework=numpy): "
                    "bench.warmup_epochs=1 leaves no timed epoch out of train.epochs=1; allowed: "
                    "bench.warmup_epochs=0, or train.epochs of 2 or more")


def test_more_threads_than_cores_are_refused_naming_the_limit(tmp_path, monkeypatch):
    from nnbench.measure.threads import available_cores

    cores = available_cores()
    cache = tmp_path / "cache"
    monkeypatch.setenv("NNBENCH_CACHE_DIR", str(cache))
    line = refused(tmp_path, f"bench.threads={cores + 1}", "bench.mfu=true")
    assert line == (f"bench.threads={cores + 1} is more than the {cores} cores this process "
                    f"may use; allowed: 1 to {cores}, or null (all of them)")
    assert not cache.exists() or not any(cache.rglob("*"))  # no peak measured at that count


def test_a_batch_larger_than_the_training_set_is_one_full_batch_and_the_record_says_so(tmp_path):
    proc = nnbench(tmp_path, "train.batch_size=100000", *SHORT)
    assert proc.returncode == 0, proc.stderr
    (record,) = results(tmp_path)
    assert record["status"] == "ok" and record["n_train"] == 1600
    assert record["batch_size"] == 1600  # the batch size used
    assert record["config"]["train"]["batch_size"] == 100000  # the configuration as given
    warning = ("train.batch_size=100000 exceeds the 1600 training samples: one full batch per "
               "epoch, batch_size 1600")
    assert warning in record["warnings"] and warning in proc.stdout


@pytest.mark.parametrize("args, expected", [
    (["train.lr=0"], "train.lr=0.0 must be > 0"),
    (["dataset=mnist", "dataset.n_train=abc"],
     "dataset.n_train=abc is not a whole number"),
    (["train.lr=${nope.x}"], "train.lr: Interpolation key 'nope.x' not found"),
    (["-m", "train.lr=0.1,0"], "job 2 of 2 (train.lr=0): train.lr=0.0 must be > 0"),
    (["-m", "framework=numpy,torch", "train.seed=3,abc"],
     "job 2 of 4 (framework=numpy train.seed=abc): train.seed=abc is not a whole number"),
], ids=["value", "type", "interpolation", "sweep-last-job", "sweep-type"])
def test_configuration_errors_exit_2_before_any_job_starts(tmp_path, args, expected):
    assert expected in refused(tmp_path, *args)


def test_a_launcher_that_runs_jobs_side_by_side_is_refused_before_any_job(tmp_path,
                                                                         host_cores):
    if host_cores < 2:
        pytest.skip("one core: joblib runs its jobs one at a time here, never side by side")
    assert "job 1 of 2 (framework=numpy): the launcher runs up to 2 jobs side by side" in \
        refused(tmp_path, "-m", "framework=numpy,torch", "hydra/launcher=joblib",
                "hydra.launcher.n_jobs=2")


def test_the_first_job_of_each_framework_is_checked_first():
    """So that torch's warm process starts while the other jobs are composed; faults are
    still reported in the sweep's order (the sweep-type case above: its torch scout is fine,
    its second job is not)."""
    from nnbench.hydra.sweeper import first_of_each_framework

    jobs = [["framework=numpy", f"train.lr={lr}"] for lr in (0.1, 0.2, 0.3)]
    jobs += [["framework=torch", f"train.lr={lr}"] for lr in (0.1, 0.2, 0.3)]
    assert first_of_each_framework(jobs) == [0, 3]
    rounds = [["bench.round=0", *j] for j in jobs] + [["bench.round=1", *j] for j in jobs]
    assert first_of_each_framework(rounds) == [0, 3]
    assert first_of_each_framework([["train.lr=0.1"], ["train.lr=0.2"]]) == [0]
    assert first_of_each_framework([]) == []


EXPERIMENT_FILES = {
    "syntax": ("# @package _global_\ntrain: {lr: 0.1, epochs: 3\nbench: {mfu: false}\n",
               "experiment/syntax.yaml:3: expected ',' or '}', but got ':' (while parsing a flow "
               "mapping that starts at line 2)"),
    "unknown": ("# @package _global_\n# a comment\ntrain:\n  epochs: 3\n  lrr: 0.1\n",
                f"experiment/unknown.yaml:5: train.lrr is not a configuration key; {TRAIN_KEYS}"),
    "type": ("# @package _global_\nbench:\n  repeats: many\n",
             "experiment/type.yaml:3: bench.repeats=many is not a whole number"),
    "top": ("# @package _global_\nepochs: 3\n",
            "experiment/top.yaml:2: epochs is not a configuration key; the configuration has "),
}


@pytest.mark.parametrize("name", sorted(EXPERIMENT_FILES))
@pytest.mark.parametrize("mode", [[], ["-m"]], ids=["run", "sweep"])
def test_a_bad_experiment_file_is_named_with_its_line_and_the_full_key(tmp_path, name, mode):
    text, expected = EXPERIMENT_FILES[name]
    folder = tmp_path / "conf" / "experiment"
    folder.mkdir(parents=True)
    (folder / f"{name}.yaml").write_text(text)
    line = refused(tmp_path, *mode, f"+experiment={name}",
                   f"hydra.searchpath=[file://{tmp_path / 'conf'}]")
    assert line.startswith(f"{tmp_path / 'conf'}/{expected}"), line


def test_resume_counts_one_job_in_the_singular(tmp_path):
    first = nnbench(tmp_path, *SHORT)
    assert first.returncode == 0, first.stderr
    again = nnbench(tmp_path, *SHORT, "bench.resume=true")
    assert again.returncode == 0, again.stderr
    assert "nnbench: resume: 1 job already ok, skipped; 0 ran" in again.stdout
