"""Results over time: result sets (one folder each) ordered by when they ran, each headline
figure per configuration across them, and the steps in them.

``python -m nnbench.report --history DIR DIR ...`` writes ``summary.md`` (one table per
configuration: a row per set, the code and library versions marked where they change, the
figures, what changed since the set before; then the steps found) and ``history.png``.

The sets are ordered by their records' times, so folders can be named anything and given in
any order; where the times cannot tell the order, the history is refused unless the user gives
it (``results.sets``). Sets are matched by configuration without the experiment's
name (each set is usually a sweep of its own). The figures: time per epoch per framework and
device (its rounds), the ``pair`` ratio per device (per round where both frameworks ran that
round, else the ratio of medians), test accuracy and peak RSS. Steps come from
``stats.steps.find_steps`` over each figure's rounds; a step says what changed between the set
before it and the set it starts at (``report.analyse.changes``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from nnbench.report.analyse.changes import changes, said, short
from nnbench.report.analyse.compare import KEY, METRIC
from nnbench.results.read import ReadRecord
from nnbench.results.sets import ORDERS, OrderUnknown, ResultSet, load
from nnbench.stats.steps import STEP_MIN_CHANGE, find_steps
from nnbench.stats.verdicts import ALPHA

CONFIG = [k for k in KEY if k not in ("experiment_name", "framework", "device")]
MARKED = [("code", "code_version"), ("numpy", "numpy"), ("torch", "torch")]
__all__ = ["ORDERS", "OrderUnknown", "ResultSet", "load", "markdown", "parts", "run", "series"]


def _key(rec: ReadRecord, keys: list[str]) -> tuple:
    return tuple(str(getattr(rec, k)) for k in keys)


def _values(recs: list[ReadRecord], field: str) -> list[float]:
    return [float(v) for r in recs if isinstance(v := getattr(r, field), (int, float))]


def _ratio_rounds(recs: list[ReadRecord], device: str, pair: tuple[str, str]) -> list[float]:
    sides = [{int(r.round or 0): float(getattr(r, METRIC)) for r in recs
              if r.framework == name and str(r.device) == device
              and getattr(r, METRIC)} for name in pair]
    common = sorted(set(sides[0]) & set(sides[1]))
    if common:
        return [sides[0][k] / sides[1][k] for k in common]
    if all(sides):
        return [float(np.median(list(sides[0].values())) / np.median(list(sides[1].values())))]
    return []


def series(sets: list[ResultSet], pair: tuple[str, str]) -> dict[tuple, dict[str, list]]:
    """Per configuration, per figure (``numpy cpu s/epoch``, ``numpy/torch cpu``, ...), the
    values of each set (a list per set, empty where the set did not run it)."""
    out: dict[tuple, dict[str, list]] = {}
    for i, result_set in enumerate(sets):
        for config in {_key(r, CONFIG) for r in result_set.records}:
            recs = [r for r in result_set.records if _key(r, CONFIG) == config]
            figures = out.setdefault(config, {})
            for fw, dev in sorted({(str(r.framework), str(r.device)) for r in recs}):
                mine = [r for r in recs if str(r.framework) == fw and str(r.device) == dev]
                for name, field in ((f"{fw} {dev} s/epoch", METRIC),
                                    (f"{fw} {dev} accuracy", "test_accuracy"),
                                    (f"{fw} {dev} peak RSS MB", "peak_rss_mb")):
                    figures.setdefault(name, [[] for _ in sets])[i] = _values(mine, field)
            for dev in sorted({str(r.device) for r in recs}):
                figures.setdefault(f"{pair[0]}/{pair[1]} {dev}", [[] for _ in sets])[i] = \
                    _ratio_rounds(recs, dev, pair)
    for figures in out.values():  # a figure no set has (no peak RSS probe) is no column
        for name in [n for n, v in figures.items() if not any(v)]:
            del figures[name]
    return out


def _cell(values: list[float]) -> str:
    return f"{np.median(values):.4g}" if values else ""


def _title(config: tuple) -> str:
    row = dict(zip(CONFIG, config, strict=True))
    batch = row.get("batch_size")
    return " ".join([row["dataset"], row["arch"], row["precision"],
                     f"batch {batch}" if batch not in (None, "None") else "full batch",
                     f"{row['epochs']} epochs", f"lr {row['lr']}"])


def _set_label(i: int, result_set: ResultSet) -> str:
    return f"{i + 1} {result_set.folder.name}"


def steps(sets: list[ResultSet], figures: dict[str, list], config: tuple,
          min_change: float, alpha: float) -> list[dict]:
    """The steps of every figure of one configuration, each with what changed across it."""
    found = []
    for name, values in figures.items():
        present = [i for i, v in enumerate(values) if v]
        for step in find_steps([values[i] for i in present], min_change=min_change,
                               alpha=alpha):
            before, at = present[step["index"] - 1], present[step["index"]]
            recs = [[r for r in sets[j].records if _key(r, CONFIG) == config]
                    for j in (before, at)]
            found.append({"figure": name, **step, "set": at, "previous": before,
                          "changed": said(*recs)})
    return found


Part = tuple[str, pd.DataFrame, list[str]]  # a configuration's title, table and steps


def parts(sets: list[ResultSet], pair: tuple[str, str], min_change: float = STEP_MIN_CHANGE,
          alpha: float = ALPHA) -> tuple[str, list[Part], dict[tuple, list[dict]]]:
    """What summary.md and report.html say: how steps are found, then per configuration its
    title, table and steps (markdown); and the steps found per configuration."""
    data = series(sets, pair)
    rule = (f"Steps: binary segmentation, kept where the two sides' medians differ by "
            f"{100 * min_change:.3g}% or more and Mann-Whitney over their rounds gives "
            f"p < {alpha:g}; size after/before with its 95% bootstrap interval over rounds.")
    out: list[Part] = []
    all_steps = {}
    for config, figures in sorted(data.items()):
        rows, previous, shown = [], None, {}
        for i, result_set in enumerate(sets):
            recs = [r for r in result_set.records if _key(r, CONFIG) == config]
            if not recs:
                continue
            row = {"set": _set_label(i, result_set), "started (UTC)": result_set.time}
            for label, field in MARKED:
                # the code version is the record's own; the versions its environment's
                value = "/".join(sorted({short(str(getattr(r, field, None) or r.env(field)))
                                         for r in recs}))
                # bold where the value itself differs from the set before: matching the
                # changes by name bolded torch's version when "torch threads" changed
                row[label] = f"**{value}**" if label in shown and shown[label] != value \
                    else value
                shown[label] = value
            row.update({name: _cell(values[i]) for name, values in figures.items()})
            row["changed since the set before"] = "" if previous is None else \
                "; ".join(changes(previous, recs))
            rows.append(row)
            previous = recs
        found = steps(sets, figures, config, min_change, alpha)
        all_steps[config] = found
        out.append((_title(config), pd.DataFrame(rows), [
            f"**step** in {s['figure']} at set {s['set'] + 1} ({sets[s['set']].time}): "
            f"{s['ratio']:.3f}x [{s['lo']:.3f}, {s['hi']:.3f}], {s['before']:.4g} → "
            f"{s['after']:.4g}, p {s['p']:.2g}; changed: {s['changed']}"
            for s in found] or ["no step found"]))
    return rule, out, all_steps


def markdown(sets: list[ResultSet], pair: tuple[str, str], min_change: float = STEP_MIN_CHANGE,
             alpha: float = ALPHA) -> tuple[str, dict[tuple, list[dict]]]:
    """The history as markdown, and the steps found per configuration."""
    rule, found, all_steps = parts(sets, pair, min_change, alpha)
    return _markdown(f"History of {len(sets)} result sets", rule, found), all_steps


def _markdown(heading: str, rule: str, found: list[Part]) -> str:
    lines = [f"# {heading}", "", rule, ""]
    for title, table, said_steps in found:
        lines += [f"## {title}", "", table.to_markdown(index=False), "",
                  *(f"- {line}" for line in said_steps), ""]
    return "\n".join(lines)


def figure(sets: list[ResultSet], pair: tuple[str, str], all_steps: dict[tuple, list[dict]],
           path: Path, most: int = 8) -> Path | None:
    """``draw``, saved as ``path``."""
    from nnbench.report.render.plots import plt

    fig = draw(sets, pair, all_steps, most)
    if fig is None:
        return None
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def draw(sets: list[ResultSet], pair: tuple[str, str], all_steps: dict[tuple, list[dict]],
         most: int = 8):
    """Time per epoch and the pair's ratio across the sets, per configuration (the first
    ``most``), each set's rounds as a range around their median; each step a dashed line
    with a short numbered label, what changed in the key below the panels (a change said in
    full runs wider than a panel: it was cut off there, or ran into the next one)."""
    import textwrap

    from nnbench.report.render.plots import plt

    data = dict(sorted(series(sets, pair).items())[:most])
    if not data:
        return None
    keyed: dict[tuple, int] = {}  # (configuration, set, what changed) -> its number in the key
    key: list[str] = []
    for config in data:
        for step in all_steps.get(config, []):
            if (config, step["set"], step["changed"]) not in keyed:
                keyed[config, step["set"], step["changed"]] = len(keyed) + 1
                key += textwrap.wrap(f"[{len(keyed)}] {_title(config)}, at set "
                                     f"{step['set'] + 1}: {step['changed']}", 190,
                                     subsequent_indent="      ")  # 190 characters: 13 in at 7 pt
    room = 0.14 * (len(key) + 1) + 0.1 if key else 0.0  # inches: 7 pt lines, a heading
    fig, axes = plt.subplots(len(data), 2, figsize=(13, 3.2 * len(data) + room), squeeze=False)
    ticks = [f"{i + 1}\n{s.time[5:16].replace('T', ' ')}" for i, s in enumerate(sets)]
    for (config, figures), (left, right) in zip(data.items(), axes, strict=True):
        for ax, suffix in ((left, " s/epoch"), (right, "")):
            names = [n for n in figures if n.endswith(suffix) and
                     (suffix or n.startswith(f"{pair[0]}/{pair[1]}"))]
            for name in names:
                x = [i for i, v in enumerate(figures[name]) if v]
                mid = [float(np.median(figures[name][i])) for i in x]
                low = [m - min(figures[name][i]) for m, i in zip(mid, x, strict=True)]
                high = [max(figures[name][i]) - m for m, i in zip(mid, x, strict=True)]
                ax.errorbar(x, mid, yerr=[low, high], marker="o", capsize=3,
                            label=name.removesuffix(suffix))
            ax.set_xlim(-0.5, len(sets) - 0.5)
            ax.margins(y=0.2)  # room above the data for the steps' labels
            for step in all_steps.get(config, []):
                if step["figure"] in names:
                    # the label on the side of the line that has room: it stays in its panel
                    right_half = step["set"] > len(sets) / 2
                    ax.axvline(step["set"] - 0.5, color="red", linestyle="--", linewidth=1)
                    ax.annotate(f"[{keyed[config, step['set'], step['changed']]}] "
                                f"{step['ratio']:.2f}x", (step["set"] - 0.5, 0.97),
                                xycoords=("data", "axes fraction"), va="top",
                                xytext=(-3 if right_half else 3, 0), textcoords="offset points",
                                ha="right" if right_half else "left", fontsize=7, color="red")
            ax.set_xticks(range(len(sets)), ticks, fontsize=7)
            ax.set_ylabel("time per epoch (s)" if suffix else f"{pair[0]}/{pair[1]} time")
            if names:
                ax.legend(fontsize=7)
            else:
                ax.text(0.5, 0.5, f"no {pair[0]} and {pair[1]} of one round in these sets",
                        ha="center", transform=ax.transAxes, fontsize=8)
        left.set_title(_title(config), fontsize=9, loc="left")
    if key:
        fig.text(0.01, 0.1 / fig.get_figheight(), "steps (what changed):\n" + "\n".join(key),
                 fontsize=7, color="red", va="bottom")
    fig.tight_layout(rect=(0, (room + 0.1) / fig.get_figheight(), 1, 1))
    return fig


def run(folders: list[Path], out: Path, pair: tuple[str, str], min_change: float,
        alpha: float, progress: bool = False, fmt: str = "text", order: str = "time") -> int:
    """``--history``: the markdown on the terminal, ``summary.md``, ``history.png`` and
    ``report.html`` (the figure and the tables) in ``out``, written as a whole. 2 with fewer
    than two sets that ran ok, or sets the records' times cannot order (``load``)."""
    from nnbench.files import write_text
    from nnbench.report.render import html, output

    try:
        sets, skipped = load(folders, progress, order)
    except OrderUnknown as err:
        print(f"nnbench.report: error: {err}", file=sys.stderr)
        return 2
    for line in skipped:
        print(f"nnbench.report: warning: {line}", file=sys.stderr)
    if len(sets) < 2:
        print(f"nnbench.report: error: --history needs two result sets with ok records; "
              f"{len(sets)} of {len(folders)} have any", file=sys.stderr)
        return 2
    rule, tables, found = parts(sets, pair, min_change, alpha)
    heading = f"History of {len(sets)} result sets" + (
        " in the order given" if order == "given" else "")
    text = _markdown(heading, rule, tables)
    with output.whole(out) as stage:
        write_text(stage / "summary.md", text + "\n")
        drawn = figure(sets, pair, found, stage / "history.png")
        write_text(stage / "report.html", html.history(heading, rule, tables, drawn))
    print(text if fmt == "markdown" else "\n".join(
        f"step in {_title(config)} {s['figure']} at set {s['set'] + 1} "
        f"({sets[s['set']].folder}): {s['ratio']:.3f}x [{s['lo']:.3f}, {s['hi']:.3f}]; "
        f"changed: {s['changed']}" for config, steps_ in found.items() for s in steps_)
        or f"no step in {len(found)} configurations over {len(sets)} sets")
    print(f"-> {out / 'summary.md'}{', ' + str(out / drawn.name) if drawn else ''} and "
          f"{out / 'report.html'}")
    return 0
