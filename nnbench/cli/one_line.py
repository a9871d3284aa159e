"""Hydra, OmegaConf and YAML errors turned into one line that names the file and line, the full
key, and what is allowed."""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

import yaml

from nnbench.config import SECTIONS, TOP_LEVEL, keys_of, unknown_key
from nnbench.errors import ConfigError, value_line
from nnbench.paths import shown_path

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def _overrides() -> list[str]:
    """The command line's overrides (``key=value`` words; flags such as ``-m`` are not)."""
    return [a for a in sys.argv[1:] if "=" in a and not a.startswith("-")]


def search_dirs() -> list[Path]:
    """Folders config files come from: conf/, then the command line's hydra.searchpath."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    dirs = [CONF_DIR]
    for text in _overrides():
        if not text.startswith("hydra.searchpath="):
            continue
        try:
            paths = OverridesParser.create().parse_override(text).value()
        except Exception:  # an unparsable search path: only conf/ is searched
            continue
        for entry in paths if isinstance(paths, list) else []:
            entry = str(entry)
            if not entry.startswith("pkg://"):
                dirs.append(Path(entry.removeprefix("file://")))
    return dirs


def _options(group: str) -> list[str]:
    names = {p.stem for folder in search_dirs() for p in (folder / group).glob("*.yaml")}
    try:  # options registered in Hydra's ConfigStore (hydra/launcher=joblib, ...)
        from hydra.core.config_store import ConfigStore

        names |= {n.removesuffix(".yaml") for n in ConfigStore.instance().list(group)}
    except Exception:  # no such group in the store
        pass
    return sorted(names)


def config_file(config_path: str) -> Path | None:
    """The file Hydra read for ``config_path`` (``experiment/foo``), the first on the search
    path, as Hydra searches."""
    for folder in search_dirs():
        path = folder / f"{config_path}.yaml"
        if path.is_file():
            return path
    return None


def shown(path: str | Path) -> str:
    """A path as the user would type it: relative to the current folder when inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def key_line(path: Path, full_key: str) -> int | None:
    """The line (from 1) of ``full_key`` in a YAML file. A file in a group is placed at its
    package (train/*.yaml at train), so the key's trailing parts are tried too."""
    try:
        root = yaml.compose(path.read_text())
    except (OSError, yaml.YAMLError):
        return None
    parts = full_key.split(".")
    for start in range(len(parts)):
        node, line = root, None
        for part in parts[start:]:
            if not isinstance(node, yaml.MappingNode):
                break
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        else:
            return line
    return None


def _chosen_keys(section: str, key: str) -> str:
    """What a dataset or framework key can be: each option declares its own keys."""
    from nnbench import data
    from nnbench.frameworks.base import load
    from nnbench.job import FRAMEWORK_KEYS

    schemas = {}
    for name in _options(section):
        try:
            cfg = yaml.safe_load((CONF_DIR / section / f"{name}.yaml").read_text())
            if section == "dataset":
                keys = [f.name for f in dataclasses.fields(data.module_of(cfg).Config)]
            else:
                options = load(str(cfg["_target_"])).Options
                keys = [*FRAMEWORK_KEYS, *(f.name for f in dataclasses.fields(options))]
            schemas[name] = keys
        except Exception:  # an option that cannot be loaded says nothing here
            continue
    having = [name for name, keys in schemas.items() if key in keys]
    if having:
        return (f"{section}.{key} is not a configuration key of the chosen {section}; only "
                f"{section}={', '.join(having)} {'has' if len(having) == 1 else 'have'} it")
    every = sorted({k for keys in schemas.values() for k in keys})
    return (f"{section}.{key} is not a configuration key of any {section}; their keys: "
            f"{', '.join(every)}")


def _launcher_keys() -> tuple[str, list[str]]:
    """The launcher the command line chooses (hydra/launcher=NAME; basic by default) and its
    keys: those of its YAML in conf/ and of the configs it builds on, or of Hydra's store."""
    from hydra.core.config_store import ConfigStore

    chosen = next((o.split("=", 1)[1] for o in _overrides()
                   if o.lstrip("+").startswith("hydra/launcher=")), "basic")
    keys: set[str] = set()
    names = [chosen]
    while names:
        name = names.pop()
        path = config_file(f"hydra/launcher/{name}")
        try:
            if path is not None:
                node = yaml.safe_load(path.read_text()) or {}
                names += [d for d in node.get("defaults", []) if isinstance(d, str)
                          and d != "_self_"]
            else:
                node = ConfigStore.instance().load(f"hydra/launcher/{name}.yaml").node
        except Exception:  # an option that cannot be read adds no keys
            continue
        keys |= {str(k) for k in node if k not in ("defaults", "_target_")}
    return chosen, sorted(keys)


def not_a_key(full_key: str) -> str:
    """The one line for a key the configuration lacks, with the keys its section has."""
    section, _, key = full_key.partition(".")
    if section == "hydra" and key.startswith("launcher.") and key.count(".") == 1:
        chosen, keys = _launcher_keys()
        return (f"{full_key} is not a setting of hydra/launcher={chosen}; "
                + (f"its settings: {', '.join(keys)}" if keys else "it has none"))
    if section == "hydra":
        return (f"{full_key} is not a key of Hydra's configuration; `python -m nnbench --cfg "
                f"hydra` lists them")
    if not key and section not in TOP_LEVEL and _options(section):
        return (f"{section} is a config group the defaults do not choose; add one with "
                f"+{section}=NAME, NAME one of {', '.join(_options(section))}")
    if not key or section not in TOP_LEVEL:
        return str(unknown_key(full_key, "the configuration", TOP_LEVEL))
    if section in SECTIONS:
        return str(unknown_key(full_key, section, keys_of(SECTIONS[section])))
    if section in ("dataset", "framework") and "." not in key:
        return _chosen_keys(section, key)
    return f"{full_key} is not a configuration key; `python -m nnbench --cfg job` lists the keys"


def _yaml_error(err: BaseException) -> yaml.MarkedYAMLError | None:
    seen = 0
    while err is not None and seen < 10:
        if isinstance(err, yaml.MarkedYAMLError):
            return err
        err = err.__cause__ or err.__context__  # type: ignore[assignment]
        seen += 1
    return None


def yaml_line(err: yaml.MarkedYAMLError) -> str:
    """``file:line: problem (context)`` for a YAML syntax error."""
    mark = err.problem_mark or err.context_mark
    where = f"{shown(mark.name)}:{mark.line + 1}: " if mark is not None else ""
    problem = err.problem or err.context or "YAML syntax error"
    context = ""
    if err.context and err.problem:
        at = err.context_mark
        context = f" ({err.context}" + (f" that starts at line {at.line + 1}" if at else "") + ")"
    return f"{where}{problem}{context}"


def one_line(err: BaseException) -> str:
    """Any error before or between jobs as one line naming what is wrong and what is allowed:
    ours as raised, a YAML file's with its line, Hydra's and OmegaConf's read from their text."""
    if isinstance(err, ConfigError):
        return str(err)
    if isinstance(getattr(err, "error", None), ConfigError):  # nnbench.hydra.callbacks.Refused
        return str(err.error)  # type: ignore[attr-defined]
    if isinstance(err, OSError) and err.strerror:  # Hydra writing a job's folder, say
        return f"{err.strerror}{f': {shown_path(err.filename)}' if err.filename else ''}"
    syntax = _yaml_error(err)
    if syntax is not None:
        return yaml_line(syntax)
    return _composition_line(err, str(err)) or _key_or_value_line(err, str(err))


def _composition_line(err: BaseException, text: str) -> str | None:
    """Hydra's errors about the command line and the config groups, or None."""
    if text.startswith("Only one of --run, --multirun, --cfg"):  # -m with --cfg, --info, ...
        return ("-m (a sweep) and --cfg, --info or --shell-completion do not go together: "
                "--cfg job shows one job's configuration; drop -m and give each key one value "
                "(python -m nnbench --cfg job framework=torch)")
    # a ConfigError from a resolver (nnbench.paths checks runs_dir as Hydra names the folder)
    resolver = re.search(r"ConfigError raised while resolving interpolation: (.+)", text)
    if resolver:
        return resolver.group(1)
    override = getattr(err, "override", None)  # hydra.errors.OverrideParseException
    if override is not None and not str(override).isascii():
        return (f"{override} is not an override Hydra can read: an unquoted value is ASCII "
                f"only; quote any other: key='value'")
    if override is not None:
        cause = err.__cause__
        reason = str(cause or text).strip().splitlines()[0]
        return (f"{override} is not an override Hydra can read ({reason}); quote a value with "
                f"spaces or symbols: key='value'")
    missing = re.search(r"Could not (?:find|load) '([\w/]+)/([^']*)'", text)
    if missing:
        group, option = missing.groups()
        return f"{group}={option} is not an option; allowed: {', '.join(_options(group))}"
    twice = re.match(r"Multiple values for ([\w/]+)\. To override a value use 'override "
                     r"[\w/]+: ([^']*)'", text)
    if twice:
        group, option = twice.groups()
        return (f"+{group}={option}: the configuration already has {group}, + adds one it "
                f"lacks; choose it with {group}={option}")
    return None


def _key_or_value_line(err: BaseException, text: str) -> str:
    """A key the config lacks, or a value it refuses, with the file and line it came from."""
    # the error it was raised from, or during; not one its raiser hid (raise ... from None)
    cause = err.__cause__ or (None if err.__suppress_context__ else err.__context__)
    full_key = getattr(cause, "full_key", None) or getattr(err, "full_key", None)
    if not full_key:
        found = re.search(r"full_key: (\S+)", text)
        full_key = found.group(1) if found else None
    in_file = re.match(r"In '([^']+)': ", text)
    lacking = re.search(r"Could not override '([^']+)'", text) or re.search(
        r"Key '([^']+)' (?:not in|is not in struct)", str(cause) if cause else text)
    if lacking and "Could not override" in lacking.group(0):
        line = not_a_key(lacking.group(1))  # the key as the command line wrote it
    elif lacking and full_key:
        line = not_a_key(full_key)
    else:
        lines = [ln.strip() for ln in (str(cause) if cause and str(cause).strip() else
                                       text).splitlines() if ln.strip()]
        if in_file and not cause and len(lines) > 1:
            lines = lines[1:]  # past "In 'experiment/x': ... raised while composing config:"
        head = lines[0] if lines else type(err).__name__
        line = value_line(full_key, head)
    if in_file:
        path = config_file(in_file.group(1))
        if path is None:
            return f"{in_file.group(1)}: {line}"
        at = key_line(path, full_key) if full_key else None
        return f"{shown(path)}{f':{at}' if at else ''}: {line}"
    return line
