"""The top of a report, and what ``make report`` prints: the verdicts in words
(``nnbench.results.verdict``), per experiment; where an experiment has many configurations, a
tally per pair of frameworks first, then the sentences by dataset and architecture (a family).
"""

from __future__ import annotations

import html
from collections import Counter
from itertools import groupby

from nnbench.results.collect import Collection
from nnbench.results.verdict import SAME, UNSURE, Verdict, number, verdicts

TITLE = "The answer: which trains faster"
RULE = ("Time per epoch. A framework is called faster only where the whole 95% interval of the "
        "ratio of times lies on one side of 1 and the ratio is more than 2% from 1; otherwise "
        "no clear difference; a ratio without an interval, or rounds that cannot pool, cannot "
        "tell.")
MANY = 8  # configurations of one experiment beyond which a tally comes first, the console stops


def of(collection: Collection, pair: tuple[str, str] | None = None,
       baseline: str | None = None) -> list[Verdict]:
    """Every verdict of the collection, made once for the page, summary.md and the console."""
    return collection.once(("verdicts", pair, baseline),
                           lambda: verdicts(collection.records, pair, baseline))


def by_experiment(said: list[Verdict]) -> list[tuple[str, list[Verdict]]]:
    return [(name, list(items)) for name, items in groupby(said, key=lambda v: v.experiment)]


def _many(items: list[Verdict]) -> bool:
    return len({v.condition for v in items}) > MANY


def tally(said: list[Verdict]) -> list[str]:
    """Per pair of frameworks: how many configurations each wins, by how much, and how many
    show no clear difference or cannot tell."""
    out = []
    pairs = sorted({(v.a, v.b) for v in said}, key=lambda p: [(v.a, v.b) for v in said].index(p))
    for a, b in pairs:
        mine = [v for v in said if (v.a, v.b) == (a, b)]
        parts = []
        for name in (a, b):
            won = [v.factor()[0] for v in mine if v.faster == name]
            if won:
                parts.append(f"{name} faster in {len(won)} ({number(min(won))}x to "
                             f"{number(max(won))}x)")
        same = sum(v.kind == SAME for v in mine)
        if same:
            parts.append(f"{SAME} in {same}")
        unsure = Counter(_why(v) for v in mine if v.kind == UNSURE)
        if unsure:  # why, once per reason: a sentence each would repeat it a hundred times
            parts.append(f"{UNSURE} in {sum(unsure.values())} (" + "; ".join(
                f"{why}: {n}" for why, n in unsure.most_common()) + ")")
        out.append(f"{a} against {b} over {len(mine)} configurations: {', '.join(parts)}")
    return out


def _why(v: Verdict) -> str:
    """A "cannot tell"'s reason in a few words: "host busy", "no interval"."""
    return v.unsure.split(" (", 1)[0].split(";", 1)[0] if v.unsure else "no interval"


def _families(said: list[Verdict]) -> list[tuple[str, list[Verdict]]]:
    """The sentences by dataset and architecture (a condition's first part), in order."""
    return [(name, list(items)) for name, items in
            groupby(said, key=lambda v: v.condition.split(",", 1)[0])]


def markdown(said: list[Verdict]) -> list[str]:
    lines = [f"## {TITLE}", "", RULE, ""]
    for experiment, items in by_experiment(said):
        lines += [f"**{experiment}**", ""]
        if _many(items):
            lines += [*(f"- {t}" for t in tally(items)), ""]
            for family, group in _families(items):
                lines += [f"*{family}*", "", *(f"- {v.line()}" for v in group), ""]
        else:
            lines += [*(f"- {v.line()}" for v in items), ""]
    if not said:
        lines += ["_No configuration ran two frameworks ok: nothing to compare._", ""]
    return lines


def html_parts(said: list[Verdict]) -> list[str]:
    out = [f"<h2>{html.escape(TITLE)}</h2>", f'<p class="note">{html.escape(RULE)}</p>']
    for experiment, items in by_experiment(said):
        out.append(f"<h3>{html.escape(experiment)}</h3>")
        sentences = [f"<li>{html.escape(v.line())}</li>" for v in items]
        if _many(items):
            out += ["<ul>", *(f"<li><strong>{html.escape(t)}</strong></li>"
                              for t in tally(items)), "</ul>"]
            for family, group in _families(items):
                out += [f"<details><summary>{html.escape(family)}: {len(group)} verdicts"
                        f"</summary><ul>", *(f"<li>{html.escape(v.line())}</li>"
                                             for v in group), "</ul></details>"]
        else:
            out += ["<ul>", *sentences, "</ul>"]
    if not said:
        out.append("<p><em>No configuration ran two frameworks ok: nothing to compare.</em></p>")
    return out


def console(summary: str) -> list[str]:
    """What ``make report`` prints, read from summary.md's first section (so that a report
    kept as it was says the same): every sentence of a small experiment, the tally of a large
    one."""
    out: list[str] = []
    section = summary.split(f"## {TITLE}\n", 1)[-1].split("\n## ", 1)[0]
    experiment, long = "", False
    for line in section.splitlines():
        if line.startswith("**") and line.endswith("**"):
            experiment, long = line.strip("*"), False
        elif line.startswith("*") and not line.startswith("**") and not long:
            # a family's heading: the tally came first
            long = True
            out.append(f"{experiment}: every configuration's verdict: summary.md")
        elif line.startswith("- ") and not long:
            out.append(f"{experiment}: {line[2:]}")
    return out


