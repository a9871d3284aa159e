"""The Python API: results as a DataFrame, and one job run from a notebook or a script.

``load`` reads records as ``make report`` does (each checked against the schema, invalid ones
left out with a warning); ``run`` composes the configuration with Hydra's compose API from the
same ``conf/`` the command line uses, and runs one job exactly as ``python -m nnbench`` would,
record and folder included. Errors are the command line's one-liners, raised as ``ConfigError``.
"""

from __future__ import annotations

import os
import reprlib
import threading
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from nnbench.errors import ConfigError
from nnbench.figures import BY_NAME, EPOCHS, PER_REPEAT, SERIES
from nnbench.record import RESULT_FILE, Record, fields_of

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
# The record's per-epoch and per-sample series, as its schema declares them: list columns
# when asked for (the per-epoch resource counters are no figure's series).
HISTORIES = fields_of(SERIES, EPOCHS, PER_REPEAT, BY_NAME)
# Hydra's state (GlobalHydra, HydraConfig) is one per process, and two jobs timed at once would
# measure each other: calls from several threads run one after the other.
_ONE_JOB = threading.Lock()


def _paths(paths: object) -> list[str | Path]:
    """``paths`` as a list of folders or files, or a ConfigError saying what is expected."""
    roots = [paths] if isinstance(paths, (str, Path)) else paths
    if isinstance(roots, Iterable) and not isinstance(roots, (bytes, dict)):
        roots = list(roots)
        if all(isinstance(p, (str, Path)) for p in roots):
            return roots
    raise ConfigError(f"nnbench.load takes a folder or result.json file, or a list of them "
                      f"(str or pathlib.Path), not {reprlib.repr(paths)}")


def _words(overrides: object) -> list[str]:
    """``overrides`` as a list of strings, or a ConfigError saying what is expected."""
    if isinstance(overrides, str):  # iterated, it would be one override per character
        raise ConfigError(f"nnbench.run takes a list of overrides, not one string: "
                          f"nnbench.run([{overrides!r}])")
    if isinstance(overrides, (list, tuple)) and all(isinstance(o, str) for o in overrides):
        return list(overrides)
    raise ConfigError(f"nnbench.run takes a list of overrides (strings) such as "
                      f"['framework=torch', 'train.epochs=5'], not {reprlib.repr(overrides)}")


def load(paths: str | Path | Iterable[str | Path], *, histories: bool = False) -> pd.DataFrame:
    """One row per valid record found under ``paths`` (folders, searched recursively, or
    ``result.json`` files): the record's scalar fields, its statistics blocks as dotted columns
    (``train_time_stats.median``), and ``result_file``. ``histories=True`` adds the per-epoch
    series as list columns. Files that cannot be read or are not valid records are left out
    with a warning naming them."""
    from nnbench.results.collect import collect, to_frame

    roots = _paths(paths)
    missing = [str(p) for p in roots if not Path(p).exists()]
    if missing:
        raise ConfigError(f"no such file or folder: {', '.join(missing)}")
    found = collect(roots, progress=False, keep_lists=histories)  # the series as recorded
    for bad in found.unreadable + found.invalid:
        warnings.warn(f"{bad['path']}: {bad['error']}", stacklevel=2)
    frame = to_frame(found.records)
    if histories and not frame.empty:
        for name in HISTORIES:
            frame[name] = [rec.stored().get(name) for rec in found.records]  # None: absent
    return frame


def run(overrides: Sequence[str] = (), *, runs_dir: str | Path | None = None) -> Record:
    """Run one job in this process (its training in a fresh one when ``bench.isolate``, as on
    the command line) and return its validated record. ``overrides`` are the command line's
    (``["framework=torch", "train.epochs=5"]``); sweeps (``-m``) stay the command line's.
    One job at a time in a process: calls from several threads run one after the other."""
    words = _words(overrides)
    flags = [w for w in words if w.startswith("-")]
    if flags:
        raise ConfigError(f"nnbench.run takes overrides only, not {' '.join(flags)}; a sweep "
                          f"(-m) is python -m nnbench -m ...")
    if runs_dir is not None:
        words.append(f"runs_dir={runs_dir}")
    with _ONE_JOB:
        return _run(words, runs_dir)


def _run(words: list[str], runs_dir: str | Path | None) -> Record:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from nnbench import runner
    from nnbench.cli.one_line import one_line
    from nnbench.hydra import callbacks, register
    from nnbench.paths import check_unused
    from nnbench.record import read_result

    register()
    try:
        GlobalHydra.instance().clear()  # a notebook may have initialized Hydra already
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose("config", overrides=words, return_hydra_config=True)
        job = callbacks.check(cfg)  # the single run's checks, as the command line makes them
        if job.bench.rounds not in (1, "auto"):  # auto: as many as a ratio needs; here one
            raise ConfigError(f"bench.rounds={job.bench.rounds} replicates a sweep in rounds of "
                              f"fresh processes: python -m nnbench -m bench.rounds=N ...")
        output_dir = Path(str(HydraConfig.get().run.dir))
        if runs_dir is not None and not _inside(output_dir, runs_dir):
            raise ConfigError(f"hydra.run.dir={output_dir} lies outside runs_dir={runs_dir}, "
                              f"where nnbench.run(..., runs_dir=...) keeps its runs; name a "
                              f"folder inside it, or leave hydra.run.dir out for a new one there")
        check_unused("hydra.run.dir", output_dir)  # never over an earlier run's record
    except Exception as err:  # Hydra's and OmegaConf's errors too: one line, as the CLI says
        raise ConfigError(one_line(err)) from None
    finally:
        GlobalHydra.instance().clear()
    (output_dir / ".hydra").mkdir(parents=True, exist_ok=True)
    OmegaConf.save(callbacks.task_config(cfg), output_dir / ".hydra" / "config.yaml")
    OmegaConf.save(OmegaConf.create(words), output_dir / ".hydra" / "overrides.yaml")
    record = runner.run_resolved(job, output_dir)
    if record.get("status") == "resumed":  # an ok result of the same job is already there
        return Record.model_validate(read_result(Path(record["reason"].split(" at ", 1)[1])))
    return Record.model_validate(read_result(output_dir / RESULT_FILE))


def _inside(folder: Path, root: str | Path) -> bool:
    """Whether ``folder`` lies below ``root``, links and ``..`` resolved."""
    folder, root = (Path(os.path.realpath(os.path.expanduser(str(p)))) for p in (folder, root))
    return root in folder.parents
