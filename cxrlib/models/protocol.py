"""The one contract every model of the suite meets: "a model with maps".

Training (:func:`cxrlib.train.fit`), prediction and every saliency method rely on it, and nothing
more: a model returns logits, exposes its last feature map, and maps that feature map to logits
with a head. PYLON-style decoders and the segmentation baselines meet it as well as the pooled
classifiers of :mod:`cxrlib.models.backbones` do. It also names the saliency methods every model with
maps offers (:class:`SaliencyMethod`). This module imports no other module of the suite: the models and
the saliency package both build on it.
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple, Protocol, runtime_checkable

import torch

__all__ = ["ModelOutput", "SaliencyMethod", "MapModel", "require_map_model", "MAP_ARCHITECTURES"]

#: the models with a decoder whose head output is the class map (:mod:`cxrlib.models.pylon`, ``baselines``)
MAP_ARCHITECTURES = ("pylon", "gmp", "li2018", "unet", "fpn", "deeplabv3plus", "pan")


class ModelOutput(NamedTuple):
    """What a training loss receives: ``logits (B, K)`` and the last ``features (B, C, h, w)``."""

    logits: torch.Tensor
    features: torch.Tensor


class SaliencyMethod(str, Enum):
    """The class maps a model with maps can give (:func:`cxrlib.saliency.saliency_maps`)."""

    CAM = "cam"
    GRADCAM = "gradcam"
    HIRESCAM = "hirescam"


@runtime_checkable
class MapModel(Protocol):
    """A classifier whose logits come from a last feature map through a head.

    ``forward(images (B, 1, H, W)) -> logits (B, K)``;
    ``forward_with_features(images) -> ModelOutput(logits (B, K), features (B, C, h, w))``;
    ``head(features (B, C, h, w)) -> logits (B, K)`` (so saliency can differentiate through it);
    ``feature_layer``: the module whose output is ``features`` (pytorch-grad-cam's target layer);
    ``num_classes``: K.
    """

    num_classes: int
    feature_layer: torch.nn.Module

    def forward(self, images: torch.Tensor) -> torch.Tensor: ...

    def forward_with_features(self, images: torch.Tensor) -> ModelOutput: ...

    def head(self, features: torch.Tensor) -> torch.Tensor: ...


def require_map_model(model: object, where: str) -> None:
    """Raise ``TypeError`` naming what is missing when ``model`` does not meet :class:`MapModel`."""
    missing = [
        name for name in ("forward_with_features", "head", "feature_layer", "num_classes") if not hasattr(model, name)
    ]
    if missing or not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"{where} needs a cxrlib model with maps (cxrlib.models.MapModel: forward_with_features, "
            f"head, feature_layer, num_classes); {type(model).__name__} lacks {missing or ['nn.Module']}. "
            "Build one with cxrlib.models.build_model(...)"
        )
