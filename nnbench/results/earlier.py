"""Earlier runs of a sweep's own configurations on this host, pooled into its closing verdict.

A sweep's rounds run within a minute or two; a shared host (a VM, a laptop) can spend longer
than that in one speed state and the next sweep in another (docs/statistics.md, "Between
runs"). Rounds of one sweep cannot see past its own state, so two sweeps of the same code can
each give a tight interval that excludes the other's. With ``bench.rounds=auto`` the closing
verdict therefore also pools the rounds that earlier sweeps of the same experiment left under
``runs_dir``, where they measured exactly the same thing: the same identity (measured
configuration, code, data, environment, and with it this host), on a host no busier than the
sweep's own (its contention picks the figure compared, ``stats.robust``: earlier rounds must
not change it; an oversubscribed sweep pools nothing, it cannot tell anyway). This is what
the report over ``runs_dir`` pools too, and what asv's ``--append-samples`` and pyperf's
``--append`` do on request; ``bench.pool_earlier=false`` keeps a sweep to its own rounds.
"""

from __future__ import annotations

import re
from pathlib import Path

from nnbench.results.read import ReadRecord

# How many earlier sweeps of the experiment are looked at: the most recent, which also bounds
# what a sweep's end reads however long runs_dir's history grows.
LIMIT = 10
INDEX_NAME = "earlier-sweeps"  # the key of the experiment folder's index (not a file in it)
# A sweep folder's name as ``paths.run_folder`` makes it (``<date>_<time>_<pid>-<hex>``): a
# sweep given its own folder elsewhere (``hydra.sweep.dir``) has no earlier siblings to read.
SWEEP_NAME = re.compile(r"\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}_\d+-[0-9a-f]+")


def identity(rec: ReadRecord) -> tuple | None:
    """What two rounds must share to pool: the four digests of the identity (the round is not
    among them); None for a record without them."""
    parts = tuple(rec.digest(p) for p in ("config", "code", "data", "environment"))
    return None if None in parts else parts


# no reading counts as quiet, as ``stats.robust`` counts it
BUSIER = {None: 0, "quiet": 0, "busy": 1, "oversubscribed": 2}


def _busy(rec: ReadRecord) -> int:
    return BUSIER.get(rec.contention_level, 2)


def earlier_sweeps(sweep_dir: str | Path, limit: int = LIMIT) -> list[Path]:
    """The experiment's sweep folders made before ``sweep_dir``, the most recent ``limit``."""
    here = Path(sweep_dir)
    if not SWEEP_NAME.fullmatch(here.name) or not here.parent.is_dir():
        return []
    try:
        siblings = [p for p in here.parent.iterdir() if SWEEP_NAME.fullmatch(p.name)
                    and p.name < here.name and p.is_dir()]
    except OSError:
        return []
    return sorted(siblings)[-limit:]


def earlier_rounds(sweep_dir: str | Path, records: list[ReadRecord],
                   limit: int = LIMIT) -> list[ReadRecord]:
    """The ok rounds of earlier sweeps with the identity of one of ``records`` (a sweep's
    own), their host no busier than the busiest of the sweep's own."""
    from nnbench.results.collect import collect
    from nnbench.results.index import opened

    own = [r for r in records if r.status == "ok"]
    worst = max((_busy(r) for r in own), default=2)
    if worst >= BUSIER["oversubscribed"]:
        return []
    wanted = {identity(r) for r in own} - {None}
    folders = earlier_sweeps(sweep_dir, limit)
    if not wanted or not folders:
        return []
    seen = {Path(r.result_file).resolve() for r in records if r.result_file}
    # an index of what earlier sweeps' ends read (the report's, in nnbench's cache folder):
    # the experiment's past sweeps are read once, not at the end of every later sweep
    with opened(Path(sweep_dir).parent / INDEX_NAME) as index:
        read = collect(folders, progress=False, index=index).records
    return [r for r in read
            if r.status == "ok" and identity(r) in wanted and _busy(r) <= worst
            and Path(r.result_file).resolve() not in seen]
