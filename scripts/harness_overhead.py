"""How much of a timed epoch is the harness's own work, on the default moons config.

Two ways of running the same NumPy float32 full-batch training, interleaved in rounds in one
process so that both see the same machine state:

- harness: the harness's timed loop (``benchmark._train``): per-epoch clock reads and syncs,
  the batch-order generator, the trainer's epoch method, the divergence check;
- bare: forward, backward and SGD update only (``numpy_mlp.Network.loss_and_grads`` and
  ``sgd_step``), each epoch timed with two clock reads.

Each round gives the median epoch time of each way (for the harness, the median of the epoch
times it records); overhead = 1 - bare / harness, from the medians over rounds.

    python scripts/harness_overhead.py [--rounds 15] [--epochs 400]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from nnbench import benchmark
from nnbench.config import BenchConfig, TrainConfig
from nnbench.data import moons
from nnbench.frameworks.numpy import network as numpy_mlp
from nnbench.frameworks.numpy.trainer import NumpyTrainer
from nnbench.measure.threads import limited
from nnbench.params import init_params
from nnbench.spec import ModelSpec, targets

SPEC = ModelSpec((2, 32, 16, 1), ("relu", "relu", "sigmoid"), "bce")


def harness_epoch_s(ds, epochs: int) -> float:
    train = TrainConfig(epochs=epochs, batch_size=None, lr=0.5, loss="bce", shuffle=False,
                        seed=42, init="he_normal")
    bench = BenchConfig(warmup_epochs=0, repeats=1, vary_seed=False, memory_probe=False,
                        target_accuracy=None, inference_batch_size=256, min_samples=0)

    def make(seed: int):
        return NumpyTrainer(SPEC, init_params(SPEC.layer_sizes, "he_normal", seed),
                            "float32", "cpu", 0.5)

    training, _ = benchmark._train(make, ds, train, bench)
    return float(np.median(training.epoch_times_s[0]))


def bare_epoch_s(ds, epochs: int) -> float:
    net = numpy_mlp.Network(SPEC, init_params(SPEC.layer_sizes), np.float32)
    x = ds.x_train.astype(np.float32)
    t = targets(ds.y_train, SPEC, np.float32)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        net.loss_and_grads(x, t)
        net.sgd_step(0.5)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=400)
    args = parser.parse_args()
    ds = moons.load(moons.Config())
    harness, bare = [], []
    with limited(None) as threads:
        bare_epoch_s(ds, 50)  # warm caches and BLAS threads
        for _ in range(args.rounds):
            harness.append(harness_epoch_s(ds, args.epochs))
            bare.append(bare_epoch_s(ds, args.epochs))
    h, b = float(np.median(harness)), float(np.median(bare))
    print(f"default moons config, NumPy float32, full batch, {threads} threads, "
          f"{args.rounds} interleaved rounds of {args.epochs} epochs")
    for label, values in (("harness loop", harness), ("bare compute", bare)):
        q1, med, q3 = np.percentile(values, [25, 50, 75])
        print(f"{label}  median {med * 1e6:8.1f} us/epoch  (IQR over rounds {(q3 - q1) * 1e6:.1f})")
    print(f"harness overhead: {1 - b / h:.1%} of epoch time")


if __name__ == "__main__":
    main()
