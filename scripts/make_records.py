"""Generate N synthetic-but-valid result records, for load-testing the report.

From one or a few real records (any folder the harness wrote, e.g. after
``python -m nnbench -m framework=numpy,torch train.epochs=200 runs_dir=/tmp/seed``), write
``configs x frameworks x rounds`` records into a tree of job folders like Hydra's: one sweep
folder per round, each job folder holding ``.hydra/config.yaml`` and ``result.json``.

Each configuration varies the architecture, learning rate, batch size and precision; each
record is its seed record (of the same framework) with the configuration's fields, its times
and phases scaled to the network's size, and every
list stretched to ``--epochs`` (epoch times, loss and accuracy histories, per-epoch counters)
and its statistics recomputed, so it passes the record schema and reads like a real run. At
the default 1,300 epochs a record is about 230 KB: 2,000 records (100 configurations x 2
frameworks x 10 rounds) are about 470 MB, the size of a large study's runs.

    python scripts/make_records.py /tmp/seed /tmp/records            # 2,000 records
    python scripts/make_records.py /tmp/seed /tmp/small --configs 4 --rounds 2 --epochs 50
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import numpy as np
import yaml

from nnbench.measure.flops import train_flops_per_epoch
from nnbench.record import RESULT_FILE, checked, write_result
from nnbench.stats import summarize

HIDDEN = [(8, 4), (16, 8), (32, 16), (64, 32), (128, 64)]
LRS = [0.01, 0.05, 0.1, 0.5, 1.0]
BATCHES = [None, 64]
PRECISIONS = ["float32", "float64"]


def seeds(folders: list[Path]) -> dict[str, dict]:
    """The first valid ok record of each framework under ``folders``."""
    found: dict[str, dict] = {}
    for folder in folders:
        paths = [folder] if folder.is_file() else sorted(folder.rglob(RESULT_FILE))
        for path in paths:
            record, wrong = checked(json.loads(path.read_text()))
            if wrong is None and record.get("status") == "ok":
                found.setdefault(record["framework"], record)
    if not found:
        sys.exit(f"make_records: no ok result.json under {', '.join(map(str, folders))}")
    return found


def configurations(n: int) -> list[dict]:
    """``n`` distinct configurations: every architecture, precision, batch and rate in turn."""
    grid = [{"hidden": h, "precision": p, "batch_size": b, "lr": lr}
            for h in HIDDEN for p in PRECISIONS for b in BATCHES for lr in LRS]
    if n > len(grid):
        sys.exit(f"make_records: at most {len(grid)} configurations")
    return grid[:n]


def _stretch(values: list[float], n: int, rng: np.random.Generator, rel: float) -> list[float]:
    """``values`` resampled to ``n`` points, each times lognormal noise of ``rel``."""
    base = np.asarray([v for v in values if v is not None], dtype=float)
    if base.size == 0:
        return []
    stretched = np.interp(np.linspace(0, base.size - 1, n), np.arange(base.size), base)
    return (stretched * np.exp(rel * rng.standard_normal(n))).tolist()


def make(seed: dict, cfg: dict, round_: int, rounds: int, epochs: int, job_dir: Path,
         rng: np.random.Generator) -> dict:
    """The seed record as one round of the configuration ``cfg``."""
    rec = copy.deepcopy(seed)
    inputs, outputs = rec["layer_sizes"][0], rec["layer_sizes"][-1]
    sizes = [inputs, *cfg["hidden"], outputs]
    params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
    # bigger networks take longer; every process lands at its own level (a few % apart)
    scale = params / max(rec.get("n_params") or params, 1) * np.exp(0.03 * rng.standard_normal())
    scale *= 1.0 if cfg["batch_size"] is None else 3.0
    warmup = rec.get("warmup_epochs") or 0
    times = _stretch(rec["epoch_times_s"][0], epochs, rng, 0.05)
    times = [t * scale for t in times]
    timed = times[warmup:]
    stats = summarize(timed)
    loss = _stretch(rec["loss_history"], epochs, rng, 0.01)
    accuracy = np.clip(_stretch(rec["test_accuracy_history"], epochs, rng, 0.002), 0, 1).tolist()
    calls = {k: [t * scale for t in _stretch(v, len(v), rng, 0.05)]
             for k, v in rec.get("inference_samples_s", {}).items()}
    config = rec["config"]
    config["arch"].update(name="x".join(map(str, sizes)), layer_sizes=sizes)
    config["precision"]["name"] = cfg["precision"]
    config["train"].update(epochs=epochs, batch_size=cfg["batch_size"], lr=cfg["lr"])
    config["bench"].update(rounds=rounds, round=round_)
    rec.update(
        arch=config["arch"]["name"], layer_sizes=sizes, n_params=params,
        precision=cfg["precision"], param_dtype=cfg["precision"], compute_dtype=cfg["precision"],
        epochs=epochs, batch_size=cfg["batch_size"], lr=cfg["lr"], rounds=rounds, round=round_,
        epoch_times_s=[times], loss_history=loss, test_accuracy_history=accuracy,
        final_train_loss=loss[-1], test_accuracy=accuracy[-1],
        epoch_counters={k: _stretch(v, epochs, rng, 0.2) if k == "cpu_s"
                        else np.rint(_stretch(v, epochs, rng, 0.2)).tolist()
                        for k, v in rec.get("epoch_counters", {}).items()},
        train_time_per_epoch_s=stats["median"], train_time_per_epoch_stats_s=stats,
        train_time_per_epoch_repeat_medians_s=[stats["median"]],
        train_time_total_s=float(sum(times)),
        inference_samples_s=calls, output_dir=str(job_dir),
        job_key=f"{rng.integers(1 << 62):016x}",
        # the work of this network: the scaling figure's x axis
        train_flops_per_epoch=train_flops_per_epoch(sizes, rec.get("n_train") or 1),
        samples={**rec.get("samples", {}), "train_time_per_epoch_s": len(timed)},
    )
    # the phases of this network, as long as its epochs (the seed's mix of phases, scaled)
    if rec.get("phases_samples_s"):
        rec["phases_samples_s"] = {k: [t * scale for t in v]
                                   for k, v in rec["phases_samples_s"].items()}
        rec["phases_s"] = {k: summarize(v) for k, v in rec["phases_samples_s"].items()}
    if rec.get("phases_epoch_s"):
        rec["phases_epoch_s"] = {k: v * scale if k not in ("n",) and isinstance(v, float) else v
                                 for k, v in rec["phases_epoch_s"].items()}
    n_test = rec.get("n_test") or 1
    if calls.get("batched_call"):
        rec["inference_latency_per_sample_s"] = float(np.median(calls["batched_call"])) / n_test
        rec["inference_batched_call_s"] = summarize(calls["batched_call"])
    if calls.get("batch1"):
        rec["inference_latency_batch1_s"] = float(np.median(calls["batch1"]))
        rec["inference_latency_batch1_stats_s"] = summarize(calls["batch1"])
    rec["environment"] = {**rec.get("environment", {}),
                          "time_utc": f"2026-01-{1 + round_:02d}T00:00:00Z"}
    return rec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seed", type=Path, nargs="+", help="folders (or files) of real records")
    parser.add_argument("out", type=Path, help="folder to write the job folders into (new)")
    parser.add_argument("--configs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=1300,
                        help="length of every per-epoch list (sets a record's size)")
    parser.add_argument("--random-seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        sys.exit(f"make_records: {args.out} is not empty")
    found = seeds(args.seed)
    rng = np.random.default_rng(args.random_seed)
    grid = configurations(args.configs)
    experiment = next(iter(found.values())).get("experiment_name") or "default"
    n = total = 0
    for round_ in range(args.rounds):
        sweep = args.out / experiment / f"2026-01-{1 + round_:02d}_00-00-00_round{round_}"
        for i, (cfg, framework) in enumerate((c, f) for c in grid for f in sorted(found)):
            job_dir = sweep / (f"{i}-framework={framework},precision={cfg['precision']},"
                               f"train.lr={cfg['lr']},train.batch_size={cfg['batch_size']},"
                               f"hidden={'x'.join(map(str, cfg['hidden']))}")
            rec = make(found[framework], cfg, round_, args.rounds, args.epochs, job_dir, rng)
            (job_dir / ".hydra").mkdir(parents=True)
            (job_dir / ".hydra" / "config.yaml").write_text(yaml.safe_dump(rec["config"]))
            total += write_result(job_dir, rec).stat().st_size
            n += 1
    print(f"{n} records ({len(grid)} configurations x {len(found)} frameworks x "
          f"{args.rounds} rounds), {total / 1e6:.0f} MB -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
