"""Predictive probabilities for the predictive-uncertainty rules: MC dropout, and the multi-label
last-layer Laplace approximation of :mod:`cxrlib.bayes`."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..models.protocol import require_map_model
from ..train import resolve_device

__all__ = ["mc_dropout_probabilities", "laplace_probabilities"]


@torch.no_grad()
def mc_dropout_probabilities(
    model: torch.nn.Module,
    data: Dataset,
    samples: int = 30,
    seed: int = 0,
    batch_size: int = 64,
    device: str = "auto",
) -> np.ndarray:
    """``(N, K)``: the mean over ``samples`` dropout masks of ``σ(logits)``.

    The network runs in eval mode (BatchNorm with its running statistics) except its ``dropout`` module
    (a :class:`~cxrlib.models.CXRClassifier`'s, before the linear layer), so the features are computed
    once per batch and only the head is sampled. The masks come from torch's generator seeded with
    ``seed`` inside a forked random state. Raises ``ValueError`` for a model without dropout.
    """
    require_map_model(model, "mc_dropout_probabilities")
    dropout = getattr(model, "dropout", None)
    if not isinstance(dropout, torch.nn.Dropout) or dropout.p <= 0:
        raise ValueError("MC dropout needs a model built with dropout > 0 (build_model(..., dropout=0.2))")
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    dev = resolve_device(device)
    was_training = model.training
    model.to(dev).eval()
    out = []
    try:
        dropout.train()
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            torch.manual_seed(seed)
            for batch in DataLoader(data, batch_size=batch_size, shuffle=False):
                features = model.forward_with_features(batch["image"].to(dev)).features
                probs = torch.stack([torch.sigmoid(model.head(features).float()) for _ in range(samples)])
                out.append(probs.mean(0).double().cpu())
    finally:
        model.train(was_training)
    return torch.cat(out).numpy()


def laplace_probabilities(
    model: torch.nn.Module,
    train: Dataset,
    data: Dataset,
    hessian: str = "full",
    batch_size: int = 64,
    device: str = "auto",
) -> np.ndarray:
    """``(N, K)`` probit predictive of a multi-label last-layer Laplace approximation
    (:class:`cxrlib.bayes.BernoulliLastLayerLaplace`) fitted on ``train``'s penultimate features, prior
    precision per class by the Laplace evidence, evaluated on ``data``."""
    from ..bayes import BernoulliLastLayerLaplace, penultimate_features

    fit_on = penultimate_features(model, train, batch_size=batch_size, device=device)
    laplace = BernoulliLastLayerLaplace.from_model(model, hessian=hessian).fit(fit_on.features, fit_on.labels)
    laplace.optimize_prior_precision()
    on = penultimate_features(model, data, batch_size=batch_size, device=device)
    return laplace.predict_proba(on.features).double().numpy()
