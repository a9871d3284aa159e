"""The BLAS and LAPACK torch calls, as torch itself says: its build settings
(``torch.__config__.show()``: ``BLAS_INFO=mkl``, ``LAPACK_INFO=mkl`` and MKL's version line) and
on CUDA its cuBLAS. threadpoolctl in a torch process also lists NumPy's OpenBLAS, loaded
beside it: that is NumPy's library, not torch's."""

from __future__ import annotations

import re

import torch


def build_settings(text: str) -> dict[str, str]:
    """``KEY=value`` pairs of the "Build settings" line of ``torch.__config__.show()``."""
    line = next((ln for ln in text.splitlines() if "Build settings:" in ln), "")
    return dict(re.findall(r"([A-Z_0-9]+)=([^,]*)", line))


def _mkl_version(text: str) -> str:
    found = re.search(r"Math Kernel Library Version ([\w.]+)", text)
    return f" {found[1]}" if found else ""


def blas(device: str) -> dict[str, str]:
    text = torch.__config__.show()
    settings = build_settings(text)
    named = {"mkl": f"mkl{_mkl_version(text)}"}
    blas_info, lapack_info = settings.get("BLAS_INFO", ""), settings.get("LAPACK_INFO", "")
    out = {"blas": named.get(blas_info, blas_info) or "unknown",
           "lapack": named.get(lapack_info, lapack_info) or "unknown",
           "source": "torch.__config__.show()"}
    if torch.backends.mkldnn.is_available():  # oneDNN: torch's own kernels for some layers
        found = re.search(r"MKL-DNN v([\w.]+)", text)
        out["onednn"] = found[1] if found else "available"
    if device == "cuda":
        out["blas"] = f"cublas (CUDA {torch.version.cuda})"
    return out
