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

# Configuration entries that differ between any two sweeps without changing what ran; and
# bench.python, whose environment and versions are named above it.
IGNORED_CONFIG = {"experiment_name", "runs_dir", "bench.round", "bench.rounds",
                  "bench.max_rounds", "bench.target_ci", "bench.resume", "bench.python"}


def _env(rec: dict) -> dict:
    env = rec.get("environment")
    return env if isinstance(env, dict) else {}


def _blas(rec: dict) -> str | None:
    libraries = _env(rec).get("blas")
    if not isinstance(libraries, list) or not libraries:
        return None
    return ", ".join(sorted({f"{b.get('internal_api')} {b.get('version')}"
                             for b in libraries if isinstance(b, dict)})) or None


def _gpu(rec: dict) -> str | None:
    gpu = _env(rec).get("gpu")
    return gpu.get("name") if isinstance(gpu, dict) else None


# name shown -> how a record says it; the order is the order of the sentence
FIELDS: list[tuple[str, Callable[[dict], object]]] = [
    ("code", lambda r: r.get("code_version")),
    ("commit", lambda r: _env(r).get("git_commit")),
    ("environment", lambda r: r.get("environment_name")),
    ("python", lambda r: _env(r).get("python")),
    ("numpy", lambda r: _env(r).get("numpy")),
    ("torch", lambda r: _env(r).get("torch")),
    ("nnbench", lambda r: _env(r).get("nnbench")),
    ("BLAS", _blas),
    ("threads", lambda r: r.get("threads") if r.get("threads") is not None
     else _env(r).get("threads")),
    ("torch threads", lambda r: _env(r).get("torch_threads")),
    ("CPU", lambda r: _env(r).get("cpu_model")),
    ("GPU", _gpu),
    ("host", lambda r: _env(r).get("hostname")),
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


def _values(records: Iterable[dict], read: Callable[[dict], object]) -> list[str]:
    return sorted({str(v) for r in records if (v := read(r)) is not None})


def short(value: str) -> str:
    """A commit's first 10 hex digits say enough (``abc...-dirty-<hash>`` keeps its tail)."""
    head, sep, tail = value.partition("-")
    if len(head) == 40 and all(c in "0123456789abcdef" for c in head):
        return head[:10] + sep + tail
    return value


def changes(before: list[dict], after: list[dict]) -> list[str]:
    """Each difference between the records ``before`` and ``after``, as ``name a → b``:
    environment and code first, then configuration entries that are one value on each side."""
    out = []
    for name, read in FIELDS:
        a, b = _values(before, read), _values(after, read)
        if a != b:
            out.append(f"{name} {'/'.join(map(short, a)) or '?'} → "
                       f"{'/'.join(map(short, b)) or '?'}")
    configs = [[_flat(r.get("config")) for r in side] for side in (before, after)]
    if all(configs):
        keys = sorted(set().union(*configs[0], *configs[1]) - IGNORED_CONFIG)
        for key in keys:
            a = {c.get(key, "absent") for c in configs[0]}
            b = {c.get(key, "absent") for c in configs[1]}
            if len(a) == 1 and len(b) == 1 and a != b:
                out.append(f"{key} {a.pop()} → {b.pop()}")
    return out


def said(before: list[dict], after: list[dict]) -> str:
    """``changes`` in one line; "nothing recorded" when the records tell no difference."""
    return "; ".join(changes(before, after)) or "nothing recorded"
