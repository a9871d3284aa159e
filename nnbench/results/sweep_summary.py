"""The lines a sweep ends with: per configuration and pair of frameworks, the verdict in words
with its interval and conditions (``nnbench.results.verdict``): "numpy is 2.90x faster than
torch [2.70, 3.10] on moons 2x32x16x1, float32, full batch, cpu (...)".

Read from the sweep's records (wherever its jobs ran), pooled over rounds as the report pools
them (``nnbench.results.pooling``): a user sees at the end of ``python -m nnbench -m ...`` what
the report would say, without making it.
"""

from __future__ import annotations

import json
from pathlib import Path

from nnbench.results.read import ReadRecord
from nnbench.results.verdict import Verdict, verdicts


def _records(sweep_dir: str | Path) -> list[ReadRecord]:
    """The sweep's records, and the earlier results of the jobs it resumed."""
    from nnbench.results.collect import collect

    roots: list[Path] = [Path(sweep_dir)]
    for marker in Path(sweep_dir).glob("*/resumed.json"):  # jobs resumed: their earlier result
        try:
            roots.append(Path(json.loads(marker.read_text())["result"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return collect([r for r in roots if r.exists()], progress=False).records


def sweep_verdicts(sweep_dir: str | Path, pair: tuple[str, str] | None = None,
                   baseline: str | None = None, pool_earlier: bool = False) -> list[Verdict]:
    """The verdicts of a sweep, for scripts (``Verdict.as_dict``): every two frameworks of
    each configuration, or ``pair`` alone, or each against ``baseline``; with
    ``pool_earlier``, pooled with earlier sweeps' rounds of the same identity on this host
    (``nnbench.results.earlier``)."""
    own = _records(sweep_dir)
    if not pool_earlier:
        return verdicts(own, pair, baseline)
    from nnbench.results.earlier import earlier_rounds
    from nnbench.results.labels import assign_variants

    before = earlier_rounds(sweep_dir, own)
    # the variants said are those of the rounds pooled, not of what else the folders held
    assign_variants([*own, *before])
    return verdicts(own, pair, baseline, earlier=before)


def interval_widths(sweep_dir: str | Path,
                    pair: tuple[str, str] | None = None) -> list[tuple[str, float]]:
    """(configuration and pair, relative half-width of its ratio's interval over rounds; NaN
    without one) for each ratio of ``pair``, or of every two frameworks that ran a
    configuration, in this sweep: what ``bench.rounds=auto`` waits on."""
    return rounds_state(sweep_dir, pair)[0]


def rounds_state(sweep_dir: str | Path, pair: tuple[str, str] | None = None
                 ) -> tuple[list[tuple[str, float]], str | None]:
    """``interval_widths``, and why no further round can help where that holds of every ratio:
    a round on an oversubscribed host makes its configuration "cannot tell" for the sweep
    (``stats.robust``), whatever the rounds after it measure."""
    from nnbench.results import pooling
    from nnbench.stats.stopping import half_width

    said = sweep_verdicts(sweep_dir, pair)
    widths = [(f"{v.a}/{v.b} on {v.condition}", half_width(v.ratio, v.lo, v.hi)
               if v.mark == pooling.ROUNDS_MARK and not v.unsure else float("nan"))
              for v in said]
    busy = [v.unsure for v in said if v.unsure.startswith("host busy")]
    hopeless = bool(said) and len(busy) == len(said)
    return widths, busy[0].split("; rerun", 1)[0] if hopeless else None


def ratio_lines(sweep_dir: str | Path, pair: tuple[str, str] | None = None,
                baseline: str | None = None, pool_earlier: bool = False) -> list[str]:
    """One line per configuration and pair of frameworks that ran it ok in this sweep."""
    return [v.line() for v in sweep_verdicts(sweep_dir, pair, baseline, pool_earlier)]
