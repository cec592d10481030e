"""Running a user's model over a dataset for the report: any ``torch.nn.Module`` that maps images to
``(B, K)`` logits, fed grey ``(B, 1, H, W)`` or the grey image repeated to 3 channels, with every
output checked (its width against the dataset's classes, NaN or infinite logits named by image)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .._progress import progress_enabled
from ..bayes import last_linear_layer
from ..data.dataset import CXRDataset
from ..train import resolve_device

__all__ = ["ChannelAdapter", "Scores", "score_dataset"]


class ChannelAdapter(torch.nn.Module):
    """``model`` fed the grey ``(B, 1, H, W)`` image repeated to ``in_channels`` (1 or 3)."""

    def __init__(self, model: torch.nn.Module, in_channels: int = 1):
        super().__init__()
        if in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 (grey) or 3 (the grey image repeated), got {in_channels!r}")
        self.model, self.in_channels = model, in_channels

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] != 1:
            raise ValueError(f"expected grey images (B, 1, H, W), got {tuple(images.shape)}")
        return self.model(images.expand(-1, self.in_channels, -1, -1) if self.in_channels == 3 else images)


@dataclass(frozen=True)
class Scores:
    """The model on one split: ``logits (N, K)``, ``labels (N, K)`` in {0, 1, NaN}, the dataset's
    ``table`` (N rows), ``positions`` (the dataset positions scored) and, with a ``last_layer``, the
    layer's input ``features (N, D)``."""

    logits: np.ndarray
    labels: np.ndarray
    table: pd.DataFrame
    positions: np.ndarray
    features: np.ndarray | None = None

    @property
    def probs(self) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits))


@torch.no_grad()
def score_dataset(
    model: torch.nn.Module,
    data: CXRDataset,
    classes: list[str],
    *,
    in_channels: int = 1,
    last_layer: str | None = None,
    batch_size: int = 64,
    device: str | torch.device = "auto",
    progress: bool = False,
    what: str = "test",
) -> Scores:
    """Run ``model`` (eval mode) over every image of ``data``; ``last_layer`` names an ``nn.Linear`` whose
    input is kept (for the last-layer Laplace). Raises ``ValueError`` for an empty dataset, logits of the
    wrong shape (naming the width expected and got) or a NaN / infinite logit (naming the image)."""
    if len(data) == 0:
        raise ValueError(f"the {what} split is empty: nothing to report on")
    dev = resolve_device(device)
    net = ChannelAdapter(model, in_channels).to(dev)
    was_training = model.training
    model.eval()
    captured: list[torch.Tensor] = []
    hook = None
    if last_layer is not None:
        layer = last_linear_layer(model, last_layer)
        hook = layer.register_forward_hook(lambda module, inputs, output: captured.append(inputs[0].detach()))
    logits, labels, features = [], [], []
    done = 0
    try:
        loader = DataLoader(data, batch_size=batch_size, shuffle=False)
        for batch in tqdm(loader, desc=f"scoring {what}", disable=not progress_enabled(progress), leave=False):
            captured.clear()
            out = net(batch["image"].to(dev))
            if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[1] != len(classes):
                shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise ValueError(
                    f"the model must give (B, K) logits with K = {len(classes)} (the dataset's classes "
                    f"{classes}); it gave {shape}"
                )
            bad = ~torch.isfinite(out).all(1)
            if bad.any():
                row = done + int(torch.nonzero(bad)[0])
                raise ValueError(
                    f"the model gave NaN or infinite logits for {what} image {data.table['image'].iloc[row]!r} "
                    f"(row {row}) and {int(bad.sum()) - 1} more in its batch"
                )
            logits.append(out.float().cpu())
            labels.append(batch["labels"].float())
            if hook is not None:
                features.append(captured[-1].flatten(1).float().cpu())
            done += len(out)
    finally:
        if hook is not None:
            hook.remove()
        model.train(was_training)
    return Scores(
        torch.cat(logits).double().numpy(),
        torch.cat(labels).double().numpy(),
        data.table.reset_index(drop=True),
        np.arange(len(data)),
        torch.cat(features).double().numpy() if features else None,
    )
