"""A record that cannot be written where it belongs is kept elsewhere: a measurement is never lost.

A job writes its record into its folder under runs_dir as the last thing it does. When that
fails (the disk filled up while it trained, a path too long, the folder gone), the measurements
are still in memory. They are written, atomically as always, into a fallback folder that ends
with the job folder's last three names (experiment, run or sweep, job), the first of these
that takes it:

1. ``$NNBENCH_UNSAVED_DIR``, where set;
2. ``$XDG_STATE_HOME/nnbench/unsaved`` (``~/.local/state/nnbench/unsaved``): the user's own,
   kept across reboots;
3. ``<system temporary folder>/nnbench-unsaved-<uid>``.

One line on stderr says what failed, where, and where the record is; it reads as any other
(``python -m nnbench.report <that folder>``), and belongs in the job folder once there is room.
Until then the report, ``nnbench.load`` and a resume over ``runs_dir`` find it from its job
folder (``nnbench.unsaved``), where the same fallback folders are in effect.
Only when no fallback takes it either is the record printed on stdout, as one JSON line after
that message. A folder first, not the console: a sweep's console is often a log nobody keeps,
or a terminal that scrolls a 300 KB line away, while a file is what the report reads.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from nnbench import unsaved
from nnbench.paths import shown_path
from nnbench.record import RESULT_FILE, Record, write_result

# The exit status of a job's process whose record went to stdout, no folder taking it: its
# parent then knows the record was made, as it cannot from an exit status 0 with no file (an
# interpreter that ran no job at all ends so too). EX_TEMPFAIL of sysexits.h.
PRINTED_EXIT = 75
printed = False  # whether this process printed a record; a job's process has one job


def write(output_dir: str | os.PathLike, record: Record) -> Path | None:
    """Write the record into ``output_dir``; when that fails, keep it in a fallback folder (or,
    failing all, on stdout) and say so in one line. Returns the path it was written to (None:
    printed)."""
    try:
        return write_result(output_dir, record)
    except OSError as err:
        failed = (f"nnbench: cannot write {shown_path(Path(output_dir) / RESULT_FILE)} "
                  f"({err.strerror or err})")
    tried = []
    for root in unsaved.roots():
        folder = unsaved.kept_folder(output_dir, root)
        try:
            path = write_result(folder, record)
        except OSError as err:
            tried.append(f"{shown_path(folder)}: {err.strerror or err}")
            continue
        print(f"{failed}; the record is kept in {path} (python -m nnbench.report reads it "
              f"there; move it into the job folder when there is room)", file=sys.stderr,
              flush=True)
        return path
    print(f"{failed}; no fallback folder took it either ({'; '.join(tried)}): the record "
          f"follows on stdout as one line of JSON", file=sys.stderr, flush=True)
    print(json.dumps(record.model_dump(mode="json"), default=str), flush=True)
    global printed
    printed = True
    return None


def exit_status() -> int:
    """A job's process's exit status once its job has ended: 0, or ``PRINTED_EXIT``."""
    return PRINTED_EXIT if printed else 0
