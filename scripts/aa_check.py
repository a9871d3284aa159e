"""A/A check of ``python -m nnbench.report --baseline A --candidate B``: identical runs must
not be called different, and a real 2x change must still be found.

1. A/A: one sweep of NumPy and torch on two-moons (200 epochs), ``bench.rounds=10``: every
   job a fresh process, the rounds interleaved in time. Ten times, the ten rounds of each
   configuration are dealt at random into two result sets of five (A and B, the same code)
   and compared as ``--baseline A --candidate B`` compares them. Expected: every verdict "no
   significant change". Beside each, what the old rule (Mann-Whitney over the epochs of one
   process per side) says about the first round of A against the first round of B.
2. Real changes, on NumPy with a GEMM-bound net (synthetic data, 1024x1024x1024x10), five
   interleaved rounds of each of four configurations (one sweep, ``bench.threads=1,2`` x
   ``dataset.n_train=1000,2000``): one thread against two (about 2x slower on an idle 2-core
   host; where other work holds a core, two BLAS threads wait on each other and the rounds
   say so), and twice the training set at one thread (2x the work per epoch, whatever else
   the host runs). Expected: "slower" for both. Each round's median and involuntary context
   switches per epoch are printed beside the verdict.

    python scripts/aa_check.py [--out DIR] [--reuse]     # make aa

Takes a few minutes on a 2-core machine; the timings are whatever this host gives meanwhile.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import mannwhitneyu

from nnbench.report.analyse.compare import compare
from nnbench.results.collect import Collection, collect
from nnbench.results.read import ReadRecord

REPO = Path(__file__).resolve().parent.parent
# job folders named by number: the GEMM sweep's overrides make a name too long for the disk
QUIET = ["bench.mfu=false", "bench.memory_probe=false", "hydra.sweep.subdir=${hydra.job.num}"]
AA_SWEEP = ["bench.rounds=10", "framework=numpy,torch", "train.epochs=200", *QUIET]
GEMM_SWEEP = ["bench.rounds=5", "bench.threads=1,2", "framework=numpy", "dataset=synthetic",
              "dataset.n_features=1024", "dataset.n_train=1000,2000", "dataset.n_test=200",
              "dataset.n_classes=10", "arch.layer_sizes=[1024,1024,1024,10]",
              "arch.activations=[relu,relu,softmax]", "train.epochs=6", "train.batch_size=100",
              "bench.min_samples=0", *QUIET]


def sweep(runs_dir: Path, name: str, args: list[str], reuse: bool) -> tuple[Collection, float]:
    out = runs_dir / name
    started = time.perf_counter()
    if not (reuse and any(out.rglob("result.json"))):
        proc = subprocess.run([sys.executable, "-m", "nnbench", "-m", *args,
                               f"runs_dir={runs_dir}", f"experiment_name={name}"],
                              cwd=REPO, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"aa_check: the {name} sweep failed:\n{proc.stdout}\n{proc.stderr}")
    return collect([out], progress=False), time.perf_counter() - started


def _epochs(rec: ReadRecord) -> list[float]:
    warmup = rec.warmup_epochs or 0
    return [t for times in rec.epoch_times_s for t in times[warmup:]]


def _row(table, framework: str) -> dict:
    if table.empty or not (table["framework"] == framework).any():
        sys.exit(f"aa_check: no {framework} configuration ran ok on both sides")
    return table[table["framework"] == framework].iloc[0].to_dict()


def aa(collection: Collection, repeats: int, seed: int = 0) -> list[str]:
    """Verdicts of ``repeats`` random A/B deals of each configuration's rounds."""
    ok = [r for r in collection.records if r.status == "ok"]
    rounds = sorted({r.round for r in ok})
    frameworks = sorted({r.framework for r in ok})
    rng = np.random.default_rng(seed)
    verdicts = []
    for i in range(repeats):
        deal = rng.permutation(rounds)
        a_rounds = sorted(int(x) for x in deal[:len(deal) // 2])
        a = Collection([r for r in ok if r.round in a_rounds])
        b = Collection([r for r in ok if r.round not in a_rounds])
        table = compare(a, b)
        parts = []
        for framework in frameworks:
            row = _row(table, framework)
            first = [next(r for r in side.records if r.framework == framework)
                     for side in (a, b)]
            old = mannwhitneyu(*(_epochs(r) for r in first)).pvalue
            parts.append(f"{framework} {row['candidate/baseline (95% CI over rounds)']} "
                         f"p={row['p (Mann-Whitney, rounds)']} -> {row['verdict']} "
                         f"(per-epoch rule on one process each: p={old:.1g})")
            verdicts.append(row["verdict"])
        print(f"A/A {i + 1:2d}: A = rounds {a_rounds}: " + "; ".join(parts), flush=True)
    return verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "aa",
                        help="runs_dir of the two sweeps (default: runs/aa)")
    parser.add_argument("--repeats", type=int, default=10, help="A/B deals of the A/A rounds")
    parser.add_argument("--reuse", action="store_true",
                        help="compare the sweeps already under --out instead of running them")
    args = parser.parse_args()

    same, seconds = sweep(args.out, "aa_moons", AA_SWEEP, args.reuse)
    print(f"A/A sweep: two-moons 2x32x16x1, 200 epochs, numpy and torch, 10 interleaved rounds "
          f"({len(same.records)} fresh processes, {seconds:.0f} s)", flush=True)
    verdicts = aa(same, args.repeats)
    calm = verdicts.count("no significant change")
    print(f"A/A: {calm} of {len(verdicts)} verdicts 'no significant change' "
          f"(other: {sorted(set(verdicts) - {'no significant change'}) or 'none'})", flush=True)

    gemm, seconds = sweep(args.out, "aa_gemm", GEMM_SWEEP, args.reuse)
    ok = [r for r in gemm.records if r.status == "ok"]
    print(f"GEMM sweep: numpy 1024x1024x1024x10, 5 interleaved rounds of bench.threads=1,2 x "
          f"dataset.n_train=1000,2000 ({len(ok)} fresh processes, {seconds:.0f} s)", flush=True)

    def side(threads: int, n_train: int) -> Collection:
        return Collection([r for r in ok if r.threads == threads
                           and r.n_train == n_train])

    found = []
    for label, base, cand in (("2 threads -> 1", side(2, 1000), side(1, 1000)),
                              ("1000 samples -> 2000, 1 thread", side(1, 1000),
                               side(1, 2000))):
        row = _row(compare(base, cand), "numpy")
        print(f"real change, {label}: {row['baseline s/epoch']} -> {row['candidate s/epoch']} "
              f"s/epoch, {row['candidate/baseline (95% CI over rounds)']} "
              f"p={row['p (Mann-Whitney, rounds)']} -> {row['verdict']}", flush=True)
        for name, coll in (("baseline", base), ("candidate", cand)):
            rounds = sorted(coll.records, key=lambda r: r.round)
            print(f"    {name:9s} round medians (s/epoch): "
                  + "  ".join(f"{r['train_time_per_epoch_s']:.3g}" for r in rounds)
                  + "   involuntary switches/epoch: "
                  + "  ".join(f"{r['counters_per_epoch']['involuntary_switches']:.0f}"
                              for r in rounds), flush=True)
        found.append(row["verdict"] == "slower")
    return 0 if calm == len(verdicts) and all(found) else 1


if __name__ == "__main__":
    sys.exit(main())
