"""Each experiment's sweep as a cost model: per framework, device and precision (a *line*),
time per epoch = steps * a + FLOPs / b fitted over its sizes (``nnbench.stats.cost_model``);
then, for every two lines of an experiment and precision, where the faster one changes.

A line's sizes are its configurations (architecture, training set, batch); a size's rounds are
its records, one fresh process each; the fit is to each size's median over rounds. Lines never
pool across code or library versions (``pooling.separate``), nor across hosts.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nnbench.report.render.tables import config_columns
from nnbench.results import pooling
from nnbench.results.labels import IDENTITY, key_text, key_values
from nnbench.stats import cost_model as cm

NEEDED = ("train_time_per_epoch_s", "train_flops_per_epoch", "n_train")
NOTE = ("Time per epoch = steps * a + FLOPs / b (+ values * c where the data need it), fitted "
        "to each size's median over rounds by non-negative least squares on relative "
        "residuals. a: the fixed cost of one training step (Python, dispatch, autograd, the "
        "optimizer), in µs; b: the rate at which an epoch's matmul FLOPs get done, in GFLOP/s, "
        "elementwise work included unless c is shown; c: ns per activation value (n_train times "
        "the widths past the input), kept only where the sweep can tell it from the other two "
        "and an F-test on the residuals gives p < 0.01. † 95% interval, bootstrap over rounds: "
        "each size's round medians resampled and the model refitted; none with one round per "
        "size. R² of log time, and the largest |measured / fitted - 1| over the sizes.")
CROSS_NOTE = ("Where the faster of two lines changes, from their fitted models, along the "
              "measured sizes in order of FLOPs (between two sizes, the model's terms taken "
              "to move in a straight line: with a fixed step count, exactly where the two lines "
              "meet). † 95% interval over rounds, from the resamples that cross in the measured "
              "range (their share is given when not all do).")


@dataclass
class Line:
    experiment: str
    name: str  # framework device precision, and versions where several ran
    framework: str
    device: str
    precision: str
    sizes: list[cm.Size]
    labels: list[str]  # the configuration of each size, as a reader names it
    rounds: list[list[float]]
    model: cm.RoundsFit | None = None
    why_not: str | None = None  # why there is no model


@dataclass
class Crossing:
    lines: str  # "numpy cpu float32 vs torch cpu float32"
    text: str  # where the faster changes, or that it does not in the measured range
    flops: list[float]  # FLOPs per epoch of each change (none: no change in range)


@dataclass
class Experiment:
    lines: list[Line] = field(default_factory=list)
    crossings: list[Crossing] = field(default_factory=list)


def _layers(arch: object) -> list[int] | None:
    try:
        return [int(part) for part in str(arch).split("x")]
    except ValueError:
        return None


def _lines(frame: pd.DataFrame) -> list[Line]:
    ok = frame[frame["status"] == "ok"] if not frame.empty else frame
    if ok.empty or not set(NEEDED) <= set(ok.columns):
        return []
    ok = ok.dropna(subset=list(NEEDED))
    ok = ok[ok["train_time_per_epoch_s"] > 0]
    if ok.empty:
        return []
    ok, keys = pooling.separate(ok, ["experiment_name", *config_columns(ok)])
    apart = [k for k in keys if k in (*IDENTITY, "host", "node")]
    line_keys = ["experiment_name", "framework", "device", "precision", *apart]
    point_keys = [k for k in dict.fromkeys([*keys, "n_train", "batch_size"])
                  if k not in line_keys]
    shown = [k for k in ("batch_size", "n_train") if ok[k].astype(str).nunique() > 1]
    out = []
    for values, runs in ok.groupby(line_keys, dropna=False, sort=True):
        row = dict(zip(line_keys, values, strict=True))
        name = " ".join([row["framework"], row["device"], row["precision"],
                         key_values(row, apart)]).strip()
        sizes, labels, rounds = [], [], []
        for _, point in runs.groupby(point_keys, dropna=False, sort=False):
            first = point.iloc[0]
            batch = first["batch_size"]
            batch = None if batch is None or (isinstance(batch, float) and math.isnan(batch)) \
                else int(batch)
            sizes.append(cm.Size.of(int(first["n_train"]), batch,
                                    float(first["train_flops_per_epoch"]),
                                    _layers(first["arch"])))
            labels.append(" ".join([str(first["arch"]), *(
                f"{'batch' if k == 'batch_size' else k} {key_text(k, first[k])}"
                for k in shown)]))
            rounds.append([float(v) for v in point["train_time_per_epoch_s"]])
        out.append(Line(str(row["experiment_name"]), name, str(row["framework"]),
                        str(row["device"]), str(row["precision"]), sizes, labels, rounds))
    return out


def _fit(line: Line, seed: int) -> None:
    if len(set(line.sizes)) < cm.MIN_SIZES:
        line.why_not = f"{len(set(line.sizes))} size(s); a fit needs {cm.MIN_SIZES} or more"
    elif len({s.flops for s in line.sizes}) == 1:  # b would be a constant, not a rate
        line.why_not = (f"every size has the same FLOPs per epoch "
                        f"({si(line.sizes[0].flops, 'FLOP')}): a rate cannot be told from a "
                        f"fixed cost per epoch; sweep sizes of different FLOPs (widths)")
    elif not cm.separable(line.sizes, cm.TWO_TERMS):
        line.why_not = ("steps and FLOPs per epoch move together in this sweep: a per-step "
                        "cost cannot be told from a rate")
    else:
        line.model = cm.fit_rounds(line.sizes, line.rounds, seed=seed)


def models(frame: pd.DataFrame) -> dict[str, Experiment]:
    """Per experiment, its lines with their models and every pair's crossings."""
    out: dict[str, Experiment] = {}
    for seed, line in enumerate(_lines(frame)):  # a seed each: resamples independent per line
        _fit(line, seed)
        out.setdefault(line.experiment, Experiment()).lines.append(line)
    for experiment in out.values():
        fitted = [line for line in experiment.lines if line.model is not None]
        for first, second in itertools.combinations(fitted, 2):
            if first.precision == second.precision:
                found = _crossing(first, second)
                if found:
                    experiment.crossings.append(found)
    return out


def of(collection) -> dict[str, Experiment]:
    """``models`` of a collection's records, made once for the tables, figure and terminal."""
    return collection.once("cost_model", lambda: models(collection.frame))


def si(value: float, unit: str) -> str:
    """``1.2 GFLOP``: three figures and an SI prefix."""
    if not math.isfinite(value):
        return f"{value} {unit}"
    for power, prefix in ((12, "T"), (9, "G"), (6, "M"), (3, "k"), (0, "")):
        if abs(value) >= 10 ** power:
            return f"{value / 10 ** power:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def _with_interval(value: float, interval: tuple[float, float] | None, scale: float) -> str:
    def number(v: float) -> str:
        return "∞" if math.isinf(v) else f"{v * scale:.3g}"
    if interval is None:
        return number(value)
    return f"{number(value)} [{number(interval[0])}, {number(interval[1])}]" \
           f"{pooling.ROUNDS_MARK}"


def _crossing(first: Line, second: Line) -> Crossing | None:
    common = [s for s in dict.fromkeys(first.sizes) if s in set(second.sizes)]
    if len(common) < 2:
        return None
    label = dict(zip(first.sizes, first.labels, strict=True))
    names = (first.name, second.name)
    failing = [f"{name}'s ({why})" for name, line in zip(names, (first, second), strict=True)
               if (why := line.model.fit.fails())]
    if failing:  # a crossing read off a fit that misses its times would be the noise's
        return Crossing(f"{names[0]} vs {names[1]}",
                        f"none claimed: the fit does not hold for {' and '.join(failing)}; "
                        f"{_measured(first, second, common, label)}", [])
    found = cm.crossover(first.model, second.model, common)
    if found:
        parts = []
        for x in found:
            where = f"{si(x.flops, 'FLOP')} per epoch ({si(x.flops / x.steps, 'FLOP')} per step)"
            if x.interval is not None:
                where += f" [{si(x.interval[0], 'FLOP')}, {si(x.interval[1], 'FLOP')}]" \
                         f"{pooling.ROUNDS_MARK}"
                if x.share is not None and x.share < 1:
                    where += f" ({x.share:.0%} of resamples cross in range)"
            parts.append(f"at {where}, between {label[common[x.between[0]]]} and "
                         f"{label[common[x.between[1]]]}: {names[x.below]} faster below, "
                         f"{names[1 - x.below]} above")
        return Crossing(f"{names[0]} vs {names[1]}",
                        "; ".join([*parts, _measured(first, second, common, label)]),
                        [x.flops for x in found])
    low, high = min(s.flops for s in common), max(s.flops for s in common)
    times = [m.fit.predict(common) for m in (first.model, second.model)]
    faster = 0 if np.all(times[0] <= times[1]) else 1
    text = (f"none in range: fitted, {names[faster]} is faster at every measured size "
            f"({si(low, 'FLOP')} to {si(high, 'FLOP')} per epoch)")
    steps = {s.steps for s in common}
    two_terms = len(first.model.fit.terms) == len(second.model.fit.terms) == 2
    if two_terms and len(steps) == 1:
        meet = cm.meeting(first.model.fit, second.model.fit, steps.pop())
        if meet is None:
            text += f"; the fitted lines never meet: {names[faster]} has both the lower " \
                    f"cost per step and the higher rate"
        else:
            text += f"; the fitted lines meet at {si(meet, 'FLOP')} per epoch, " \
                    f"{'beyond' if meet > high else 'below'} the measured range"
    text += f"; {_measured(first, second, common, label)}"
    return Crossing(f"{names[0]} vs {names[1]}", text, [])


def _measured(first: Line, second: Line, common: list[cm.Size], label: dict) -> str:
    """Where the measured medians change order: the check on a fitted crossing, which one
    noisy size can move."""
    medians = [{s: float(np.median(r)) for s, r in zip(line.sizes, line.rounds, strict=True)}
               for line in (first, second)]
    order = sorted(common, key=lambda s: (s.flops, s.steps))
    diff = [medians[0][s] - medians[1][s] for s in order]
    changes = [f"{label[a]} and {label[b]}" for a, b, d0, d1
               in zip(order, order[1:], diff, diff[1:], strict=False) if d0 * d1 < 0]
    if changes:
        return f"measured medians change order between {'; between '.join(changes)}"
    faster = first.name if all(d <= 0 for d in diff) else second.name
    return f"measured medians: {faster} faster at every size"


def _swept(line: Line) -> bool:
    """Whether the line has a model, or sizes enough for one that could not be fitted (a
    reader who swept them is told why; a report of one size says nothing of a cost model)."""
    return line.model is not None or len(set(line.sizes)) >= cm.MIN_SIZES


def _row(line: Line, with_c: bool) -> dict:
    row = {"line": line.name, "sizes": len(set(line.sizes)),
           "rounds": min(len(r) for r in line.rounds)}
    if line.model is None:
        return {**row, "a (µs/step)": "", "b (GFLOP/s)": "", "R² (log)": "",
                "max |residual|": "", "note": line.why_not}
    m = line.model
    row["a (µs/step)"] = _with_interval(m.fit.a, m.interval("a"), 1e6)
    row["b (GFLOP/s)"] = _with_interval(m.fit.b, m.interval("b"), 1e-9)
    if with_c:
        row["c (ns/value)"] = "" if m.fit.c is None else \
            _with_interval(m.fit.c, m.interval("c"), 1e9)
    row["R² (log)"] = f"{m.fit.r2_log:.4f}"
    row["max |residual|"] = f"{np.max(np.abs(m.fit.residuals)):.1%}"
    row["note"] = "" if m.replicates is not None else "one round: no interval"
    return row


def sections(collection, experiment: str) -> list[tuple[int, str, pd.DataFrame | None,
                                                         str | None]]:
    """The experiment's cost-model table and its crossings, as report sections."""
    found = of(collection).get(str(experiment))
    if found is None or not any(_swept(line) for line in found.lines):
        return []
    with_c = any(line.model is not None and line.model.fit.c is not None
                 for line in found.lines)
    table = pd.DataFrame([_row(line, with_c) for line in found.lines])
    out = [(3, "Cost model: time per epoch = steps · a + FLOPs / b", table, NOTE)]
    if found.crossings:
        rows = [{"lines": c.lines, "where the faster changes": c.text} for c in found.crossings]
        out.append((3, "Cost model: where the faster line changes", pd.DataFrame(rows),
                    CROSS_NOTE))
    return out


def terminal(collection) -> list[str]:
    """One line per fitted line and per pair of lines: what the report prints."""
    out = []
    for name, found in sorted(of(collection).items()):
        for line in found.lines:
            if line.model is None:  # said where the sizes were swept, and no fit came of it
                if _swept(line):
                    out.append(f"cost model {name}: {line.name}: no fit: {line.why_not}")
                continue
            row = _row(line, line.model.fit.c is not None)
            c = f", c {row['c (ns/value)']} ns/value" if "c (ns/value)" in row else ""
            out.append(f"cost model {name}: {line.name}: a {row['a (µs/step)']} µs/step, "
                       f"b {row['b (GFLOP/s)']} GFLOP/s{c}, R² {row['R² (log)']} (log time)"
                       + (f", {row['note']}" if row["note"] else ""))
        out += [f"cost model {name}: {c.lines}: {c.text}" for c in found.crossings]
    return out
