"""Other Python environments a job may run in (``bench.python``), and how a record names one.

A library upgrade (NumPy 2.4.0 against 2.4.6, a new torch) is measured best in one sweep on one
machine, its jobs interleaved in rounds with those of the current environment, the way asv
compares commits. ``bench.python`` names another environment's interpreter; the job then runs
in a fresh process of that interpreter (``nnbench.runner.elsewhere``), so its record's versions
are that environment's own.

The interpreter is asked once per process, before any job starts, whether it can run a job at
all: that it exists and runs, and that it imports nnbench from this checkout (the code version,
and with it a resumed job's identity, is this checkout's; another checkout is another set of
runs, compared with ``--baseline/--candidate``). What it answers names the environment in the
record: the venv's folder (``.venv-numpy-2.4.0``), else the interpreter's path.

Paths are made absolute but never resolved: a venv's ``bin/python`` is a link to the base
interpreter, and resolving it would leave the venv.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from nnbench.errors import ConfigError, first_meaningful_line

# What the other interpreter says about itself, as one JSON line: where its nnbench is, and its
# facts once the modules a job needs are imported (a missing library fails here, not in a job).
_ASK = """
import json
facts = {}
try:
    import nnbench
    facts["nnbench_dir"] = nnbench.__path__[0]
    import nnbench.runner
    from nnbench.environments import own_facts
    facts.update(own_facts())
except Exception as err:
    facts["error"] = f"{type(err).__name__}: {err}"
print(json.dumps(facts))
"""
# Starting an interpreter and importing nnbench takes well under a second; a minute is a hang.
ASK_TIMEOUT_S = 60
ALLOWED = ("allowed: the path of a Python interpreter whose environment imports this checkout's "
           "nnbench (pip install -e . there, or make env-numpy), or null for this one")
_facts: dict[str, dict] = {}


@functools.cache  # the interpreter and its installed versions do not change while it runs
def own_facts() -> dict:
    """What this interpreter would answer to ``_ASK``."""
    import platform
    from importlib import metadata

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    from nnbench import identity

    return {"executable": sys.executable, "prefix": sys.prefix, "base_prefix": sys.base_prefix,
            "python": platform.python_version(), "numpy": version("numpy"),
            "torch": version("torch"), "nnbench_dir": str(_package_dir()),
            "identity": identity.environment()}


def _package_dir() -> Path:
    return Path(__file__).resolve().parent


def absolute(python: str) -> str:
    """``python`` as an absolute path, its links kept (see the module's docstring)."""
    return os.path.abspath(os.path.expanduser(python))


def i_am(python: str) -> None:
    """In the job's process of another environment: this interpreter is ``python``, so a check
    of the job's config asks no second interpreter."""
    _facts[absolute(python)] = own_facts()


def _refuse(python: str, what: str) -> ConfigError:
    return ConfigError(f"bench.python={python} {what}; {ALLOWED}")


def facts(python: str) -> dict:
    """What the interpreter ``python`` says about itself, asked once per process; a
    ``ConfigError`` in one line when it cannot run a job."""
    path = absolute(python)
    if path in _facts:
        return _facts[path]
    if not os.path.lexists(path):
        raise _refuse(python, "does not exist")
    if os.path.isdir(path):
        raise _refuse(python, "is a folder, not an interpreter")
    if not os.path.exists(path):
        raise _refuse(python, "is a link to nothing")
    if not os.access(path, os.X_OK):
        raise _refuse(python, "is not executable")
    try:  # asked as its job will run: from this folder, with these environment variables
        done = _ask(path)
        answer = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 \
            else None
    except subprocess.TimeoutExpired:
        raise _refuse(python, f"did not answer within {ASK_TIMEOUT_S} s (it was ended, with "
                              f"every process it started)") from None
    except OSError as err:  # not a program this system can run (a text file, another arch)
        raise _refuse(python, f"cannot be run ({err.strerror or err})") from None
    except (ValueError, IndexError):
        answer = None
    if not isinstance(answer, dict):
        raise _refuse(python, f"is not a Python interpreter nnbench can use ({_ended(done)})")
    if "error" in answer:  # an import's text may run to many lines (NumPy's: 26)
        kind, _, message = str(answer["error"]).partition(": ")
        answer["error"] = f"{kind}: {first_meaningful_line(message) or 'no message'}"
    if "nnbench_dir" not in answer:
        raise _refuse(python, f"has no nnbench importable ({answer.get('error')})")
    theirs, ours = Path(answer["nnbench_dir"]).resolve(), _package_dir()
    if theirs != ours:
        raise _refuse(python, f"imports nnbench from {theirs}, not this checkout's {ours}")
    if "error" in answer:
        raise _refuse(python, f"cannot import what a job needs ({answer['error']})")
    _facts[path] = answer
    return answer


def _ask(path: str) -> subprocess.CompletedProcess:
    """The interpreter's answer to ``_ASK``. It runs in a session of its own: on a hang, the
    processes it started (a wrapper script's own children) end with it, not left behind."""
    with subprocess.Popen([path, "-c", _ASK], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, text=True, start_new_session=True) as proc:
        try:
            out, err = proc.communicate(timeout=ASK_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            end_tree(proc.pid)
            proc.communicate()
            raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def end_tree(pid: int) -> None:
    """Kill the process ``pid`` leads, every process under it, and its process group (one that
    left the tree by its parent's death is still in the group)."""
    import psutil

    try:
        top = psutil.Process(pid)
        tree = [top, *top.children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    for process in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(tree, timeout=5)


def _ended(done: subprocess.CompletedProcess) -> str:
    """How an interpreter that gave no answer ended: its exit status and what it said first."""
    status = (f"killed by signal {-done.returncode}" if done.returncode < 0 else
              f"exit status {done.returncode}")
    said = first_meaningful_line(done.stderr) or first_meaningful_line(done.stdout)
    return f"{status}: {said}" if said else f"{status}, and it printed no answer"


def check(python: str | None, isolate: bool, on_this_host: bool = True) -> None:
    """Refuse, before any job starts, a ``bench.python`` that cannot run a job (the interpreter
    is asked only where the job runs on this host: a scheduler's node has its own files)."""
    if python is None:
        return
    if not isolate:
        raise ConfigError(f"bench.python={python} runs each job in a process of that "
                          f"interpreter; bench.isolate=false (in this process) cannot: set "
                          f"bench.isolate=true, or bench.python=null")
    if on_this_host:
        facts(python)


def name(said: dict) -> str:
    """A venv's folder name (``.venv-numpy-2.4.0``), else the interpreter's path."""
    if said.get("prefix") and said.get("prefix") != said.get("base_prefix"):
        return Path(said["prefix"]).name
    return str(said.get("executable"))


def identity(python: str | None) -> dict:
    """The record's ``environment_name`` and ``interpreter`` for a job of ``bench.python``."""
    if python is None:
        known = own_facts()
    else:
        try:  # asked already in this process, unless it is a launcher's worker
            known = facts(python)
        except ConfigError:  # the job's own record says what is wrong with it
            return {"environment_name": None, "interpreter": absolute(python)}
    return {"environment_name": name(known), "interpreter": known.get("executable")}


def environment_part(python: str | None) -> dict | None:
    """The identity's environment part of a job of ``bench.python``, as its interpreter said it
    (None: it was never asked, or could not answer)."""
    if python is None:
        return own_facts()["identity"]
    try:
        return facts(python).get("identity")
    except ConfigError:  # the job's own record says what is wrong with it
        return None


def versions(python: str) -> dict:
    """The versions the interpreter said (python, numpy, torch), for a record its job could not
    write itself; empty when it was never asked."""
    known = _facts.get(absolute(python)) or {}
    return {k: known[k] for k in ("python", "numpy", "torch") if k in known}
