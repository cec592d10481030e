"""Models: backbones with a CAM-ready head behind one constructor, and the "model with maps" contract."""

from .backbones import (
    MAP_ARCHITECTURES,
    Backbone,
    CXRClassifier,
    ModelOutput,
    Pooling,
    SmallCNN,
    VilterCNN,
    build_classifier,
)
from .baselines import build_map_model
from .factory import build_model
from .mimo import MIMO, MIMOLoss, build_mimo, ensemble_logits, mimo_permutations
from .protocol import MapModel, SaliencyMethod, require_map_model
from .pylon import MapClassifier, build_pylon, decoder_parameters
from .weights import MissingWeightsError, imagenet_weights_file, require_imagenet_weights

__all__ = [
    "decoder_parameters",
    "Backbone",
    "CXRClassifier",
    "ModelOutput",
    "Pooling",
    "SmallCNN",
    "VilterCNN",
    "build_model",
    "build_classifier",
    "SaliencyMethod",
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
    "MissingWeightsError",
    "imagenet_weights_file",
    "require_imagenet_weights",
]
