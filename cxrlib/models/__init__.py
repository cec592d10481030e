"""Models: backbones with a CAM-ready head behind one constructor, and the "model with maps" contract."""

from .backbones import (
    MAP_ARCHITECTURES,
    Backbone,
    CXRClassifier,
    ModelOutput,
    Pooling,
    SmallCNN,
    VilterCNN,
    build_model,
)
from .baselines import build_map_model
from .mimo import MIMO, MIMOLoss, build_mimo, ensemble_logits, mimo_permutations
from .protocol import MapModel, require_map_model
from .pylon import MapClassifier, build_pylon

__all__ = [
    "Backbone",
    "CXRClassifier",
    "ModelOutput",
    "Pooling",
    "SmallCNN",
    "VilterCNN",
    "build_model",
    "MIMO",
    "MIMOLoss",
    "build_mimo",
    "ensemble_logits",
    "mimo_permutations",
    "MapModel",
    "require_map_model",
    "MAP_ARCHITECTURES",
    "MapClassifier",
    "build_map_model",
    "build_pylon",
]
