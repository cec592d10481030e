"""Models: backbones with a CAM-ready head behind one constructor, and the "model with maps" contract."""

from .backbones import Backbone, CXRClassifier, ModelOutput, Pooling, SmallCNN, build_model
from .mimo import MIMO, MIMOLoss, build_mimo, ensemble_logits, mimo_permutations
from .protocol import MapModel, require_map_model

__all__ = [
    "Backbone",
    "CXRClassifier",
    "ModelOutput",
    "Pooling",
    "SmallCNN",
    "build_model",
    "MIMO",
    "MIMOLoss",
    "build_mimo",
    "ensemble_logits",
    "mimo_permutations",
    "MapModel",
    "require_map_model",
]
