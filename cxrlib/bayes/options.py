"""The options of the last-layer Laplace approximations, as ``str`` enums, and the checks of their inputs."""

from __future__ import annotations

from enum import Enum

import torch

__all__ = ["HessianStructure", "PriorFit", "Predictive", "resolve_option", "checked_features"]


class HessianStructure(str, Enum):
    """How the last layer's Hessian (generalised Gauss-Newton) is approximated."""

    DIAG = "diag"  #: its diagonal
    FULL = "full"  #: all of it
    KRON = "kron"  #: a Kronecker product of an input and an output factor (K-FAC)


class PriorFit(str, Enum):
    """How the prior precision is chosen after the fit."""

    MARGLIK = "marglik"  #: maximise the Laplace approximation of the marginal likelihood (no data needed)
    GRIDSEARCH = "gridsearch"  #: minimise a loss (default NLL) of the predictive on validation data over a grid
    CROSS_VALIDATION = "cv"  #: minimise that loss over the grid by k-fold cross-validation on the fit's own data


class Predictive(str, Enum):
    """How the posterior over the logits becomes class probabilities."""

    PROBIT = "probit"  #: MacKay's probit approximation: the mean logit scaled by 1 / sqrt(1 + pi var / 8)
    MONTE_CARLO = "mc"  #: the average of the link over Monte Carlo samples of the logits


def resolve_option(enum: type[Enum], value, what: str):
    """``value`` as a member of ``enum``; a ``ValueError`` naming ``what`` and the choices otherwise."""
    try:
        return enum(value)
    except ValueError:
        raise ValueError(f"unknown {what} {value!r}; use one of {[m.value for m in enum]}") from None


def checked_features(features, labels, in_features: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """``features (N, D)`` and ``labels (N, ...)`` as tensors of ``dtype``, or a ``ValueError`` saying
    what does not fit (lengths, the head's input width, non-finite features)."""
    x = torch.as_tensor(features).detach().cpu()
    y = torch.as_tensor(labels).detach().cpu()
    if x.ndim != 2:
        raise ValueError(f"features must be (N, D), got shape {tuple(x.shape)}")
    if x.shape[1] != in_features:
        raise ValueError(f"features have {x.shape[1]} columns but the last layer takes {in_features}")
    if len(x) != len(y):
        raise ValueError(f"features and labels differ in length: {len(x)} features, {len(y)} labels")
    if len(x) == 0:
        raise ValueError("no features to fit")
    x = x.to(dtype)
    if not torch.isfinite(x).all():
        raise ValueError("features contain NaN or infinity")
    return x, y
