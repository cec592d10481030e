"""PYLON: a pyramid-attention decoder whose 1×1 head *is* the class map (Preechakul et al. 2022).

``encoder`` (a ResNet from segmentation-models-pytorch, feature maps at strides 2…32) →
**PA** (pyramidal attention on the bottleneck: a one-channel attention map built at 1/2, 1/4 and 1/8
of the bottleneck's size and brought back up, multiplying a Conv1×1-BN-ReLU path) → three **UP**
modules (the lateral skip through two Conv1×1-BN-ReLU layers, added to the bilinearly upsampled
decoded map; strides 16, 8, 4) → a Conv1×1 **head** with one output per class = the CAM
``(B, K, H/4, W/4)`` → global max pool → logits ``(B, K)``. No global average pooling anywhere.

:class:`MapClassifier` is the frame every model of this module and of :mod:`cxrlib.models.baselines`
shares: ``features`` is the decoder's output, ``head`` turns it into the class map
(:meth:`MapClassifier.class_maps`) and pools it (max, or Li 2018's multi-instance pooling). It meets
:class:`~cxrlib.models.MapModel`; its ``saliency_maps`` returns the head's own map as "cam" and
differentiates through the head for Grad-CAM / HiResCAM.

The ablation switches of the thesis (§6.2, Table 6.1; §6.3, Table 6.2): ``pyramid=False`` (PA without the attention
pyramid), ``up_layers=1``, ``up_kernel=3``, ``head_kernel=3``, ``n_up`` < 3 (coarser maps), and
``gap_in_pa`` / ``gap_in_up`` (put back the global-average-pooling branches of PAN's FPA and GAU,
which the thesis removed because they made the maps unstable). The PA here adapts to any input size
(max pools with ``ceil_mode`` and upsampling to the size of the level above), so 64- or 96-pixel
images work; the reference code needs sides that are multiples of 256.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .protocol import ModelOutput, SaliencyMethod
from .weights import require_imagenet_weights

__all__ = [
    "MapClassifier",
    "PylonDecoder",
    "PyramidAttention",
    "UpModule",
    "ConvBnRelu",
    "build_encoder",
    "build_pylon",
    "mil_pool_logits",
    "layer_maps",
    "channel_maps",
    "decoder_parameters",
    "pyramid_levels",
    "pyramid_attention",
    "pyramid_attention_parts",
]


class ConvBnRelu(nn.Sequential):
    """Conv(k×k, same padding) → BatchNorm → ReLU (in place, as segmentation-models-pytorch's
    ``Conv2dReLU``: it spares the decoder one full-size tensor per layer)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


def _up(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=True)


class PyramidAttention(nn.Module):
    """PA: ``mid = ConvBnRelu1×1(x)`` times a one-channel spatial attention built by a pyramid of
    max-pool + Conv7×7 / 5×5 / 3×3 (one channel each), upsampled level by level and summed.

    ``pyramid=False`` returns ``mid`` alone. ``gap=True`` adds PAN's global-pooling branch
    (``ReLU(Conv1×1(GAP(x)))`` broadcast over the map), the "+GAP in PA" variant of §6.2 (Table 6.1).
    """

    def __init__(self, in_channels: int, out_channels: int, pyramid: bool = True, gap: bool = False):
        super().__init__()
        self.mid = ConvBnRelu(in_channels, out_channels, 1)
        self.pyramid, self.gap = pyramid, gap
        if pyramid:
            pool = lambda: nn.MaxPool2d(2, 2, ceil_mode=True)  # noqa: E731 - any size halves to >= 1
            self.down1 = nn.Sequential(pool(), ConvBnRelu(in_channels, 1, 7))
            self.down2 = nn.Sequential(pool(), ConvBnRelu(1, 1, 5))
            self.down3 = nn.Sequential(pool(), ConvBnRelu(1, 1, 3))
            self.conv3, self.conv2, self.conv1 = ConvBnRelu(1, 1, 3), ConvBnRelu(1, 1, 5), ConvBnRelu(1, 1, 7)
        if gap:  # no BatchNorm on a 1×1 map: it would fail on a batch of one
            self.global_branch = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.ReLU())

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """The one-channel spatial attention ``(B, 1, h, w)`` (ones without the pyramid)."""
        if not self.pyramid:
            return x.new_ones(len(x), 1, *x.shape[-2:])
        x1 = self.down1(x)
        x2 = self.down2(x1)
        x3 = self.down3(x2)
        a = _up(self.conv3(x3), x2.shape[-2:])
        a = _up(self.conv2(x2) + a, x1.shape[-2:])
        return _up(self.conv1(x1) + a, x.shape[-2:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.mid(x) * self.attention(x) if self.pyramid else self.mid(x)
        if self.gap:
            out = out + self.global_branch(F.adaptive_avg_pool2d(x, 1))
        return out


class UpModule(nn.Module):
    """UP: ``upsample(y, size of x) + conv(x)`` with ``conv`` one or two ConvBnRelu (k×k; with two,
    the first keeps the skip's width, as the reference code does, unless ``light``: then the first
    already narrows to ``out_channels``, a cheaper module the reference code does not have).

    ``gap=True`` weights the lateral path by a channel attention from the global average of ``y``
    (PAN's GAU: Conv1×1 → sigmoid), the "+GAP in UP" variant of §6.2 (Table 6.1).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        layers: int = 2,
        kernel_size: int = 1,
        gap: bool = False,
        light: bool = False,
    ):
        super().__init__()
        if layers not in (1, 2):
            raise ValueError(f"an UP module has 1 or 2 layers, got {layers}")
        if layers == 1:
            self.conv = ConvBnRelu(in_channels, out_channels, kernel_size)
        else:
            middle = out_channels if light else in_channels
            self.conv = nn.Sequential(
                ConvBnRelu(in_channels, middle, kernel_size), ConvBnRelu(middle, out_channels, kernel_size)
            )
        self.gap = gap
        if gap:
            self.channel_attention = nn.Sequential(nn.Conv2d(out_channels, out_channels, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``x``: the lateral (encoder) feature, ``y``: the decoded map of the level below."""
        lateral = self.conv(x)
        if self.gap:
            lateral = lateral * self.channel_attention(F.adaptive_avg_pool2d(y, 1))
        return _up(y, x.shape[-2:]) + lateral


class PylonDecoder(nn.Module):
    """PA on the bottleneck, then ``n_up`` UP modules on the skips at strides 16, 8, 4.

    ``forward(features)`` takes the encoder's list (input, stride 2, 4, 8, 16, 32) and returns the
    decoded map ``(B, channels, H / 2^(5 - n_up), …)``; :attr:`layers` holds each stage's output of
    the last call when ``keep_layers`` is set (chapter 7's layer-wise view).
    """

    def __init__(
        self,
        encoder_channels: list[int] | tuple[int, ...],
        channels: int = 128,
        n_up: int = 3,
        pyramid: bool = True,
        up_layers: int = 2,
        up_kernel: int = 1,
        gap_in_pa: bool = False,
        gap_in_up: bool = False,
        light_up: bool = False,
    ):
        super().__init__()
        if not 0 <= n_up <= 3:
            raise ValueError(f"n_up must lie in 0..3, got {n_up}")
        self.n_up = n_up
        self.pa = PyramidAttention(encoder_channels[-1], channels, pyramid=pyramid, gap=gap_in_pa)
        self.ups = nn.ModuleList(
            UpModule(encoder_channels[-2 - i], channels, up_layers, up_kernel, gap=gap_in_up, light=light_up)
            for i in range(n_up)
        )
        self.out_channels = channels
        self.keep_layers = False
        self.layers: dict[str, torch.Tensor] = {}

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = self.pa(features[-1])
        layers = {"PA": x}
        for i, up in enumerate(self.ups):
            x = up(features[-2 - i], x)
            layers[f"UP{i + 1}"] = x
        if self.keep_layers:
            self.layers = layers
        return x


def mil_pool_logits(maps: torch.Tensor, min_value: float = 0.98) -> torch.Tensor:
    """Li et al. (2018)'s multi-instance pooling as logits: ``P = 1 − Π_j ((1 − m)(1 − σ(z_j)) + m)``
    over the positions ``j`` of each class map ``(B, K, h, w)`` (``m`` caps each patch's "absent"
    probability from below, against underflow), returned as ``log(P / (1 − P))``, in log space."""
    log_not = torch.log((1 - min_value) * torch.sigmoid(-maps.float()) + min_value).flatten(2).sum(-1)
    log_not = log_not.clamp(max=-1e-7)  # P > 0
    return torch.log(-torch.expm1(log_not)) - log_not


class MapClassifier(nn.Module):
    """``encoder`` → ``decoder`` (features ``(B, C, h, w)``) → ``classifier`` conv (the class map
    ``(B, K, h, w)``) → global pooling (``"max"`` or Li 2018's ``"mil"``) → logits ``(B, K)``.

    ``decoder(list of encoder features) -> (B, C, h, w)``. Inputs are grayscale ``(B, 1, H, W)`` in
    [0, 1], normalised inside. Meets :class:`~cxrlib.models.MapModel`.
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        classifier: nn.Module,
        num_classes: int,
        pooling: str = "max",
        architecture: str = "",
        mean: float = 0.449,
        std: float = 0.226,
    ):
        super().__init__()
        if pooling not in ("max", "mil"):
            raise ValueError(f"pooling must be 'max' or 'mil', got {pooling!r}")
        self.encoder, self.decoder, self.classifier = encoder, decoder, classifier
        self.pooling, self.architecture, self._num_classes = pooling, architecture, int(num_classes)
        self.register_buffer("mean", torch.tensor(mean))
        self.register_buffer("std", torch.tensor(std))

    @property
    def num_classes(self) -> int:
        return self._num_classes

    @property
    def feature_layer(self) -> nn.Module:
        """The decoder: its output is the feature map the class map is computed from."""
        return self.decoder

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 1, H, W)`` in [0, 1] → decoded features ``(B, C, h, w)``."""
        if images.ndim != 4:
            raise ValueError(f"expected images of shape (B, C, H, W), got {tuple(images.shape)}")
        return self.decoder(self.encoder((images - self.mean) / self.std))

    def class_maps(self, features: torch.Tensor) -> torch.Tensor:
        """The model's native map, one per class: ``(B, K, h, w)`` (the head's output, before pooling)."""
        return self.classifier(features)

    def pool(self, maps: torch.Tensor) -> torch.Tensor:
        """Class maps ``(B, K, h, w)`` → logits ``(B, K)``."""
        return maps.amax((2, 3)) if self.pooling == "max" else mil_pool_logits(maps)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        return self.pool(self.class_maps(features))

    def forward_with_features(self, images: torch.Tensor) -> ModelOutput:
        features = self.features(images)
        return ModelOutput(self.head(features), features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_with_features(images).logits

    def map_stride(self, image_size: int = 256) -> float:
        """Input pixels per map cell at ``image_size`` (one forward pass on zeros, on the model's device)."""
        was = self.training
        self.eval()
        with torch.no_grad():
            probe = self.mean.new_zeros(1, 1, image_size, image_size)  # on the model's device (a GPU too)
            side = self.class_maps(self.features(probe)).shape[-1]
        self.train(was)
        return image_size / side

    def saliency_maps(
        self,
        features: torch.Tensor,
        method: str = "cam",
        create_graph: bool = True,
        relu: bool = True,
        closed_form: bool = True,
    ) -> torch.Tensor:
        """``(B, K, h, w)``: "cam" is the head's own map (no backward); "gradcam" / "hirescam" weight
        the decoder's features by the gradient of each logit (autograd through the head and pooling).
        ``closed_form`` is accepted for the common signature (the CAM is always direct)."""
        method = SaliencyMethod(method)
        if method is SaliencyMethod.CAM:
            maps = self.class_maps(features)
        else:
            logits = self.head(features)
            per_class = []
            for c in range(logits.shape[1]):
                (grad,) = torch.autograd.grad(
                    logits[:, c].sum(), features, create_graph=create_graph, retain_graph=True
                )
                weights = grad.mean((2, 3), keepdim=True) if method is SaliencyMethod.GRADCAM else grad
                per_class.append((weights * features).sum(1))
            maps = torch.stack(per_class, 1)
        return maps.clamp_min(0) if relu else maps


def build_encoder(name: str = "resnet50", in_chans: int = 1, pretrained: bool = False) -> nn.Module:
    """A segmentation-models-pytorch encoder (depth 5: features at strides 1, 2, 4, 8, 16, 32).
    ImageNet weights are opt-in (``pretrained=True``) and read from the local Hugging Face cache only
    (:func:`cxrlib.models.weights.require_imagenet_weights` names the missing file first)."""
    from segmentation_models_pytorch.encoders import get_encoder

    if pretrained:
        require_imagenet_weights(["pylon"], encoder=name)
    return get_encoder(name, in_channels=in_chans, depth=5, weights="imagenet" if pretrained else None)


def build_pylon(
    num_classes: int,
    encoder: str = "resnet50",
    pretrained: bool = False,
    in_chans: int = 1,
    decoder_channels: int = 128,
    n_up: int = 3,
    pyramid: bool = True,
    up_layers: int = 2,
    up_kernel: int = 1,
    head_kernel: int = 1,
    gap_in_pa: bool = False,
    gap_in_up: bool = False,
    light_up: bool = False,
) -> MapClassifier:
    """PYLON with the thesis's defaults (ResNet-50, 128 decoder channels, 3 UP modules, pyramid on,
    two-layer 1×1 UP, 1×1 head: maps at 1/4 of the input); the keyword switches are the ablations.
    ``light_up=True`` narrows each UP module's first convolution to ``decoder_channels`` (the reference
    code keeps the skip's width there): a cheaper decoder, not the thesis's. Decoder and head are
    initialised as the reference code's are (segmentation-models-pytorch's ``initialize_decoder`` and
    ``initialize_head``)."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if head_kernel not in (1, 3) or up_kernel not in (1, 3):
        raise ValueError(f"head_kernel and up_kernel must be 1 or 3, got {head_kernel} and {up_kernel}")
    enc = build_encoder(encoder, in_chans, pretrained)
    dec = PylonDecoder(
        enc.out_channels,
        decoder_channels,
        n_up,
        pyramid,
        up_layers,
        up_kernel,
        gap_in_pa=gap_in_pa,
        gap_in_up=gap_in_up,
        light_up=light_up,
    )
    head = nn.Conv2d(decoder_channels, num_classes, head_kernel, padding=head_kernel // 2)
    # as the reference code's PylonCore (a segmentation-models-pytorch SegmentationModel) initialises them
    from segmentation_models_pytorch.base.initialization import initialize_decoder, initialize_head

    initialize_decoder(dec)
    initialize_head(head)
    return MapClassifier(enc, dec, head, num_classes, "max", architecture="pylon")


@torch.no_grad()
def layer_maps(model: MapClassifier, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Chapter 7's layer-wise view of a PYLON model: the class map ``(B, K, h, w)`` split into what each
    decoder stage adds: ``"PA"`` (the pyramid attention's output) and ``"UP1"``… (each UP module's
    lateral path), each upsampled to the map's resolution as the decoder does and passed through the
    head without its bias. Bilinear upsampling and the head are linear, so the parts plus the head's
    bias sum to :meth:`MapClassifier.class_maps` exactly; cumulative sums give the map after each stage."""
    decoder = model.decoder
    if not isinstance(decoder, PylonDecoder):
        raise TypeError(f"layer_maps needs a PYLON model, got a {model.architecture or type(decoder).__name__}")
    features = model.encoder((images - model.mean) / model.std)
    x = decoder.pa(features[-1])
    parts = {"PA": x}
    for i, up in enumerate(decoder.ups):
        skip = features[-2 - i]
        lateral = up.conv(skip)
        if up.gap:
            lateral = lateral * up.channel_attention(F.adaptive_avg_pool2d(x, 1))
        parts = {name: _up(p, skip.shape[-2:]) for name, p in parts.items()}
        parts[f"UP{i + 1}"] = lateral
        x = _up(x, skip.shape[-2:]) + lateral
    head = model.classifier
    return {name: F.conv2d(p, head.weight, None, head.stride, head.padding, head.dilation) for name, p in parts.items()}


@torch.no_grad()
def channel_maps(
    model: MapClassifier, features: torch.Tensor, class_index: int, top: int = 20, cumulative: bool = True
) -> torch.Tensor:
    """Chapter 7's channel-wise view, as the thesis draws it: for class ``class_index`` the ``top``
    decoder channels with the largest head weight *in magnitude*, each as its contribution to the class
    map, ``w_c · f_c`` (a channel with a negative weight is thereby inverted, as the thesis inverts
    them), in order of ``|w_c|``. ``(B, top, h, w)``: one map per channel (Fig. 7.3), or with
    ``cumulative`` map ``n`` the sum of the first ``n + 1`` (Fig. 7.4). Needs a 1×1 head."""
    head = model.classifier
    if not isinstance(head, nn.Conv2d) or head.kernel_size != (1, 1):
        raise TypeError("channel_maps needs a 1×1 convolutional head")
    weight = head.weight[class_index, :, 0, 0]
    order = weight.abs().argsort(descending=True)[:top]
    contributions = weight[order, None, None] * features[:, order]
    return contributions.cumsum(1) if cumulative else contributions


def decoder_parameters(model: nn.Module) -> int:
    """Parameters outside ``model.encoder`` (decoder and head), convolution biases left out: the count
    to compare with the reference code, whose ConvBnRelu keeps a bias that the BatchNorm after it
    cancels (``studies.sources.PYLON_REFERENCE_PARAMETERS``)."""
    return sum(
        p.numel()
        for name, module in model.named_modules()
        if not name.startswith("encoder")
        for pname, p in module.named_parameters(recurse=False)
        if not (isinstance(module, nn.Conv2d) and pname == "bias")
    )


def pyramid_levels(image_size: int, encoder_stride: int = 32) -> list[tuple[int, int]]:
    """The side lengths of PA's maps for a square ``image_size``: the bottleneck (``ceil(size / 32)``),
    then the three max-pooled levels (each ``ceil(side / 2)``). A level of 1×1 is one number per
    image and channel: at 64 px all three levels are 1×1, so the attention is a single scalar."""
    side = -(-image_size // encoder_stride)
    levels = [(side, side)]
    for _ in range(3):
        side = -(-side // 2)
        levels.append((side, side))
    return levels


@torch.no_grad()
def pyramid_attention(model: MapClassifier, images: torch.Tensor) -> torch.Tensor:
    """PA's one-channel spatial attention ``(B, h, w)`` at the bottleneck for ``images (B, 1, H, W)``:
    what multiplies the middle path (ones for a model without the pyramid)."""
    return pyramid_attention_parts(model, images)["attention"]


@torch.no_grad()
def pyramid_attention_parts(model: MapClassifier, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """The thesis's Fig. 7.1 for ``images (B, 1, H, W)``, each ``(B, h, w)`` at the bottleneck: PA's
    middle path (the Conv1×1 output, mean over its channels), the pyramid's attention, and PA's output
    (their product, mean over channels)."""
    if not isinstance(getattr(model, "decoder", None), PylonDecoder):
        raise ValueError("pyramid_attention needs a PYLON model (a PylonDecoder)")
    model.eval()
    bottleneck = model.encoder((images - model.mean) / model.std)[-1]
    pa = model.decoder.pa
    middle, attention = pa.mid(bottleneck), pa.attention(bottleneck)
    return {"middle path": middle.mean(1), "attention": attention[:, 0], "output": (middle * attention).mean(1)}
