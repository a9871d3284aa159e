"""Shared fixtures: real configs composed by Hydra from conf/, shrunk where a test allows."""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# -- the suite in several processes (make test: pytest-xdist) ----------------------------------
# Each test process keeps to a core of its own, from before anything starts a thread pool (the
# jobs it starts inherit it): two processes whose jobs each take every core
# (bench.threads=null) would have their BLAS and torch threads wait on each other, and a 0.2 ms
# epoch take 100 ms. Its jobs then run at one thread, as on a one-core host. The host's cores
# stay named for what must have them all (the SLURM node tests/test_slurm.py starts).
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
HOST_CORES = sorted(os.sched_getaffinity(0))
if WORKER.startswith("gw"):
    os.environ["NNBENCH_TEST_HOST_CORES"] = ",".join(map(str, HOST_CORES))
    # a registry of running jobs per process: the other process's jobs are another suite's
    os.environ["NNBENCH_REGISTRY_DIR"] = tempfile.mkdtemp(prefix=f"nnbench-test-jobs-{WORKER}-")
    if len(HOST_CORES) >= int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) >= 2:
        os.sched_setaffinity(0, {HOST_CORES[int(WORKER[2:]) % len(HOST_CORES)]})

from helpers import CONF  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from hypothesis import settings  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from nnbench.hydra import register  # noqa: E402

register()
# On CI the property tests draw the same examples every run: a red build is reproducible.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
# The host's matmul-peak cache lives under the user's home; tests keep their own (inherited by
# the job processes they spawn).
os.environ.setdefault("NNBENCH_CACHE_DIR", tempfile.mkdtemp(prefix="nnbench-test-cache-"))
# Jobs register in a registry of running jobs that the host's nnbench jobs share; tests keep
# their own, so another suite's jobs on this host do not change their records' exclusive.
os.environ.setdefault("NNBENCH_REGISTRY_DIR", tempfile.mkdtemp(prefix="nnbench-test-jobs-"))
# The suite shares its host with whatever else runs there: a test of a closing line's wording
# must not turn into "cannot tell: host busy" because a build ran beside it. Jobs read no host
# load (bench.threads=auto takes every core); tests/test_contention.py reads it on purpose.
os.environ.setdefault("NNBENCH_CONTENTION", "off")
# A sweep's default is bench.rounds=auto, five rounds and more of fresh processes: the suite's
# sweeps test what a round does, once; tests/test_default_rounds.py runs the default itself.
os.environ.setdefault("NNBENCH_ROUNDS", "1")
# A shell without job control starts a background command (`make test &`, nohup) with Ctrl-C
# ignored, and every process it starts inherits that: the tests of what Ctrl-C does would then
# see it do nothing. The suite starts from Python's own handler, however it was launched.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def make_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose conf/config.yaml with overrides, writing any runs under tmp_path."""

    def _make(*overrides: str) -> DictConfig:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose("config", overrides=[f"runs_dir={tmp_path}", *overrides])

    return _make


@pytest.fixture
def host_cores():
    """The host's cores for one test whose subject is using several (this test process keeps
    to one under xdist, see above); yields their number."""
    kept = os.sched_getaffinity(0)
    os.sched_setaffinity(0, HOST_CORES)
    try:
        yield len(HOST_CORES)
    finally:
        os.sched_setaffinity(0, kept)


# -- how the tests are handed out to those processes --------------------------------------


# Test files whose tests share nothing costly and together take minutes: their tests are
# handed out one by one. Every other file goes to one process whole, so that a set-up of module
# or session scope (the SLURM cluster, a decoded data set, the GPU check's dry run) runs once.
SPREAD = ("tests/test_readme.py", "tests/test_agreement.py", "tests/test_faults.py",
          "tests/test_cli.py")


def pytest_collection_modifyitems(config, items) -> None:
    # a test on the real SLURM cluster waits on SLURM itself (its 30 s time-limit period, node
    # start): end to end, out of make test-fast's edit loop like the other slow tests
    for item in items:
        if item.get_closest_marker("slurm"):
            item.add_marker(pytest.mark.slow)


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return nodeid if path.endswith(SPREAD) else path

    return ByFile(config, log)


@pytest.fixture
def drawn(monkeypatch) -> dict[str, Any]:
    """Each figure the code saves, by file name, drawn and kept open so that a test can read
    its layout (text boxes, axes, lines); closed after the test."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    figures: dict[str, Any] = {}
    save = Figure.savefig

    def keep(fig, path, *args, **kwargs):
        figures[Path(str(path)).name] = fig
        fig.canvas.draw()
        return save(fig, path, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    monkeypatch.setattr(plt, "close", lambda *args, **kwargs: None)
    yield figures
    monkeypatch.undo()  # the real close again
    for fig in figures.values():
        plt.close(fig)



@pytest.fixture(autouse=True)
def signals_left_as_found(request):
    """A test that leaves Ctrl-C or SIGTERM handled otherwise than it found them (ignored, say)
    changes every later test in its process, and the processes they start: such a test fails
    here, by name, and the handlers are put back."""
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    after = {s: signal.getsignal(s) for s in before}
    changed = [s.name for s in before if after[s] != before[s]]
    for s in before:
        signal.signal(s, before[s])
    assert not changed, f"{request.node.nodeid} left {', '.join(changed)} handled otherwise"
