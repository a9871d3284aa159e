"""Whether this host can run a job as configured; if not, the reason it is ``skipped``.

A job that cannot run here (no GPU, no CuPy, a CPU without half-width arithmetic) is not a
failure of the benchmark: it is recorded as ``skipped`` with the reason, and the sweep goes on.
"""

from __future__ import annotations

from nnbench.precision import NUMPY_PRECISIONS, Precision


class Skip(Exception):
    """This job cannot run on this host; the message is the reason."""


def cpu_half_support(dtype: str) -> str | None:
    """None when this CPU has native ``dtype`` arithmetic for torch, else why not.

    Without it torch still computes, through float32 conversions one element at a time, several
    times slower than float32: a timing of that says nothing about the precision.
    """
    import torch

    cpu = torch.cpu
    if dtype == "bfloat16":
        if cpu._is_avx512_bf16_supported() or cpu._is_amx_tile_supported():
            return None
        return "this CPU has no bfloat16 arithmetic (neither AVX512-BF16 nor AMX)"
    if dtype == "float16":
        if cpu._is_amx_fp16_supported():
            return None
        return "this CPU has no float16 matrix arithmetic (no AMX-FP16)"
    return None


def cuda_support(framework: str) -> str | None:
    """None when a CUDA job of this framework can run here, else why not."""
    if framework == "numpy":
        try:
            import cupy
        except ImportError:
            return ("framework=numpy device=cuda runs the NumPy network on CUDA through CuPy, "
                    "which is not installed (pip install -e '.[gpu]' in the nnbench checkout)")
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except cupy.cuda.runtime.CUDARuntimeError as err:
            return f"CuPy finds no CUDA device on this host ({err})"
        return None if count > 0 else "CuPy finds no CUDA device on this host"
    import torch

    if not torch.cuda.is_available():
        return "CUDA is not available on this host (torch.cuda.is_available() is False)"
    return None


def check(framework: str, device: str, precision: Precision) -> None:
    """Raise ``Skip`` with the reason when this host cannot run the job."""
    if framework == "numpy" and precision.name not in NUMPY_PRECISIONS:
        raise Skip(
            f"precision={precision.name} is for torch: the NumPy network computes in "
            f"{' or '.join(NUMPY_PRECISIONS)} (NumPy has no bfloat16 and no float16 BLAS)"
        )
    if device == "cuda":
        reason = cuda_support(framework)
        if reason:
            raise Skip(reason)
        if precision.compute_dtype == "bfloat16":
            import torch

            if not torch.cuda.is_bf16_supported():
                raise Skip(f"precision={precision.name}: this GPU has no bfloat16 support")
    elif precision.half_width is not None:
        reason = cpu_half_support(precision.half_width)
        if reason:
            raise Skip(f"precision={precision.name} on the CPU: {reason}")
