"""Measure this host's matmul peak again (the denominator of MFU) and update the cache.

    python scripts/calibrate_peak.py [--threads N] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse

from nnbench.measure import peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="default: all available cores")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    for framework in ("numpy", "torch"):
        if framework == "numpy" and args.device == "cuda":
            continue
        for dtype in ("float32", "float64"):
            result = peak.matmul_peak(framework, dtype, args.device, args.threads,
                                      recalibrate=True)
            print(f"{framework:<6} {args.device:<4} {dtype:<8} threads {result['threads']}: "
                  f"{result['gflops']:8.1f} GFLOP/s  ({result['n']}x{result['n']} matmul, "
                  f"best of {result['rounds']})")
    print(f"cache: {peak.cache_file()}")


if __name__ == "__main__":
    main()
