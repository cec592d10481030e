"""The error model: a small network that reads the classifier's Grad-CAM maps of all K classes (and its
probabilities) and estimates, per class, the probability that the classifier's answer is wrong.

It is trained on images the classifier never saw (the ``error`` split of
:func:`~cxrlib.defer.defer_splits`), with the classifier frozen: its inputs are the classifier's maps
``(N, K, h, w)`` and logits ``(N, K)`` there, its targets the classifier's mistakes (NaN labels left
out). Mistakes are rare, so the source asked whether to balance its training set; both are here:
``balance="none"`` estimates P(wrong) at the rate mistakes occur, ``"balanced"`` weighs each class's
mistakes up to the total weight of its correct answers, which shifts every output towards "wrong"
(by the log of that weight on the logit scale: :meth:`FittedErrorModel.p_wrong` can undo it).

The source's error model judges the whole image: its target is "some finding of this image is
classified wrongly" (``target="image"``: one output, the image's mistake over its known labels);
``target="finding"`` gives one output per class.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from .rules import DeferralUnit

__all__ = [
    "Balance",
    "ErrorInputs",
    "ErrorModel",
    "ErrorModelConfig",
    "FittedErrorModel",
    "mistakes",
    "fit_error_model",
]


class Balance(str, Enum):
    NONE = "none"  #: every decision weighs the same (P(wrong) at the rate mistakes occur)
    BALANCED = "balanced"  #: each class's mistakes weighted by n_right / n_wrong


class ErrorInputs(str, Enum):
    MAPS_AND_PROBABILITIES = "maps+probs"  #: the Grad-CAM maps and the probabilities (the source's model)
    PROBABILITIES = "probs"  #: the probabilities alone: what the maps add is the difference
    MAPS = "maps"  #: the Grad-CAM maps alone


def mistakes(logits, labels, unit: DeferralUnit | str = DeferralUnit.FINDING) -> np.ndarray:
    """``(N, K)``: 1.0 where the answer ``logit > 0`` differs from the label, 0.0 where it agrees, NaN
    where the label is unknown. ``unit="image"``: ``(N, 1)``, 1.0 where some known finding of the image
    is wrong, 0.0 where every known one is right, NaN where none is known."""
    z, y = np.asarray(logits, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    if z.shape != y.shape or z.ndim != 2:
        raise ValueError(f"logits {z.shape} and labels {y.shape} must be (N, K) of one shape")
    wrong = np.where(np.isnan(y), np.nan, ((z > 0) != (y == 1)).astype(np.float64))
    if DeferralUnit(unit) is DeferralUnit.FINDING:
        return wrong
    known = ~np.isnan(y)
    return np.where(known.any(1), np.nansum(wrong, 1) > 0, np.nan)[:, None]


class ErrorModel(nn.Module):
    """``(maps (B, K, h, w), logits (B, K)) → (B, outputs)`` logits of P(the classifier is wrong): per
    class (``outputs = K``, the default) or for the whole image (``outputs = 1``).

    Maps: two Conv3×3-ReLU layers over the K maps as channels (each class's map sees the others'),
    global average and max pooling. Probabilities: per class the logit, the probability and
    ``|p − 0.5|``. Then one hidden layer. Maps and logits are scaled by constants set from the
    training data (:meth:`set_scales`), so the network sees numbers near 1 whatever the backbone.
    """

    def __init__(
        self,
        num_classes: int,
        inputs: ErrorInputs | str = ErrorInputs.MAPS_AND_PROBABILITIES,
        width: int = 16,
        hidden: int = 32,
        outputs: int | None = None,
    ):
        super().__init__()
        self.inputs = ErrorInputs(inputs)
        self.num_classes = num_classes
        k = num_classes
        self.uses_maps = self.inputs is not ErrorInputs.PROBABILITIES
        self.uses_probabilities = self.inputs is not ErrorInputs.MAPS
        self.maps = (
            nn.Sequential(
                nn.Conv2d(k, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, width, 3, padding=1), nn.ReLU()
            )
            if self.uses_maps
            else None
        )
        n_in = 2 * width * self.uses_maps + 3 * k * self.uses_probabilities
        self.mlp = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, outputs or k))
        self.register_buffer("map_scale", torch.ones(k))
        self.register_buffer("logit_scale", torch.ones(k))

    def set_scales(self, maps: torch.Tensor, logits: torch.Tensor) -> None:
        """Per class, the 99th percentile of the maps' values and the standard deviation of the logits."""
        m = maps.transpose(0, 1).reshape(self.num_classes, -1).float()
        self.map_scale.copy_(torch.quantile(m, 0.99, dim=1).clamp_min(1e-6))
        self.logit_scale.copy_(logits.float().std(0).nan_to_num(1.0).clamp_min(1e-3))

    def forward(self, maps: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        parts = []
        if self.uses_maps:
            h = self.maps(maps / self.map_scale[None, :, None, None])
            parts += [h.mean((2, 3)), h.amax((2, 3))]
        if self.uses_probabilities:
            p = torch.sigmoid(logits)
            parts += [logits / self.logit_scale, p, (p - 0.5).abs()]
        return self.mlp(torch.cat(parts, 1))


@dataclass
class ErrorModelConfig:
    inputs: str = ErrorInputs.MAPS_AND_PROBABILITIES.value
    balance: str = Balance.NONE.value
    target: str = DeferralUnit.FINDING.value  #: "image": one output, some finding of the image wrong
    epochs: int = 200  #: at most; stops after ``patience`` epochs without a better validation loss
    patience: int = 20
    lr: float = 3e-3
    weight_decay: float = 1e-4
    batch_size: int = 128
    width: int = 16
    hidden: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        ErrorInputs(self.inputs)
        Balance(self.balance)
        DeferralUnit(self.target)
        if self.epochs < 1 or self.patience < 1 or self.batch_size < 1:
            raise ValueError("error model: epochs, patience and batch_size must be >= 1")


@dataclass
class FittedErrorModel:
    """A trained :class:`ErrorModel` with its training record. ``mistake_weight (outputs,)``: the weight
    each output's mistakes had in training (1 without balancing)."""

    model: ErrorModel
    config: ErrorModelConfig
    mistake_weight: np.ndarray
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    best_epoch: int = 0

    @torch.no_grad()
    def p_wrong(self, maps, logits, prior_corrected: bool = False) -> np.ndarray:
        """``(N, outputs)`` estimated P(classifier wrong): ``(N, K)``, or ``(N, 1)`` for an image-level
        model. ``prior_corrected`` subtracts the log of the mistakes'
        training weight from each logit (undoing balancing: the estimate returns to the unweighted scale)."""
        self.model.eval()
        z = self.model(_tensor(maps), _tensor(logits))
        if prior_corrected:
            z = z - torch.log(torch.as_tensor(self.mistake_weight, dtype=z.dtype))
        return torch.sigmoid(z).double().numpy()


def _tensor(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x), dtype=torch.float32)


def _weighted_bce(z: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    known = ~torch.isnan(target)
    t = torch.nan_to_num(target)
    loss = F.binary_cross_entropy_with_logits(z, t, pos_weight=weight, reduction="none")
    return (loss * known).sum() / known.sum().clamp_min(1)


def fit_error_model(
    maps, logits, labels, val_maps, val_logits, val_labels, config: ErrorModelConfig | None = None
) -> FittedErrorModel:
    """Train an error model on the classifier's outputs of one split (``maps (N, K, h, w)``, ``logits (N,
    K)``, ``labels (N, K)`` with NaN; the target per class or per image as ``config.target``) and keep
    the weights of its best validation loss (same weighting) on another. Adam, mini-batches drawn with
    a ``torch.Generator`` seeded with ``config.seed``.

    Raises ``ValueError`` for shapes that do not fit, a split without any known label, or a class with
    no mistake (or no correct answer) to balance.
    """
    config = config or ErrorModelConfig()
    unit = DeferralUnit(config.target)
    x, z, target = _tensor(maps), _tensor(logits), _tensor(mistakes(logits, labels, unit))
    vx, vz, vtarget = _tensor(val_maps), _tensor(val_logits), _tensor(mistakes(val_logits, val_labels, unit))
    for m, lo, what in ((x, z, "training"), (vx, vz, "validation")):
        if m.ndim != 4 or m.shape[:2] != lo.shape:
            raise ValueError(
                f"error model {what} maps {tuple(m.shape)} must be (N, K, h, w) for logits {tuple(lo.shape)}"
            )
    if x.shape[1:] != vx.shape[1:]:
        raise ValueError(f"training maps {tuple(x.shape[1:])} and validation maps {tuple(vx.shape[1:])} differ")
    known = ~torch.isnan(target)
    if not known.any() or not (~torch.isnan(vtarget)).any():
        raise ValueError("error model: a split has no known label, so no mistake to learn from")
    wrong = torch.nansum(target, 0)
    right = known.sum(0) - wrong
    if Balance(config.balance) is Balance.BALANCED:
        if (wrong == 0).any() or (right == 0).any():
            raise ValueError(
                f"cannot balance the error model: mistakes per {unit.value} output {wrong.int().tolist()}, correct "
                f"answers {right.int().tolist()} in its training split (every output needs both)"
            )
        weight = right / wrong
    else:
        weight = torch.ones(target.shape[1])
    generator = torch.Generator().manual_seed(config.seed)
    with torch.random.fork_rng(devices=[]):  # a CPU model: forking every GPU's generator is slow and warns
        torch.manual_seed(config.seed)
        model = ErrorModel(z.shape[1], config.inputs, config.width, config.hidden, outputs=target.shape[1])
    model.set_scales(x, z)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    best, best_epoch, best_state, history = float("inf"), 0, None, []
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), config.batch_size):
            idx = order[start : start + config.batch_size]
            loss = _weighted_bce(model(x[idx], z[idx]), target[idx], weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        model.eval()
        with torch.no_grad():
            val = float(_weighted_bce(model(vx, vz), vtarget, weight))
        history.append({"epoch": epoch, "train_loss": total / len(x), "val_loss": val})
        if val < best:
            best, best_epoch, best_state = val, epoch, copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= config.patience:
            break
    model.load_state_dict(best_state)
    model.eval()
    return FittedErrorModel(model, config, weight.double().numpy(), pd.DataFrame(history), best_epoch)
