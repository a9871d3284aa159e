"""What a result is a measurement of: its configuration, code, data and environment.

Every record carries the four parts (``identity`` in the record), each a digest with its
human-readable content beside it, and every consumer that pools, compares, gates or resumes
records asks this module, never its own list of keys (asv keys results by machine, environment
and commit; pyperf refuses to compare benchmarks whose metadata differ):

- *configuration*: every resolved key that can change what is measured. Keys that cannot
  (where outputs go, whether to resume, which round) are declared beside each key in the
  schema (``nnbench.schema``, a dataset's ``Config``) with ``not_measured``, and nowhere
  else. Its ``setting`` digest leaves out the framework: what two frameworks are compared on.
- *code*: the code the job's process imported: the commit, plus a digest of the package files
  that differ from it (``conf/`` is configuration, already in the first part) and of a trainer
  module outside the checkout. Taken once per process, when it starts using the code; a warm
  process whose files changed since then serves no more jobs (``nnbench.runner.warm``).
- *data*: a digest of the files the arrays came from, or of the generator and its parameters
  (``nnbench.data.source``); every derived cache is keyed by it.
- *environment*: the interpreter's version, every installed distribution's version, the BLAS
  NumPy calls (and the variables that pick its kernel) and the host. Not its path: two venvs
  that hold the same versions measure the same thing.

``job_key`` (what ``bench.resume`` matches) is the four digests and the job's round.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nnbench.measure.environment import checkout, cpu_model, git
from nnbench.measure.lock import installed_versions
from nnbench.schema import MEASURED, NNBenchConfig

# Variables that choose which BLAS kernel runs (OpenBLAS picks its core type at load time).
BLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_VERBOSE", "MKL_CBWR",
                  "MKL_ENABLE_INSTRUCTIONS", "MKL_DEBUG_CPU_TYPE", "NPY_DISABLE_CPU_FEATURES")


def digest(content: Any, length: int = 16) -> str:
    """Hex sha256 of ``content`` as sorted JSON: the same content, the same digest."""
    text = json.dumps(content, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def unmeasured(schema: type, prefix: str = "") -> set[str]:
    """The dotted keys of ``schema`` (a dataclass) declared ``not_measured``, its sections'
    included."""
    out: set[str] = set()
    for f in dataclasses.fields(schema):
        key = f"{prefix}{f.name}"
        if f.metadata.get(MEASURED) is False:
            out.add(key)
        elif isinstance(f.default_factory, type) and dataclasses.is_dataclass(f.default_factory):
            out |= unmeasured(f.default_factory, f"{key}.")
    return out


def flatten(tree: Mapping, prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 0.5}}`` -> ``{"train.lr": 0.5}``; lists stay values."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def configuration(config: Mapping, dataset_schema: type | None = None) -> dict[str, Any]:
    """The configuration part: ``{"digest", "setting", "content"}``; ``content`` is the flat
    measured keys, ``setting`` the digest of those less the framework's."""
    skip = unmeasured(NNBenchConfig)
    if dataset_schema is not None:
        skip |= unmeasured(dataset_schema, "dataset.")
    content = {k: v for k, v in flatten(config).items() if k not in skip}
    setting = {k: v for k, v in content.items() if not k.startswith("framework.")}
    return {"digest": digest(content), "setting": digest(setting), "content": content}


# ---- code ------------------------------------------------------------------------------------

# What the code part covers in a checkout: the package and its Hydra plugins (the sweeper and
# launchers that ran the job). conf/ is configuration: what it composes is the first part.
COVERED = ("nnbench", "hydra_plugins")


def _changed(root: Path, paths: list[str]) -> list[str]:
    """The files under ``paths`` that differ from HEAD (edited, staged, new, deleted)."""
    out = git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *paths)
    entries, files = out.split("\0"), []
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) > 3:
            files.append(entry[3:])
            if entry[0] in "RC":  # a rename names its origin next; the origin changed too
                files.append(entries[i])
                i += 1
    # bytecode is Python's cache of the sources, not code of its own (where no .gitignore says so)
    return sorted({f for f in files if "__pycache__/" not in f and not f.endswith(".pyc")})


def _file_digest(files: list[Path], names: list[str]) -> str:
    """sha256 over each file's name and content (a deleted file: its name alone), 12 hex."""
    h = hashlib.sha256()
    for path, name in zip(files, names, strict=True):
        h.update(name.encode() + b"\0")
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(b"\0<absent>")
        h.update(b"\0")
    return h.hexdigest()[:12]


def _version(source: Path | None) -> tuple[str, list[str]]:
    """(the record's ``code_version``, the changed files it covers).

    In a git checkout: the commit when nothing under ``COVERED`` (nor the trainer's module,
    when it lies elsewhere in the checkout) differs from it, else
    ``<commit>-dirty-<12 hex over the changed files' names and contents>``; an edit that is
    undone gives the commit again, and an edit outside those (docs, tests, conf) changes
    nothing. A trainer defined outside the checkout adds ``+<file name>:<hash>``. Outside a
    checkout (or where git cannot run): ``nnbench <version>+<hash>`` over the package's
    source files. Cost: one ``git status`` over those paths, ~3 ms, once per process."""
    from importlib import metadata

    root = checkout()
    outside = source is not None and (root is None or not source.is_relative_to(root))
    suffix = f"+{source.name}:{_file_digest([source], [source.name])}" if outside else ""
    if root is not None:
        paths = list(COVERED)
        if source is not None and not outside:
            mine = str(source.relative_to(root))
            paths += [] if mine.split("/", 1)[0] in COVERED else [mine]
        try:
            commit = git(root, "rev-parse", "HEAD").strip()
            changed = _changed(root, paths)
        except (OSError, subprocess.SubprocessError):  # no git here: as outside a checkout
            pass
        else:
            if not changed:
                return commit + suffix, []
            return (f"{commit}-dirty-{_file_digest([root / c for c in changed], changed)}"
                    f"{suffix}", changed)
    package = Path(__file__).resolve().parent
    files = sorted(package.rglob("*.py"))
    try:
        installed = metadata.version("nnbench")
    except metadata.PackageNotFoundError:
        installed = "unknown"
    hashed = _file_digest(files, [str(f.relative_to(package)) for f in files])
    return f"nnbench {installed}+{hashed}{suffix}", []


def _sources(extra: Path | None) -> list[Path]:
    root = Path(__file__).resolve().parents[1]
    files = [p for part in COVERED for p in sorted((root / part).rglob("*.py"))]
    return files + ([extra] if extra is not None else [])


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class _Stamp:
    """The (mtime, size) of every source file when this process first used its code."""

    def __init__(self) -> None:
        self.files: dict[Path, tuple[int, int] | None] = {}

    def take(self, extra: Path | None) -> None:
        for path in _sources(extra):
            self.files.setdefault(path, _stat(path))

    def changed(self) -> list[str]:
        root = Path(__file__).resolve().parents[1]
        added = [p for p in _sources(None) if p not in self.files]
        moved = [p for p, was in self.files.items() if _stat(p) != was]
        return sorted(str(p.relative_to(root)) if p.is_relative_to(root) else str(p)
                      for p in [*moved, *added])


_stamp = _Stamp()


@functools.cache  # once per process and trainer: the code it imported does not change
def code(trainer_file: str | None = None, runs: tuple[str, ...] = ()) -> dict[str, Any]:
    """The code part for a job whose trainer is defined in ``trainer_file`` and runs the files
    ``runs`` beyond it (``Trainer.code_files``: your network's, framework=mine):
    ``{"digest", "version", "files"}``; ``version`` is the record's ``code_version``, each file
    of ``runs`` adding ``+<file name>:<hash>`` wherever it lies (tests/ or your home are no
    part of the checkout's digest), ``files`` those that differ from its commit."""
    source = Path(trainer_file) if trainer_file else None
    root = checkout()
    outside = source is not None and (root is None or not source.is_relative_to(root))
    _stamp.take(source if outside else None)  # before reading them: an edit after is seen
    for path in map(Path, runs):
        _stamp.take(path)  # an edit of yours makes the warm process stale, as of nnbench's
    version, changed = _version(source)
    version += "".join(f"+{p.name}:{_file_digest([p], [p.name])}" for p in map(Path, runs))
    return {"digest": digest(version), "version": version, "files": changed}


def stale() -> list[str]:
    """The source files changed since this process took its code part: a process that
    imported the old ones must not run a job recorded as the new."""
    return _stamp.changed() if _stamp.files else []


def trainer_file(trainer: type | None) -> str | None:
    """The module file a trainer class is defined in (None: built in, made at run time)."""
    import inspect

    try:
        return str(Path(inspect.getsourcefile(trainer)).resolve()) if trainer else None
    except (TypeError, OSError):
        return None


# ---- environment -----------------------------------------------------------------------------

def _numpy_blas() -> list[dict]:
    """The BLAS NumPy calls, as threadpoolctl finds it loaded (torch's own is fixed by its
    version, which the distributions cover, and is loaded only in torch's processes)."""
    import numpy
    from threadpoolctl import threadpool_info

    home = str(Path(numpy.__file__).resolve().parents[1])
    return [{k: info.get(k) for k in ("internal_api", "version", "architecture")}
            for info in threadpool_info()
            if info.get("user_api") == "blas" and str(info.get("filepath", "")).startswith(home)]


@functools.cache  # the interpreter and what is installed do not change while it runs
def environment() -> dict[str, Any]:
    """The environment part: ``{"digest", "python", "packages", "distributions", "blas",
    "variables", "host", "cpu", "interpreter"}``; the interpreter's path is content only."""
    installed = installed_versions()
    measured = {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": {k: installed.get(k) for k in ("numpy", "torch", "nnbench")},
        "distributions": digest(sorted(installed.items()), 12),
        "blas": _numpy_blas(),
        "variables": {k: os.environ[k] for k in BLAS_VARIABLES if k in os.environ},
        "host": socket.gethostname(), "cpu": cpu_model(),
    }
    return {"digest": digest(measured), **measured, "interpreter": sys.executable}


# ---- the whole -------------------------------------------------------------------------------

PARTS = ("config", "code", "data", "environment")


def job_key(identity: Mapping[str, Any], round_: int) -> str:
    """What ``bench.resume`` matches: the four parts' digests and the job's round."""
    return digest({**{p: (identity.get(p) or {}).get("digest") for p in PARTS},
                   "round": round_})


def differing(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """The parts whose digests differ between two identities."""
    return [p for p in PARTS if (a.get(p) or {}).get("digest") != (b.get(p) or {}).get("digest")]
