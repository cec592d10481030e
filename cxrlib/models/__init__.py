"""Models: backbones with a CAM-ready head behind one constructor, and the "model with maps" contract."""

from .backbones import Backbone, CXRClassifier, ModelOutput, Pooling, SmallCNN, build_model
from .protocol import MapModel, require_map_model

__all__ = [
    "Backbone",
    "CXRClassifier",
    "ModelOutput",
    "Pooling",
    "SmallCNN",
    "build_model",
    "MapModel",
    "require_map_model",
]
