"""Where a model runs: `--device auto|cpu|cuda[:N]`, parsed once for train, eval, serve and ablate.

On CUDA the forward and loss run under bf16 autocast (the weights and the optimizer stay
fp32); on the CPU nothing changes (fp32, no autocast), so CPU results are what they were.
Checkpoints are written from CPU copies and loaded on the CPU first, so a run trained on
one device evaluates on any other.
"""
from __future__ import annotations

import contextlib
import os

import numpy as np
import torch

from egogym.core.errors import UserError
from egogym.policies.config import DEVICE_HELP, check_device

__all__ = ["DEVICE_HELP", "autocast", "distributed_backend", "resolve_device", "to_device"]


def resolve_device(text: str | torch.device | None = "auto") -> torch.device:
    """The torch.device `text` names. "auto": cuda (cuda:LOCAL_RANK under torchrun) when torch sees
    a GPU, else cpu. UserError naming --device for a malformed name or a CUDA device that is not there."""
    if isinstance(text, torch.device):
        return text
    text = check_device((text or "auto").strip())
    if text == "cpu" or (text == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UserError(f"--device {text}: torch {torch.__version__} sees no CUDA GPU "
                        f"(built with CUDA {torch.version.cuda or 'none'}); use --device cpu or auto")
    index = int(text.split(":")[1]) if ":" in text else int(os.environ.get("LOCAL_RANK", "0"))
    if index >= torch.cuda.device_count():
        raise UserError(f"--device {text}: torch sees {torch.cuda.device_count()} CUDA device(s), 0.."
                        f"{torch.cuda.device_count() - 1}")
    return torch.device("cuda", index)


def autocast(device: torch.device):
    """bf16 autocast on CUDA; a no-op context on the CPU (its results stay bit for bit)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def distributed_backend(device: torch.device) -> str:
    """NCCL for CUDA ranks, gloo for CPU ranks."""
    return "nccl" if device.type == "cuda" else "gloo"


def to_device(batch: dict, device: torch.device) -> dict:
    """A collated numpy / tensor batch as tensors on `device` (non-blocking from pinned memory),
    arrays of names left on the host; on the CPU the batch is returned as it is."""
    if device.type == "cpu":
        return batch
    return {k: v if _is_text(v) else torch.as_tensor(v).to(device, non_blocking=True) for k, v in batch.items()}


def _is_text(v) -> bool:
    """Arrays of names (the demos' `demo` keys): they stay on the host, as they are."""
    return isinstance(v, np.ndarray) and v.dtype.kind in "USO"
