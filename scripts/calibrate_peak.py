"""Measure this host's matmul peak again (the denominator of MFU) and update the cache.

Every framework and dtype this host can run on the device (and TF32 on CUDA); the others are
listed with the reason they are left out.

    python scripts/calibrate_peak.py [--threads N] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse

from nnbench import support
from nnbench.measure import peak
from nnbench.precision import PRECISIONS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="default: all available cores")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    for framework in ("numpy", "torch"):
        for dtype in ("float32", "float64", "float16", "bfloat16"):
            try:
                support.check(framework, args.device, PRECISIONS[dtype])
            except support.Skip as skip:
                print(f"{framework:<6} {args.device:<4} {dtype:<8} left out: {skip}")
                continue
            tf32_options = [False, True] if (framework, args.device, dtype) == (
                "torch", "cuda", "float32") else [False]
            for tf32 in tf32_options:
                result = peak.matmul_peak(framework, dtype, args.device, args.threads,
                                          recalibrate=True, tf32=tf32)
                label = dtype + ("+tf32" if tf32 else "")
                print(f"{framework:<6} {args.device:<4} {label:<13} threads {result['threads']}: "
                      f"{result['gflops']:8.1f} GFLOP/s  ({result['n']}x{result['n']} matmul, "
                      f"best of {result['rounds']})")
    print(f"cache: {peak.cache_file()}")


if __name__ == "__main__":
    main()
