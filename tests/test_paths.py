"""Where runs are written: a folder of its own for every run and sweep, and runs_dir,
experiment_name and dataset.data_dir refused in one line, naming the key, before anything is
written."""

from __future__ import annotations

import os
import pickle
import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from helpers import CONF, run_cli
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from nnbench import paths
from nnbench.errors import ConfigError
from nnbench.job import resolve

FOLDER = re.compile(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_\d+-[0-9a-f]{4}")


def hydra_cfg(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=True)


@pytest.fixture
def frozen_clock(monkeypatch):
    """Every run starts in the same second."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 1, 2, 3, 4, 5)

    monkeypatch.setattr(paths, "datetime", Frozen)


def test_runs_started_in_the_same_second_get_folders_of_their_own(tmp_path, frozen_clock):
    folders = [Path(hydra_cfg(f"runs_dir={tmp_path}").hydra.run.dir) for _ in range(20)]
    assert len(set(folders)) == 20
    for folder in folders:
        assert folder.parent == tmp_path / "default"
        assert FOLDER.fullmatch(folder.name) and folder.name.startswith("2026-01-02_03-04-05_")


def test_a_folder_name_that_exists_is_never_handed_out(tmp_path, frozen_clock, monkeypatch):
    draws = iter(["aaaa", "aaaa", "bbbb"])
    monkeypatch.setattr(paths.secrets, "token_hex", lambda n: next(draws))
    taken = tmp_path / "default" / f"2026-01-02_03-04-05_{os.getpid()}-aaaa"
    taken.mkdir(parents=True)
    assert paths.run_folder(tmp_path, "default") == str(taken.with_name(
        f"2026-01-02_03-04-05_{os.getpid()}-bbbb"))


def test_one_config_names_one_folder_and_its_sweep_jobs_share_it(tmp_path):
    """Hydra names the sweep folder in the parent; launchers' workers get the master config
    pickled and copy its resolver cache into each job's config (load_sweep_config)."""
    cfg = hydra_cfg(f"runs_dir={tmp_path}")
    sweep_dir = cfg.hydra.sweep.dir
    assert cfg.hydra.sweep.dir == sweep_dir == cfg.hydra.run.dir  # resolved once
    in_worker = pickle.loads(pickle.dumps(cfg))
    job_cfg = hydra_cfg(f"runs_dir={tmp_path}", "train.lr=0.1")
    OmegaConf.copy_cache(from_config=in_worker, to_config=job_cfg)
    assert job_cfg.hydra.sweep.dir == sweep_dir


BAD = {
    "runs_dir is a file": ("runs_dir={file}", "runs_dir={file} is a file, not a folder"),
    "runs_dir under a file": ("runs_dir={file}/runs",
                              "runs_dir={file}/runs cannot be created: {file} is a file"),
    "runs_dir under /proc": ("runs_dir=/proc/nnbench-runs",
                             "runs_dir=/proc/nnbench-runs is under /proc, on a proc file system"),
    "experiment_name with ..": ("experiment_name=../../escaped",
                                "experiment_name='../../escaped' is not a plain name; allowed: "
                                "letters, digits"),
    "experiment_name with /": ("experiment_name=a/b", "experiment_name='a/b' is not a plain name"),
    "experiment_name ..": ("experiment_name=..", "experiment_name='..' is not a plain name"),
    # Hydra reads a quoted value only; the rule says ASCII, as the docs do
    "experiment_name café": ("experiment_name='café'", "experiment_name='café' is not a plain "
                             "name; allowed: letters, digits and _ . , = + - (ASCII only"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_unusable_runs_dir_or_experiment_name_is_one_line_and_nothing_is_written(tmp_path,
                                                                                 case):
    file = tmp_path / "a-file"
    file.write_text("not a folder\n")
    override, expected = (s.format(file=file) for s in BAD[case])
    runs = tmp_path / "deep" / "runs"
    proc = run_cli(f"runs_dir={runs}", override, "train.epochs=5")
    assert proc.returncode == 2
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0], proc.stderr
    assert lines[0].startswith("nnbench: error: " + expected), lines[0]
    assert not (tmp_path / "escaped").exists() and not runs.exists()
    assert file.read_text() == "not a folder\n"


def _without_dac_override() -> list[str]:
    """A command prefix under which permission bits bind (root keeps its uid, loses the
    capabilities that override them)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a folder read-only")
    return [setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search,-fowner"]


@pytest.mark.parametrize("sweep", [False, True], ids=["run", "sweep"])
def test_read_only_runs_dir_is_one_line_naming_it(tmp_path, sweep):
    runs = tmp_path / "runs"
    runs.mkdir()
    runs.chmod(0o555)
    try:
        proc = run_cli(*(["-m"] if sweep else []), f"runs_dir={runs}", "train.epochs=5",
                       prefix=tuple(_without_dac_override()))
    finally:
        runs.chmod(0o755)
    assert proc.returncode == 2
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    job = "job 1 of 1: " if sweep else ""  # a sweep checks every job first and names it
    assert lines == [f"nnbench: error: {job}runs_dir={runs} is not writable (permission denied "
                     f"for this user)"], proc.stderr
    assert list(runs.iterdir()) == []


def test_resolve_checks_the_folders_the_config_names(make_cfg, tmp_path):
    file = tmp_path / "a-file"
    file.write_text("")
    with pytest.raises(ConfigError, match=r"^runs_dir=.*a-file is a file, not a folder$"):
        resolve(make_cfg(f"runs_dir={file}"))
    with pytest.raises(ConfigError, match=r"^experiment_name='\.\./x' is not a plain name"):
        resolve(make_cfg("experiment_name=../x"))
    for data_dir, why in ((file, "is a file, not a folder"),
                          ("/proc/nnbench-data", "is under /proc, on a proc file system")):
        with pytest.raises(ConfigError, match=rf"^dataset\.data_dir={data_dir} {why}"):
            resolve(make_cfg("dataset=mnist", f"dataset.data_dir={data_dir}"))
    # a read-only data_dir may already hold the data: that is the data layer's to say
    read_only = tmp_path / "data"
    read_only.mkdir(mode=0o555)
    resolve(make_cfg("dataset=mnist", f"dataset.data_dir={read_only}"))
    resolve(make_cfg("experiment_name='lr=0.1,batch-64.v2'"))  # plain names pass


def test_a_sweep_job_with_many_overrides_gets_a_folder_name_the_file_system_takes():
    """A dozen overrides named a job folder of 303 characters: the sweep ended "File name too
    long". The name keeps its start and a digest of the whole, so two jobs stay apart."""
    from nnbench.paths import MAX_FOLDER_NAME, job_folder

    overrides = ",".join(f"dataset.key_{i}=value_{i}" for i in range(20))
    first, second = job_folder(0, overrides + "a"), job_folder(0, overrides + "b")
    assert len(first.encode()) <= MAX_FOLDER_NAME < 255 and first != second
    assert first.startswith("0-dataset.key_0=value_0,") and first[-14:-12] == "--"
    assert job_folder(3, "framework=numpy") == "3-framework=numpy"  # short names as they were
