"""What a framework whose library is slow to import needs before it imports it: a module that
loads on first use, and whether this host has an NVIDIA driver at all."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any


class LazyModule:
    """A module imported on first attribute access.

    A framework whose library is slow to import (torch: over a second) declares its trainer
    with this, so that a sweep's process can resolve its jobs and decide their skips without
    paying for the import; the worker that runs the job pays it (or the warm process it is
    forked from, see ``Trainer.preload``).
    """

    def __init__(self, name: str):
        self._name = name
        self._module: Any = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)


def nvidia_driver() -> str | None:
    """None when this host has an NVIDIA driver loaded, else why not: a check that costs
    microseconds, before any CUDA library is imported to ask the same question."""
    if Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidiactl").exists():
        return None
    return "no NVIDIA driver is loaded on this host (no /proc/driver/nvidia, no /dev/nvidiactl)"
