"""The same answer on a busy machine: a job measures what other processes did on its cores,
holds no more threads than are free, and a comparison never states a ratio from samples that
waited for a core throughout.

The contention is real: CPU-bound processes the test starts beside the measurement, on the
cores it watches, and stops by pid.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from test_identity import _record, _write

from nnbench.measure import contention
from nnbench.results.sweep_summary import ratio_lines, rounds_state
from nnbench.stats import robust, stopping


@pytest.fixture(autouse=True)
def host_load_read(monkeypatch):
    """These tests read the host's load on purpose (the suite turns it off elsewhere)."""
    monkeypatch.delenv("NNBENCH_CONTENTION", raising=False)


LOOP = "import os, sys; os.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True: pass"


@contextmanager
def spinning(cpu: int) -> Iterator[subprocess.Popen]:
    """A CPU-bound process on ``cpu`` for the duration of the block."""
    proc = subprocess.Popen([sys.executable, "-c", LOOP, str(cpu)])
    try:
        time.sleep(0.3)  # its interpreter has started and spins
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_the_levels_follow_the_cores_left_free():
    assert contention.level(0.1, 0.0, threads=2, cores=2) == "quiet"
    assert contention.level(0.1, 0.05, threads=2, cores=2) == "busy"  # the hypervisor's steal
    assert contention.level(0.9, 0.0, threads=1, cores=2) == "busy"  # one core each
    assert contention.level(0.9, 0.0, threads=2, cores=2) == "oversubscribed"
    assert contention.level(1.8, 0.0, threads=1, cores=2) == "oversubscribed"


def test_a_process_spinning_on_the_jobs_core_is_seen_as_others_use():
    cpu = min(os.sched_getaffinity(0))
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        with spinning(cpu):
            start = contention.read()
            time.sleep(0.5)  # the job's own thread sleeps: whatever ran here was another's
            said = contention.since(start, threads=1, epochs=10)
    finally:
        os.sched_setaffinity(0, old)
    assert said is not None and said["cores"] == 1
    assert said["others_cores"] > 0.5, said  # generous: the loop had the core to itself
    assert said["level"] == "oversubscribed"
    assert said["text"].startswith("others used ") and "of 1 core while this job ran" in \
        said["text"]
    assert contention.advice(said).startswith(f"host busy: {said['text']}; its threads waited "
                                              f"for cores")
    assert contention.advice(said).endswith("bench.threads=auto (or 1), fewer parallel jobs, "
                                            "or other work closed")


AUTO = ("import os, sys; os.sched_setaffinity(0, {int(c) for c in sys.argv[1].split(',')})\n"
        "from nnbench.measure import contention\n"
        "print(*contention.auto_threads(len(os.sched_getaffinity(0))), sep='|')")


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2 and os.cpu_count() < 2,
                    reason="needs two cores: one to keep busy, one left free")
def test_auto_threads_leave_the_busy_core_to_its_process():
    cpus = sorted(range(os.cpu_count()))[:2]
    with spinning(cpus[0]):
        env = {k: v for k, v in os.environ.items() if k != "NNBENCH_CONTENTION"}
        done = subprocess.run([sys.executable, "-c", AUTO, ",".join(map(str, cpus))],
                              capture_output=True, text=True, check=True, timeout=60, env=env)
    threads, why = done.stdout.strip().split("|")
    assert threads == "1", why
    assert why.startswith("auto: 1 of 2 cores free when the sweep started (others used ")


def test_a_threads_value_that_is_no_count_is_refused():
    from helpers import run_cli

    done = run_cli("bench.threads=many")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "nnbench: error: bench.threads='many' is not a thread count; allowed: a whole number "
        "from 1, auto (the cores free when the sweep starts) or null (every core this process "
        "may use)")


def _busy(level: str, others: float = 1.7) -> dict:
    return {"level": level, "others_cores": others, "cores": 2, "threads": 2,
            "text": f"others used {others:.1f} of 2 cores while this job ran (2 threads)"}


def test_the_estimator_follows_the_worst_reading_of_either_side():
    assert robust.choice([{}, {"contention": _busy("quiet", 0.1)}]) == (robust.MEDIAN, "")
    metric, why = robust.choice([{"contention": _busy("busy", 0.6)}, {}])
    assert metric == robust.LOW and why == "10th percentile of epochs: the host was busy"
    metric, why = robust.choice([{"contention": _busy("busy")},
                                 {"contention": _busy("oversubscribed")}])
    assert metric is None and why.startswith("cannot tell: host busy (others used 1.7 of 2 "
                                             "cores while this job ran (2 threads)); rerun")
    assert robust.low([5.0, 1.0, 2.0, 3.0, 4.0, 100.0] * 5) == pytest.approx(1.0)


def test_a_ratio_from_an_oversubscribed_run_is_cannot_tell_not_a_number(tmp_path):
    """Beside two busy processes the default sweep's verdict flipped from NumPy 2.6x faster
    to torch 10x faster, printed as a ratio."""
    sweep = tmp_path / "sweep"
    numpy = _record("numpy", 0.008, 1, contention=_busy("oversubscribed"))
    _write(sweep, [numpy, _record("torch", 0.0008, 2)])
    [line] = ratio_lines(sweep)
    assert line.startswith("cannot tell numpy from torch on moons 2x32x16x1, "), line
    assert ", cpu: host busy (others used 1.7 of 2 cores" in line
    assert "x [" not in line and "10.0" not in line


def test_a_busy_run_is_compared_on_its_low_quantile_and_says_so(tmp_path):
    sweep = tmp_path / "sweep"
    slow = _record("numpy", 0.004, 1, contention=_busy("busy", 0.8))
    slow["train_time_per_epoch_low_s"] = 0.001  # the epochs no other process delayed
    fast = _record("torch", 0.002, 2)
    fast["train_time_per_epoch_low_s"] = 0.002
    _write(sweep, [slow, fast])
    [line] = ratio_lines(sweep)
    # one process a side on its low quantile: a ratio, but no interval to call it by
    assert ": numpy/torch time 0.500x, no interval" in line, line
    assert "(numpy 1 ms, torch 2 ms per epoch; " in line, line
    assert line.endswith("; 10th percentile of epochs: the host was busy")


def test_tables_figures_and_compare_say_cannot_tell_where_a_host_was_oversubscribed(tmp_path):
    """The closing line said "cannot tell"; the report's ratio column, its ratio panel and a
    comparison still read the medians of epochs that waited for a core throughout."""
    from test_identity import _sweep

    from nnbench.report.__main__ import main as report_main

    runs = tmp_path / "runs"
    busy = _sweep(runs, 3, 0.008, 0.0008, contention=_busy("oversubscribed"))
    _write(runs, busy)
    assert report_main([str(runs), "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    summary = (tmp_path / "r" / "summary.md").read_text()
    table = summary.split("### Training time per epoch (s")[1].split("###")[0]
    (row,) = [line for line in table.splitlines() if line.startswith("| moons")]
    assert row.rstrip(" |").endswith("cannot tell: host busy"), table
    assert "10.0x" not in row

    base = tmp_path / "base"
    _write(base, _sweep(base, 3, 0.001, 0.001))
    candidate = tmp_path / "candidate"  # looks 2x faster: its host was oversubscribed
    _write(candidate, _sweep(candidate, 3, 0.0005, 0.001, contention=_busy("oversubscribed")))
    out = tmp_path / "cmp"
    status = report_main(["--baseline", str(base), "--candidate", str(candidate), "--out",
                          str(out), "--no-progress", "--fail-above", "0.1"])
    text = (out / "compare.md").read_text()
    numpy_rows = [line for line in text.splitlines() if "| numpy " in line]
    assert numpy_rows and all("cannot tell: host busy" in line for line in numpy_rows), text
    assert "0.502x" not in text and "faster" not in " ".join(numpy_rows)
    assert status == 0  # no slowdown claimed either; --fail-on-unsure would fail it


def test_rounds_stop_once_every_ratio_is_cannot_tell_for_good(tmp_path):
    """A round on an oversubscribed host leaves its ratio "cannot tell" whatever later rounds
    measure: rounds=auto ran on to its 90 s budget (17 rounds) to say so."""
    sweep = tmp_path / "sweep"
    numpy = _record("numpy", 0.008, 1, contention=_busy("oversubscribed"))
    _write(sweep, [numpy, _record("torch", 0.0008, 2)])
    widths, busy = rounds_state(sweep)
    assert busy == "host busy (others used 1.7 of 2 cores while this job ran (2 threads))"
    assert all(math.isnan(w) for _, w in widths)
    reason = stopping.stop_reason([w for _, w in widths], 1, 0.05, False, 3.0, 90.0,
                                  lambda: 3.0, busy)
    assert reason == (f'{busy}: every ratio is "cannot tell" after 1 round(s), and no further '
                      f"round can change that")
    # a busy (not oversubscribed) host: its low quantile may still tell, the rounds go on
    _write(tmp_path / "other", [_record("numpy", 0.004, 3, contention=_busy("busy", 0.8)),
                                _record("torch", 0.002, 4)])
    assert rounds_state(tmp_path / "other")[1] is None
