"""The report's sections in order, shared by summary.md and report.html: the comparison tables
per experiment, rounds, gradients, the runs that did not end ok, and per-class figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nnbench.report.analyse import cost_model
from nnbench.report.render import answer, phases, profiles, tails, targets
from nnbench.report.render.pages import MAX_PAGES, PER_PAGE, latest_ok, left_out
from nnbench.report.render.tables import (
    DEFAULT_PAIR,
    METRICS,
    comparisons,
    config_columns,
    counters_table,
    fmt,
    rounds_table,
)
from nnbench.results import pooling
from nnbench.results.collect import Collection
from nnbench.results.labels import key_text, key_values, varying
from nnbench.results.read import ReadRecord


def per_class(record: ReadRecord) -> pd.DataFrame:
    """Precision and recall per class from the confusion matrix; a class never predicted is
    marked, because overall accuracy can hide it (seed 002's digit 9)."""
    cm = np.asarray(record.confusion_matrix, dtype=float)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    diag = np.diag(cm)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, diag / predicted, np.nan)
        recall = np.where(actual > 0, diag / actual, np.nan)
    classes = record.classes or [str(i) for i in range(len(cm))]
    return pd.DataFrame({
        "class": classes,
        "precision": [fmt(p) if not np.isnan(p) else "n/a" for p in precision],
        "recall": [fmt(r) if not np.isnan(r) else "n/a" for r in recall],
        "support": actual.astype(int),
        "note": ["**never predicted**" if p == 0 else "" for p in predicted],
    })


def not_ok(collection: Collection) -> pd.DataFrame:
    frame = collection.frame
    rows = []
    if not frame.empty:
        bad = frame[frame["status"] != "ok"]
        for _, r in bad.iterrows():
            rows.append({"status": r["status"], "experiment": r.get("experiment_name"),
                         "framework": r.get("framework"), "device": r.get("device"),
                         "precision": r.get("precision"), "arch": r.get("arch"),
                         "reason": r.get("reason"), "where": r.get("result_file")})
    for item in collection.unreadable:
        rows.append({"status": "unreadable", "reason": item["error"], "where": item["path"]})
    for item in collection.invalid:
        rows.append({"status": "invalid", "reason": f"not a valid record: {item['error']}",
                     "where": item["path"]})
    for folder in collection.incomplete:
        rows.append({"status": "incomplete", "reason": "job folder without result.json "
                     "(killed or still running)", "where": folder})
    return pd.DataFrame(rows)


def gradient_checks(records: list[ReadRecord]) -> pd.DataFrame:
    """One row per configuration and precision with a gradient comparison (both frameworks'
    jobs compute the same comparison; the newest is shown)."""
    rows = {}
    for rec in latest_ok(records):
        check = rec.gradient_check
        if not check:
            continue
        key = (rec.experiment_name, rec.dataset, rec.arch, rec.precision)
        diffs = check["max_rel_diff"]
        rows[key] = {"experiment": key[0], "dataset": key[1], "arch": key[2],
                     "precision": key[3], "seed": check["seed"],
                     **{name: f"{diffs[name]:.2e}" for name in sorted(diffs)}}
    return pd.DataFrame(list(rows.values()))


def diagnoses(records: list[ReadRecord]) -> pd.DataFrame:
    """One row per job of your own network (framework=mine): what its diagnosis found, newest
    first, failed ones too (a wrong network is exactly what this table is for)."""
    newest = sorted(records, key=lambda r: r.started, reverse=True)
    rows = []
    for rec in newest:
        found = rec.diagnosis  # the job's own dict: summary, lines, loss curves
        if not found:
            continue
        curves = found.get("loss_curves") or {}
        part = curves.get("parted_at_epoch")
        rows.append({"experiment": rec.experiment_name, "dataset": rec.dataset,
                     "arch": rec.arch, "precision": rec.precision,
                     "status": rec.status, "diagnosis": found.get("summary"),
                     "loss curves (float64)": (f"part at epoch {part}" if part else
                                               f"agree for {curves['epochs']} epochs"
                                               if curves.get("epochs") else "not trained"),
                     "where": rec.result_file})
    return pd.DataFrame(rows)


DIAGNOSES_NOTE = ("Before it was timed, each job of your network compared, in float64 from "
                  "the job's start on its first batch, your outputs and every gradient with "
                  "torch autograd and finite differences, in backprop order; the first that "
                  "differs is named. Every line and figure is the record's `diagnosis`.")

PARALLEL_NOTE = ("**Note:** figures marked (parallel) include runs timed while other jobs ran "
                 "on the same host (a parallel launcher, `exclusive: false`): their timings "
                 "measure contention as well as work.")


def headline(collection: Collection) -> str:
    frame = collection.frame
    counts = frame["status"].value_counts().to_dict() if not frame.empty else {}
    parts = [f"{n} {s}" for s, n in sorted(counts.items())]
    parts += [f"{len(collection.unreadable)} unreadable"] if collection.unreadable else []
    parts += [f"{len(collection.invalid)} invalid"] if collection.invalid else []
    parts += [f"{len(collection.incomplete)} incomplete"] if collection.incomplete else []
    return f"{len(frame)} result records: {', '.join(parts) or 'none'}."


Section = tuple[int, str, pd.DataFrame | None, str | None]

ROUNDS_NOTE = ("One round is one fresh process. Between rounds: the range of the round "
               "medians over their median; within a run: the epochs' IQR/median (median over "
               "the rounds). Rounds disagree when a round's median lies further from the "
               "median of all rounds than both the within-run spread and 10%: that process, or "
               "that moment of the host, ran at another speed.")
COUNTERS_NOTE = ("getrusage of the whole process around each timed epoch, as means per epoch: "
                 "minor faults (fresh pages mapped), major faults (pages read from disk), "
                 "voluntary switches (the process waited) and involuntary ones (the scheduler "
                 "took a core away: other work on the host); CPU s / wall s near the thread "
                 "count means busy threads, well below it waiting or preempted.")


NOT_DRAWN = "Configurations not drawn in the figures"
NOT_DRAWN_NOTE = (f"A figure draws its configurations {PER_PAGE} to a page, at most {MAX_PAGES} "
                  f"pages; these come after, and each figure says so on its pages.")
VERSIONS_NOTE = ("Rounds pool only within one code version (the commit, and a hash of the "
                 "files edited since) and one version of the libraries: a configuration run "
                 "by several has a row per version in the tables below, told apart by the "
                 "columns above. To compare two versions, see python -m nnbench.report "
                 "--baseline DIR --candidate DIR.")


def rounds_stopped(result_files) -> pd.DataFrame:
    """Each auto sweep's rounds.json (beside its jobs): how many rounds ran and why they
    stopped."""
    from pathlib import Path

    from nnbench.files import read_json

    rows = []
    for sweep in sorted({Path(f).parent.parent for f in result_files}):
        try:
            stop = read_json(sweep / "rounds.json", max_bytes=1 << 20, max_depth=4)
            rows.append({"sweep": sweep.name, "rounds": int(stop["rounds"]),
                         "why they stopped": str(stop["reason"])})
        except (OSError, ValueError, KeyError, TypeError):  # none, or not one we can read
            continue
    return pd.DataFrame(rows)


def sections(collection: Collection, pair: tuple[str, str] = DEFAULT_PAIR) -> list[Section]:
    """(heading level, title, table or None for a bare heading, note or None) in report
    order; shared by summary.md and report.html, made once for both."""
    return collection.once(("sections", tuple(pair)), lambda: _sections(collection, pair))


def _sections(collection: Collection, pair: tuple[str, str]) -> list[Section]:
    frame = collection.frame
    records = {r.result_file: r for r in collection.records if r.result_file}
    out: list[Section] = []
    if not frame.empty:
        for experiment, part in frame.groupby("experiment_name", dropna=False, sort=True):
            out.append((2, f"Experiment: {experiment}", None, None))
            several = pooling.versions(part, config_columns(part))
            if several is not None:
                shown = several.apply(lambda c: c.map(lambda v: key_text(c.name, v)))
                out.append((3, "Records of several code or library versions", shown,
                            VERSIONS_NOTE))
            shown = [(metric, title, compare) for metric, title, compare in METRICS
                     if metric in part and part[metric].notna().sum() > 0]
            tables = comparisons(part, [(m, compare) for m, _, compare in shown], pair, records)
            for (_, title, _), (table, marks) in zip(shown, tables, strict=True):
                out.append((3, title, table, pooling.notes(marks)))
            latency = tails.table([r for r in collection.records
                                   if r.experiment_name == experiment])
            if not latency.empty:
                out.append((3, tails.TITLE, latency, tails.NOTE))
            reached = targets.table([r for r in collection.records
                                     if r.experiment_name == experiment])
            if not reached.empty:
                out.append((3, targets.TITLE, reached, targets.NOTE))
            spread, flagged = rounds_table(part, records)
            if not spread.empty:
                out.append((3, "Training time per epoch: between rounds and within a run",
                            spread, ROUNDS_NOTE))
            for item in flagged:
                out.append((4, f"Rounds that disagree: {item['label']}",
                            counters_table(item["records"]), COUNTERS_NOTE))
            out += cost_model.sections(collection, experiment)  # a sweep's fitted a and b
    out += phases.sections(collection.records, pair)
    stops = rounds_stopped(records)
    if not stops.empty:
        out.append((2, "Why the rounds stopped (bench.rounds=auto)", stops, None))
    checks = gradient_checks(collection.records)
    if not checks.empty:
        out.append((2, "Gradients: hand-derived NumPy against torch autograd (max relative "
                       "difference per parameter, fresh parameters)", checks, None))
    found = diagnoses(collection.records)
    if not found.empty:
        out.append((2, "Your network against torch (framework=mine)", found, DIAGNOSES_NOTE))
    out.append((2, "Runs that did not end ok", not_ok(collection), None))
    classes = [r for r in latest_ok(collection.records) if r.confusion_matrix
               and len(r.confusion_matrix) <= 20]
    if classes:
        out.append((2, "Per-class precision and recall (test set, newest run per "
                       "configuration)", None, None))
        extra = varying(classes, ("experiment_name", "dataset", "arch", "precision"))
        for rec in classes:
            what = f" {key_values(rec, extra)}" if extra else ""
            out.append((3, f"{rec.experiment_name} · {rec.dataset} {rec.arch} "
                           f"{rec.precision}{what} · {rec.framework} {rec.device}",
                        per_class(rec), None))
    missing = left_out(collection, pair)
    if missing:
        rows = [{"figure": figure, "configuration": name, "where instead": where}
                for figure, names, where in missing for name in names]
        out.append((2, NOT_DRAWN, pd.DataFrame(rows), NOT_DRAWN_NOTE))
    return out


def summary_markdown(collection: Collection, figures: list[str],
                     pair: tuple[str, str] = DEFAULT_PAIR, base: Path | None = None,
                     said: list | None = None) -> str:
    """summary.md: the verdicts in words first (``said``; by default every two frameworks of
    each configuration), then the sections."""
    lines = ["# nnbench report", "", headline(collection), ""]
    lines += answer.markdown(answer.of(collection) if said is None else said)
    frame = collection.frame
    if "exclusive" in frame and (frame["exclusive"] == False).any():  # noqa: E712
        lines += [PARALLEL_NOTE, ""]
    for level, title, table, note in sections(collection, pair):
        lines += [f"{'#' * level} {title}", ""]
        if table is not None:
            lines += [table.to_markdown(index=False) if not table.empty else "_none_", ""]
        if note:
            lines += [note, ""]
    lines += profiles.markdown_section(collection.records, base)  # links relative to base
    if figures:
        lines += ["## Figures", ""] + [f"![{name}]({name})" for name in figures] + [""]
    return "\n".join(lines)
