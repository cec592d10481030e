"""Classification losses that mask unknown (NaN) labels, and a way to add saliency terms.

Every training loss is a callable ``loss(output: ModelOutput, batch: dict) -> Tensor | dict`` (a dict
must hold ``"loss"``; its other entries are logged).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from .models.backbones import ModelOutput
from .saliency.cam import SaliencyMethod, saliency_maps
from .saliency.losses import class_distinctiveness_loss

__all__ = ["positive_weights", "weighted_bce", "WeightedBCELoss", "SaliencyRegularizedLoss"]


def positive_weights(labels, clip: float = 100.0) -> torch.Tensor:
    """Per-class ``n_negative / n_positive`` from ``(N, K)`` labels (NaN ignored), clipped to ``clip``."""
    y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels, float)
    pos = np.nansum(y == 1, axis=0).astype(float)
    neg = np.nansum(y == 0, axis=0).astype(float)
    if (pos == 0).any():
        raise ValueError(
            f"no positive label for class index(es) {np.flatnonzero(pos == 0).tolist()}; "
            "cannot weight the BCE (raise the prevalence or the sample size)"
        )
    return torch.tensor(np.clip(neg / pos, 1.0 / clip, clip), dtype=torch.float32)


def weighted_bce(logits: torch.Tensor, labels: torch.Tensor, pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross-entropy on ``(B, K)`` logits, averaged over the known (non-NaN) labels only."""
    known = ~torch.isnan(labels)
    target = torch.nan_to_num(labels, nan=0.0)
    loss = F.binary_cross_entropy_with_logits(
        logits.float(),
        target,
        pos_weight=None if pos_weight is None else pos_weight.to(logits.device),
        reduction="none",
    )
    return (loss * known).sum() / known.sum().clamp_min(1)


class WeightedBCELoss:
    """Training loss: weighted BCE (``pos_weight`` usually from :func:`positive_weights`)."""

    def __init__(self, pos_weight: torch.Tensor | None = None):
        self.pos_weight = pos_weight

    def __call__(self, output: ModelOutput, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return weighted_bce(output.logits, batch["labels"], self.pos_weight)


class SaliencyRegularizedLoss:
    """``base + λ_cd · L_CD`` on differentiable saliency maps of every class (Sharma and P. 2023, §3.1).

    With a pooling + linear head the maps come in closed form from the same forward pass, so the
    extra cost is one einsum.
    """

    needs_grad = True  # the autograd path (non-linear heads) needs gradients during validation too

    def __init__(
        self,
        base: Callable,
        model: torch.nn.Module,
        lambda_cd: float = 1.4,
        method: SaliencyMethod | str = SaliencyMethod.GRADCAM,
    ):
        self.base, self.model, self.lambda_cd, self.method = base, model, lambda_cd, SaliencyMethod(method)

    def __call__(self, output: ModelOutput, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        base = self.base(output, batch)
        maps = saliency_maps(self.model, output.features, output.logits, self.method, create_graph=True)
        cd = class_distinctiveness_loss(maps.float(), output.features.float())
        return {"loss": base + self.lambda_cd * cd, "base": base.detach(), "class_distinctiveness": cd.detach()}
