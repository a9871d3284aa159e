"""The report at the scale of a real study: wall time and peak memory over 2,000 records.

The budget on a 2-core machine: the first report of 2,000 records (~470 MB) in at most
15 s and 1 GB, a second one over the same unchanged records in at most 3 s, and no export
larger than its input. Each round measures, each in a fresh process (peak RSS from wait4):

- first: no index yet (a fresh cache folder), every record read and checked;
- second: the same records, unchanged: taken from the index, the report kept as it is;
- one changed: one record rewritten: it alone is read again, the report drawn anew;
- small first: ``--small`` with no index.

The records are made once (a real two-job sweep as seed, then scripts/make_records.py) under
``--records``. Timings on a shared machine are noisy: run several rounds, read the minimum.

    python scripts/bench_report.py [--records DIR] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUDGET = {"first": (15.0, 1024.0), "second": (3.0, 1024.0)}


def _make(records: Path) -> None:
    seed = records.parent / "seed"
    if not any(seed.rglob("result.json")):
        subprocess.run([sys.executable, "-m", "nnbench", "-m", "framework=numpy,torch",
                        "train.epochs=200", "bench.rounds=1", f"runs_dir={seed}"],
                       cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_records.py"), str(seed),
                    str(records)], check=True)


def _measure(args: list[str], cache: Path) -> tuple[float, float, str]:
    """(wall s, peak RSS MB, its first line) of one report in a fresh process."""
    env = {**os.environ, "NNBENCH_CACHE_DIR": str(cache)}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "nnbench.report", *args,
                                 "--no-progress"], cwd=REPO, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak, not the largest's
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        if proc.returncode:
            sys.exit(f"bench_report: the report failed:\n{err.read()}")
        return wall, usage.ru_maxrss / 1024, out.readline().strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=Path,
                        default=Path(tempfile.gettempdir()) / "nnbench-bench-report" / "records")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not args.records.exists():
        _make(args.records)
    files = sorted(args.records.rglob("result.json"))
    inputs = sum(f.stat().st_size for f in files) / 1e6
    print(f"{len(files)} records, {inputs:.0f} MB, under {args.records}; "
          f"{len(os.sched_getaffinity(0))} CPUs, load {os.getloadavg()[0]:.1f}")
    work = Path(tempfile.mkdtemp(prefix="nnbench-bench-report-"))
    rows = []
    try:
        for i in range(args.rounds):
            out, cache = work / f"report{i}", work / f"cache{i}"
            runs = {"first": [], "second": [], "one changed": [], "small first": ["--small"]}
            for name, flags in runs.items():
                if name == "one changed":
                    files[i].write_bytes(files[i].read_bytes())  # same content, a new mtime
                if name == "small first":
                    out, cache = work / f"small{i}", work / f"small-cache{i}"
                wall, rss, line = _measure([str(args.records), "--out", str(out), *flags],
                                           cache)
                size = (out / "results.json").stat().st_size / 1e6 \
                    if (out / "results.json").exists() else float("nan")
                rows.append((i, name, wall, rss, size))
                print(f"round {i}  {name:12s} {wall:6.1f} s  {rss:6.0f} MB peak RSS  "
                      f"results.json {size:5.1f} MB  | {line}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load {os.getloadavg()[0]:.1f} at the end")
    for name, (seconds, mb) in BUDGET.items():
        best = min((r for r in rows if r[1] == name), key=lambda r: r[2])
        verdict = "met" if best[2] <= seconds and best[3] <= mb else "NOT met"
        print(f"{name}: best {best[2]:.1f} s, {best[3]:.0f} MB; budget {seconds:g} s, "
              f"{mb:g} MB: {verdict}")
    largest = max(r[4] for r in rows if r[4] == r[4])
    print(f"largest results.json {largest:.1f} MB, input {inputs:.0f} MB: "
          f"{'met' if largest <= inputs else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
