"""History with an injected step, and an A/A history without one: does ``--history`` find the
step where it is, with its size, and nothing where nothing changed?

1. Step: six result sets, one sweep each, run one after the other (three interleaved rounds
   of fresh processes each, NumPy on a GEMM-bound net: synthetic data, 512x512x512x10, one
   BLAS thread). From set 4 on, each epoch does four times the work (``dataset.n_train`` 500
   -> 2000: on a shared host whose load moves rounds by up to 2x, a 2x step drowns in 3
   rounds a set; ``--inject threads``: ``bench.threads`` 2 -> 1 instead, the classic regression,
   a clear step only on an otherwise idle host: where other work holds a core, two BLAS
   threads wait on each other and run many times slower than one). Expected: one step, at
   set 4, of about 4x in time per epoch, and the change named.
2. A/A: six identical sets. Expected: no step.

The folders are handed to ``--history`` shuffled: the history orders them by the records'
times. Exit status 1 when either expectation fails.

    python scripts/history_demo.py [--out DIR] [--rounds 3] [--inject n_train|threads]

About 2 to 3 minutes on a 2-core machine (36 jobs); the timings are whatever the host gives.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from pathlib import Path

from nnbench.report.__main__ import main as report_main
from nnbench.report.analyse.history import load, markdown

REPO = Path(__file__).resolve().parent.parent
NET = ["framework=numpy", "dataset=synthetic", "dataset.n_features=512", "dataset.n_test=200",
       "dataset.n_classes=10", "arch.layer_sizes=[512,512,512,10]",
       "arch.activations=[relu,relu,softmax]", "train.epochs=5", "train.batch_size=100",
       "bench.min_samples=0", "bench.mfu=false", "bench.memory_probe=false", "bench.phases=false",
       "hydra.sweep.subdir=${hydra.job.num}"]
BEFORE = {"n_train": ["dataset.n_train=500", "bench.threads=1"],
          "threads": ["dataset.n_train=1000", "bench.threads=2"]}
AFTER = {"n_train": ["dataset.n_train=2000", "bench.threads=1"],
         "threads": ["dataset.n_train=1000", "bench.threads=1"]}
SETS, STEP_AT = 6, 4  # the step starts at set 4 (1-based)


def run_set(folder: Path, overrides: list[str], rounds: int) -> None:
    proc = subprocess.run([sys.executable, "-m", "nnbench", "-m", *NET, *overrides,
                           f"bench.rounds={rounds}", f"runs_dir={folder}",
                           "experiment_name=history"], cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"history_demo: the sweep into {folder} failed:\n{proc.stdout[-2000:]}\n"
                 f"{proc.stderr[-2000:]}")


def history(root: Path, step: bool, inject: str, rounds: int) -> list[dict]:
    """Run the sets (unless already there), the report's --history over them; the steps."""
    folders = [root / f"set{i}" for i in range(1, SETS + 1)]
    started = time.perf_counter()
    for i, folder in enumerate(folders, start=1):
        if not any(folder.rglob("result.json")):
            run_set(folder, (AFTER if step and i >= STEP_AT else BEFORE)[inject], rounds)
    print(f"{root.name}: {SETS} sets x {rounds} rounds in {time.perf_counter() - started:.0f} s",
          flush=True)
    shuffled = random.Random(1).sample(folders, len(folders))
    status = report_main(["--history", *map(str, shuffled), "--out", str(root / "history"),
                          "--no-progress"])
    if status != 0:
        sys.exit(f"history_demo: --history exited {status}")
    sets, _ = load(shuffled)
    _, found = markdown(sets, ("numpy", "torch"))
    return [dict(s, order=[f.folder.name for f in sets]) for steps in found.values()
            for s in steps]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "history_demo")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per set (default 3)")
    parser.add_argument("--inject", choices=sorted(BEFORE), default="n_train")
    args = parser.parse_args()

    steps = history(args.out / f"step_{args.inject}", True, args.inject, args.rounds)
    times = [s for s in steps if s["figure"].endswith("s/epoch")]
    for s in steps:
        print(f"  step in {s['figure']} at set {s['set'] + 1}: {s['ratio']:.3f}x "
              f"[{s['lo']:.3f}, {s['hi']:.3f}] ({s['before']:.4g} -> {s['after']:.4g}), "
              f"p {s['p']:.2g}; changed: {s['changed']}")
    found = [s for s in times if s["set"] + 1 == STEP_AT]
    ok_step = len(times) == 1 and len(found) == 1
    print(f"step history: {'OK' if ok_step else 'NOT AS EXPECTED'}: {len(times)} step(s) in "
          f"time per epoch, expected one at set {STEP_AT} (sets in time order: "
          f"{', '.join(steps[0]['order']) if steps else '-'})", flush=True)

    same = history(args.out / "aa", False, args.inject, args.rounds)
    for s in same:
        print(f"  A/A step in {s['figure']} at set {s['set'] + 1}: {s['ratio']:.3f}x "
              f"[{s['lo']:.3f}, {s['hi']:.3f}], p {s['p']:.2g}")
    print(f"A/A history: {'OK' if not same else 'NOT AS EXPECTED'}: {len(same)} step(s) over "
          f"{SETS} identical sets", flush=True)
    return 0 if ok_step and not same else 1


if __name__ == "__main__":
    sys.exit(main())
