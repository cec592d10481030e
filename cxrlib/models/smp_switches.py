"""The thesis's ablation switches on segmentation-models-pytorch decoders (Preechakul et al. 2022, §6.1–6.2):
take global average pooling (GAP) out of PAN's FPA block or its GAU blocks and out of DeepLabV3+'s ASPP,
and put FPN's own GroupNorm back (the thesis's FPN baseline uses BatchNorm).

Each switch changes the smp module in place, as the reference code's ``use_gap=False`` / ``aspp_mode=
"nogap"`` build it: the pooling branch and its parameters are gone, and the block computes what it did
without that branch (FPA: no global term added; GAU: the lateral path not gated; ASPP: four branches
projected instead of five).
"""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["remove_fpa_gap", "remove_gau_gap", "remove_aspp_pooling", "groupnorm_to_batchnorm"]


class _Zeros(nn.Module):
    """Stands in for FPA's global branch: a ``(B, C, 1, 1)`` zero term, so nothing is added."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(len(x), self.channels, 1, 1)


class _Ones(nn.Module):
    """Stands in for GAU's channel attention: a ``(B, C, 1, 1)`` gate of ones, so the lateral path passes."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return y.new_ones(len(y), self.channels, 1, 1)


def remove_fpa_gap(decoder: nn.Module) -> None:
    """PAN without the global-pooling branch of its FPA block (the thesis's "− GAP in FPA")."""
    fpa = decoder.fpa
    fpa.branch1 = _Zeros(fpa.mid[0].conv.out_channels)


def remove_gau_gap(decoder: nn.Module) -> None:
    """PAN without the global-pooling channel attention of its GAU blocks (the thesis's "− GAP in GAU")."""
    for name in ("gau1", "gau2", "gau3"):
        gau = getattr(decoder, name, None)
        if gau is not None:
            gau.conv1 = _Ones(gau.conv2.conv.out_channels)


def remove_aspp_pooling(decoder: nn.Module) -> None:
    """DeepLabV3+ without the image-pooling branch of its ASPP (the reference code's ``aspp_mode="nogap"``):
    the four convolution branches, projected from ``4 · C`` channels instead of ``5 · C``."""
    aspp = decoder.aspp[0]
    pooling = [i for i, branch in enumerate(aspp.convs) if type(branch).__name__ == "ASPPPooling"]
    if len(pooling) != 1:
        raise ValueError(f"expected one ASPPPooling branch in the ASPP, found {len(pooling)}")
    del aspp.convs[pooling[0]]
    old = aspp.project[0]
    width = old.out_channels
    aspp.project[0] = nn.Conv2d(len(aspp.convs) * width, width, kernel_size=1, bias=old.bias is not None)


def groupnorm_to_batchnorm(module: nn.Module) -> None:
    """Every GroupNorm under ``module`` replaced by a BatchNorm2d of the same width (the thesis's FPN)."""
    for name, child in module.named_children():
        if isinstance(child, nn.GroupNorm):
            setattr(module, name, nn.BatchNorm2d(child.num_channels))
        else:
            groupnorm_to_batchnorm(child)
