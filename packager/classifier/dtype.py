"""The dtype a trained classifier is saved, calibrated and served in (``ClassifierConfig.dtype``)."""

from __future__ import annotations

import torch

from guards.base_model import DTYPES


def native_bfloat16() -> bool:
    """Whether this machine multiplies bfloat16 in hardware: a CUDA GPU that supports it, or a CPU with
    AVX512-BF16 or AMX (oneDNN's check). Elsewhere bfloat16 is emulated and slower than float32."""
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def saved_dtype(name: str) -> torch.dtype:
    """The dtype a trained classifier is saved in, and so calibrated and served in: ``auto`` is
    bfloat16 where this machine computes it natively (faster there than float32), else float32."""
    if name == "auto":
        return torch.bfloat16 if native_bfloat16() else torch.float32
    return DTYPES[name]  # guards.base_model's names for torch dtypes
