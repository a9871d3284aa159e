"""Time one epoch of seed 000's four scaling architectures in NumPy and torch, float32, CPU.

Each architecture trains full-batch on synthetic data with as many samples as the seed's batch
size, so one epoch is one forward, backward and update over that batch. Every job runs through
the real runner in its own process: one warm-up epoch, then ``--epochs`` timed epochs, median
reported. Prints time per epoch, achieved GFLOP/s and MFU against this host's matmul peak.

    python scripts/bench_scaling.py [--epochs 3] [--threads N] [--device cpu]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from hydra import compose, initialize_config_dir

from nnbench import runner
from nnbench.hydra import register

CONF = Path(__file__).resolve().parent.parent / "conf"
# (layer sizes, batch size) as in seed 000's scaling table
SCALING = [
    ([2, 32, 16, 1], 2000),
    ([784, 256, 128, 10], 1000),
    ([784, 512, 256, 128, 10], 5000),
    ([1024, 1024, 1024, 1024, 10], 10000),
]


def overrides(sizes: list[int], batch: int, framework: str, args: argparse.Namespace) -> list[str]:
    n_out = sizes[-1]
    acts = ["relu"] * (len(sizes) - 2) + (["sigmoid"] if n_out == 1 else ["softmax"])
    return [
        "dataset=synthetic", f"dataset.n_features={sizes[0]}",
        f"dataset.n_classes={2 if n_out == 1 else n_out}",
        f"dataset.n_train={batch}", "dataset.n_test=500",
        f"arch.layer_sizes=[{','.join(map(str, sizes))}]",
        f"arch.activations=[{','.join(acts)}]", "arch.name=" + "x".join(map(str, sizes)),
        "train=full_batch", f"train.loss={'bce' if n_out == 1 else 'cross_entropy'}",
        "train.lr=0.01", f"train.epochs={args.epochs + 1}", "bench.warmup_epochs=1",
        f"framework={framework}", f"device={args.device}", "precision=float32",
        f"bench.threads={args.threads}" if args.threads else "bench.threads=null",
        "bench.memory_probe=false",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per job")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    register()
    out = Path(tempfile.mkdtemp(prefix="nnbench-scaling-"))
    header = f"{'architecture':<26} {'batch':>6} {'framework':<9} {'s/epoch':>10} " \
             f"{'GFLOP/s':>8} {'peak':>7} {'MFU':>5}  status"
    print(header)
    print("-" * len(header))
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        for sizes, batch in SCALING:
            for framework in ("numpy", "torch"):
                cfg = compose("config", overrides=overrides(sizes, batch, framework, args))
                rec = runner.run(cfg, out / f"{'x'.join(map(str, sizes))}-{framework}")
                name = "[" + ", ".join(map(str, sizes)) + "]"
                if rec["status"] != "ok":
                    print(f"{name:<26} {batch:>6} {framework:<9} {'':>10} {'':>8} {'':>7} "
                          f"{'':>5}  {rec['status']}: {rec['reason']}")
                    continue
                print(f"{name:<26} {batch:>6} {framework:<9} {rec['train_time_per_epoch_s']:>10.4g}"
                      f" {rec['achieved_gflops']:>8.1f} {rec['matmul_peak_gflops']:>7.1f}"
                      f" {rec['mfu']:>5.2f}  ok (threads {rec['threads']})")
    print(f"\nrecords: {out}")


if __name__ == "__main__":
    main()
