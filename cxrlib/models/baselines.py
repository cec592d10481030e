"""PYLON's baselines as :class:`~cxrlib.models.pylon.MapClassifier` s: one frame, one ``maps`` interface.

* ``"gmp"``: the CAM baseline of the thesis: encoder → Conv1×1 per class on the last feature map
  (stride 32; the CAM) → global max pool.
* ``"li2018"``: Li et al. (2018): the last feature map upsampled to a fixed grid (20×20 at 256 px,
  the same share of the input at other sizes) → Conv3×3-BN-ReLU (512) → Conv1×1 per class →
  multi-instance pooling (:func:`~cxrlib.models.pylon.mil_pool_logits`).
* ``"unet"`` (decoder 256, 128, 64, 64, 64: maps at full resolution), ``"fpn"`` (BatchNorm instead
  of its GroupNorm and no dropout before the head, as the reference code's; maps at 1/4),
  ``"deeplabv3plus"`` (encoder stride 16, maps at 1/4; its ASPP keeps its global-pooling branch) and
  ``"pan"`` (128 channels, no dilation, maps at 1/4; its FPA and GAU keep their global pooling) from
  segmentation-models-pytorch, each with its own segmentation head as the class map and a global max
  pool, as the thesis turned them into classifiers. :data:`SMP_OPTIONS` lists the thesis's switches on
  them (GAP out of PAN and DeepLabV3+, FPN's GroupNorm back).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .pylon import ConvBnRelu, MapClassifier, build_encoder, build_pylon
from .smp_switches import groupnorm_to_batchnorm, remove_aspp_pooling, remove_fpa_gap, remove_gau_gap
from .weights import require_imagenet_weights

__all__ = ["build_gmp", "build_li2018", "build_smp_classifier", "build_map_model", "SMP_ARCHITECTURES", "SMP_OPTIONS"]

#: the segmentation-models-pytorch decoders and the arguments that make them the thesis's baselines
SMP_ARCHITECTURES = {
    "unet": ("Unet", {"decoder_channels": (256, 128, 64, 64, 64)}),
    "fpn": ("FPN", {"upsampling": 1, "decoder_segmentation_channels": 128, "decoder_dropout": 0.0}),
    "deeplabv3plus": ("DeepLabV3Plus", {"upsampling": 1, "encoder_output_stride": 16}),
    "pan": ("PAN", {"upsampling": 1, "decoder_channels": 128, "encoder_output_stride": 32}),
}


class LastFeature(nn.Module):
    """The encoder's last feature map (stride 32) out of its list of features."""

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return features[-1]


class Li2018Decoder(nn.Module):
    """The last feature map upsampled (bilinear) to ``grid / 256`` of the input side, then Conv3×3-BN-ReLU."""

    def __init__(self, in_channels: int, channels: int = 512, grid: int = 20):
        super().__init__()
        self.grid = grid
        self.conv = ConvBnRelu(in_channels, channels, 3)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        h, w = features[0].shape[-2:]
        size = (max(2, math.ceil(h * self.grid / 256)), max(2, math.ceil(w * self.grid / 256)))
        return self.conv(F.interpolate(features[-1], size=size, mode="bilinear", align_corners=True))


class SmpDecoder(nn.Module):
    """Wraps a segmentation-models-pytorch decoder: list of encoder features → decoded map."""

    def __init__(self, decoder: nn.Module):
        super().__init__()
        self.decoder = decoder

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return self.decoder(features)


def build_gmp(num_classes: int, encoder: str = "resnet50", pretrained: bool = False, in_chans: int = 1):
    """The GMP CAM baseline: Conv1×1 class maps on the stride-32 features, global max pool."""
    enc = build_encoder(encoder, in_chans, pretrained)
    head = nn.Conv2d(enc.out_channels[-1], num_classes, 1)
    return MapClassifier(enc, LastFeature(), head, num_classes, "max", architecture="gmp")


def build_li2018(
    num_classes: int,
    encoder: str = "resnet50",
    pretrained: bool = False,
    in_chans: int = 1,
    decoder_channels: int = 512,
    grid: int = 20,
):
    """Li et al. (2018)-style multi-instance learning on a ``grid``-per-256-px patch grid."""
    enc = build_encoder(encoder, in_chans, pretrained)
    dec = Li2018Decoder(enc.out_channels[-1], decoder_channels, grid)
    head = nn.Conv2d(decoder_channels, num_classes, 1)
    return MapClassifier(enc, dec, head, num_classes, "mil", architecture="li2018")


#: the ablation switches each segmentation-models-pytorch baseline takes, and their defaults (the thesis's
#: baselines): PAN's global pooling in FPA and GAU, DeepLabV3+'s ASPP image pooling, FPN's normalisation
SMP_OPTIONS = {
    "unet": {},
    "fpn": {"norm": "batch"},
    "deeplabv3plus": {"image_pooling": True},
    "pan": {"gap_in_fpa": True, "gap_in_gau": True},
}


def build_smp_classifier(
    architecture: str,
    num_classes: int,
    encoder: str = "resnet50",
    pretrained: bool = False,
    in_chans: int = 1,
    **options,
) -> MapClassifier:
    """One of :data:`SMP_ARCHITECTURES` as a classifier: its segmentation head gives the class maps,
    a global max pool the logits. ``options``: the switches of :data:`SMP_OPTIONS` (FPN ``norm="group"``
    keeps smp's GroupNorm; ``image_pooling=False`` drops DeepLabV3+'s ASPP pooling branch;
    ``gap_in_fpa=False`` / ``gap_in_gau=False`` drop PAN's global pooling, see
    :mod:`cxrlib.models.smp_switches`)."""
    import segmentation_models_pytorch as smp

    if architecture not in SMP_ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; use one of {list(SMP_ARCHITECTURES)}")
    unknown = sorted(set(options) - set(SMP_OPTIONS[architecture]))
    if unknown:
        raise TypeError(f"{architecture} takes the options {sorted(SMP_OPTIONS[architecture])}, got {unknown}")
    switches = {**SMP_OPTIONS[architecture], **options}
    if switches.get("norm", "batch") not in ("batch", "group"):
        raise ValueError(f"FPN's norm must be 'batch' or 'group', got {switches['norm']!r}")
    cls, kwargs = SMP_ARCHITECTURES[architecture]
    if pretrained:
        require_imagenet_weights([architecture], encoder=encoder)
    net = getattr(smp, cls)(
        encoder_name=encoder,
        encoder_weights="imagenet" if pretrained else None,
        in_channels=in_chans,
        classes=num_classes,
        **kwargs,
    )
    if architecture == "fpn" and switches["norm"] == "batch":
        groupnorm_to_batchnorm(net.decoder)
    if architecture == "deeplabv3plus" and not switches["image_pooling"]:
        remove_aspp_pooling(net.decoder)
    if architecture == "pan" and not switches["gap_in_fpa"]:
        remove_fpa_gap(net.decoder)
    if architecture == "pan" and not switches["gap_in_gau"]:
        remove_gau_gap(net.decoder)
    return MapClassifier(
        net.encoder, SmpDecoder(net.decoder), net.segmentation_head, num_classes, "max", architecture=architecture
    )


def build_map_model(
    architecture: str,
    num_classes: int,
    encoder: str = "resnet50",
    pretrained: bool = False,
    in_chans: int = 1,
    **options,
) -> MapClassifier:
    """``"pylon"`` (with :func:`~cxrlib.models.pylon.build_pylon`'s switches as ``options``), ``"gmp"``,
    ``"li2018"`` or one of :data:`SMP_ARCHITECTURES`, on the segmentation-models-pytorch ``encoder``."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    common = dict(encoder=encoder, pretrained=pretrained, in_chans=in_chans)
    if architecture == "pylon":
        return build_pylon(num_classes, **common, **options)
    if architecture == "li2018":
        return build_li2018(num_classes, **common, **options)
    if architecture == "gmp":
        if options:
            raise TypeError(f"gmp takes no options, got {sorted(options)}")
        return build_gmp(num_classes, **common)
    return build_smp_classifier(architecture, num_classes, **common, **options)
