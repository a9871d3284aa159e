"""What a sweep costs beyond its work: wall time of small sweeps over the time of `import torch`.

Three commands, each run --rounds times in turns (so that all see the same machine), medians:

- a 6-job sweep of 2-epoch moons jobs: framework=numpy,torch train.lr=0.1,0.2,0.3;
- 4 jobs this host can only skip (on a host without a GPU): device=cuda, both frameworks, two
  precisions;
- python -c "import torch", the unit: the least a torch job in a fresh interpreter costs.

    python scripts/bench_sweep.py [--rounds 3]

nnbench's own modules are byte-compiled first, as ``make install`` leaves them and as Python
does on a first run (unless PYTHONDONTWRITEBYTECODE is set): the figures are of the code as it
is now, not of compiling it.
"""

from __future__ import annotations

import argparse
import compileall
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SWEEPS = {
    "6-job sweep": ["framework=numpy,torch", "train.epochs=2", "train.lr=0.1,0.2,0.3"],
    "4 skipped jobs": ["framework=numpy,torch", "device=cuda", "precision=float32,float64"],
}


def _seconds(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for package in ("nnbench", "hydra_plugins"):
        compileall.compile_dir(REPO / package, quiet=1)
    times: dict[str, list[float]] = {"import torch": [], **{name: [] for name in SWEEPS}}
    with tempfile.TemporaryDirectory(prefix="nnbench-bench-sweep-") as runs:
        for _ in range(args.rounds):
            times["import torch"].append(_seconds([sys.executable, "-c", "import torch"]))
            for name, overrides in SWEEPS.items():
                # one round: the sweep machinery's cost per job, not the default's rounds
                times[name].append(_seconds([sys.executable, "-m", "nnbench", "-m", *overrides,
                                             "bench.rounds=1",
                                             f"runs_dir={runs}"]))
    unit = statistics.median(times["import torch"])
    print(f"{'command':<16} {'median s':>9} {'min s':>7} {'max s':>7} {'/ import torch':>15}")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:<16} {median:>9.2f} {min(samples):>7.2f} {max(samples):>7.2f} "
              f"{median / unit:>15.2f}")
    print(f"({args.rounds} rounds in turns; {sys.executable})")


if __name__ == "__main__":
    main()
