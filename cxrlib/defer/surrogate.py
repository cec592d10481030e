"""Learning to defer end to end: Mozannar and Sontag's (2020) consistent surrogate L_CE, per class.

For each class the network has three outputs, (negative, positive, defer), with a softmax ``g`` over
them. With the label ``y`` and the clinician's answer ``m`` for that class,

    L_CE = −log g_y − 1[m = y] · log g_⊥

(averaged over the decisions whose label is known). Its minimiser has ``g_y ∝ P(y | x)`` and ``g_⊥ ∝
P(m = y | x)``; deferring when ``g_⊥ > max(g_0, g_1)`` is then the Bayes-optimal system of model and
clinician. :func:`~cxrlib.defer.surrogate_rule` turns the outputs into a deferral rule.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from ..models import CXRClassifier, ModelOutput, build_model
from ..train import resolve_device

__all__ = [
    "DeferralNet",
    "build_deferral_net",
    "deferral_surrogate_loss",
    "DeferralSurrogateLoss",
    "surrogate_probabilities",
]


class DeferralNet(nn.Module):
    """A classifier with a deferral output per class (a model with maps, :class:`~cxrlib.models.MapModel`).

    ``net``: a :class:`~cxrlib.models.CXRClassifier` with ``3 K`` outputs. :meth:`three_way` gives the
    logits ``(B, K, 3)`` of (negative, positive, defer); ``head``/``forward`` give the class logit
    ``z_1 − z_0`` ``(B, K)`` (σ of it is ``g_1 / (g_0 + g_1)``, the class probability given no
    deferral), so training, AUROC and Grad-CAM treat it as any K-class classifier.
    """

    def __init__(self, net: CXRClassifier):
        super().__init__()
        if net.num_classes % 3:
            raise ValueError(f"a deferral net needs 3 outputs per class, got {net.num_classes}")
        self.net = net

    @property
    def num_classes(self) -> int:
        return self.net.num_classes // 3

    @property
    def feature_layer(self) -> nn.Module:
        return self.net.feature_layer

    def three_way(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, C, h, w)`` features → ``(B, K, 3)`` logits of (negative, positive, defer)."""
        z = self.net.head(features)
        return z.view(len(z), self.num_classes, 3)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        z = self.three_way(features)
        return z[..., 1] - z[..., 0]

    def forward_with_features(self, images: torch.Tensor) -> ModelOutput:
        features = self.net.features(images)
        return ModelOutput(self.head(features), features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_with_features(images).logits


def build_deferral_net(backbone: str, num_classes: int, **options) -> DeferralNet:
    """:func:`~cxrlib.models.build_model` with ``3 · num_classes`` outputs, as a :class:`DeferralNet`."""
    return DeferralNet(build_model(backbone, 3 * num_classes, **options))


def deferral_surrogate_loss(three_way: torch.Tensor, labels: torch.Tensor, clinician: torch.Tensor) -> torch.Tensor:
    """L_CE of ``three_way (B, K, 3)`` logits against ``labels (B, K)`` (1 / 0 / NaN) and the clinician's
    ``(B, K)`` answers (NaN: none, which earns the deferral output nothing), mean over known labels."""
    if three_way.ndim != 3 or three_way.shape[2] != 3 or three_way.shape[:2] != labels.shape:
        raise ValueError(
            f"expected (B, K, 3) logits for (B, K) labels, got {tuple(three_way.shape)} and {tuple(labels.shape)}"
        )
    if clinician.shape != labels.shape:
        raise ValueError(f"clinician answers {tuple(clinician.shape)} and labels {tuple(labels.shape)} differ in shape")
    log_g = F.log_softmax(three_way.float(), dim=2)
    known = ~torch.isnan(labels)
    y = torch.nan_to_num(labels).long()
    nll = -log_g.gather(2, y[..., None]).squeeze(2)
    agrees = (clinician == labels) & known
    loss = nll - agrees * log_g[..., 2]
    return (loss * known).sum() / known.sum().clamp_min(1)


class DeferralSurrogateLoss:
    """Training loss for :func:`~cxrlib.train.fit`: L_CE of ``model``'s three-way outputs; batches carry
    ``"clinician"`` (:func:`~cxrlib.defer.with_clinician`)."""

    def __init__(self, model: DeferralNet):
        self.model = model

    def __call__(self, output: ModelOutput, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        if "clinician" not in batch:
            raise ValueError(
                "the deferral surrogate needs the clinician's answers in each batch: wrap the data in with_clinician()"
            )
        return deferral_surrogate_loss(self.model.three_way(output.features), batch["labels"], batch["clinician"])


@torch.no_grad()
def surrogate_probabilities(
    model: DeferralNet, data: Dataset, batch_size: int = 64, device: str = "auto"
) -> np.ndarray:
    """``(N, K, 3)`` softmax of the three-way outputs (negative, positive, defer) on ``data``."""
    dev = resolve_device(device)
    model.to(dev).eval()
    out = []
    for batch in DataLoader(data, batch_size=batch_size, shuffle=False):
        features = model.forward_with_features(batch["image"].to(dev)).features
        out.append(torch.softmax(model.three_way(features).float(), dim=2).double().cpu())
    return torch.cat(out).numpy()
