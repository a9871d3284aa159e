"""The lines a sweep ends with: per configuration, the NumPy/torch ratio with its interval.

Read from the sweep's records (wherever its jobs ran), pooled over rounds as the report pools
them (``nnbench.report.pooling``): a user sees at the end of ``python -m nnbench -m ...`` what
the report would say, without making it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nnbench.report.labels import CONFIG_KEYS, key_text
from nnbench.stats import format_seconds, robust

METRIC = "train_time_per_epoch_s"


def _label(rec: dict, environment: str = "") -> str:
    """The configuration in a few words, with its variant (the keys that tell it from its
    namesakes) and ``environment``: where a sweep ran several (``bench.python``)."""
    batch = rec.get("batch_size")
    parts = [rec.get("dataset"), rec.get("arch"), rec.get("precision"),
             f"batch {batch}" if batch else "full batch", rec.get("variant"), rec.get("device")]
    return " ".join(str(p) for p in parts if p) + (f" in {environment}" if environment else "")


def _part(rec: dict, name: str) -> str | None:
    return ((rec.get("identity") or {}).get(name) or {}).get("digest")


def _group(rec: dict) -> tuple:
    """What records must share to be rounds of one configuration, or two frameworks compared
    on it: the identity's setting, data and environment (the code is checked per pair, so that
    a mixture is said, not dropped); an older record without one, its names."""
    setting = ((rec.get("identity") or {}).get("config") or {}).get("setting")
    if setting is None:
        return ("names", *(str(rec.get(k)) for k in [*CONFIG_KEYS, "device"]),
                str(rec.get("environment_name")))
    return (setting, _part(rec, "data"), _part(rec, "environment") or rec.get("environment_name"))


def _package_code(version: object) -> str:
    """The package's code in a ``code_version`` (a trainer outside the checkout adds its own
    after a +, by design different for each framework)."""
    return str(version).split("+", 1)[0]


def _mixture(by_framework: dict[str, list[dict]], pair: tuple[str, str]) -> str | None:
    """What a ratio's records do not share, in words, or None: one framework's rounds ran
    several code versions (they cannot pool), or the two ran different code."""
    codes = {f: sorted({str(r.get("code_version")) for r in by_framework[f]}) for f in pair}
    for framework, versions in codes.items():
        if len(versions) > 1:
            return (f"cannot tell: {framework}'s rounds ran {len(versions)} code versions "
                    f"({', '.join(key_text('code_version', v) for v in versions)})")
    a, b = (_package_code(codes[f][0]) for f in pair)
    if a != b:
        return (f"mixture: {pair[0]} ran code {key_text('code_version', a)}, {pair[1]} "
                f"{key_text('code_version', b)}")
    return None


def _method(a_rounds: int, b_rounds: int, mark: str) -> str:
    from nnbench.report import pooling
    from nnbench.stats.verdicts import SOUND_ROUNDS

    if mark == pooling.ROUNDS_MARK:
        rough = f"; a rough one: {SOUND_ROUNDS}+ a side for a sound interval" \
            if min(a_rounds, b_rounds) < SOUND_ROUNDS else ""
        return f"95% CI over rounds ({a_rounds} vs {b_rounds} fresh processes{rough})"
    if mark == pooling.SAMPLES_MARK:
        # one process a side: its interval covers that process's epochs, not the next run's
        return ("95% CI over the epochs of one process per side, which the next run need not "
                "repeat; bench.rounds=auto for an interval over fresh processes")
    return "no interval"


def _pairs(sweep_dir: str | Path, pair: tuple[str, str]) -> list[tuple[str, Any, Any, tuple]]:
    """Per configuration (and environment) that ran both frameworks of ``pair`` ok in this
    sweep: its label, both pooled sides and their ratio."""
    from nnbench.report import pooling
    from nnbench.report.collect import collect

    roots: list[Path] = [Path(sweep_dir)]
    for marker in Path(sweep_dir).glob("*/resumed.json"):  # jobs resumed: their earlier result
        try:
            roots.append(Path(json.loads(marker.read_text())["result"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    groups: dict[tuple, dict[str, list[dict]]] = {}
    for rec in collect([r for r in roots if r.exists()], progress=False).records:
        if rec.get("status") == "ok" and rec.get(METRIC) is not None:
            groups.setdefault(_group(rec), {}).setdefault(rec["framework"], []).append(rec)
    names = _environment_names(groups)
    out = []
    for key, by_framework in sorted(groups.items(), key=lambda item: _order(item[1])):
        if not all(f in by_framework for f in pair):
            continue
        first = by_framework[pair[0]][0]
        mixture = _mixture(by_framework, pair)
        # the host's contention picks the figure both sides are compared on, or none
        metric, estimator = robust.choice(r for f in pair for r in by_framework[f])
        if metric is None or (mixture and mixture.startswith("cannot tell")):
            out.append((_label(first, names.get(key[-1], "")), None, None,
                        estimator if metric is None else mixture))
            continue
        a, b = (pooling.Side.of(by_framework[f], metric) for f in pair)
        result = pooling.ratio(a, b)
        notes = "; ".join(n for n in (estimator, mixture) if n) or None
        if result is not None:
            out.append((_label(first, names.get(key[-1], "")), a, b, (*result, notes)))
    return out


def _order(by_framework: dict[str, list[dict]]) -> tuple:
    rec = next(iter(by_framework.values()))[0]
    return tuple(str(rec.get(k)) for k in [*CONFIG_KEYS, "device"])


def _environment_names(groups: dict[tuple, Any]) -> dict[Any, str]:
    """Where a sweep's records come from several environments: each one's name (its venv's
    folder), with its digest where two share a name (two venvs both called .venv)."""
    recs = {key[-1]: next(iter(group.values()))[0] for key, group in groups.items()}
    if len(recs) <= 1:
        return {}
    named = {env: str(rec.get("environment_name") or "an unnamed environment")
             for env, rec in recs.items()}
    clash = {n for n in named.values() if list(named.values()).count(n) > 1}
    return {env: f"{name} ({str(env)[:8]})" if name in clash else name
            for env, name in named.items()}


def interval_widths(sweep_dir: str | Path,
                    pair: tuple[str, str] | None = None) -> list[tuple[str, float]]:
    """(configuration, relative half-width of its ratio's interval over rounds; NaN without
    one) for each ratio of this sweep: what ``bench.rounds=auto`` waits on."""
    from nnbench.report import pooling
    from nnbench.report.tables import DEFAULT_PAIR
    from nnbench.stats.stopping import half_width

    return [(label, half_width(*result[:3])
             if not isinstance(result, str) and result[3] == pooling.ROUNDS_MARK
             else float("nan"))
            for label, _, _, result in _pairs(sweep_dir, pair or DEFAULT_PAIR)]


def ratio_lines(sweep_dir: str | Path, pair: tuple[str, str] | None = None) -> list[str]:
    """One line per configuration that ran both frameworks of ``pair`` ok in this sweep."""
    from nnbench.report import pooling
    from nnbench.report.tables import DEFAULT_PAIR

    pair = pair or DEFAULT_PAIR
    lines = []
    for label, a, b, result in _pairs(sweep_dir, pair):
        if isinstance(result, str):  # no ratio: the reason instead
            lines.append(f"{pair[0]}/{pair[1]} time per epoch, {label}: {result}")
            continue
        *result, mixture = result
        text = pooling.ratio_text(tuple(result)).rstrip(pooling.ROUNDS_MARK +
                                                        pooling.SAMPLES_MARK)
        line = (f"{pair[0]}/{pair[1]} time per epoch, {label}: "
                f"{text} ({pair[0]} {format_seconds(a.median)}, {pair[1]} "
                f"{format_seconds(b.median)}; {_method(a.rounds, b.rounds, result[3])})")
        slow = [f for f, side in zip(pair, (a, b), strict=True) if side.spread()["disagree"]]
        if slow:
            line += f"; {' and '.join(slow)}: rounds disagree, see the report"
        if mixture:
            line += f"; {mixture}"
        lines.append(line)
    return lines
