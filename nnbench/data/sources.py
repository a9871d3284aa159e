"""The digests of the files a dataset is read from: the data part of a job's identity
(``nnbench.data.source``) for datasets made from files.

Two jobs measured the same data only where these agree, and a decoded cache is only the data
it was decoded from: ``idx_images`` keys its cache by the same digest, so that files changed in
place (a label byte permuted, a file truncated) are decoded again, and checked, instead of
served from a cache of the old ones.

Hashing Fashion-MNIST's four files (55 MB) takes ~0.07 s with SHA-256 on the 2-core VM, as
much as a third of a cached load (0.16-0.7 s), in every job. A file's digest is therefore
remembered beside the cache (``DIGESTS``), per path, device, inode, size, modification and
change time, and trusted only where the file had not changed for ``SETTLED_NS`` before it was
hashed: a file written again within the clock's resolution of an earlier hash (same size, same
times) could otherwise keep its old digest, the "racily clean" case git guards against the same
way. Where the memo cannot be read or written the files are hashed again: a memo is a
convenience, never a reason to warn or fail.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from nnbench.files import write_text

DIGESTS = "source-digests.json"  # the memo's name, in the dataset's cache folder
SETTLED_NS = 2_000_000_000  # a file changed this close before its hash is hashed again


def _stamp(stat: os.stat_result) -> str:
    return f"{stat.st_dev}:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}"


def _hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _read_memo(memo: Path | None) -> dict[str, Any]:
    if memo is None:
        return {}
    try:
        entries = json.loads(memo.read_text())
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def file_digests(paths: list[Path], memo: Path | None = None) -> dict[Path, str]:
    """The SHA-256 of each file's bytes, remembered in ``memo`` (a JSON file) where its stat
    shows the file unchanged since a hash that came well after its last change."""
    entries = _read_memo(memo)
    out, changed = {}, False
    for path in paths:
        stat = path.stat()
        key, entry = str(path.resolve()), entries.get(str(path.resolve()))
        if isinstance(entry, dict) and entry.get("stamp") == _stamp(stat) \
                and isinstance(entry.get("sha256"), str):
            out[path] = entry["sha256"]
            continue
        hashed_at = time.time_ns()
        out[path] = _hash(path)
        if max(stat.st_mtime_ns, stat.st_ctime_ns) < hashed_at - SETTLED_NS:
            entries[key] = {"stamp": _stamp(stat), "sha256": out[path]}
            changed = True
    if memo is not None and changed:
        try:
            memo.parent.mkdir(parents=True, exist_ok=True)
            write_text(memo, json.dumps(entries, indent=1) + "\n")
        except OSError:
            pass  # a read-only data_dir: hashed again next time
    return out


def files(paths: list[Path], memo: Path | None = None) -> dict[str, Any]:
    """What a dataset read from ``paths`` is made of, for ``nnbench.data.source``: each file
    by name with its size and the SHA-256 of its bytes. Their folder is left out: the same
    files elsewhere are the same data."""
    digests = file_digests(paths, memo)
    return {"files": {p.name: {"bytes": p.stat().st_size, "sha256": digests[p]} for p in paths}}
