"""Measure this host's matmul peak again (the denominator of MFU) and update the cache.

Every framework and dtype this host can run on the device (and TF32 on CUDA); the others are
listed with the reason they are left out.

    python scripts/calibrate_peak.py [--threads N] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse

from nnbench.errors import ConfigError
from nnbench.frameworks import load
from nnbench.measure import peak
from nnbench.precision import get

# The frameworks calibrated, as their YAML names their trainers (conf/framework/*.yaml).
TRAINERS = {"numpy": "nnbench.frameworks.numpy.NumpyTrainer",
            "torch": "nnbench.frameworks.torch.TorchTrainer"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="default: all available cores")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    for framework, target in TRAINERS.items():
        trainer = load(target)
        for dtype in ("float32", "float64", "float16", "bfloat16"):
            skip = trainer.skip_reason(args.device, get(dtype))
            if skip:
                print(f"{framework:<6} {args.device:<4} {dtype:<8} left out: {skip}")
                continue
            tf32_options = [False]
            try:  # TF32 where the framework accepts it for this device and dtype
                trainer.check(framework, trainer.Options(), args.device, get(dtype, tf32=True))
                tf32_options.append(True)
            except ConfigError:
                pass
            for tf32 in tf32_options:
                result = peak.matmul_peak(trainer, dtype, args.device, args.threads,
                                          recalibrate=True, tf32=tf32,
                                          n=trainer.matmul_size(args.device))
                label = dtype + ("+tf32" if tf32 else "")
                print(f"{framework:<6} {args.device:<4} {label:<13} threads {result['threads']}: "
                      f"{result['gflops']:8.1f} GFLOP/s  ({result['n']}x{result['n']} matmul, "
                      f"best of {result['rounds']})")
    print(f"cache: {peak.cache_file()}")


if __name__ == "__main__":
    main()
