"""The named precision options: what each stores its parameters in and what it computes in.

- ``float32``, ``float64``: parameters, data and arithmetic in that dtype, in both frameworks.
- ``float16``, ``bfloat16``: the whole network in the half-width dtype (torch only): what a
  model cast with ``.half()`` / ``.bfloat16()`` trains like, losses and all.
- ``mixed_float16``, ``mixed_bfloat16``: float32 parameters, matmuls under ``torch.autocast``
  in the half-width dtype; float16 adds a gradient scaler (``torch.amp.GradScaler``), since its
  narrow exponent range lets small gradients underflow to zero, which bfloat16's does not.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Precision:
    name: str
    param_dtype: str  # parameters, inputs and (without autocast) arithmetic
    autocast_dtype: str | None  # matmul dtype under torch.autocast; None = no autocast
    grad_scaler: bool
    # CUDA float32 matmuls on TF32 tensor cores (precision.tf32; torch on CUDA only)
    tf32: bool = False

    @property
    def compute_dtype(self) -> str:
        """The dtype the matmuls run in: what the MFU peak is measured in."""
        return self.autocast_dtype or self.param_dtype

    @property
    def half_width(self) -> str | None:
        """float16 or bfloat16 when the matmuls run in one, else None."""
        return self.compute_dtype if self.compute_dtype in ("float16", "bfloat16") else None


PRECISIONS = {
    p.name: p
    for p in (
        Precision("float32", "float32", None, False),
        Precision("float64", "float64", None, False),
        Precision("float16", "float16", None, False),
        Precision("bfloat16", "bfloat16", None, False),
        Precision("mixed_float16", "float32", "float16", True),
        Precision("mixed_bfloat16", "float32", "bfloat16", False),
    )
}


def get(name: str, tf32: bool = False) -> Precision:
    """The named precision, with TF32 matmuls allowed or not."""
    return dataclasses.replace(PRECISIONS[name], tf32=tf32) if tf32 else PRECISIONS[name]
