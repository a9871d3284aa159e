"""Shared fixtures: real configs composed by Hydra from conf/, shrunk where a test allows."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import CONF
from hydra import compose, initialize_config_dir
from hypothesis import settings
from omegaconf import DictConfig

from nnbench.hydra import register

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


@pytest.fixture
def make_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose conf/config.yaml with overrides, writing any runs under tmp_path."""

    def _make(*overrides: str) -> DictConfig:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose("config", overrides=[f"runs_dir={tmp_path}", *overrides])

    return _make


# -- the suite in several processes (make test: pytest-xdist, --dist loadgroup) ----------------

# Files whose tests share a set-up of module or session scope (a SLURM cluster, a decoded data
# set, a dry run of the GPU check): their tests stay together in one process, so it runs once.
SHARED_SET_UP = {"test_slurm.py", "test_device_check.py", "test_precision.py",
                 "test_environments.py", "test_idx_images.py"}


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if item.path.name in SHARED_SET_UP:
            item.add_marker(pytest.mark.xdist_group(item.path.stem))


@pytest.fixture(autouse=True)
def _one_core_per_test_process(request):
    """Under xdist, each test process and the jobs it starts keep to a core of their own: two
    processes whose jobs each take every core (``bench.threads=null``) would have their BLAS
    and torch threads wait on each other, and a 0.2 ms epoch take 100 ms. The jobs then run at
    one thread, as they do on a one-core host. SLURM's tests keep the host's cores: the node
    they start offers them all."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    cores = sorted(os.sched_getaffinity(0))
    if not worker.startswith("gw") or len(cores) < 2 or request.node.get_closest_marker("slurm"):
        yield
        return
    os.sched_setaffinity(0, {cores[int(worker[2:]) % len(cores)]})
    try:
        yield
    finally:
        os.sched_setaffinity(0, cores)
