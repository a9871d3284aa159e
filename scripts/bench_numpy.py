"""nnbench's NumPy network against the textbook NumPy MLP, per epoch, on seed 000's scaling table.

For each of the four architectures (full batch, synthetic data with as many samples as the
seed's batch size) it times one epoch of forward, backward and update for:

- textbook: ``nnbench.frameworks.textbook.network`` (dict of parameters, new arrays for every
  operation, float64 masks), fed float64 (its default) and float32 parameters and data;
- nnbench: ``nnbench.frameworks.numpy.NumpyTrainer`` (preallocated buffers, in-place operations), in
  float64 and float32.

The variants run in turns in one process, round after round, so a slow moment of the host hits
them all; the figure is the median of every timed epoch. Same thread count for all, printed.

    python scripts/bench_numpy.py [--rounds 7] [--min-seconds 0.2] [--threads N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from omegaconf import OmegaConf

from nnbench.data import synthetic
from nnbench.frameworks.numpy.trainer import NumpyTrainer
from nnbench.frameworks.textbook.network import TextbookMLP
from nnbench.measure.threads import limited
from nnbench.params import init_params
from nnbench.spec import ModelSpec

# (layer sizes, batch size) as in seed 000's scaling table
SCALING = [
    ([2, 32, 16, 1], 2000),
    ([784, 256, 128, 10], 1000),
    ([784, 512, 256, 128, 10], 5000),
    ([1024, 1024, 1024, 1024, 10], 10000),
]
VARIANTS = ["textbook float64", "nnbench float64", "textbook float32", "nnbench float32"]
LR = 0.01


def epoch_functions(sizes: list[int], batch: int) -> dict[str, Callable[[], float]]:
    n_out = sizes[-1]
    ds = synthetic.load(OmegaConf.structured(synthetic.Config(
        n_train=batch, n_test=n_out if n_out > 1 else 2, n_features=sizes[0],
        n_classes=max(n_out, 2))))
    params = init_params(sizes, "he_normal", 0)
    acts = ("relu",) * (len(sizes) - 2) + (("sigmoid",) if n_out == 1 else ("softmax",))
    spec = ModelSpec(tuple(sizes), acts, "bce" if n_out == 1 else "cross_entropy")
    functions = {}
    for dtype in ("float64", "float32"):
        textbook = TextbookMLP(params, dtype)
        textbook.set_train_data(ds.x_train, ds.y_train)
        ours = NumpyTrainer(spec, params, dtype, "cpu", LR)
        ours.set_train_data(ds.x_train, ds.y_train)
        functions[f"textbook {dtype}"] = lambda t=textbook: t.train_epoch(LR)
        functions[f"nnbench {dtype}"] = lambda o=ours: o.train_epoch(None, None)
    return functions


def timed_epochs(fn: Callable[[], float], min_seconds: float) -> list[float]:
    """At least two epochs, and at least ``min_seconds`` of them."""
    times: list[float] = []
    while len(times) < 2 or sum(times) < min_seconds:
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--min-seconds", type=float, default=0.2,
                        help="least time each variant trains per round")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    with limited(args.threads) as threads:
        print(f"NumPy {np.__version__}, {threads} threads; median epoch time over "
              f"{args.rounds} interleaved rounds\n")
        header = (f"{'architecture':<28} {'batch':>6} " + " ".join(f"{v:>17}" for v in VARIANTS)
                  + f" {'speed-up f64':>13} {'speed-up f32':>13}")
        print(header)
        print("-" * len(header))
        for sizes, batch in SCALING:
            functions = epoch_functions(sizes, batch)
            for fn in functions.values():  # warm-up: first-touch of every buffer, BLAS threads
                fn()
            samples: dict[str, list[float]] = {v: [] for v in VARIANTS}
            for _ in range(args.rounds):
                for variant in VARIANTS:
                    samples[variant] += timed_epochs(functions[variant], args.min_seconds)
            med = {v: float(np.median(s)) for v, s in samples.items()}
            name = "[" + ", ".join(map(str, sizes)) + "]"
            cells = " ".join(f"{_fmt(med[v]):>17}" for v in VARIANTS)
            up64 = med["textbook float64"] / med["nnbench float64"]
            up32 = med["textbook float32"] / med["nnbench float32"]
            print(f"{name:<28} {batch:>6} {cells} {up64:>12.2f}x {up32:>12.2f}x", flush=True)
    print("\nspeed-up: textbook time / nnbench time in the same dtype (> 1: nnbench is faster)")


if __name__ == "__main__":
    main()
