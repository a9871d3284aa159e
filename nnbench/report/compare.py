"""Baseline against candidate, per configuration: a change counts only when it beats the noise.

Like asv and pyperf's compare_to: the per-epoch samples of both sides are compared with a
two-sided Mann-Whitney U test, and a change is called significant only when p < ``alpha`` and
the medians differ by at least ``min_change`` (asv's defaults: 0.002 and 10%).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

from nnbench.report.collect import CONFIG_KEYS, Collection

KEY = [*CONFIG_KEYS, "framework", "device"]


def _samples(record: dict) -> list[float]:
    warmup = record.get("warmup_epochs") or 0
    return [t for times in record.get("epoch_times_s") or [] for t in times[warmup:]]


def _by_key(collection: Collection) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = {}
    for rec in collection.records:
        if rec.get("status") == "ok":
            out.setdefault(tuple(str(rec.get(k)) for k in KEY), []).append(rec)
    return out


def compare(baseline: Collection, candidate: Collection, alpha: float = 0.002,
            min_change: float = 0.10) -> pd.DataFrame:
    base, cand = _by_key(baseline), _by_key(candidate)
    rows = []
    for key in sorted(set(base) & set(cand)):
        a = [t for r in base[key] for t in _samples(r)]
        b = [t for r in cand[key] for t in _samples(r)]
        if len(a) < 2 or len(b) < 2:
            continue
        ma, mb = float(np.median(a)), float(np.median(b))
        ratio = mb / ma
        p = float(mannwhitneyu(a, b, alternative="two-sided").pvalue)
        if p < alpha and abs(ratio - 1) >= min_change:
            verdict = "slower" if ratio > 1 else "faster"
        else:
            verdict = "no significant change"
        hosts = {(r.get("environment") or {}).get("hostname") for r in base[key] + cand[key]}
        row = dict(zip(KEY, key, strict=True))
        row.pop("experiment_name")
        row.update({
            "baseline s/epoch": f"{ma:.4g}", "candidate s/epoch": f"{mb:.4g}",
            "candidate/baseline": f"{ratio:.3f}x", "p (Mann-Whitney)": f"{p:.2g}",
            "samples": f"{len(a)}/{len(b)}", "verdict": verdict,
            "note": "different hosts: the ratio mixes machines" if len(hosts) > 1 else "",
        })
        rows.append(row)
    return pd.DataFrame(rows)
