"""The lines a sweep ends with: per configuration, the NumPy/torch ratio with its interval.

Read from the sweep's records (wherever its jobs ran), pooled over rounds as the report pools
them (``nnbench.report.pooling``): a user sees at the end of ``python -m nnbench -m ...`` what
the report would say, without making it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nnbench.stats import format_seconds

METRIC = "train_time_per_epoch_s"


def _label(rec: dict, environment: bool = False, extra: list[str] | None = None) -> str:
    """The configuration in a few words; ``environment``: with the environment it ran in (a
    sweep over several, ``bench.python``); ``extra``: the keys that tell it from the sweep's
    other configurations (a swept learning rate), with their values."""
    from nnbench.report.labels import key_values

    batch = rec.get("batch_size")
    parts = [rec.get("dataset"), rec.get("arch"), rec.get("precision"),
             f"batch {batch}" if batch else "full batch", rec.get("device")]
    where = f" in {rec.get('environment_name')}" if environment else ""
    keys = f" {key_values(rec, extra)}" if extra else ""
    return " ".join(str(p) for p in parts if p) + keys + where


def _method(a_rounds: int, b_rounds: int, mark: str) -> str:
    from nnbench.report import pooling
    from nnbench.stats.verdicts import SOUND_ROUNDS

    if mark == pooling.ROUNDS_MARK:
        rough = f"; a rough one: {SOUND_ROUNDS}+ a side for a sound interval" \
            if min(a_rounds, b_rounds) < SOUND_ROUNDS else ""
        return f"95% CI over rounds ({a_rounds} vs {b_rounds} fresh processes{rough})"
    if mark == pooling.SAMPLES_MARK:
        return "95% CI over the epochs of one process per side (within-process noise only)"
    return "no interval"


def _pairs(sweep_dir: str | Path, pair: tuple[str, str]) -> list[tuple[str, Any, Any, tuple]]:
    """Per configuration (and environment) that ran both frameworks of ``pair`` ok in this
    sweep: its label, both pooled sides and their ratio."""
    from nnbench.report import pooling
    from nnbench.report.collect import CONFIG_KEYS, collect
    from nnbench.report.labels import LABELLED, varying

    roots: list[Path] = [Path(sweep_dir)]
    for marker in Path(sweep_dir).glob("*/resumed.json"):  # jobs resumed: their earlier result
        try:
            roots.append(Path(json.loads(marker.read_text())["result"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    groups: dict[tuple, dict[str, list[dict]]] = {}
    for rec in collect([r for r in roots if r.exists()], progress=False).records:
        if rec.get("status") == "ok" and rec.get(METRIC) is not None:
            # environments of one sweep (bench.python) are never rounds of one another
            key = tuple(str(rec.get(k)) for k in [*CONFIG_KEYS, "device", "environment_name"])
            groups.setdefault(key, {}).setdefault(rec["framework"], []).append(rec)
    several = len({key[-1] for key in groups}) > 1
    compared = {key: by for key, by in groups.items() if all(f in by for f in pair)}
    # what the label's usual words leave alike (a swept train.lr): added, so no two read alike
    shown = (*LABELLED, "environment_name") if several else LABELLED
    extra = varying([by[pair[0]][0] for by in compared.values()], shown)
    out = []
    for _, by_framework in sorted(compared.items()):
        a, b = (pooling.Side.of(by_framework[f], METRIC) for f in pair)
        result = pooling.ratio(a, b)
        if result is not None:
            out.append((_label(by_framework[pair[0]][0], several, extra), a, b, result))
    return out


def interval_widths(sweep_dir: str | Path,
                    pair: tuple[str, str] | None = None) -> list[tuple[str, float]]:
    """(configuration, relative half-width of its ratio's interval over rounds; NaN without
    one) for each ratio of this sweep: what ``bench.rounds=auto`` waits on."""
    from nnbench.report import pooling
    from nnbench.report.tables import DEFAULT_PAIR
    from nnbench.stats.stopping import half_width

    return [(label, half_width(*result[:3]) if result[3] == pooling.ROUNDS_MARK
             else float("nan"))
            for label, _, _, result in _pairs(sweep_dir, pair or DEFAULT_PAIR)]


def ratio_lines(sweep_dir: str | Path, pair: tuple[str, str] | None = None) -> list[str]:
    """One line per configuration that ran both frameworks of ``pair`` ok in this sweep."""
    from nnbench.report import pooling
    from nnbench.report.tables import DEFAULT_PAIR

    pair = pair or DEFAULT_PAIR
    lines = []
    for label, a, b, result in _pairs(sweep_dir, pair):
        text = pooling.ratio_text(result).rstrip(pooling.ROUNDS_MARK + pooling.SAMPLES_MARK)
        line = (f"{pair[0]}/{pair[1]} time per epoch, {label}: "
                f"{text} ({pair[0]} {format_seconds(a.median)}, {pair[1]} "
                f"{format_seconds(b.median)}; {_method(a.rounds, b.rounds, result[3])})")
        slow = [f for f, side in zip(pair, (a, b), strict=True) if side.spread()["disagree"]]
        if slow:
            line += f"; {' and '.join(slow)}: rounds disagree, see the report"
        lines.append(line)
    return lines
