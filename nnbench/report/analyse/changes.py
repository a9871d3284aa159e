"""What differs between two sides of a comparison or of a history step, said in a few words:
``torch 2.13.1 → 2.14.1; threads 2 → 1; host a → b``.

Read only from the records: the ``environment`` every record carries (versions, CPU, BLAS,
threads, host, commit), its ``code_version``, the Python environment it ran in
(``environment_name``: ``environment .venv → .venv-numpy-2.4.0; numpy 2.4.6 → 2.4.0``) and its
resolved ``config``. A value is named
when the set of values on one side differs from the set on the other; a side holding several
values shows them all (``numpy 2.3.1/2.4.6``), because a verdict over mixed rounds is a verdict
about the mix. Settings that tell jobs of one sweep apart without changing what runs (the
round, the output folder, the experiment's name) are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from nnbench.results.read import ReadRecord, as_records

# Configuration entries that differ between any two sweeps without changing what ran; and
# bench.python, whose environment and versions are named above it.
IGNORED_CONFIG = {"experiment_name", "runs_dir", "bench.round", "bench.rounds",
                  "bench.max_rounds", "bench.target_ci", "bench.resume", "bench.python"}


def _blas(rec: ReadRecord) -> str | None:
    libraries = rec.env("blas")
    if not isinstance(libraries, list) or not libraries:
        return None
    return ", ".join(sorted({f"{b.get('internal_api')} {b.get('version')}"
                             for b in libraries if isinstance(b, dict)})) or None


# name shown -> how a record says it; the order is the order of the sentence
FIELDS: list[tuple[str, Callable[[ReadRecord], object]]] = [
    ("code", lambda r: r.code_version),
    ("commit", lambda r: r.env("git_commit")),
    ("environment", lambda r: r.environment_name),
    ("python", lambda r: r.env("python")),
    ("numpy", lambda r: r.env("numpy")),
    ("torch", lambda r: r.env("torch")),
    ("nnbench", lambda r: r.env("nnbench")),
    ("BLAS", _blas),
    ("threads", lambda r: r.threads if r.threads is not None else r.env("threads")),
    ("torch threads", lambda r: r.env("torch_threads")),
    ("CPU", lambda r: r.env("cpu_model")),
    ("GPU", lambda r: r.gpu.get("name")),
    ("host", lambda r: r.env("hostname")),
]


def _flat(config: object, prefix: str = "") -> dict[str, str]:
    if not isinstance(config, dict):
        return {prefix: str(config)} if prefix else {}
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(_flat(value, name))
        else:
            out[name] = "null" if value is None else str(value)
    return out


def _values(records: Iterable[ReadRecord], read: Callable[[ReadRecord], object]) -> list[str]:
    return sorted({str(v) for r in records if (v := read(r)) is not None})


def short(value: str) -> str:
    """A commit's first 10 hex digits say enough (``abc...-dirty-<hash>`` keeps its tail)."""
    head, sep, tail = value.partition("-")
    if len(head) == 40 and all(c in "0123456789abcdef" for c in head):
        return head[:10] + sep + tail
    return value


def changes(before: list[ReadRecord], after: list[ReadRecord]) -> list[str]:
    """Each difference between the records ``before`` and ``after``, as ``name a → b``:
    environment and code first, then configuration entries that are one value on each side."""
    before, after, out = as_records(before), as_records(after), []
    for name, read in FIELDS:
        a, b = _values(before, read), _values(after, read)
        if a != b:
            out.append(f"{name} {'/'.join(map(short, a)) or '?'} → "
                       f"{'/'.join(map(short, b)) or '?'}")
    configs = [[_flat(r.config) for r in side] for side in (before, after)]
    if all(configs):
        keys = sorted(set().union(*configs[0], *configs[1]) - IGNORED_CONFIG)
        for key in keys:
            a = {c.get(key, "absent") for c in configs[0]}
            b = {c.get(key, "absent") for c in configs[1]}
            if len(a) == 1 and len(b) == 1 and a != b:
                out.append(f"{key} {a.pop()} → {b.pop()}")
    return out


def said(before: list[ReadRecord], after: list[ReadRecord]) -> str:
    """``changes`` in one line; "nothing recorded" when the records tell no difference."""
    return "; ".join(changes(before, after)) or "nothing recorded"
