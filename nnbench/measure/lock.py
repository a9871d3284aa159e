"""Whether this environment holds the package versions requirements/lock.txt pins.

``make install`` installs from the lock; a record's figures were measured with the locked
versions only when every pinned package is installed at exactly its pinned version.
"""

from __future__ import annotations

import hashlib
import re
from importlib import metadata
from pathlib import Path

LOCK_FILE = Path(__file__).resolve().parents[2] / "requirements" / "lock.txt"

_PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
_HEADER = re.compile(r"#\s*([a-z]+):\s*(.*\S)")


def canonical_name(name: str) -> str:
    """PEP 503's normal form: ``PyYAML`` and ``typing_extensions`` as pip compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path = LOCK_FILE) -> tuple[dict[str, str], dict[str, str]]:
    """The lock's pins ({name as written: version}) and its header fields (``# key: value``).

    Raises ValueError on a line that is neither a comment nor an exact ``name==version`` pin.
    """
    pins: dict[str, str] = {}
    header: dict[str, str] = {}
    for number, raw in enumerate(Path(path).read_text().splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            field = _HEADER.fullmatch(line)
            if field and not pins:
                header.setdefault(field.group(1), field.group(2))
            continue
        pin = _PIN.fullmatch(line)
        if pin is None:
            raise ValueError(f"{path}:{number}: not an exact name==version pin: {line!r}")
        pins[pin.group(1)] = pin.group(2)
    return pins, header


def installed_versions() -> dict[str, str]:
    """{canonical name: version} of every installed distribution, the first on sys.path winning
    (as ``importlib.metadata.version`` and ``import`` choose)."""
    versions: dict[str, str] = {}
    for dist in metadata.distributions():
        # a wheel's folder is named <name>-<version>.dist-info: read there, not in its METADATA
        # file (parsing ~100 of those cost every job ~0.035 s); other kinds (.egg-info) read it
        folder = getattr(dist, "_path", None)
        name = version = ""
        if folder is not None and folder.name.endswith(".dist-info"):
            name, _, version = folder.name[: -len(".dist-info")].partition("-")
        if not (name and version):
            name, version = dist.metadata["Name"], dist.version
        if name:
            versions.setdefault(canonical_name(name), version)
    return versions


def mismatches(pins: dict[str, str]) -> dict[str, dict[str, str | None]]:
    """The pinned packages not installed at exactly their pinned version:
    {name: {"locked": version, "installed": version or None when missing}}."""
    installed = installed_versions()
    out: dict[str, dict[str, str | None]] = {}
    for name, locked in pins.items():
        have = installed.get(canonical_name(name))
        if have != locked:
            out[name] = {"locked": locked, "installed": have}
    return out


def pins_digest(pins: dict[str, str]) -> str:
    """A short hash of the pins alone (sorted ``name==version`` lines), so two locks that pin the
    same versions share it whatever their header says."""
    text = "\n".join(sorted(f"{canonical_name(n)}=={v}" for n, v in pins.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def lock_status(path: Path = LOCK_FILE) -> dict | None:
    """The record's ``lock`` field: which lock, and whether this environment matches it.

    None when there is no lock file to compare with (nnbench installed from a wheel rather than
    run from a checkout) or it cannot be read.
    """
    try:
        pins, header = read_lock(path)
    except (OSError, ValueError):
        return None
    bad = mismatches(pins)
    return {
        "pins_sha256": pins_digest(pins),
        "n_pins": len(pins),
        "made": header.get("made"),
        "platform": header.get("platform"),
        "matches": not bad,
        "mismatches": bad,
    }
