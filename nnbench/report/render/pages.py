"""Which configurations each figure draws, page by page, and which it leaves out.

A page holds ``PER_PAGE`` configurations, so that their tick labels stay legible; a figure
has at most ``MAX_PAGES`` pages (``comparison_summary.png``, ``comparison_summary_2.png``, ...),
because each page costs about a second to draw and beyond a few dozen configurations the
tables are the place to read them. What a figure leaves out it says on each of its pages, and
``left_out`` names each such configuration for summary.md and report.html: no configuration is
dropped without a word. The figures and the page's list read the same functions here, so they
agree.

Light on purpose (no matplotlib): summary.md's sections use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nnbench.report.render.tables import DEFAULT_PAIR, config_columns
from nnbench.results import pooling
from nnbench.results.labels import CONFIG_KEYS, LABELLED, label, order_value, varying

if TYPE_CHECKING:
    import pandas as pd

    from nnbench.results.collect import Collection
    from nnbench.results.read import ReadRecord

PER_PAGE = 8
MAX_PAGES = 3
CONFUSION_PAIRS = 4  # two matrices each, the classes readable
TABLES = "every configuration is in the tables of summary.md and report.html"


def latest_ok(records: list[ReadRecord]) -> list[ReadRecord]:
    """The newest ok record per configuration, framework and device."""
    newest: dict[tuple, ReadRecord] = {}
    for rec in records:
        if rec.status != "ok":
            continue
        key = tuple(str(getattr(rec, k)) for k in [*CONFIG_KEYS, "framework", "device"])
        if key not in newest or rec.started >= newest[key].started:
            newest[key] = rec
    return list(newest.values())


def pairs_by_config(records: list[ReadRecord], need: str,
                    pair: tuple[str, str]) -> list[tuple[ReadRecord, ReadRecord]]:
    """(first record, second record) of the pair per configuration, on the same device where
    possible."""
    by_key: dict[tuple, dict[str, ReadRecord]] = {}
    for rec in latest_ok(records):
        if not getattr(rec, need):
            continue
        key = tuple(str(getattr(rec, k)) for k in CONFIG_KEYS)
        slot = by_key.setdefault(key, {})
        current = slot.get(rec.framework)
        if current is None or rec.device == "cpu":
            slot[rec.framework] = rec
    first, second = pair
    both = [(s[first], s[second]) for s in by_key.values() if first in s and second in s]
    return sorted(both, key=lambda p: _order(p[0]))  # as the tables order them


def _order(record: ReadRecord) -> tuple:
    """Numbers by value (batch 16 before 128, 2x64 before 2x1024), then text; a missing value
    (full batch) last."""
    return tuple(order_value(getattr(record, k)) for k in CONFIG_KEYS)


def confusion_pairs(records: list[ReadRecord],
                    pair: tuple[str, str]) -> list[tuple[ReadRecord, ReadRecord]]:
    return [p for p in pairs_by_config(records, "confusion_matrix", pair)
            if len(p[0].confusion_matrix) <= 20]


def comparison_configs(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """The ok rows, each with ``_config`` (which configuration it pools into: never across
    code or library versions, see ``pooling.separate``), and one row per configuration in the
    order the comparison figure draws them, the tables' order."""
    ok = frame[frame["status"] == "ok"] if not frame.empty else frame
    if ok.empty:
        return ok, []
    keys = ["experiment_name", *config_columns(ok)] if "experiment_name" in ok else \
        config_columns(ok)
    ok, keys = pooling.separate(ok, keys)
    # in the tables' order (sizes by value): the versions of one configuration side by side
    ok = ok.assign(_config=pooling.row_ids(ok, keys))
    firsts = [dict(c) for _, c in ok.drop_duplicates("_config").iterrows()]
    return ok, sorted(firsts, key=lambda c: tuple(order_value(c.get(k)) for k in keys))


def labels(rows: list[dict], wrap: bool = True) -> list[str]:
    """Each configuration's label, with whatever tells it from the others among ``rows``."""
    extra = varying(rows, LABELLED)
    return [label(r, wrap=wrap, extra=extra) for r in rows]


def split(items: list) -> tuple[list[list], list]:
    """(the pages drawn, the items left out)."""
    drawn = items[:PER_PAGE * MAX_PAGES]
    return [drawn[i:i + PER_PAGE] for i in range(0, len(drawn), PER_PAGE)], \
        items[len(drawn):]


def page_path(path: Path, number: int) -> Path:
    """``comparison_summary.png``, then ``comparison_summary_2.png``, ..."""
    return path if number == 1 else path.with_name(f"{path.stem}_{number}{path.suffix}")


def page_note(total: int, per_page: int, pages: int, number: int, path: Path,
              where: str) -> str:
    """What a page holds of the whole, and where the rest is: '' when one page holds all."""
    if total <= per_page:
        return ""
    first = (number - 1) * per_page + 1
    last = min(number * per_page, total)
    drawn = min(total, per_page * pages)
    text = f"Configurations {first}–{last} of {total} (page {number} of {pages}"
    text += f": {page_path(path, 1).name} to {page_path(path, pages).name})" if pages > 1 else ")"
    if drawn < total:
        text += (f"; the other {total - drawn} are not drawn: named under \"Configurations "
                 f"not drawn in the figures\" in summary.md and report.html; {where}")
    return text + "."


def left_out(collection: Collection, pair: tuple[str, str] = DEFAULT_PAIR
             ) -> list[tuple[str, list[str], str]]:
    """(figure, the configurations it does not draw, where they are instead) for each figure
    that leaves some out."""
    out = []
    _, configs = comparison_configs(collection.frame)
    rest = split(configs)[1]
    if rest:
        out.append(("comparison_summary.png", labels(configs, wrap=False)[-len(rest):], TABLES))
    curves = pairs_by_config(collection.records, "loss_history", pair)
    rest = split(curves)[1]
    if rest:
        names = labels([a for a, _ in curves], wrap=False)[-len(rest):]
        out.append(("loss_curves.png", names, "loss_history of each record in its result.json "
                                              "(and in results.json with --histories)"))
    matrices = confusion_pairs(collection.records, pair)
    if len(matrices) > CONFUSION_PAIRS:
        names = labels([a for a, _ in matrices], wrap=False)[CONFUSION_PAIRS:]
        out.append(("confusion_matrices.png", names, "its per-class precision and recall "
                                                     "(a table per configuration above)"))
    return [(figure, [n.replace("\n", " ") for n in names], where)
            for figure, names, where in out]
