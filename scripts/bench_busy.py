"""The same sweeps on a quiet host and beside two CPU-bound processes: do the answers hold?

Runs the default sweep (two-moons, NumPy and torch) and a 784x256x128x10 full-batch sweep, each
with ``bench.rounds=3``, first on the host as it is, then while two busy loops (one per core
where there are two) spin; the loops are started and stopped here, by pid. Prints each closing
line's answer side by side with the wall time each sweep took, and whether the busy answer lies
within 5% of the quiet ratio's interval or says "cannot tell".

    .venv/bin/python scripts/bench_busy.py [--rounds 3] [--passes 1] [--checkout OLD]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from nnbench.results.sweep_summary import sweep_verdicts
from nnbench.results.verdict import UNSURE, Verdict

SWEEPS = {
    "two-moons 2x32x16x1": ["framework=numpy,torch"],
    "784x256x128x10 full batch": ["framework=numpy,torch", "dataset=synthetic",
                                  "train=full_batch", "+scale=s784x256x128x10",
                                  "dataset.n_test=1000", "train.epochs=20", "train.lr=0.01"],
}
LOOP = "import os, sys; os.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True: pass"


@contextmanager
def busy(n: int):
    """``n`` busy loops, one per core from the first, for the duration of the block."""
    cores = sorted(os.sched_getaffinity(0))
    procs = [subprocess.Popen([sys.executable, "-c", LOOP, str(cores[i % len(cores)])])
             for i in range(n)]
    try:
        time.sleep(0.5)
        yield [p.pid for p in procs]
    finally:
        for p in procs:  # by pid: ours, and only ours
            p.kill()
            p.wait()


def sweep(args: list[str], rounds: int, checkout: str | None = None
          ) -> tuple[Verdict | None, str, float]:
    """The sweep's numpy/torch verdict (read as data, not parsed from its closing line), that
    line, and the sweep's wall time. ``checkout``: another checkout of nnbench whose code runs
    the sweep (``python -m`` takes the package from its working folder); its records are read
    by this one."""
    runs = tempfile.mkdtemp(prefix="nnbench-busy-")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "nnbench", "-m", *args,
                           f"bench.rounds={rounds}", f"runs_dir={runs}", "bench.mfu=false"],
                          capture_output=True, text=True, cwd=checkout)
    wall = time.perf_counter() - started
    said = next(iter(sweep_verdicts(runs, pair=("numpy", "torch"))), None)
    return said, (said.line() if said else f"no line (exit {done.returncode})"), wall


def verdict(quiet: Verdict | None, loaded: Verdict | None) -> str:
    if loaded is None or quiet is None or quiet.kind == UNSURE:
        return "?"
    if loaded.kind == UNSURE:
        return "cannot tell (said)"
    lo, hi, r = quiet.lo, quiet.hi, loaded.ratio
    if 0.95 * lo <= r <= 1.05 * hi:
        return "holds (within 5% of the quiet interval)"
    return "WRONG: confidently off" if not (0.9 * lo <= r <= 1.1 * hi) else "off by 5-10%"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--passes", type=int, default=1)
    parser.add_argument("--checkout", default=None,
                        help="run the sweeps with the nnbench of this checkout (an older "
                             "version, for comparison); records are read by this one")
    args = parser.parse_args()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), "unknown CPU")
    print(f"host: {cpu}, {len(os.sched_getaffinity(0))} cores")
    for n in range(args.passes):
        for name, sweep_args in SWEEPS.items():
            quiet, quiet_line, quiet_s = sweep(sweep_args, args.rounds, args.checkout)
            with busy(2):
                loaded, loaded_line, loaded_s = sweep(sweep_args, args.rounds, args.checkout)
            print(f"pass {n + 1}, {name}:\n  quiet ({quiet_s:.0f} s): {quiet_line}\n"
                  f"  busy  ({loaded_s:.0f} s): {loaded_line}\n  -> {verdict(quiet, loaded)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
