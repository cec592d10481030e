"""Training-step throughput: images per second and peak GPU memory of ``fit``'s step (bf16 autocast of
the forward pass and the loss, channels_last, Adam), optionally under ``torch.compile``.

Random images and labels on the device, so the loader is not measured: this is the GPU's ceiling for
a backbone at a batch size, the figure a researcher sizes a ``full`` run with.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch

from .distributed import resolve_device
from .losses import WeightedBCELoss
from .models import build_model
from .train import forward_and_loss

__all__ = ["StepThroughput", "training_step_throughput"]


@dataclass(frozen=True)
class StepThroughput:
    """One measurement: ``images_per_second`` over the timed steps, ``peak_memory_gib`` (CUDA's peak
    allocated memory over warm-up and timed steps; None on a CPU), ``warmup_seconds`` (the first steps,
    which include ``torch.compile``'s compilation when ``compiled``)."""

    backbone: str
    batch_size: int
    image_size: int
    compiled: bool
    amp: bool
    channels_last: bool
    images_per_second: float
    peak_memory_gib: float | None
    warmup_seconds: float
    device: str

    def as_dict(self) -> dict:
        return asdict(self)


def training_step_throughput(
    backbone: str,
    batch_size: int,
    image_size: int = 224,
    device: str | torch.device = "auto",
    amp: bool = True,
    channels_last: bool = True,
    compile: bool = False,
    steps: int = 20,
    warmup: int = 5,
    num_classes: int = 14,
) -> StepThroughput:
    """Time ``steps`` training steps of ``backbone`` (:func:`~cxrlib.models.build_model`, grayscale
    ``(batch_size, 1, image_size, image_size)`` inputs, ``num_classes`` outputs, weighted BCE, Adam)
    after ``warmup`` untimed ones, as ``fit`` runs them: bf16 autocast around the forward pass and the
    loss (``amp``, on CUDA), channels_last (on CUDA), ``torch.compile`` with ``compile``."""
    if steps < 1 or warmup < 1:
        raise ValueError(f"steps and warmup must be >= 1, got {steps} and {warmup}")
    dev = resolve_device(device)
    cuda = dev.type == "cuda"
    torch.manual_seed(0)
    model = build_model(backbone, num_classes).to(dev)
    last = cuda and channels_last
    if last:
        model.to(memory_format=torch.channels_last)
    model.train()
    forward = torch.compile(model.forward_with_features) if compile else model.forward_with_features
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = WeightedBCELoss()
    images = torch.rand(batch_size, 1, image_size, image_size, device=dev)
    if last:
        images = images.contiguous(memory_format=torch.channels_last)
    batch = {"labels": (torch.rand(batch_size, num_classes, device=dev) < 0.3).float()}

    def step() -> None:
        _, loss = forward_and_loss(forward, images, batch, loss_fn, dev, amp)  # fit's own forward and loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(dev)

    if cuda:
        torch.cuda.reset_peak_memory_stats(dev)
    sync()
    start = time.perf_counter()
    for _ in range(warmup):
        step()
    sync()
    warmup_seconds = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(dev) / 2**30 if cuda else None
    return StepThroughput(
        backbone,
        batch_size,
        image_size,
        bool(compile),
        bool(amp and cuda),
        bool(last),
        batch_size * steps / seconds,
        peak,
        warmup_seconds,
        str(dev),
    )
