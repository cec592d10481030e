"""Backbones behind one constructor, each with a CAM-ready head.

Every model is a :class:`CXRClassifier`: ``encoder`` (ending in a ReLU, so its output is the last
feature map ``(B, C, h, w)``) → global pooling (average or max) → one linear layer → logits
``(B, K)``. Inputs are grayscale ``(B, 1, H, W)`` in [0, 1]; the model normalises them itself.
ImageNet weights are opt-in (``pretrained=True``) and are then folded into the 1-channel stem.
"""

from __future__ import annotations

from enum import Enum

import torch
import torch.nn as nn
import torchvision

from .protocol import MAP_ARCHITECTURES, ModelOutput
from .weights import TORCHVISION_WEIGHTS, require_imagenet_weights

__all__ = [
    "Backbone",
    "Pooling",
    "ModelOutput",
    "CXRClassifier",
    "build_classifier",
    "SmallCNN",
    "VilterCNN",
    "NATIVE_STRIDE",
    "DEFAULT_DROPOUT",
    "MAP_ARCHITECTURES",
]


class Backbone(str, Enum):
    DENSENET121 = "densenet121"
    RESNET50 = "resnet50"
    RESNET101 = "resnet101"
    VGG19 = "vgg19"
    SMALL_CNN = "small-cnn"
    VILTER_CNN = "vilter-cnn"  #: the 4-layer CNN of the Laplace study (Vilter and Daglaroglou)


class Pooling(str, Enum):
    AVG = "avg"
    MAX = "max"


class SmallCNN(nn.Sequential):
    """A CPU-friendly encoder: 4 stride-2 stages of Conv3×3-BN-ReLU (×2), output stride 16."""

    def __init__(self, in_chans: int = 1, widths: tuple[int, ...] = (16, 32, 64, 128)):
        layers: list[nn.Module] = []
        prev = in_chans
        for w in widths:
            layers += [
                nn.Conv2d(prev, w, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(),
                nn.Conv2d(w, w, 3, padding=1, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(),
            ]
            prev = w
        super().__init__(*layers)
        self.out_channels = prev


class VilterCNN(nn.Sequential):
    """The baseline CNN of the Laplace study (Vilter and Daglaroglou): four Conv3×3 layers
    with a ReLU after each and no normalisation, a 2×2 max-pool after each of the first three (output
    stride 8). The study gives neither widths nor kernels; these are ``widths`` (16, 32, 64, 128) and
    3×3. Its dropout of 0.2 sits in the classifier's head (:data:`DEFAULT_DROPOUT`), before the linear
    layer, so the last feature map and the CAM stay as the convolutions give them."""

    def __init__(self, in_chans: int = 1, widths: tuple[int, ...] = (16, 32, 64, 128)):
        if len(widths) != 4:
            raise ValueError(f"the source's CNN has 4 convolutional layers, got widths {widths}")
        layers: list[nn.Module] = []
        prev = in_chans
        for i, w in enumerate(widths):
            layers += [nn.Conv2d(prev, w, 3, padding=1), nn.ReLU()]
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            prev = w
        super().__init__(*layers)
        self.out_channels = prev


class CXRClassifier(nn.Module):
    """Encoder → pooling → linear. ``forward`` returns logits; ``forward_with_features`` both."""

    def __init__(
        self,
        encoder: nn.Module,
        num_features: int,
        num_classes: int,
        pooling: Pooling | str = Pooling.AVG,
        dropout: float = 0.0,
        mean: float = 0.449,
        std: float = 0.226,
    ):
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
    new = nn.Conv2d(
        in_chans, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=conv.bias is not None
    )
    with torch.no_grad():
        new.weight.copy_(conv.weight.sum(1, keepdim=True).repeat(1, in_chans, 1, 1) / in_chans)
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    return new


def _torchvision(name: str, pretrained: bool, **kwargs) -> nn.Module:
    """A torchvision model; with ``pretrained`` its ImageNet weights, read from the local file only
    (:func:`cxrlib.models.weights.require_imagenet_weights` stops first, naming the file, when it is missing)."""
    if not pretrained:
        return getattr(torchvision.models, name)(weights=None, **kwargs)
    require_imagenet_weights([name])
    weights = getattr(torchvision.models, TORCHVISION_WEIGHTS[name]).IMAGENET1K_V1
    return getattr(torchvision.models, name)(weights=weights, **kwargs)


#: the output stride each backbone has natively, and the finer ones it can be dilated to
NATIVE_STRIDE = {
    Backbone.DENSENET121: 32,
    Backbone.RESNET50: 32,
    Backbone.RESNET101: 32,
    Backbone.VGG19: 16,
    Backbone.SMALL_CNN: 16,
    Backbone.VILTER_CNN: 8,
}
#: the dropout before the linear layer that :func:`build_model` uses when not told (the Laplace study's CNN has 0.2)
DEFAULT_DROPOUT = {Backbone.VILTER_CNN: 0.2}


def _dilate(modules, rate: int) -> None:
    """Turn the 3×3 convolutions among ``modules`` into dilated ones (same weights, same output size)."""
    for module in modules:
        for conv in (m for m in module.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)):
            conv.dilation, conv.padding = (rate, rate), (rate, rate)


def _densenet_stride(features: nn.Module, output_stride: int) -> None:
    """DenseNet-121: drop the pooling of the last transition(s) and dilate the dense blocks after them."""
    steps = {32: [], 16: ["transition3"], 8: ["transition2", "transition3"]}[output_stride]
    rate = 1
    for name, block in list(features.named_children()):
        if name in steps:
            block.pool = nn.Identity()
            rate *= 2
        elif name.startswith("denseblock") and rate > 1:
            _dilate([block], rate)


def _vgg_stride(features: nn.Sequential, output_stride: int) -> None:
    """VGG-19 without its last pool is stride 16; stride 8 drops the fourth pool and dilates after it."""
    if output_stride == 8:
        pools = [i for i, m in enumerate(features) if isinstance(m, nn.MaxPool2d)]
        features[pools[3]] = nn.Identity()
        _dilate(list(features)[pools[3] + 1 :], 2)


def build_classifier(
    backbone: Backbone | str,
    num_classes: int,
    pretrained: bool = False,
    in_chans: int = 1,
    pooling: Pooling | str = Pooling.AVG,
    dropout: float | None = None,
    output_stride: int | None = None,
) -> CXRClassifier:
    """A pooled classifier (:class:`CXRClassifier`) on one of :class:`Backbone`'s encoders; the models
    with a decoder are built by :func:`cxrlib.models.build_model`, which takes every architecture.

    ``output_stride`` (8, 16 or 32; default the backbone's own, :data:`NATIVE_STRIDE`) sets how many
    input pixels one cell of the last feature map, and so of every CAM, spans: at 64 px a stride-32
    DenseNet gives 2×2 maps, at stride 8 8×8 ones. Finer strides replace the last downsamplings by
    dilated convolutions (as DeepLab does), keeping every weight, so ImageNet weights still apply.

    ``dropout`` before the linear layer: default :data:`DEFAULT_DROPOUT` (0.2 for ``"vilter-cnn"``,
    the Laplace study's CNN: 4 Conv3×3 + ReLU layers, output stride 8; otherwise 0).
    """
    try:
        backbone = Backbone(backbone)
    except ValueError:
        known = [b.value for b in Backbone] + list(MAP_ARCHITECTURES)
        raise ValueError(f"unknown backbone {backbone!r}; use one of {known}") from None
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    dropout = DEFAULT_DROPOUT.get(backbone, 0.0) if dropout is None else float(dropout)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
    native = NATIVE_STRIDE[backbone]
    output_stride = native if output_stride is None else int(output_stride)
    if output_stride not in (8, 16, 32) or output_stride > native:
        allowed = [s for s in (8, 16, 32) if s <= native]
        raise ValueError(f"output_stride {output_stride} is not available for {backbone.value}; use one of {allowed}")
    if backbone is Backbone.SMALL_CNN:
        if pretrained:
            raise ValueError("small-cnn has no pretrained weights")
        enc = SmallCNN(in_chans)
        if output_stride == 8:  # the last stage keeps its resolution and dilates instead
            enc[-6].stride = (1, 1)
            _dilate(list(enc)[-3:], 2)
        return CXRClassifier(enc, enc.out_channels, num_classes, pooling, dropout)
    if backbone is Backbone.VILTER_CNN:
        if pretrained:
            raise ValueError("vilter-cnn has no pretrained weights")
        enc = VilterCNN(in_chans)
        return CXRClassifier(enc, enc.out_channels, num_classes, pooling, dropout)
    if backbone in (Backbone.RESNET50, Backbone.RESNET101):
        dilate = {32: [False, False, False], 16: [False, False, True], 8: [False, True, True]}[output_stride]
        net = _torchvision(backbone.value, pretrained, replace_stride_with_dilation=dilate)
        net.conv1 = _one_channel_conv(net.conv1, in_chans)
        enc = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4)
        return CXRClassifier(enc, net.fc.in_features, num_classes, pooling, dropout)
    net = _torchvision(backbone.value, pretrained)
    if backbone is Backbone.DENSENET121:
        net.features.conv0 = _one_channel_conv(net.features.conv0, in_chans)
        _densenet_stride(net.features, output_stride)
        enc, width = nn.Sequential(net.features, nn.ReLU()), net.classifier.in_features
    else:  # VGG-19: drop the last max-pool so the CAM keeps stride 16
        net.features[0] = _one_channel_conv(net.features[0], in_chans)
        enc, width = net.features[:-1], 512
        _vgg_stride(enc, output_stride)
    return CXRClassifier(enc, width, num_classes, pooling, dropout)
