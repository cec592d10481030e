"""Classification losses that mask unknown (NaN) labels, and a way to add saliency terms.

Every training loss is a callable ``loss(output: ModelOutput, batch: dict) -> Tensor | dict`` (a dict
must hold ``"loss"``; its other entries are logged).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum

import numpy as np
import torch
import torch.nn.functional as F

from .models.backbones import ModelOutput
from .saliency.cam import SaliencyMethod, maps_need_autograd, saliency_maps
from .saliency.coherence import spatial_coherence_loss
from .saliency.losses import CDLatent, class_distinctiveness_loss, heatmap_outside_mask_loss

__all__ = [
    "ClassificationLoss",
    "HeatmapForm",
    "HeatmapMaskLoss",
    "positive_weights",
    "weighted_bce",
    "WeightedBCELoss",
    "SaliencyRegularizedLoss",
    "focal_loss",
    "FocalLoss",
    "class_indices",
    "softmax_cross_entropy",
    "SoftmaxCrossEntropyLoss",
]


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


class _LossOnMaps:
    """Shared by the losses on saliency maps: they hold ``model`` and ``method``."""

    model: torch.nn.Module
    method: SaliencyMethod

    @property
    def needs_grad(self) -> bool:
        """Validation runs with gradients only where the maps come by autograd (non-linear heads)."""
        return maps_need_autograd(self.model, self.method)


class SaliencyRegularizedLoss(_LossOnMaps):
    """``base + λ_cd · L_CD`` on differentiable saliency maps of every class (Sharma and Pradeep P. 2023, §3.1).
    ``latent``: what L_CD compares (:class:`~cxrlib.saliency.CDLatent`: the map-pooled features, or the
    maps themselves).

    With a pooling + linear head the maps come in closed form from the same forward pass, so the
    extra cost is one einsum.
    """

    def __init__(
        self,
        base: Callable,
        model: torch.nn.Module,
        lambda_cd: float = 1.4,
        method: SaliencyMethod | str = SaliencyMethod.GRADCAM,
        lambda_sc: float = 0.0,
        latent: CDLatent | str = CDLatent.FEATURES,
    ):
        self.base, self.model, self.lambda_cd, self.method = base, model, lambda_cd, SaliencyMethod(method)
        self.lambda_sc, self.latent = lambda_sc, CDLatent(latent)

    def __call__(self, output: ModelOutput, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        base = self.base(output, batch)
        maps = saliency_maps(self.model, output.features, output.logits, self.method, create_graph=True)
        cd = class_distinctiveness_loss(maps.float(), output.features.float(), self.latent)
        terms = {"base": base.detach(), "class_distinctiveness": cd.detach()}
        loss = base + self.lambda_cd * cd
        if self.lambda_sc:
            sc = spatial_coherence_loss(maps.float())
            loss = loss + self.lambda_sc * sc
            terms["spatial_coherence"] = sc.detach()
        return {"loss": loss, **terms}


class ClassificationLoss(str, Enum):
    CE = "ce"  #: softmax cross-entropy on the class index
    MSE = "mse"  #: mean squared error between the softmax and the one-hot label (the submission's)
    BCE = "bce"  #: multi-label weighted BCE (NaN labels masked); the maps of every positive class are penalised


class HeatmapForm(str, Enum):
    RAW = "raw"  #: the sum of the map's values outside the mask (the submission's form; scale-dependent)
    FRACTION = "fraction"  #: the share of the map's mass outside the mask, in [0, 1]


class HeatmapMaskLoss(_LossOnMaps):
    """Classification loss ``+ weight ·`` the saliency map's mass outside an allowed region (the heatmap
    loss of the anonymous submission "Integrating feature attribution methods into the loss function
    of deep learning classifiers", with HiResCAM as there).

    For single-label classes (one-hot ``batch["labels"] (B, K)``, ``classification`` ``"mse"`` or
    ``"ce"``): the map of each image's labelled class (``target="label"``) or predicted class
    (``"predicted"``) is upsampled bilinearly to the allowed mask ``batch[mask_key] (B, H, W)`` bool
    and its ReLU'd mass outside the mask is taken either raw (summed over pixels, averaged over the
    batch) or as a fraction of the map's mass. For multi-label classes (``classification="bce"``,
    weighted by ``pos_weight``, unknown labels masked) the maps of every (image, class) pair labelled
    positive are penalised, averaged over those pairs (0 in a batch without a positive label).
    Maps come from :func:`~cxrlib.saliency.saliency_maps` (closed form for average pooling + linear,
    autograd with ``create_graph`` for any other head), so the loss is differentiable in the weights.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        weight: float = 1.0,
        classification: ClassificationLoss | str = ClassificationLoss.MSE,
        form: HeatmapForm | str = HeatmapForm.RAW,
        method: SaliencyMethod | str = SaliencyMethod.HIRESCAM,
        mask_key: str = "allowed_mask",
        target: str = "label",
        pos_weight: torch.Tensor | None = None,
    ):
        if target not in ("label", "predicted"):
            raise ValueError(f"target must be 'label' or 'predicted', got {target!r}")
        self.model, self.weight, self.mask_key, self.target = model, weight, mask_key, target
        self.classification, self.form = ClassificationLoss(classification), HeatmapForm(form)
        self.method, self.pos_weight = SaliencyMethod(method), pos_weight

    def __call__(self, output: ModelOutput, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        logits, labels = output.logits.float(), batch["labels"]
        if self.classification is ClassificationLoss.BCE:
            return self._multi_label(output, batch)
        if torch.isnan(labels).any():
            raise ValueError("HeatmapMaskLoss needs known one-hot labels (no NaN)")
        index = labels.argmax(1)
        if self.classification is ClassificationLoss.CE:
            classification = F.cross_entropy(logits, index)
        else:
            classification = ((logits.softmax(1) - F.one_hot(index, logits.shape[1]).float()) ** 2).mean()
        chosen = index if self.target == "label" else logits.argmax(1)
        maps = saliency_maps(self.model, output.features, output.logits, self.method, create_graph=True)
        maps = maps[torch.arange(len(chosen), device=maps.device), chosen].float()  # (B, h, w)
        heatmap = heatmap_outside_mask_loss(maps, batch[self.mask_key], self.form.value)
        return {
            "loss": classification + self.weight * heatmap,
            "classification": classification.detach(),
            "heatmap_outside": heatmap.detach(),
        }

    def _multi_label(self, output: ModelOutput, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        classification = weighted_bce(output.logits, batch["labels"], self.pos_weight)
        maps = saliency_maps(self.model, output.features, output.logits, self.method, create_graph=True)
        rows, classes = (batch["labels"] == 1).nonzero(as_tuple=True)  # NaN == 1 is False
        if len(rows):
            heatmap = heatmap_outside_mask_loss(
                maps[rows, classes].float(), batch[self.mask_key][rows], self.form.value
            )
        else:
            heatmap = maps.sum() * 0.0
        return {
            "loss": classification + self.weight * heatmap,
            "classification": classification.detach(),
            "heatmap_outside": heatmap.detach(),
        }


def focal_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    gamma: float = 2.0,
    alpha: float | torch.Tensor | None = None,
) -> torch.Tensor:
    """Sigmoid focal loss (Lin et al. 2017) on ``(B, K)`` logits, averaged over the known labels only.

    Per entry ``α_t (1 − p_t)^γ · BCE(z, y)`` with ``p = σ(z)``, ``p_t = p`` for a positive and
    ``1 − p`` for a negative label, ``α_t = α`` for a positive and ``1 − α`` for a negative (no
    weighting when ``alpha`` is None). ``alpha`` is a float in [0, 1] or a ``(K,)`` tensor (one per
    class). ``labels (B, K)`` in {0, 1, NaN}; NaN entries are masked. With ``gamma=0, alpha=None``
    this is the plain BCE; on fully known labels it equals ``torchvision.ops.sigmoid_focal_loss``
    with ``reduction="mean"``.
    """
    if gamma < 0:
        raise ValueError(f"gamma must be >= 0, got {gamma}")
    if logits.shape != labels.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)} differ in shape")
    known = ~torch.isnan(labels)
    target = torch.nan_to_num(labels, nan=0.0)
    z = logits.float()
    bce = F.binary_cross_entropy_with_logits(z, target, reduction="none")
    p = torch.sigmoid(z)
    p_t = p * target + (1 - p) * (1 - target)
    loss = bce * (1 - p_t) ** gamma
    if alpha is not None:
        a = torch.as_tensor(alpha, dtype=loss.dtype, device=loss.device)
        if ((a < 0) | (a > 1)).any():
            raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
        loss = loss * (a * target + (1 - a) * (1 - target))
    return (loss * known).sum() / known.sum().clamp_min(1)


class FocalLoss:
    """Training loss: multi-label sigmoid focal loss, unknown (NaN) labels masked (see :func:`focal_loss`).

    ``gamma`` focuses on hard examples (0 gives the BCE); ``alpha`` (float or ``(K,)``) weights the
    positives against the negatives.
    """

    def __init__(self, gamma: float = 2.0, alpha: float | torch.Tensor | None = None):
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        if alpha is not None and not bool(((torch.as_tensor(alpha) >= 0) & (torch.as_tensor(alpha) <= 1)).all()):
            raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
        self.gamma, self.alpha = gamma, alpha

    def __call__(self, output: ModelOutput, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return focal_loss(output.logits, batch["labels"], self.gamma, self.alpha)


def class_indices(labels: torch.Tensor) -> torch.Tensor:
    """Single-label targets as class indices ``(B,)`` long: one-hot ``(B, K)`` rows (as every dataset
    gives them) or indices already. Raises ``ValueError`` for a row that is not one-hot (NaN, no
    class, two classes: a multi-label task needs a sigmoid loss such as :class:`WeightedBCELoss`)."""
    if labels.ndim == 1:
        if labels.dtype.is_floating_point and not torch.equal(labels, labels.round()):
            raise ValueError("class-index labels must be whole numbers")
        return labels.long()
    if labels.ndim != 2:
        raise ValueError(f"labels must be one-hot (B, K) or class indices (B,), got shape {tuple(labels.shape)}")
    binary = (labels == 0) | (labels == 1)  # NaN is neither
    bad = ~binary.all(1) | (labels.nan_to_num(0).sum(1) != 1)
    if bad.any():
        row = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"softmax cross-entropy needs one-hot labels (exactly one 1, no NaN); row {row} is "
            f"{labels[row].tolist()} (a multi-label task needs a sigmoid loss such as WeightedBCELoss)"
        )
    return labels.argmax(1)


def softmax_cross_entropy(
    logits: torch.Tensor,
    labels: torch.Tensor,
    weight: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Mean softmax cross-entropy of ``(B, K)`` logits against one-hot ``(B, K)`` labels or class
    indices ``(B,)`` (see :func:`class_indices`); ``weight`` ``(K,)`` per class, as
    :func:`torch.nn.functional.cross_entropy`."""
    if logits.ndim != 2:
        raise ValueError(f"logits must be (B, K), got shape {tuple(logits.shape)}")
    target = class_indices(labels).to(logits.device)
    if len(target) != len(logits):
        raise ValueError(f"{len(logits)} logits but {len(target)} labels")
    if len(target) and (target.min() < 0 or target.max() >= logits.shape[1]):
        raise ValueError(f"class indices must lie in [0, {logits.shape[1]}), got {target.min()}..{target.max()}")
    w = None if weight is None else torch.as_tensor(weight, dtype=torch.float32, device=logits.device)
    return F.cross_entropy(logits.float(), target, weight=w, label_smoothing=label_smoothing)


class SoftmaxCrossEntropyLoss:
    """Training loss of a single-label (softmax) classifier, e.g. the Laplace study's CNN on the body
    parts: cross-entropy on ``output.logits (B, K)`` against the batch's one-hot ``labels (B, K)``
    (see :func:`softmax_cross_entropy`). ``weight`` ``(K,)`` per class; ``label_smoothing`` in [0, 1).
    With it, :func:`~cxrlib.train.fit` also reports ``val_accuracy``."""

    def __init__(self, weight: torch.Tensor | None = None, label_smoothing: float = 0.0):
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {label_smoothing}")
        self.weight, self.label_smoothing = weight, label_smoothing

    def __call__(self, output: ModelOutput, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return softmax_cross_entropy(output.logits, batch["labels"], self.weight, self.label_smoothing)
