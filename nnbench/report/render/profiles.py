"""The profiled jobs' files (``bench.profile``), linked from report.html and summary.md.

Links are relative to the report's folder where it is given, so that a copy of the runs folder
with its report keeps them working; without it, they are the files' absolute addresses.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from urllib.parse import quote

from nnbench.results.labels import key_text
from nnbench.results.read import ReadRecord, as_records

TITLE = "Profiles (bench.profile)"
NOTE = ("From a pass of each job's own, after its timed runs (the timed figures are from epochs "
        "without a profiler). profile.prof: cProfile's whole profile, for python -m pstats FILE "
        "or snakeviz FILE; profile_top.txt: its top functions; profile_trace.json: the "
        "framework's trace (torch), for https://ui.perfetto.dev or chrome://tracing.")
COLUMNS = ("experiment_name", "framework", "device", "dataset", "arch", "precision", "batch_size")


def profiled(records: list[ReadRecord]) -> list[tuple[ReadRecord, list[Path]]]:
    """(the record, its profile files) for each record that lists some, in a stable order."""
    out = []
    for rec in as_records(records):
        if rec.profile_files and rec.result_file:
            folder = Path(rec.result_file).parent
            out.append((rec, [folder / name for name in rec.profile_files]))
    return sorted(out, key=lambda item: tuple(str(getattr(item[0], k)) for k in COLUMNS))


def href(path: Path, base: Path | None) -> str:
    """The link to ``path`` from a page in ``base`` (None: the file's absolute address)."""
    if base is None:
        return path.resolve().as_uri()
    return quote(Path(os.path.relpath(path.resolve(), base.resolve())).as_posix())


def _cells(rec: ReadRecord) -> list[str]:
    return [str(key_text(key, getattr(rec, key))) for key in COLUMNS]


def html_section(records: list[ReadRecord], base: Path | None = None) -> list[str]:
    """The page's section: a table, a row per profiled job, its files as links (none: [])."""
    found = profiled(records)
    if not found:
        return []
    head = "".join(f"<th>{html.escape(k)}</th>" for k in (*COLUMNS, "job", "files"))
    rows = []
    for rec, files in found:
        cells = "".join(f"<td>{html.escape(c)}</td>" for c in _cells(rec))
        job, *links = (f'<a href="{html.escape(href(f, base))}">{html.escape(f.name)}</a>'
                       for f in [files[0].parent, *files])
        rows.append(f"<tr>{cells}<td>{job}</td><td>{' '.join(links)}</td></tr>")
    return [f"<h2>{html.escape(TITLE)}</h2>", f"<table><tr>{head}</tr>{''.join(rows)}</table>",
            f'<p class="note">{html.escape(NOTE)}</p>']


def markdown_section(records: list[ReadRecord], base: Path | None = None) -> list[str]:
    """summary.md's section, as lines (none: [])."""
    found = profiled(records)
    if not found:
        return []
    lines = [f"## {TITLE}", "", f"| {' | '.join((*COLUMNS, 'job', 'files'))} |",
             f"|{'---|' * (len(COLUMNS) + 2)}"]
    for rec, files in found:
        job, *links = (f"[{f.name}]({href(f, base)})" for f in [files[0].parent, *files])
        cells = " | ".join(c.replace("|", "/") for c in _cells(rec))
        lines.append(f"| {cells} | {job} | {' '.join(links)} |")
    return [*lines, "", NOTE, ""]
