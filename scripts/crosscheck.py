"""What a sweep reports against an independent harness's own fresh processes, same trainer.

For each network and framework, in short interleaved passes (sweep then pyperf, pyperf then
sweep, ...):

- nnbench: ``python -m nnbench -m framework=X bench.rounds=N`` as a user runs it: its job
  processes (forked from a warm process), their records' median of round medians of
  ``train_time_per_epoch_s``;
- pyperf: ``scripts/crosscheck_pyperf.py``, pyperf's Runner with its own worker processes
  (spawned interpreters, their own calibration and warm-up), each building the trainer as the
  job builds it (``nnbench.runner.local.trainer_factory``) and timing ``train_epoch`` plus
  ``sync`` at the same thread count; pyperf's median.

A shared host (a VM) has slower spells of tens of seconds to minutes that the guest cannot
see; a pass whose two halves fall in different spells is off by the spell, not by the harness.
So passes are short (one sweep round against two pyperf workers by default), many (9), their
order alternates (ABBA: a drift of the host falls on both sides alike), and the answer is the
median of the passes' ratios, with the middle half of them beside it.

Prints each pass's ratio nnbench / pyperf, their median, and the host's CPU. Within 5% on
two-moons and 3% on 784x256x128x10 means the figure a user gets from a job's own process is the
trainer's cost, not the harness's.

    python scripts/crosscheck.py [--passes 9] [--threads 1] [--sweep-rounds 1]
                                 [--pyperf-processes 2] [--only 784] [--framework torch]
                                 [--sweep bench.isolate=false]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
NETWORKS = {
    "moons 2x32x16x1": ["train.epochs=300"],
    # seed 000's scaling size, as +experiment=scaling composes it (a job folder names its
    # overrides: a dozen of them would pass the file system's 255 characters)
    "synthetic 784x256x128x10": ["dataset=synthetic", "train=full_batch",
                                 "+scale=s784x256x128x10", "dataset.n_test=1000",
                                 "train.epochs=60", "train.lr=0.01"],
}
QUIET = ["bench.mfu=false", "bench.memory_probe=false", "bench.phases=false",
         "bench.accuracy_per_epoch=false"]


def sweep_s(framework: str, overrides: list[str], threads: int, extra: list[str],
            rounds: int) -> tuple[float, float]:
    """The median of round medians a sweep of ``rounds`` rounds of this framework records,
    and the fastest round's median."""
    runs = Path(tempfile.mkdtemp(prefix="nnbench-crosscheck-"))
    subprocess.run([sys.executable, "-m", "nnbench", "-m", f"framework={framework}",
                    f"bench.rounds={rounds}", f"bench.threads={threads}", *QUIET, *overrides,
                    *extra, f"runs_dir={runs}"], check=True, capture_output=True, text=True)
    medians = [json.loads(p.read_text())["train_time_per_epoch_s"]
               for p in runs.rglob("result.json")]
    return statistics.median(medians), min(medians)


def pyperf_s(framework: str, overrides: list[str], threads: int, processes: int
             ) -> tuple[float, float]:
    """pyperf's median over its workers' values, and the fastest worker's median."""
    out = Path(tempfile.mkdtemp(prefix="nnbench-pyperf-")) / "result.json"
    subprocess.run([sys.executable, str(HERE / "crosscheck_pyperf.py"), "--quiet",
                    "--processes", str(processes), "--values", "5", "--output", str(out),
                    "--inherit-environ", "NNBENCH_CACHE_DIR", "--",
                    f"framework={framework}", f"bench.threads={threads}", *QUIET, *overrides],
                   check=True, capture_output=True, text=True)
    import pyperf

    bench = pyperf.Benchmark.load(str(out))
    fastest = min(statistics.median(run.values) for run in bench.get_runs() if run.values)
    return bench.median(), fastest


def cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sweep-rounds", type=int, default=1)
    parser.add_argument("--pyperf-processes", type=int, default=2)
    parser.add_argument("--only", default="", help="the networks whose name holds this")
    parser.add_argument("--framework", default="numpy,torch", help="the frameworks, by comma")
    parser.add_argument("--sweep", nargs="*", default=[], metavar="OVERRIDE",
                        help="more overrides for the sweep's side, e.g. bench.isolate=false "
                             "(its jobs in the sweep's own process): where its time goes")
    args = parser.parse_args()
    print(f"host: {cpu()}; {args.threads} thread(s) for both harnesses"
          f"{'; sweep with ' + ' '.join(args.sweep) if args.sweep else ''}")
    for name, overrides in NETWORKS.items():
        if args.only not in name:
            continue
        for framework in args.framework.split(","):
            ratios, lows = [], []
            for n in range(args.passes):
                # ABBA: the sweep first in passes 1, 4, 5, 8, ..., pyperf first in the others
                pyperf_first = n % 4 in (1, 2)
                if pyperf_first:
                    theirs, their_low = pyperf_s(framework, overrides, args.threads,
                                                 args.pyperf_processes)
                ours, our_low = sweep_s(framework, overrides, args.threads, args.sweep,
                                        args.sweep_rounds)
                if not pyperf_first:
                    theirs, their_low = pyperf_s(framework, overrides, args.threads,
                                                 args.pyperf_processes)
                ratios.append(ours / theirs)
                lows.append(our_low / their_low)
                print(f"  pass {n + 1} {name} {framework}: sweep {ours * 1e3:.4f} ms, pyperf "
                      f"{theirs * 1e3:.4f} ms, ratio {ours / theirs:.3f}; fastest process "
                      f"{our_low * 1e3:.4f} against {their_low * 1e3:.4f} ms, ratio "
                      f"{our_low / their_low:.3f}", flush=True)
            # the fastest process of each side: what a slower spell of the host cannot
            # inflate, where the medians follow it
            q1, _, q3 = (statistics.quantiles(ratios, n=4, method="inclusive")
                         if len(ratios) > 1 else ratios * 3)
            print(f"{name} {framework}: median ratio {statistics.median(ratios):.3f} over "
                  f"{args.passes} passes (middle half [{q1:.3f}, {q3:.3f}], all "
                  f"[{min(ratios):.3f}, {max(ratios):.3f}]); fastest processes "
                  f"{statistics.median(lows):.3f} "
                  f"[{min(lows):.3f}, {max(lows):.3f}]", flush=True)


if __name__ == "__main__":
    main()
