"""Baseline against candidate, per configuration: a change counts only when it beats the noise
between fresh processes.

Each record is one fresh process, one round; its figure is the median of its timed epochs. The
verdict comes from ``stats.compare_rounds`` over those per-round medians: Mann-Whitney on the
rounds, a bootstrap interval over the rounds that excludes 1, and a change of at least
``min_change``. Epochs of one process are never the unit: they are not independent samples of
the code's speed, and two identical runs compared epoch by epoch differ "significantly" (p of
1e-100 between two processes of the same code is common). With fewer than ``min_rounds``
rounds on a side the verdict is "cannot tell".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nnbench import stats
from nnbench.report.collect import CONFIG_KEYS, Collection

KEY = [*CONFIG_KEYS, "framework", "device"]
METRIC = "train_time_per_epoch_s"


def _by_key(collection: Collection) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = {}
    for rec in collection.records:
        if rec.get("status") == "ok" and rec.get(METRIC) is not None:
            out.setdefault(tuple(str(rec.get(k)) for k in KEY), []).append(rec)
    return out


def _fmt(value: float) -> str:
    return "" if value is None or not np.isfinite(value) else f"{value:.4g}"


def compare(baseline: Collection, candidate: Collection, alpha: float = stats.ALPHA,
            min_change: float = stats.MIN_CHANGE,
            min_rounds: int = stats.MIN_ROUNDS) -> pd.DataFrame:
    """One row per configuration run on both sides: medians of the round medians, the ratio
    candidate/baseline with its 95% interval over rounds, the rounds' p-value, the verdict."""
    base, cand = _by_key(baseline), _by_key(candidate)
    rows = []
    for key in sorted(set(base) & set(cand)):
        a = [float(r[METRIC]) for r in base[key]]
        b = [float(r[METRIC]) for r in cand[key]]
        result = stats.compare_rounds(a, b, min_rounds=min_rounds, alpha=alpha,
                                      min_change=min_change)
        hosts = {(r.get("environment") or {}).get("hostname") for r in base[key] + cand[key]}
        interval = f" [{result['lo']:.3f}, {result['hi']:.3f}]" \
            if np.isfinite(result["lo"]) else ""
        row = dict(zip(KEY, key, strict=True))
        row.pop("experiment_name")
        row["batch_size"] = "full" if row["batch_size"] == "None" else row["batch_size"]
        row.update({
            "baseline s/epoch": _fmt(result["baseline"]),
            "candidate s/epoch": _fmt(result["candidate"]),
            "candidate/baseline (95% CI over rounds)": f"{result['ratio']:.3f}x{interval}",
            "p (Mann-Whitney, rounds)": f"{result['p']:.2g}" if np.isfinite(result["p"])
            else "",
            "rounds": f"{len(a)}/{len(b)}", "verdict": result["verdict"],
            "note": "different hosts: the ratio mixes machines" if len(hosts) > 1 else "",
        })
        rows.append(row)
    return pd.DataFrame(rows)


def differences(baseline: Collection, candidate: Collection) -> str:
    """Why no configuration is on both sides, in a few words: the keys whose values differ,
    e.g. ``epochs: baseline 200, candidate 100``."""
    base, cand = list(_by_key(baseline)), list(_by_key(candidate))
    parts = []
    for i, name in enumerate(KEY):
        a, b = sorted({k[i] for k in base}), sorted({k[i] for k in cand})
        if a != b:
            parts.append(f"{name}: baseline {', '.join(a)}; candidate {', '.join(b)}")
    return " | ".join(parts) or "the two sides' configurations differ only in combination"
