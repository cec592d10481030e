"""Bayesian last layers by the Laplace approximation (Vilter and Daglaroglou's Laplace study).

- :func:`penultimate_features`: one pass of the encoder; everything after it works on ``(N, D)``
  features and the last layer alone.
- :class:`LastLayerLaplace`: softmax heads through laplace-torch 0.3 (diag, full and Kronecker
  Hessians; prior precision by marginal likelihood or a validation grid search, both timed; probit
  and Monte Carlo predictives), fitted on the cached features; :func:`whole_network_laplace` is
  laplace-torch's own fit over the whole network, the reference it reproduces.
- :class:`BernoulliLastLayerLaplace`: multi-label sigmoid heads (the Bernoulli likelihood laplace-torch
  lacks): per-class GGN (diag or full), unknown labels left out, prior precision by the closed-form
  Laplace evidence, probit (MacKay) and Monte Carlo predictives per class.
"""

from .bernoulli import BernoulliLastLayerLaplace
from .features import PenultimateFeatures, last_linear_layer, penultimate_features
from .laplace import (
    DEFAULT_GRID,
    LastLayerLaplace,
    image_class_loader,
    laplace_backend,
    nll_loss,
    whole_network_laplace,
)
from .options import HessianStructure, Predictive, PriorFit

__all__ = [
    "BernoulliLastLayerLaplace",
    "DEFAULT_GRID",
    "HessianStructure",
    "LastLayerLaplace",
    "PenultimateFeatures",
    "Predictive",
    "PriorFit",
    "image_class_loader",
    "last_linear_layer",
    "laplace_backend",
    "nll_loss",
    "penultimate_features",
    "whole_network_laplace",
]
