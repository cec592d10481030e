"""Mixed precision: where ``fit`` runs the forward pass *and the loss* under bfloat16 autocast.

On CUDA, ``TrainConfig.amp`` (on by default) runs the network and the loss under
``torch.autocast("cuda", torch.bfloat16)``: features leave the encoder in bf16, and every head a loss
calls on them (a deferral surrogate's three-way head, PYLON's class maps, MIMO's member heads, the
saliency maps of a saliency loss) must run inside the same autocast block, as PyTorch's AMP recipe
asks, or an fp32 layer meets a bf16 input ("mat1 and mat2 must have the same dtype").

A CPU has no such path by default (bf16 matmuls on most CPUs are slower than fp32). The test switch
``CXRLIB_CPU_AUTOCAST=1`` turns on the same bf16 autocast on the CPU, so that a CPU-only CI catches this
class of CUDA-only failure: it changes numbers, so it is for tests, never for results.
"""

from __future__ import annotations

import contextlib
import os

import torch

__all__ = ["CPU_AUTOCAST_ENV", "autocast_enabled", "training_autocast"]

#: Environment switch (``"1"``) for bf16 autocast on the CPU: the CPU stand-in of the CUDA AMP path.
CPU_AUTOCAST_ENV = "CXRLIB_CPU_AUTOCAST"


def autocast_enabled(device: torch.device, amp: bool = True) -> bool:
    """Whether :func:`training_autocast` autocasts on ``device``: ``amp`` on CUDA, or ``amp`` on the CPU
    with the test switch ``CXRLIB_CPU_AUTOCAST=1``."""
    if not amp:
        return False
    if device.type == "cuda":
        return True
    return device.type == "cpu" and os.environ.get(CPU_AUTOCAST_ENV, "") == "1"


def training_autocast(device: torch.device, amp: bool = True) -> contextlib.AbstractContextManager:
    """``torch.autocast(device.type, bfloat16)`` where :func:`autocast_enabled`, else a null context."""
    if autocast_enabled(device, amp):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
