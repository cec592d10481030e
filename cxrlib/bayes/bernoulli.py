"""Last-layer Laplace for multi-label (sigmoid / BCE) heads: the Bernoulli likelihood laplace-torch lacks.

A sigmoid head ``z = W φ + b`` on features ``φ (D,)`` is K independent logistic regressions that share
the features. Per class ``k``, with ``θ_k = (w_k, b_k)`` and ``φ̃ = (φ, 1)`` (``P = D + 1``
parameters; ``P = D`` for a head without bias), the log likelihood's Hessian is exactly its generalised Gauss-Newton

    H_k = Σ_n p_nk (1 - p_nk) φ̃_n φ̃_nᵀ,   p_nk = σ(θ_k · φ̃_n),

summed over the images whose label for class ``k`` is known (NaN labels are left out of that class's
Hessian and likelihood). With an isotropic Gaussian prior of precision ``λ_k`` the posterior is
``N(θ*_k, (H_k + λ_k I)⁻¹)`` (``"full"``) or its diagonal (``"diag"``). The Laplace evidence

    log Z_k(λ) = log p(y_k | θ*_k) - λ/2 ‖θ*_k‖² + P/2 log λ - 1/2 log det(H_k + λ I)

is cheap for every ``λ`` once the eigenvalues of ``H_k`` are known, and is maximised over ``log λ``
per class (or one ``λ`` for all). The predictive per class uses the logit's mean ``μ = θ*·φ̃`` and
variance ``s² = φ̃ᵀ Σ φ̃``: MacKay's probit approximation ``σ(κ μ)``, ``κ = 1 / sqrt(1 + π s² / 8)``,
or a Monte Carlo average of ``σ`` over samples of the logit.
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F

from .features import last_linear_layer
from .options import HessianStructure, Predictive, checked_features, resolve_option
from .search import maximize_log_scalar

__all__ = ["BernoulliLastLayerLaplace"]


class BernoulliLastLayerLaplace:
    """Last-layer Laplace approximation of a multi-label sigmoid head, one posterior per class.

    ``head``: the trained last layer (``nn.Linear``, D → K; copied). ``hessian``: ``"full"`` (a
    ``(P, P)`` precision per class) or ``"diag"``; ``"kron"`` is not implemented for this likelihood.
    ``prior_precision``: the initial prior precision (a number, or ``(K,)`` per class). ``dtype``: of
    every computation.

    Use: ``fit(features (N, D), labels (N, K) with NaN)``, ``optimize_prior_precision()``, then
    ``predict_proba(features)``. ``seconds`` holds the wall time of the fit and of the optimisation.
    """

    def __init__(
        self,
        head: torch.nn.Linear,
        hessian: HessianStructure | str = HessianStructure.FULL,
        prior_precision: float | torch.Tensor = 1.0,
        dtype: torch.dtype = torch.float64,
    ):
        if not isinstance(head, torch.nn.Linear):
            raise ValueError(f"head must be a torch.nn.Linear (the last layer), got {type(head).__name__}")
        self.hessian = resolve_option(HessianStructure, hessian, "Hessian structure")
        if self.hessian is HessianStructure.KRON:
            raise ValueError("the Bernoulli last-layer Laplace has no 'kron' structure; use 'full' or 'diag'")
        self.dtype = dtype
        weight = head.weight.detach().to("cpu", dtype)
        self.in_features = head.in_features
        self.has_bias = head.bias is not None
        bias = [head.bias.detach().to("cpu", dtype)[:, None]] if self.has_bias else []
        self.theta = torch.cat([weight, *bias], 1)  # (K, P): each class's weights, then its bias
        self.num_classes, self.num_params = self.theta.shape
        self.prior_precision = self._as_precision(prior_precision)
        self.hessian_matrix: torch.Tensor | None = None  # (K, P, P) or (K, P)
        self.seconds: dict[str, float] = {}

    @classmethod
    def from_model(
        cls,
        model: torch.nn.Module,
        hessian: HessianStructure | str = HessianStructure.FULL,
        prior_precision: float | torch.Tensor = 1.0,
        last_layer_name: str = "classifier",
        dtype: torch.dtype = torch.float64,
    ) -> BernoulliLastLayerLaplace:
        """For the last layer ``last_layer_name`` of ``model`` (a ``CXRClassifier``'s ``classifier``)."""
        return cls(last_linear_layer(model, last_layer_name), hessian, prior_precision, dtype)

    def _as_precision(self, value) -> torch.Tensor:
        lam = torch.as_tensor(value, dtype=self.dtype).reshape(-1)
        if len(lam) == 1:
            lam = lam.expand(self.num_classes).clone()
        if lam.shape != (self.num_classes,):
            raise ValueError(
                f"prior_precision must be a number or ({self.num_classes},) values, got {tuple(lam.shape)}"
            )
        if not (lam > 0).all() or not torch.isfinite(lam).all():
            raise ValueError(f"prior_precision must be positive and finite, got {lam.tolist()}")
        return lam

    def _augmented(self, x: torch.Tensor) -> torch.Tensor:
        """Checked ``(N, D)`` features → ``φ̃ (N, P)`` (a column of ones for the bias, if the head has one)."""
        return torch.cat([x, torch.ones(len(x), 1, dtype=self.dtype)], 1) if self.has_bias else x

    def _checked(self, features) -> torch.Tensor:
        x, _ = checked_features(features, torch.zeros(len(features)), self.in_features, self.dtype)
        return self._augmented(x)

    # -- fitting ---------------------------------------------------------------------------------------
    def fit(self, features: torch.Tensor, labels: torch.Tensor) -> BernoulliLastLayerLaplace:
        """The per-class Hessians at the head's weights from ``features (N, D)`` and ``labels (N, K)``
        in {0, 1, NaN} (NaN: unknown, left out of that class)."""
        t0 = time.perf_counter()
        x, y = checked_features(features, labels, self.in_features, self.dtype)
        y = y.to(self.dtype)
        if y.ndim != 2 or y.shape[1] != self.num_classes:
            raise ValueError(
                f"labels must be (N, {self.num_classes}) for a head of {self.num_classes} classes, got {tuple(y.shape)}"
            )
        known = ~torch.isnan(y)
        if not ((y[known] == 0) | (y[known] == 1)).all():
            raise ValueError("labels must be 0, 1 or NaN (unknown)")
        phi = self._augmented(x)
        logits = phi @ self.theta.T  # (N, K)
        p = torch.sigmoid(logits)
        weights = p * (1 - p) * known  # (N, K): unknown labels add nothing
        if self.hessian is HessianStructure.FULL:
            self.hessian_matrix = torch.einsum("nk,ni,nj->kij", weights, phi, phi)
            self._eigenvalues = torch.linalg.eigvalsh(self.hessian_matrix).clamp_min(0)
        else:
            self.hessian_matrix = weights.T @ phi**2
            self._eigenvalues = self.hessian_matrix
        bce = F.binary_cross_entropy_with_logits(logits, torch.nan_to_num(y), reduction="none")
        self.log_likelihood = -(bce * known).sum(0)  # (K,)
        self.known_counts = known.sum(0)
        self.seconds = {"fit": time.perf_counter() - t0}
        return self

    def _fitted(self, what: str) -> torch.Tensor:
        if self.hessian_matrix is None:
            raise ValueError(f"{what} needs a fitted Laplace approximation: call fit(features, labels) first")
        return self.hessian_matrix

    @property
    def posterior_precision(self) -> torch.Tensor:
        """``(K, P, P)`` (full) or ``(K, P)`` (diag): ``H_k + λ_k I``."""
        H = self._fitted("posterior_precision")
        if self.hessian is HessianStructure.FULL:
            return H + self.prior_precision[:, None, None] * torch.eye(self.num_params, dtype=self.dtype)
        return H + self.prior_precision[:, None]

    @property
    def posterior_covariance(self) -> torch.Tensor:
        """``(K, P, P)`` (full) or ``(K, P)`` (diag variances)."""
        precision = self.posterior_precision
        if self.hessian is HessianStructure.FULL:
            return torch.cholesky_inverse(torch.linalg.cholesky(precision))
        return 1 / precision

    def log_marginal_likelihood(self, prior_precision: float | torch.Tensor | None = None) -> torch.Tensor:
        """The Laplace log evidence per class ``(K,)`` at ``prior_precision`` (default the current one)."""
        self._fitted("log_marginal_likelihood")
        lam = self.prior_precision if prior_precision is None else self._as_precision(prior_precision)
        return self._evidence(lam)

    def _evidence(self, lam: torch.Tensor) -> torch.Tensor:
        scatter = (self.theta**2).sum(1)
        log_det = torch.log(self._eigenvalues + lam[:, None]).sum(1)
        return self.log_likelihood - 0.5 * lam * scatter + 0.5 * self.num_params * torch.log(lam) - 0.5 * log_det

    def optimize_prior_precision(
        self, per_class: bool = True, bounds: tuple[float, float] = (1e-6, 1e6)
    ) -> torch.Tensor:
        """Maximise the log evidence over ``λ`` within ``bounds`` (on a log scale): one ``λ`` per class
        (default) or one for all (the sum of the classes' evidence). Sets and returns ``prior_precision
        (K,)``; timed in ``seconds["marglik"]``."""
        self._fitted("optimize_prior_precision")
        t0 = time.perf_counter()

        def evidence(lam: float, classes: slice | int) -> float:
            return float(self._evidence(torch.full((self.num_classes,), lam, dtype=self.dtype))[classes].sum())

        if per_class:
            best = [maximize_log_scalar(lambda x, k=k: evidence(x, k), bounds) for k in range(self.num_classes)]
        else:
            best = [maximize_log_scalar(lambda x: evidence(x, slice(None)), bounds)] * self.num_classes
        self.prior_precision = torch.tensor(best, dtype=self.dtype)
        self.seconds["marglik"] = time.perf_counter() - t0
        return self.prior_precision.clone()

    # -- prediction ------------------------------------------------------------------------------------
    def logit_moments(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean ``(N, K)`` and variance ``(N, K)`` of each class's logit under the posterior."""
        self._fitted("logit_moments")
        phi = self._checked(features)
        mean = phi @ self.theta.T
        covariance = self.posterior_covariance
        if self.hessian is HessianStructure.FULL:
            variance = torch.einsum("ni,kij,nj->nk", phi, covariance, phi)
        else:
            variance = phi**2 @ covariance.T
        return mean, variance.clamp_min(0)

    def map_logits(self, features: torch.Tensor) -> torch.Tensor:
        """The point estimate's logits ``(N, K)`` for cached ``features (N, D)``, on the CPU in ``dtype``:
        the trained head's own logits, from the posterior's CPU copy of its weights, so cached features
        never meet a head that still sits on the GPU."""
        return self._checked(features) @ self.theta.T

    def map_proba(self, features: torch.Tensor) -> torch.Tensor:
        """The point estimate's sigmoid ``(N, K)`` (the trained network's own prediction)."""
        return torch.sigmoid(self.map_logits(features))

    def predict_proba(
        self,
        features: torch.Tensor,
        predictive: Predictive | str = Predictive.PROBIT,
        n_samples: int = 1000,
        seed: int = 0,
    ) -> torch.Tensor:
        """Posterior predictive probabilities ``(N, K)``: probit (``σ(κ μ)``) or the Monte Carlo mean of
        ``σ`` over ``n_samples`` draws of each logit from ``N(μ, s²)`` (a ``torch.Generator`` seeded with
        ``seed``)."""
        predictive = resolve_option(Predictive, predictive, "predictive")
        mean, variance = self.logit_moments(features)
        if predictive is Predictive.PROBIT:
            return torch.sigmoid(mean / torch.sqrt(1 + math.pi * variance / 8))
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn((n_samples, *mean.shape), generator=generator, dtype=self.dtype)
        return torch.sigmoid(mean + variance.sqrt() * noise).mean(0)
