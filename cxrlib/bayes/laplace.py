"""Last-layer Laplace for softmax classifiers through laplace-torch 0.3, fitted on cached features.

The encoder runs once (:func:`~cxrlib.bayes.penultimate_features`); laplace-torch then sees the last
layer alone, an ``nn.Linear`` on ``(N, D)`` features. That gives the same posterior as laplace-torch's
own last-layer fit over the whole network (:func:`whole_network_laplace`, which runs the network again
for every curvature product, predictive and grid point) at a fraction of the cost.

laplace-torch 0.3 pitfalls handled here (measured, see STUDIES.md S5):

- a head-only model needs ``last_layer_name`` (otherwise: ``ValueError: The model only has one
  module``); the head is passed with ``last_layer_name=""`` (the module itself);
- it has no Bernoulli likelihood: ``"classification"`` is softmax cross-entropy and takes multi-hot
  targets as soft labels without a word, so :class:`LastLayerLaplace` refuses labels that are not
  one-hot (use :class:`~cxrlib.bayes.BernoulliLastLayerLaplace` for sigmoid heads);
- ``optimize_prior_precision(method="gridsearch")`` with its default metric (a running NLL that is
  never reset between grid points) returns the top of the grid: the grid search here takes a loss
  callable (default NLL) and runs its own loop (choosing what laplace-torch chooses with that loss);
- its default backend builds the full Hessian as ``linop @ torch.eye(P)`` with a float32 identity
  (float64 runs agree only to ~3e-8 relative), and a float64 input into a float32 head raises
  ``mat1 and mat2 must have the same dtype``: the full Hessian uses the BackPACK GGN backend (exact),
  and the head is copied to the dtype of the fit (default float64), features cast to it.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset

from ..losses import class_indices
from .backend import laplace_torch
from .features import last_linear_layer
from .options import HessianStructure, Predictive, PriorFit, checked_features, resolve_option
from .search import kfold_held_out, maximize_log_scalar

__all__ = [
    "LastLayerLaplace",
    "whole_network_laplace",
    "image_class_loader",
    "laplace_backend",
    "nll_loss",
    "DEFAULT_GRID",
]

#: the prior precisions the grid search tries by default: 41 values from 1e-4 to 1e4
DEFAULT_GRID = tuple(float(x) for x in np.logspace(-4, 4, 41))


def laplace_backend(hessian: HessianStructure | str):
    """The laplace-torch curvature backend used for a Hessian structure: BackPACK's GGN for the full
    Hessian (exact; the default backend mixes in a float32 identity), laplace-torch's default (the
    Curvlinops GGN) for diag and kron."""
    BackPackGGN = laplace_torch().curvature.BackPackGGN

    hessian = resolve_option(HessianStructure, hessian, "Hessian structure")
    return BackPackGGN if hessian is HessianStructure.FULL else None


def nll_loss(probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of class indices ``(N,)`` under probabilities ``(N, K)`` (the grid
    search's default loss)."""
    return F.nll_loss(probs.clamp_min(1e-12).log(), targets.long())


def _single_label_targets(labels: torch.Tensor) -> torch.Tensor:
    try:
        return class_indices(labels)
    except ValueError as err:
        raise ValueError(
            f"{err}. laplace-torch has no Bernoulli likelihood: for multi-label (sigmoid) heads use "
            "cxrlib.bayes.BernoulliLastLayerLaplace"
        ) from None


class LastLayerLaplace:
    """Last-layer Laplace approximation of a softmax head on cached features (laplace-torch underneath).

    ``head``: the trained last layer (an ``nn.Linear``, D → K; copied, never changed). ``hessian``:
    ``"diag"``, ``"full"`` or ``"kron"``. ``prior_precision``: the initial (scalar) prior precision.
    ``dtype``: of the fit (the head and the features are cast to it).

    Use: ``fit(features (N, D), labels)`` (labels one-hot ``(N, K)`` or class indices ``(N,)``), then
    ``optimize_prior_precision(...)`` and ``predict_proba(features)``. ``seconds`` holds the wall time
    of the fit and of each prior optimisation (``"fit"``, ``"marglik"``, ``"gridsearch"``); ``la`` the
    fitted laplace-torch object.
    """

    def __init__(
        self,
        head: torch.nn.Linear,
        hessian: HessianStructure | str = HessianStructure.KRON,
        prior_precision: float = 1.0,
        dtype: torch.dtype = torch.float64,
    ):
        if not isinstance(head, torch.nn.Linear):
            raise ValueError(f"head must be a torch.nn.Linear (the last layer), got {type(head).__name__}")
        if not float(prior_precision) > 0:
            raise ValueError(f"prior_precision must be > 0, got {prior_precision}")
        self.hessian = resolve_option(HessianStructure, hessian, "Hessian structure")
        self.head = copy.deepcopy(head).to(dtype=dtype, device="cpu").eval()
        self.dtype = dtype
        self.initial_prior_precision = float(prior_precision)
        self.la = None
        self._eig: tuple[torch.Tensor, torch.Tensor] | None = None
        self.seconds: dict[str, float] = {}

    @classmethod
    def from_model(
        cls,
        model: torch.nn.Module,
        hessian: HessianStructure | str = HessianStructure.KRON,
        prior_precision: float = 1.0,
        last_layer_name: str = "classifier",
        dtype: torch.dtype = torch.float64,
    ) -> LastLayerLaplace:
        """For the last layer ``last_layer_name`` of ``model`` (a ``CXRClassifier``'s ``classifier``)."""
        return cls(last_linear_layer(model, last_layer_name), hessian, prior_precision, dtype)

    # -- fitting ---------------------------------------------------------------------------------------
    def fit(self, features: torch.Tensor, labels: torch.Tensor, batch_size: int | None = None) -> LastLayerLaplace:
        """Fit the posterior at the head's weights: ``features (N, D)``, one-hot ``labels (N, K)`` (or
        class indices ``(N,)``). ``batch_size``: the batches laplace-torch sums the curvature over
        (default all at once; Kronecker factors are summed per batch, so they depend on it)."""
        Laplace = laplace_torch().Laplace

        x, y = checked_features(features, labels, self.head.in_features, self.dtype)
        targets = _single_label_targets(y)
        if targets.min() < 0 or targets.max() >= self.head.out_features:
            raise ValueError(f"class indices must lie in [0, {self.head.out_features})")
        loader = DataLoader(TensorDataset(x, targets), batch_size=batch_size or len(x))
        t0 = time.perf_counter()
        la = Laplace(
            self.head,
            "classification",
            subset_of_weights="last_layer",
            hessian_structure=self.hessian.value,
            prior_precision=self.initial_prior_precision,
            last_layer_name="",
            backend=laplace_backend(self.hessian),
        )
        la.fit(loader)
        self.seconds = {"fit": time.perf_counter() - t0}
        self.la, self._eig = la, None
        self._data = (x, targets, batch_size)  # what cross-validation refits on
        self.prior_search: dict[str, np.ndarray] = {}
        return self

    def _fitted(self, what: str):
        if self.la is None:
            raise ValueError(f"{what} needs a fitted Laplace approximation: call fit(features, labels) first")
        return self.la

    @property
    def prior_precision(self) -> torch.Tensor:
        """The prior precision: ``(1,)`` (scalar) or as many values as its structure has."""
        return torch.as_tensor(self._fitted("prior_precision").prior_precision).detach().reshape(-1).clone()

    def log_marginal_likelihood(self, prior_precision: float | torch.Tensor | None = None) -> float:
        """laplace-torch's Laplace approximation of the log evidence, at ``prior_precision`` (default the
        current one, which it leaves unchanged). For the full Hessian and a scalar prior precision it is
        computed from the eigenvalues of the Hessian (``O(P)`` per value instead of a Cholesky
        factorisation; the same value)."""
        la = self._fitted("log_marginal_likelihood")
        value = la.prior_precision if prior_precision is None else torch.as_tensor(prior_precision, dtype=self.dtype)
        value = value.reshape(-1)
        if self.hessian is HessianStructure.FULL and len(value) == 1:
            return self._full_evidence(float(value[0]))
        before = la.prior_precision
        try:
            return float(la.log_marginal_likelihood(value))
        finally:
            la.prior_precision = before

    def _eigen(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Eigenvalues ``(P,)`` and eigenvectors ``(P, P)`` of the (full) likelihood Hessian, once per fit."""
        if self._eig is None:
            la = self.la
            self._eig = torch.linalg.eigh(la.H * la._H_factor)
        return self._eig

    def _full_evidence(self, prior_precision: float) -> float:
        la = self.la
        eigenvalues, _ = self._eigen()
        delta = la.mean - la.prior_mean
        log_det_ratio = torch.log(eigenvalues + prior_precision).sum() - len(eigenvalues) * math.log(prior_precision)
        return float(la.log_likelihood - 0.5 * (log_det_ratio + prior_precision * (delta @ delta)))

    def optimize_prior_precision(
        self,
        method: PriorFit | str = PriorFit.MARGLIK,
        val_features: torch.Tensor | None = None,
        val_labels: torch.Tensor | None = None,
        grid: Sequence[float] = DEFAULT_GRID,
        loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = nll_loss,
        predictive: Predictive | str = Predictive.PROBIT,
        prior_structure: str = "scalar",
        bounds: tuple[float, float] = (1e-6, 1e6),
        n_steps: int = 100,
        lr: float = 0.1,
        n_samples: int = 100,
        folds: int = 5,
        seed: int = 0,
    ) -> torch.Tensor:
        """Choose the prior precision; timed in ``seconds[method]``. Returns it (see :attr:`prior_precision`).

        ``"marglik"``: maximise laplace-torch's log evidence. With ``prior_structure="scalar"`` (default)
        exactly, over ``bounds`` on a log scale (a scan, then Brent's method); with ``"layerwise"`` or
        ``"diag"`` by laplace-torch's Adam (``n_steps`` at ``lr``) from the initial prior precision.
        ``"gridsearch"``: the value of ``grid`` whose ``predictive`` on ``val_features`` / ``val_labels``
        has the smallest ``loss(probs (N, K), targets (N,))`` (default NLL; laplace-torch's own default
        metric picks the top of the grid), the first of equals. It chooses what laplace-torch's grid
        search chooses with the same loss; the full Hessian's probit predictive is evaluated from one
        eigendecomposition for every grid value. ``"cv"``: the value of ``grid`` with the smallest mean
        ``loss`` over ``folds``-fold cross-validation on the data of :meth:`fit` (each fold's Laplace
        fitted at the same head on the other folds, scored on its own; folds shuffled with ``seed``; the
        folds' mean losses weighted by their sizes), the first of equals. Both searches leave
        ``prior_search``: ``grid (G,)``, ``loss (G,)`` and, for ``"cv"``, ``fold_loss (folds, G)``.
        """
        la = self._fitted("optimize_prior_precision")
        method = resolve_option(PriorFit, method, "prior optimisation method")
        predictive = resolve_option(Predictive, predictive, "predictive")
        t0 = time.perf_counter()
        if method is PriorFit.MARGLIK:
            if prior_structure == "scalar":
                la.prior_precision = maximize_log_scalar(self.log_marginal_likelihood, bounds)
            elif prior_structure in ("layerwise", "diag"):
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message="By default `link_approx` is `probit`")
                    la.optimize_prior_precision(
                        pred_type="glm",
                        method="marglik",
                        n_steps=n_steps,
                        lr=lr,
                        init_prior_prec=self.initial_prior_precision,
                        prior_structure=prior_structure,
                    )
            else:
                raise ValueError(f"prior_structure must be 'scalar', 'layerwise' or 'diag', got {prior_structure!r}")
        else:
            values = [float(v) for v in grid]
            if len(values) < 1 or not all(v > 0 and math.isfinite(v) for v in values):
                raise ValueError(f"grid must hold positive prior precisions, got {values}")
            if method is PriorFit.GRIDSEARCH:
                if val_features is None or val_labels is None:
                    raise ValueError("the grid search needs val_features and val_labels")
                losses = self.grid_losses(val_features, val_labels, values, loss, predictive, n_samples)
                self.prior_search = {"grid": np.asarray(values), "loss": losses}
            else:
                self.prior_search = self._cross_validate(values, folds, seed, loss, predictive, n_samples)
                losses = self.prior_search["loss"]
            la.prior_precision = values[int(np.nanargmin(losses))]
        self.seconds[method.value] = time.perf_counter() - t0
        return self.prior_precision

    def grid_losses(
        self,
        features,
        labels,
        grid: Sequence[float],
        loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = nll_loss,
        predictive: Predictive | str = Predictive.PROBIT,
        n_samples: int = 100,
    ) -> np.ndarray:
        """``(G,)``: ``loss`` of the ``predictive`` on ``features (N, D)`` / ``labels`` at every prior
        precision of ``grid``; the prior precision is left as it was."""
        la = self._fitted("grid_losses")
        predictive = resolve_option(Predictive, predictive, "predictive")
        x, y = checked_features(features, labels, self.head.in_features, self.dtype)
        targets = _single_label_targets(y)
        fast = (
            self._full_probit(x) if self.hessian is HessianStructure.FULL and predictive is Predictive.PROBIT else None
        )
        before, losses = la.prior_precision, []
        try:
            for value in grid:
                la.prior_precision = float(value)
                probs = fast(float(value)) if fast else self.predict_proba(x, predictive, n_samples=n_samples)
                losses.append(float(loss(probs, targets)))
        finally:
            la.prior_precision = before
        return np.asarray(losses)

    def _cross_validate(self, grid, folds: int, seed: int, loss, predictive, n_samples) -> dict[str, np.ndarray]:
        x, targets, batch_size = self._data
        held_out = kfold_held_out(len(x), folds, seed)
        fold_loss = []
        for held in held_out:
            rest = np.setdiff1d(np.arange(len(x)), held)
            part = LastLayerLaplace(self.head, self.hessian, self.initial_prior_precision, self.dtype)
            part.fit(x[rest], targets[rest], batch_size)
            fold_loss.append(part.grid_losses(x[held], targets[held], grid, loss, predictive, n_samples))
        sizes = np.array([len(h) for h in held_out], dtype=float)
        fold_loss = np.stack(fold_loss)
        return {"grid": np.asarray(grid), "loss": sizes @ fold_loss / sizes.sum(), "fold_loss": fold_loss}

    def _full_probit(self, x: torch.Tensor) -> Callable[[float], torch.Tensor]:
        """For the full Hessian: ``prior precision -> probit predictive (N, K)`` on features ``x (N, D)``,
        the logits' variances ``J Σ Jᵀ`` from one projection of the Jacobians on the eigenvectors."""
        eigenvalues, vectors = self._eigen()
        k, d = self.head.out_features, self.head.in_features
        # laplace-torch's parameter order: the weight row by row (class by class), then the bias
        projected = torch.einsum("nd,kdp->nkp", x, vectors[: k * d].reshape(k, d, -1))
        if self.head.bias is not None:
            projected = projected + vectors[k * d :][None]
        squared = projected**2
        with torch.no_grad():
            mean = self.head(x)

        def probs(prior_precision: float) -> torch.Tensor:
            variance = squared @ (1 / (eigenvalues + prior_precision))
            return torch.softmax(mean / torch.sqrt(1 + math.pi / 8 * variance), -1)

        return probs

    # -- prediction ------------------------------------------------------------------------------------
    def map_proba(self, features: torch.Tensor) -> torch.Tensor:
        """The point estimate's softmax ``(N, K)`` (the trained network's own prediction)."""
        x, _ = checked_features(features, torch.zeros(len(features)), self.head.in_features, self.dtype)
        with torch.no_grad():
            return self.head(x).softmax(-1)

    def predict_proba(
        self,
        features: torch.Tensor,
        predictive: Predictive | str = Predictive.PROBIT,
        n_samples: int = 100,
        seed: int = 0,
        batch_size: int = 512,
    ) -> torch.Tensor:
        """Posterior predictive class probabilities ``(N, K)`` for ``features (N, D)``: the linearised
        (GLM) predictive with the probit approximation, or averaged over ``n_samples`` Monte Carlo
        samples of the logits (seeded by ``seed``; torch's global random state is left as it was)."""
        la = self._fitted("predict_proba")
        predictive = resolve_option(Predictive, predictive, "predictive")
        x, _ = checked_features(features, torch.zeros(len(features)), self.head.in_features, self.dtype)
        out = []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for start in range(0, len(x), batch_size):
                chunk = x[start : start + batch_size]
                out.append(la(chunk, pred_type="glm", link_approx=predictive.value, n_samples=n_samples).detach())
        return torch.cat(out)


def image_class_loader(data: Dataset, batch_size: int = 64) -> DataLoader:
    """What laplace-torch's whole-network fit, grid search and validation take: batches of ``(images
    (B, 1, H, W), class indices (B,))`` from a dataset of ``{"image", "labels"}`` items (one-hot labels),
    in order."""
    return DataLoader(_ImagesAndClasses(data), batch_size=batch_size, shuffle=False)


class _ImagesAndClasses(Dataset):
    """``(image, class index)`` pairs of a dataset of ``{"image", "labels"}`` items (one-hot labels)."""

    def __init__(self, data: Dataset):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        item = self.data[i]
        return item["image"], _single_label_targets(item["labels"][None])[0]


def whole_network_laplace(
    model: torch.nn.Module,
    data: Dataset,
    hessian: HessianStructure | str = HessianStructure.KRON,
    prior_precision: float = 1.0,
    batch_size: int = 64,
    last_layer_name: str = "classifier",
):
    """laplace-torch's own last-layer Laplace over the whole network (images in, every curvature product
    through the encoder): the reference that :class:`LastLayerLaplace` on cached features reproduces.

    ``data`` yields ``{"image", "labels"}`` items with one-hot labels. The model is copied by
    laplace-torch and put in eval mode; it must be in the dtype you want the fit in. Returns the fitted
    laplace-torch object (call it on images for predictions). Same backend per structure as
    :class:`LastLayerLaplace` (:func:`laplace_backend`).
    """
    Laplace = laplace_torch().Laplace

    hessian = resolve_option(HessianStructure, hessian, "Hessian structure")
    last_linear_layer(model, last_layer_name)
    model.eval()
    la = Laplace(
        model,
        "classification",
        subset_of_weights="last_layer",
        hessian_structure=hessian.value,
        prior_precision=float(prior_precision),
        last_layer_name=last_layer_name,
        backend=laplace_backend(hessian),
    )
    la.fit(image_class_loader(data, batch_size))
    return la
