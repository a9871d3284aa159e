"""Baseline against candidate, per configuration: a change counts only when it beats the noise
between fresh processes.

Each record is one fresh process, one round; its figure is the median of its timed epochs. The
verdict comes from ``stats.compare_rounds`` over those per-round medians: Mann-Whitney on the
rounds, a bootstrap interval over the rounds that excludes 1, and a change of at least
``min_change``. Epochs of one process are never the unit: they are not independent samples of
the code's speed, and two identical runs compared epoch by epoch differ "significantly" (p of
1e-100 between two processes of the same code is common). With fewer than ``min_rounds``
rounds on a side the verdict is "cannot tell".

With a margin, each row also gets an equivalence verdict (``stats.equivalence``: the 90%
interval of the ratio inside ±margin), and every row says what differs between the two sides'
records (``report.analyse.changes``). ``gate`` turns the table into the exit status of a CI job.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nnbench import stats
from nnbench.report.analyse.changes import said
from nnbench.results.collect import CONFIG_KEYS, Collection
from nnbench.results.labels import assign_variants
from nnbench.results.read import ReadRecord
from nnbench.stats import robust
from nnbench.stats.equivalence import equivalence

KEY = [*CONFIG_KEYS, "framework", "device"]
METRIC = "train_time_per_epoch_s"
# Exit statuses of the gate; 2 is every error of the command line, 130/143 an interrupt.
EXIT_SLOWER = 3  # a configuration significantly slower by more than --fail-above
EXIT_UNSURE = 4  # with --fail-on-unsure: a configuration the rounds cannot tell
# a configuration ok in the baseline with no ok record in the candidate (it failed, was
# skipped, diverged, ran out of memory or has no record): a crash must not pass as "no change"
EXIT_NOT_OK = 5
RATIO = "candidate/baseline (95% CI over rounds)"


def _timed(rec: ReadRecord) -> bool:
    return rec.status == "ok" and getattr(rec, METRIC) is not None


def _by_key(collection: Collection) -> dict[tuple, list[ReadRecord]]:
    out: dict[tuple, list[ReadRecord]] = {}
    for rec in collection.records:
        if _timed(rec):
            out.setdefault(tuple(str(getattr(rec, k)) for k in KEY), []).append(rec)
    return out


# What one side's rounds of a configuration must share (the identity's parts but the
# configuration, which the row's key already holds).
SHARED = (("code versions", lambda r: r.code_version),
          ("environments", lambda r: r.digest("environment") or r.environment_name),
          ("data sources", lambda r: r.digest("data")))


def _mixed(side: str, records: list[ReadRecord]) -> str | None:
    """"cannot tell: the baseline's rounds ran 3 code versions", where one side's records of
    a configuration are of several identities; else None."""
    found = [(len({str(get(r)) for r in records}), name) for name, get in SHARED]
    parts = [f"{n} {name}" for n, name in found if n > 1]
    return f"cannot tell: the {side}'s rounds ran {' and '.join(parts)}" if parts else None


def not_ok(baseline: Collection, candidate: Collection) -> list[str]:
    """One line per configuration ok in the baseline that has no ok record in the candidate:
    the configuration, then what the candidate holds for it instead (its statuses and first
    reason), or that it holds no record of it."""
    base, cand = _by_key(baseline), _by_key(candidate)
    others = [r for r in candidate.records if not _timed(r)]
    lines = []
    for key in sorted(set(base) - set(cand)):
        # a record that failed before its config resolved says only some keys: it matches
        # where every key it does say agrees
        mine = [r for r in others if all(getattr(r, k) is None or str(getattr(r, k)) == v
                                         for k, v in zip(KEY, key, strict=True))]
        row = dict(zip(KEY, key, strict=True))
        row["batch_size"] = "full" if row["batch_size"] == "None" else row["batch_size"]
        counts: dict[str, int] = {}
        for rec in mine:
            counts[rec.status] = counts.get(rec.status, 0) + 1
        held = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        reason = next((str(r.reason) for r in mine if r.reason), "")
        said_ = f"{held}: {reason}" if held and reason else held or "no record of it"
        lines.append(f"not ok in the candidate ({said_}; ok in {len(base[key])} baseline "
                     f"rounds): {_name(pd.Series(row))}")
    return lines


def _fmt(value: float) -> str:
    return "" if value is None or not np.isfinite(value) else f"{value:.4g}"


def compare(baseline: Collection, candidate: Collection, alpha: float = stats.ALPHA,
            min_change: float = stats.MIN_CHANGE,
            min_rounds: int = stats.MIN_ROUNDS, margin: float | None = None) -> pd.DataFrame:
    """One row per configuration run on both sides: medians of the round medians, the ratio
    candidate/baseline with its 95% interval over rounds, the rounds' p-value, the verdict,
    the equivalence verdict (with ``margin``) and what changed. ``attrs["results"]`` holds each
    row's figures as numbers (``stats.compare_rounds``), for ``gate``."""
    # one variant text for both sides: a setting is named alike in both
    assign_variants(baseline.records + candidate.records)
    base, cand = _by_key(baseline), _by_key(candidate)
    rows, results = [], []
    for key in sorted(set(base) & set(cand)):
        # the host's contention picks the figure both sides are compared on, or none
        used, busy = robust.metric_for(base[key] + cand[key], METRIC)
        a, b = ([float(v) for r in side if (v := getattr(r, used or METRIC)) is not None]
                for side in (base[key], cand[key]))
        result = stats.compare_rounds(a, b, min_rounds=min_rounds, alpha=alpha,
                                      min_change=min_change)
        mixed = _mixed("baseline", base[key]) or _mixed("candidate", cand[key])
        if mixed or used is None:  # rounds of several identities are no rounds of one, and
            # a host whose threads waited throughout measured its load: no verdict on either
            result = {**result, "verdict": mixed or busy, "p": float("nan")}
        hosts = {r.env("hostname") for r in base[key] + cand[key]}
        interval = f" [{result['lo']:.3f}, {result['hi']:.3f}]" \
            if np.isfinite(result["lo"]) else ""
        row = dict(zip(KEY, key, strict=True))
        row.pop("experiment_name")
        row["batch_size"] = "full" if row["batch_size"] == "None" else row["batch_size"]
        row.update({
            "baseline s/epoch": _fmt(result["baseline"]),
            "candidate s/epoch": _fmt(result["candidate"]),
            RATIO: "cannot tell: host busy" if used is None
            else f"{result['ratio']:.3f}x{interval}",
            "p (Mann-Whitney, rounds)": f"{result['p']:.2g}" if np.isfinite(result["p"])
            else "",
            "rounds": f"{len(a)}/{len(b)}", "verdict": result["verdict"],
        })
        if margin is not None:
            row["equivalence (90% CI)"] = equivalence(a, b, margin, min_rounds=min_rounds)[
                "verdict"]
        row["what changed"] = said(base[key], cand[key])
        row["note"] = "; ".join(n for n in (
            "different hosts: the ratio mixes machines" if len(hosts) > 1 else "",
            busy if used == robust.LOW else "") if n)
        rows.append(row)
        results.append(result)
    table = pd.DataFrame(rows)
    table.attrs["results"], table.attrs["alpha"] = results, alpha
    return table


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


def _name(row: pd.Series) -> str:
    keys = ["dataset", "arch", "precision", "batch_size", "framework", "device"]
    return " ".join(f"batch {row[k]}" if k == "batch_size" and row[k] != "full" else str(row[k])
                    for k in keys if k in row and str(row[k]) not in ("", "full", "None"))


def gate(table: pd.DataFrame, fail_above: float | None,
         fail_on_unsure: bool = False, lost: list[str] = ()) -> tuple[int, list[str]]:
    """The exit status of a CI job over ``compare``'s table, and one line per configuration
    that set it. A configuration fails the gate when it is significantly slower (the rounds'
    p < alpha and the interval of candidate/baseline above 1, as ``compare_rounds`` asks) by
    more than ``fail_above`` (a fraction: 0.1 fails 1.11x, passes 1.09x), whatever
    ``--min-change`` says; "cannot tell" fails only with ``fail_on_unsure``. With either,
    ``lost`` (``not_ok``'s lines: configurations that did not run ok in the candidate) fails
    it with ``EXIT_NOT_OK``, before any slowdown. 0 when none."""
    gating = fail_above is not None or fail_on_unsure
    status = EXIT_NOT_OK if gating and lost else 0
    lines = list(lost) if gating else []
    alpha = table.attrs.get("alpha", stats.ALPHA)
    for (_, row), res in zip(table.iterrows(), table.attrs.get("results", []), strict=True):
        slower = (fail_above is not None and not res["verdict"].startswith("cannot tell")
                  and res["p"] < alpha and res["lo"] > 1 and res["ratio"] > 1 + fail_above)
        if slower:
            status = EXIT_SLOWER
            lines.append(f"slower by {100 * (res['ratio'] - 1):.0f}% [{100 * (res['lo'] - 1):.0f}"
                         f", {100 * (res['hi'] - 1):.0f}] (more than {100 * fail_above:.3g}%): "
                         f"{_name(row)}; {row['what changed']}")
        elif fail_on_unsure and res["verdict"].startswith("cannot tell"):
            status = status or EXIT_UNSURE
            lines.append(f"unsure ({res['verdict']}): {_name(row)}")
    return status, lines


def markdown(table: pd.DataFrame, gate_lines: list[str], fail_above: float | None,
             lost: list[str] = ()) -> str:
    """The comparison as a pull-request comment: a verdict line, one row per configuration;
    the configurations that did not run ok in the candidate (``lost``) listed above them."""
    failed = [line for line in gate_lines if line.startswith("slower")]
    gate_lines = [*gate_lines, *(line for line in lost if line not in gate_lines)]
    if lost:
        slower = f"; {len(failed)} slower by more than {100 * fail_above:.3g}%" if failed else ""
        head = (f"**{len(lost)} configuration{'s' * (len(lost) != 1)} ok in the baseline "
                f"did not run ok in the candidate**{slower}")
    elif failed:
        head = (f"**{len(failed)} of {len(table)} configurations slower by more than "
                f"{100 * fail_above:.3g}%**")
    elif fail_above is not None:
        head = f"No configuration significantly slower by more than {100 * fail_above:.3g}%."
    else:
        head = f"{len(table)} configurations compared (no gate: --fail-above not given)."
    columns = ["baseline s/epoch", "candidate s/epoch", RATIO, "rounds", "verdict",
               "equivalence (90% CI)", "what changed", "note"]
    body = pd.DataFrame({"configuration": [_name(row) for _, row in table.iterrows()],
                         **{c: table[c] for c in columns if c in table.columns}})
    lines = "".join(f"- {line}\n" for line in gate_lines) + ("\n" if gate_lines else "")
    return (f"### nnbench: candidate against baseline\n\n{head}\n\n{lines}"
            f"{body.to_markdown(index=False)}\n")


def pair_equivalence(collection: Collection, pair: tuple[str, str],
                     margin: float) -> pd.DataFrame:
    """Within one result set: per configuration and device, ``pair[0]``/``pair[1]`` time per
    epoch over their rounds, and whether they are equivalent within ``margin`` (TOST)."""
    sides = {name: {} for name in pair}
    for key, recs in _by_key(collection).items():
        row = dict(zip(KEY, key, strict=True))
        if row["framework"] in sides:
            rest = tuple(v for k, v in row.items() if k != "framework")
            sides[row["framework"]][rest] = [float(getattr(r, METRIC)) for r in recs]
    rows = []
    for rest in sorted(set(sides[pair[0]]) & set(sides[pair[1]])):
        a, b = sides[pair[0]][rest], sides[pair[1]][rest]
        result = equivalence(b, a, margin)
        row = dict(zip([k for k in KEY if k != "framework"], rest, strict=True))
        row.pop("experiment_name")
        row["batch_size"] = "full" if row["batch_size"] == "None" else row["batch_size"]
        row.update({f"{pair[0]}/{pair[1]} (90% CI)":
                    f"{result['ratio']:.3f}x [{result['lo']:.3f}, {result['hi']:.3f}]"
                    if np.isfinite(result["lo"]) else "",
                    "rounds": f"{len(a)}/{len(b)}", "equivalence": result["verdict"]})
        rows.append(row)
    return pd.DataFrame(rows)


def with_pairs(table: pd.DataFrame, sides: dict, args) -> str:
    """``compare.md``'s table of every column, and with ``--equivalence`` the pair's
    equivalence within each side (``sides``: flag -> (folder, Collection))."""
    text = table.to_markdown(index=False)
    if args.equivalence is None:
        return text
    from nnbench.report.render.tables import DEFAULT_PAIR  # the pair where --pair names none

    pair = tuple(name.strip() for name in args.pair.split(",")) if args.pair else DEFAULT_PAIR
    for flag, (folder, collection) in sides.items():
        pairs = pair_equivalence(collection, pair, args.equivalence)
        if not pairs.empty:
            text += (f"\n\n{flag} {folder}: {pair[0]} against {pair[1]} within the set\n\n"
                     + pairs.to_markdown(index=False))
    return text
