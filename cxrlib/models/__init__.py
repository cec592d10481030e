"""Models: backbones with a CAM-ready head behind one constructor."""

from .backbones import Backbone, CXRClassifier, ModelOutput, Pooling, SmallCNN, build_model

__all__ = ["Backbone", "CXRClassifier", "ModelOutput", "Pooling", "SmallCNN", "build_model"]
