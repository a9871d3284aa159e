"""Hydra and OmegaConf errors turned into one line that names the key and what is allowed."""

from __future__ import annotations

import re
from pathlib import Path

from nnbench.errors import ConfigError

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def one_line(err: BaseException) -> str:
    if isinstance(err, ConfigError):
        return str(err)
    if isinstance(getattr(err, "error", None), ConfigError):  # nnbench.cli.check.Refused
        return str(err.error)  # type: ignore[attr-defined]
    text = str(err)
    missing = re.search(r"Could not find '([\w/]+)/([^']+)'", text)
    if missing:
        group, option = missing.groups()
        return f"{group}={option} is not an option; allowed: {', '.join(_options(group))}"
    not_in_struct = re.search(r"Could not override '([^']+)'", text) or re.search(
        r"Key '([^']+)' not in '(\w+)'", text
    )
    if not_in_struct:
        key = not_in_struct.group(1)
        return (
            f"{key} is not a configuration key; `python -m nnbench --cfg job` lists the keys "
            f"(append a new one with +{key}=...)"
        )
    cause = err.__cause__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if cause is not None and str(cause).strip():
        lines = [ln.strip() for ln in str(cause).splitlines() if ln.strip()] or lines
    full_key = re.search(r"full_key: (\S+)", str(cause) if cause else text)
    head = lines[0] if lines else type(err).__name__
    return f"{full_key.group(1)}: {head}" if full_key and full_key.group(1) not in head else head
