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
