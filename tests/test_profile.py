"""bench.profile: a cProfile for every framework and torch's Chrome trace, from a pass after the
timed runs, listed in the record and linked from the report; a profiler that fails costs its
file, never the job."""

from __future__ import annotations

import contextlib
import json
import pstats
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import blobs, trainers

import nnbench
from nnbench import profiling
from nnbench.frameworks.numpy.trainer import NumpyTrainer
from nnbench.frameworks.torch.trainer import TorchTrainer
from nnbench.report.render.profiles import html_section, markdown_section
from nnbench.spec import ModelSpec

SHRINK = ["train.epochs=3", "bench.warmup_epochs=1", "bench.mfu=false",
          "bench.memory_probe=false", "bench.phases=false", "bench.isolate=false"]
TRAINERS = {"numpy": NumpyTrainer, "torch": TorchTrainer}
LABELS = {"train_epoch", "zero_grad", "forward", "backward", "optimizer_step"}


def _cprofile_running() -> bool:
    monitoring = getattr(sys, "monitoring", None)  # Python 3.12+: cProfile is a monitoring tool
    if monitoring is not None and monitoring.get_tool(monitoring.PROFILER_ID):
        return True
    return sys.getprofile() is not None


def _job(record: nnbench.Record) -> Path:
    return Path(record.output_dir)


@pytest.mark.parametrize("framework", ["numpy", "torch"])
def test_a_profiled_job_profiles_after_its_timed_epochs(tmp_path, monkeypatch, framework):
    cls = TRAINERS[framework]
    epoch = cls.train_epoch
    seen = []  # per train_epoch call: a profiler running, or a profile file written already

    def watched(self, perm, batch_size):
        seen.append(_cprofile_running() or any(tmp_path.rglob("profile*")))
        return epoch(self, perm, batch_size)

    monkeypatch.setattr(cls, "train_epoch", watched)
    rec = nnbench.run([f"framework={framework}", "bench.profile=true", *SHRINK],
                      runs_dir=tmp_path)
    assert rec.status == "ok"
    # no profiler failed (how far a profiler slowed the epochs is timing: not asserted here)
    assert not [w for w in rec.warnings if "bench.profile" in w and "profiled / timed" not in w]

    # the timed epochs came first, with no profiler and no profile yet
    timed = sum(len(times) for times in rec.epoch_times_s)
    assert timed >= 3 and len(seen) > timed
    assert not any(seen[:timed])
    traced = profiling.WARMUP_EPOCHS + profiling.TRACE_EPOCHS if framework == "torch" else 0
    top = (_job(rec) / "profile_top.txt").read_text()
    profiled = int(re.search(r"cProfile of (\d+) training epochs", top)[1])
    # as many as take PROFILE_SECONDS at the timed speed, within their bounds
    assert profiled == profiling.profile_epochs(rec.train_time_per_epoch_s)
    assert profiling.PROFILE_EPOCHS <= profiled <= profiling.MAX_PROFILE_EPOCHS
    assert sum(seen) == profiled + traced

    job = _job(rec)
    trace = ["profile_trace.json"] if framework == "torch" else []
    assert rec.profile_files == ["profile.prof", "profile_top.txt", *trace]
    assert sorted(p.name for p in job.glob("profile*")) == sorted(rec.profile_files)

    stats = pstats.Stats(str(job / "profile.prof"))
    assert any(name == "train_epoch"
               and Path(file).as_posix().endswith(f"nnbench/frameworks/{framework}/trainer.py")
               for file, _, name in stats.stats)
    assert "cumulative time" in top and "internal time" in top and "train_epoch" in top
    assert "profiled / timed" in top
    # per epoch, in a unit that fits it: the epoch itself reads 1 to 999, not 0.000
    assert re.search(r" cumulative (µs|ms|s) ", top), top[:600]
    epoch_row = next(ln for ln in top.splitlines() if ln.endswith("(train_epoch)"))
    assert 1.0 <= float(epoch_row.split()[2]) < 1000, epoch_row

    if framework == "torch":
        events = json.loads((job / "profile_trace.json").read_text())["traceEvents"]
        assert isinstance(events, list) and all("ph" in e and "name" in e for e in events)
        labelled = [e for e in events if e.get("cat") == "user_annotation"]
        assert LABELS <= {e["name"] for e in labelled}
        assert [e["name"] for e in labelled].count("train_epoch") == profiling.TRACE_EPOCHS
        assert all(e["ph"] == "X" and e["dur"] >= 0 for e in labelled)
        # shapes recorded: the matmuls' sizes can be read
        mm = [e for e in events if e["name"] == "aten::addmm"]
        assert mm and all(e["args"].get("Input Dims") for e in mm), mm[:1]


def test_a_profile_far_slower_than_the_timed_epochs_is_warned_of():
    assert profiling.unit(94e-6) == (1e-6, "µs") and profiling.unit(0.0012)[1] == "ms"
    assert profiling.profile_epochs(1e-3) == 200 and profiling.profile_epochs(0.5) == 2
    line, warned = profiling._check("the trace's epochs", 0.140, 0.00102)
    assert "profiled / timed 137.25x" in line and len(warned) == 1
    assert "mostly the profiler's own" in warned[0]
    assert profiling._check("cProfile's epochs", 0.0011, 0.001)[1] == []


def test_without_bench_profile_no_file_is_written(tmp_path):
    rec = nnbench.run(["framework=numpy", *SHRINK], runs_dir=tmp_path)
    assert rec.status == "ok" and rec.profile_files == []
    assert not list(tmp_path.rglob("profile*"))


@contextlib.contextmanager
def _broken_trace(path: Path):
    path.write_text('{"traceEvents": [')  # half a trace, then the profiler fails
    yield
    raise RuntimeError("the profiler is unavailable")


class _RefusedProfile:
    def enable(self):
        raise ValueError("Another profiling tool is already active")


@pytest.mark.parametrize("broken", ["trace", "cprofile"])
def test_a_profiler_that_fails_costs_its_file_not_the_job(tmp_path, monkeypatch, broken):
    if broken == "trace":
        monkeypatch.setattr(NumpyTrainer, "trace", lambda self, path: _broken_trace(path))
        left = ["profile.prof", "profile_top.txt"]
        said = ("bench.profile: the framework's trace failed, no file from it: RuntimeError: "
                "the profiler is unavailable")
    else:
        import cProfile  # the module the profiled pass imports when it runs

        monkeypatch.setattr(cProfile, "Profile", _RefusedProfile)
        left = []
        said = ("bench.profile: cProfile failed, no file from it: ValueError: Another "
                "profiling tool is already active")
    rec = nnbench.run(["framework=numpy", "bench.profile=true", *SHRINK], runs_dir=tmp_path)
    assert rec.status == "ok" and rec.train_time_per_epoch_s > 0
    assert said in rec.warnings
    assert rec.profile_files == left
    assert sorted(p.name for p in _job(rec).glob("profile*")) == left


def test_the_traced_torch_step_is_the_timed_one(tmp_path):
    """The trace's labelled step makes the timed step's calls: the same loss and parameters,
    bit for bit; after the trace the trainer's own methods are back."""
    spec = ModelSpec((5, 12, 8, 4), ("relu", "relu", "softmax"), "cross_entropy")
    _, plain, params = trainers(spec, "float64")
    traced = TorchTrainer(spec, params, "float64", "cpu", 0.1)
    x, y = blobs()
    perm = np.random.default_rng(0).permutation(len(y))
    for trainer in (plain, traced):
        trainer.set_train_data(x, y)
    loss = plain.train_epoch(perm, 32)
    with traced.trace(tmp_path / "trace.json"):
        assert traced.train_epoch(perm, 32) == loss
    assert "train_epoch" not in vars(traced) and "_step" not in vars(traced)
    for name, value in plain.numpy_params().items():
        np.testing.assert_array_equal(traced.numpy_params()[name], value)
    assert json.loads((tmp_path / "trace.json").read_text())["traceEvents"]


def test_the_report_links_each_profile_file_from_where_the_report_is(tmp_path):
    job = tmp_path / "runs" / "default" / "2026-01-01_00-00-00_1-abcd"
    job.mkdir(parents=True)
    for name in ("profile.prof", "profile_top.txt"):
        (job / name).write_text("x")
    records = [{"result_file": str(job / "result.json"), "framework": "numpy", "device": "cpu",
                "profile_files": ["profile.prof", "profile_top.txt"]},
               {"result_file": str(tmp_path / "other" / "result.json"), "framework": "torch"}]
    out = tmp_path / "runs" / "report"
    page = "\n".join(html_section(records, out))
    assert page.count("<tr>") == 2  # the heading and the one profiled job
    link = "../default/2026-01-01_00-00-00_1-abcd/profile.prof"
    assert f'href="{link}"' in page and (out / link).resolve().is_file()
    assert f"[profile_top.txt]({link.replace('.prof', '_top.txt')})" in \
        "\n".join(markdown_section(records, out))
    assert html_section(records[1:], out) == [] and markdown_section([], None) == []
    assert (job / "profile.prof").resolve().as_uri() in "\n".join(html_section(records))
