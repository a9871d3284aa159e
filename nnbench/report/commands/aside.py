"""Work done in a second process beside this one: a large report's figures are drawn while its
tables are computed, the two halves that take its time and need nothing of each other.

The process is forked, so it starts in milliseconds with the records already in memory (shared
until written) and nothing is pickled but the result. What it prints to stderr (a figure not
drawn) is passed back and printed here, in order, so a caller that captures stderr (a test, a
notebook) sees it. Where there is no fork or no second CPU, or the process dies (killed for
memory), the work is done here instead when its result is asked for.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import sys
from collections.abc import Callable, Iterator
from typing import Any

from nnbench.results.collect import can_fork


def _run(work: Callable[[], Any], send: Any) -> None:
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            value = work()
        send.send((True, value, said.getvalue()))
    except BaseException as err:  # noqa: BLE001 - said to the parent, which decides
        send.send((False, f"{type(err).__name__}: {err}", said.getvalue()))


@contextlib.contextmanager
def aside(work: Callable[[], Any], wanted: bool = True) -> Iterator[Callable[[], Any]]:
    """Start ``work()`` in a forked process (when ``wanted`` and possible) and yield a function
    that waits for it and returns its value; the process is ended if the block ends first (an
    error, Ctrl-C). Where it cannot run aside, the function runs ``work()`` here."""
    if not (wanted and can_fork()):
        yield work
        return
    sys.stdout.flush()
    sys.stderr.flush()  # or the child would print what the parent had not yet
    receive, send = multiprocessing.Pipe(duplex=False)
    process = multiprocessing.get_context("fork").Process(target=_run, args=(work, send),
                                                          daemon=True)
    process.start()
    send.close()

    def result() -> Any:
        try:
            ok, value, said = receive.recv()
        except EOFError:  # it died without a word (killed): do the work here
            return work()
        print(said, end="", file=sys.stderr)
        if not ok:
            raise RuntimeError(value)
        return value

    try:
        yield result
    finally:
        if process.is_alive():
            process.terminate()
        process.join()
        receive.close()
