"""Backbones behind one constructor, each with a CAM-ready head.

Every model is a :class:`CXRClassifier`: ``encoder`` (ending in a ReLU, so its output is the last
feature map ``(B, C, h, w)``) → global pooling (average or max) → one linear layer → logits
``(B, K)``. Inputs are grayscale ``(B, 1, H, W)`` in [0, 1]; the model normalises them itself.
ImageNet weights are opt-in (``pretrained=True``) and are then folded into the 1-channel stem.
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple

import torch
import torch.nn as nn
import torchvision

__all__ = ["Backbone", "Pooling", "ModelOutput", "CXRClassifier", "build_model", "SmallCNN"]


class Backbone(str, Enum):
    DENSENET121 = "densenet121"
    RESNET50 = "resnet50"
    RESNET101 = "resnet101"
    VGG19 = "vgg19"
    SMALL_CNN = "small-cnn"


class Pooling(str, Enum):
    AVG = "avg"
    MAX = "max"


class ModelOutput(NamedTuple):
    """What a training loss receives: ``logits (B, K)`` and the last ``features (B, C, h, w)``."""

    logits: torch.Tensor
    features: torch.Tensor


class SmallCNN(nn.Sequential):
    """A CPU-friendly encoder: 4 stride-2 stages of Conv3×3-BN-ReLU (×2), output stride 16."""

    def __init__(self, in_chans: int = 1, widths: tuple[int, ...] = (16, 32, 64, 128)):
        layers: list[nn.Module] = []
        prev = in_chans
        for w in widths:
            layers += [nn.Conv2d(prev, w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
                       nn.Conv2d(w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
            prev = w
        super().__init__(*layers)
        self.out_channels = prev


class CXRClassifier(nn.Module):
    """Encoder → pooling → linear. ``forward`` returns logits; ``forward_with_features`` both."""

    def __init__(self, encoder: nn.Module, num_features: int, num_classes: int,
                 pooling: Pooling | str = Pooling.AVG, dropout: float = 0.0,
                 mean: float = 0.449, std: float = 0.226):
        super().__init__()
        self.encoder = encoder
        self.pooling = Pooling(pooling)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(num_features, num_classes)
        self.register_buffer("mean", torch.tensor(mean))
        self.register_buffer("std", torch.tensor(std))

    @property
    def num_classes(self) -> int:
        return self.classifier.out_features

    @property
    def feature_layer(self) -> nn.Module:
        """The module whose output is the last feature map (pytorch-grad-cam's target layer)."""
        return self.encoder

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 1, H, W)`` in [0, 1] → ``(B, C, h, w)``."""
        if images.ndim != 4:
            raise ValueError(f"expected images of shape (B, C, H, W), got {tuple(images.shape)}")
        return self.encoder((images - self.mean) / self.std)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, C, h, w)`` → logits ``(B, K)``."""
        pooled = features.mean((2, 3)) if self.pooling is Pooling.AVG else features.amax((2, 3))
        return self.classifier(self.dropout(pooled))

    def forward_with_features(self, images: torch.Tensor) -> ModelOutput:
        features = self.features(images)
        return ModelOutput(self.head(features), features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_with_features(images).logits


def _one_channel_conv(conv: nn.Conv2d, in_chans: int) -> nn.Conv2d:
    """Replace a 3-channel stem by an ``in_chans`` one; pretrained weights are summed over RGB."""
    new = nn.Conv2d(in_chans, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=conv.bias is not None)
    with torch.no_grad():
        new.weight.copy_(conv.weight.sum(1, keepdim=True).repeat(1, in_chans, 1, 1) / in_chans)
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    return new


def _torchvision(name: str, pretrained: bool) -> nn.Module:
    weights = "DEFAULT" if pretrained else None
    try:
        return getattr(torchvision.models, name)(weights=weights)
    except Exception as err:  # no network, no cached weights
        raise RuntimeError(
            f"could not load ImageNet weights for {name} ({err}); weights are opt-in: use pretrained=False "
            f"or place them in torch's hub cache ($TORCH_HOME)"
        ) from err


def build_model(backbone: Backbone | str, num_classes: int, pretrained: bool = False, in_chans: int = 1,
                pooling: Pooling | str = Pooling.AVG, dropout: float = 0.0) -> CXRClassifier:
    """Build a classifier. ``backbone`` is one of :class:`Backbone`'s values."""
    try:
        backbone = Backbone(backbone)
    except ValueError:
        raise ValueError(f"unknown backbone {backbone!r}; use one of {[b.value for b in Backbone]}") from None
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if backbone is Backbone.SMALL_CNN:
        if pretrained:
            raise ValueError("small-cnn has no pretrained weights")
        enc = SmallCNN(in_chans)
        return CXRClassifier(enc, enc.out_channels, num_classes, pooling, dropout)
    net = _torchvision(backbone.value, pretrained)
    if backbone is Backbone.DENSENET121:
        net.features.conv0 = _one_channel_conv(net.features.conv0, in_chans)
        enc, width = nn.Sequential(net.features, nn.ReLU()), net.classifier.in_features
    elif backbone in (Backbone.RESNET50, Backbone.RESNET101):
        net.conv1 = _one_channel_conv(net.conv1, in_chans)
        enc = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4)
        width = net.fc.in_features
    else:  # VGG-19: drop the last max-pool so the CAM keeps stride 16
        net.features[0] = _one_channel_conv(net.features[0], in_chans)
        enc, width = net.features[:-1], 512
    return CXRClassifier(enc, width, num_classes, pooling, dropout)
