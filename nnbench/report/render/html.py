"""report.html: one self-contained page (figures inlined) with tables, figures, environment."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import pandas as pd

from nnbench.report.render import answer, profiles
from nnbench.report.render.sections import PARALLEL_NOTE, headline, sections
from nnbench.report.render.tables import DEFAULT_PAIR, DISAGREE
from nnbench.results.collect import Collection
from nnbench.results.read import ReadRecord

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0 1.5em; }
.warn { color: #b00; font-weight: bold; } code { background: #f6f6f6; padding: 0 3px; }
.note { font-size: 0.85em; color: #555; max-width: 60em; margin-top: -1em; }
"""


# Lets a headless browser report whether every figure decoded, body[data-images-loaded="n/m"],
# and how tall the page is laid out, body[data-page-height] in CSS pixels (for a screenshot of
# all of it: ``browser.render``).
IMAGE_CHECK = """
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const ok = imgs.filter((i) => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.imagesLoaded = ok + "/" + imgs.length;
  document.body.dataset.pageHeight = Math.ceil(document.documentElement.scrollHeight);
});
"""


def _blas(rec: ReadRecord) -> tuple[str, str]:
    """(BLAS, LAPACK) as the record's framework calls them (``Trainer.blas``, recorded by the
    job); "not recorded" for an older record: threadpoolctl's list of the libraries loaded in
    its process (a torch process holds NumPy's OpenBLAS beside torch's MKL) cannot say which
    one its framework called."""
    said = rec.env("framework_blas")
    if not said:
        return "not recorded", ""
    extra = f"; oneDNN {said['onednn']}" if said.get("onednn") else ""
    return str(said.get("blas", said.get("error", ""))), f"{said.get('lapack', '')}{extra}"


def _whole(value: object) -> str | None:
    """A count as a count (2, not 2.0); None where unknown."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(int(value)) if float(value).is_integer() else str(value)


def _environment(collection: Collection) -> pd.DataFrame:
    rows = {}
    for rec in collection.records:
        env, gpu = rec.env, rec.gpu
        blas, lapack = _blas(rec)
        threads = next((t for t in (env("threads"), rec.threads, env("torch_threads"))
                        if t is not None), None)
        lock = env("lock") or {}  # the lock file's digest, and whether the venv still matches
        row = {"host": env("hostname"), "node": rec.node,
               "scheduler job": (rec.scheduler or {}).get("job"), "cpu": env("cpu_model"),
               "cores": _whole(env("cpu_cores_available")),
               "framework": rec.framework, "threads": _whole(threads),
               "BLAS it calls": blas, "LAPACK it calls": lapack,
               "gpu": gpu.get("name"), "driver": gpu.get("driver"),
               "environment": rec.environment_name,  # bench.python's, by name
               "python": env("python"), "numpy": env("numpy"),
               "torch": env("torch"), "hydra": env("hydra"),
               "commit": (env("git_commit") or "")[:12],
               "lock": (lock.get("pins_sha256") or "")
               + ("" if lock.get("matches", True) else " (drifted)")}
        key = {k: v for k, v in row.items() if k != "scheduler job"}  # a row per machine and
        rows[tuple(map(str, key.values()))] = row  # framework, as each calls its libraries
    frame = pd.DataFrame(list(rows.values()))
    return frame.dropna(axis=1, how="all")  # no node column for runs outside a scheduler


def _table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<p><em>none</em></p>"
    text = frame.to_html(index=False, escape=True, border=0, na_rep="")
    for flag in ("never predicted", DISAGREE):
        text = text.replace(f"**{flag}**", f'<span class="warn">{flag}</span>')
    return text


def _figure(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def render(collection: Collection, figures: list[Path],
           pair: tuple[str, str] = DEFAULT_PAIR, base: Path | None = None,
           said: list | None = None) -> str:
    """The page, the verdicts in words first (``said``; by default every two frameworks of
    each configuration); ``base``: the folder it is written to, which its links to job files
    are relative to (None: absolute)."""
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>nnbench report</title>",
             f"<style>{STYLE}</style></head><body>", "<h1>nnbench report</h1>",
             f"<p>{html.escape(headline(collection))}</p>"]
    frame = collection.frame
    if "exclusive" in frame and (frame["exclusive"] == False).any():  # noqa: E712
        parts.append(f'<p class="warn">{html.escape(PARALLEL_NOTE.replace("**", ""))}</p>')
    parts += answer.html_parts(answer.of(collection) if said is None else said)
    if figures:
        parts.append("<h2>Figures</h2>")
        for fig in figures:
            parts += [f"<h3>{html.escape(fig.stem.replace('_', ' '))}</h3>", _figure(fig)]
    for level, title, table, note in sections(collection, pair):
        parts.append(f"<h{level}>{html.escape(title)}</h{level}>")
        if table is not None:
            parts.append(_table(table))
        if note:
            parts.append(f'<p class="note">{html.escape(note)}</p>')
    parts += profiles.html_section(collection.records, base)
    parts += ["<h2>Environment of the runs</h2>", _table(_environment(collection)),
              f"<script>{IMAGE_CHECK}</script>", "</body></html>"]
    return "\n".join(parts)


def _bold(text: str) -> str:
    """Markdown's **bold** (after escaping, which leaves asterisks alone) as HTML's."""
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)


def history(heading: str, rule: str, parts: list[tuple[str, pd.DataFrame, list[str]]],
            figure: Path | None) -> str:
    """The page of ``--history``: the figure (inlined, as the report's), then per
    configuration its table and its steps (``report.analyse.history.parts``)."""
    out = ["<!doctype html><html><head><meta charset='utf-8'>",
           f"<title>nnbench {html.escape(heading.lower())}</title>",
           f"<style>{STYLE}</style></head><body>", f"<h1>{html.escape(heading)}</h1>",
           f"<p>{html.escape(rule)}</p>"]
    if figure is not None:
        out += ["<h2>Figure</h2>", _figure(figure)]
    for title, table, steps in parts:
        out += [f"<h2>{html.escape(title)}</h2>", _bold(_table(table)), "<ul>",
                *(f"<li>{_bold(html.escape(step))}</li>" for step in steps), "</ul>"]
    out += [f"<script>{IMAGE_CHECK}</script>", "</body></html>"]
    return "\n".join(out)
