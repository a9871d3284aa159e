"""Each config file read once per command, however many times Hydra composes the config.

Hydra reads and parses the YAML files of the config tree anew for every composition: its file
cache (``CachingConfigRepository``) lives for one composition. A command composes many times:
twice before a sweep starts, then once per job (``nnbench.hydra.sweeper`` checks every job
first). ``read_config_files_once`` keeps what each file parsed into for the whole process and
hands every composition a copy of its own: Hydra composes by linking the loaded nodes into the
result and then applies the overrides to it, so a file's config must not be shared between two
compositions. A copy costs less than parsing the YAML again (~0.011 s of a ~0.07 s
composition). Only for a process whose config files do not change while it runs: the command
line's, not a notebook's (``nnbench.run`` composes afresh each call).
"""

from __future__ import annotations

import copy
from typing import Any

from hydra._internal.config_loader_impl import ConfigLoaderImpl

_PARSED: dict[tuple, Any] = {}  # (search path, config path) -> the file's ConfigResult, unused
_MAKE_REPO = ConfigLoaderImpl._parse_overrides_and_create_caching_repo


def _with_parsed_files(self: ConfigLoaderImpl, config_name: Any, overrides: list[str]) -> Any:
    parsed, repo = _MAKE_REPO(self, config_name, overrides)
    sources = tuple((source.provider, source.path) for source in repo.get_sources())
    read = repo.delegate.load_config

    def load_config(config_path: str) -> Any:
        key = (sources, config_path)
        if key not in _PARSED:
            _PARSED[key] = read(config_path)
        return copy.deepcopy(_PARSED[key])

    repo.delegate.load_config = load_config
    return parsed, repo


def read_config_files_once() -> None:
    """From now on, this process's compositions parse each config file once (idempotent)."""
    ConfigLoaderImpl._parse_overrides_and_create_caching_repo = _with_parsed_files
