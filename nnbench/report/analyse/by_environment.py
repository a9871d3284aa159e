"""Two Python environments as the two sides of a comparison: ``--baseline-env A --candidate-env B``.

A sweep over ``bench.python`` leaves the records of several environments in one folder, each
naming its own (``environment_name``: the venv's folder, else the interpreter's path). These
options split the records under the folders given (``--baseline``/``--candidate`` where given,
else the report's folders) by environment, and the comparison sets one environment against the
other, configuration by configuration, as it sets two folders against each other; its "what
changed" names the libraries that differ (``numpy 2.4.6 → 2.4.0``). An environment is named by
its ``environment_name`` or by its interpreter's path.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from nnbench.results.collect import Collection
from nnbench.results.read import ReadRecord

FLAGS = ("--baseline-env", "--candidate-env")


class NoSuchEnvironment(ValueError):
    """An environment named that no record under its folders ran in; the message lists those
    that did."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--baseline-env", metavar="ENV",
                        help="compare environments: the records of ENV (its venv folder's "
                             "name, e.g. .venv, or its interpreter's path) are the baseline")
    parser.add_argument("--candidate-env", metavar="ENV",
                        help="with --baseline-env: the records of ENV are the candidate")


def problem(args: argparse.Namespace) -> str | None:
    """What the options cannot take together, in one line."""
    if (args.baseline_env is None) != (args.candidate_env is None):
        return "--baseline-env and --candidate-env go together"
    if args.baseline_env is not None and args.history:
        return "--history and --baseline-env go separately: one history or one comparison"
    if args.baseline_env is not None and (args.baseline is None) != (args.candidate is None):
        return "--baseline and --candidate go together"
    return None


def _is_path(name: str) -> bool:
    return os.sep in name


def _ran_in(record: ReadRecord, name: str) -> bool:
    """A path names an interpreter, and only that one; a bare name a venv's folder."""
    if _is_path(name):
        interpreter = record.interpreter
        return interpreter is not None and interpreter in (name, os.path.abspath(name))
    return record.environment_name == name


def _environment(record: ReadRecord) -> str:
    """One environment, told apart from another of the same name: its interpreter and what
    it held (the identity's environment digest)."""
    digest = record.digest("environment")
    return f"{record.interpreter} ({digest[:8]})" if digest else str(record.interpreter)


def present(collection: Collection) -> str:
    """The environments a set of records ran in, with their counts."""
    counts = Counter(str(r.environment_name or "unnamed (an older record)")
                     for r in collection.records)
    return ", ".join(f"{name} ({n} record{'s' * (n != 1)})" for name, n in sorted(counts.items()))


def only(collection: Collection, name: str) -> Collection:
    """The records of ``collection`` that ran in the environment ``name``."""
    return Collection(records=[r for r in collection.records if _ran_in(r, name)],
                      unreadable=collection.unreadable, invalid=collection.invalid,
                      incomplete=collection.incomplete, digest=collection.digest)


def sides(args: argparse.Namespace,
          read: Callable[[list[Path]], Collection]) -> dict[str, tuple[str, Collection]]:
    """Each side of the comparison: its flag -> (what it names, its records). Two folders
    (``--baseline``, ``--candidate``), each split by environment with ``--baseline-env``."""
    if args.baseline_env is None:
        return {"--baseline": (str(args.baseline), read([args.baseline])),
                "--candidate": (str(args.candidate), read([args.candidate]))}
    read_once: dict[tuple, Collection] = {}
    out = {}
    for flag, folder, name in zip(FLAGS, (args.baseline, args.candidate),
                                  (args.baseline_env, args.candidate_env), strict=True):
        folders = [folder] if folder is not None else list(args.run_dirs)
        where = ", ".join(map(str, folders))
        if tuple(folders) not in read_once:
            read_once[tuple(folders)] = read(folders)
        collection = read_once[tuple(folders)]
        mine = only(collection, name)
        if not mine.records:
            raise NoSuchEnvironment(f"{flag} {name}: no record ran in that environment under "
                                    f"{where}; records there: {present(collection) or 'none'}")
        several = sorted({_environment(r) for r in mine.records})
        if len(several) > 1:
            raise NoSuchEnvironment(f"{flag} {name} names {len(several)} environments under "
                                    f"{where} ({', '.join(several)}); name one by its "
                                    f"interpreter's path")
        out[flag] = (f"{name} in {where}", mine)
    base, cand = (set(map(id, out[flag][1].records)) for flag in FLAGS)
    if base & cand:
        raise NoSuchEnvironment(f"{FLAGS[0]} {args.baseline_env} and {FLAGS[1]} "
                                f"{args.candidate_env} name the same environment's records "
                                f"({len(base & cand)}): name two environments")
    return out


def hint(collection: Collection) -> str | None:
    """For a report whose records ran in several environments: which, and how to compare them."""
    names = sorted({str(r.environment_name) for r in collection.records
                    if r.status == "ok" and r.environment_name})
    if len(names) < 2:
        return None
    return (f"environments: {present(collection)}; compare two with --baseline-env "
            f"{names[0]} --candidate-env {names[1]}")
