"""Class maps for any model: the model's own class maps where it has a map head (a cxrlib model with
maps: CAM for a pooled classifier, the head's map for PYLON and its baselines), otherwise Grad-CAM on a
layer the user names, by autograd through forward hooks (what pytorch-grad-cam computes)."""

from __future__ import annotations

import torch

from ..models.protocol import MapModel
from ..saliency import saliency_maps
from .scoring import ChannelAdapter

__all__ = ["named_layer", "layer_gradcam", "class_maps"]


def named_layer(model: torch.nn.Module, name: str) -> torch.nn.Module:
    """The submodule ``name`` of ``model``; ``ValueError`` listing the convolutional layers if absent."""
    modules = dict(model.named_modules())
    if name not in modules:
        convs = [n for n, m in modules.items() if isinstance(m, torch.nn.Conv2d)][-5:]
        raise ValueError(f"{type(model).__name__} has no layer {name!r}; its last convolutions are {convs}")
    return modules[name]


def layer_gradcam(
    model: torch.nn.Module, images: torch.Tensor, layer: str, in_channels: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM (Selvaraju et al. 2017) of every class on the output of ``layer``: ``ReLU(Σ_c α_c A_c)``
    with ``α_c`` the spatial mean of ``∂ logit / ∂ A_c``. ``images (B, 1, H, W)`` → ``(logits (B, K),
    maps (B, K, h, w))``, detached. ``ValueError`` if the layer's output is not ``(B, C, h, w)``."""
    module = named_layer(model, layer)
    net = ChannelAdapter(model, in_channels)
    captured: list[torch.Tensor] = []
    hook = module.register_forward_hook(lambda m, inputs, output: captured.append(output))
    try:
        with torch.enable_grad():
            logits = net(images.detach().requires_grad_(True))  # a graph even if the weights are frozen
            if len(captured) != 1 or not isinstance(captured[0], torch.Tensor) or captured[0].ndim != 4:
                shape = tuple(captured[0].shape) if captured and isinstance(captured[0], torch.Tensor) else None
                raise ValueError(
                    f"layer {layer!r} must give one (B, C, h, w) map per forward pass for Grad-CAM; got "
                    f"{len(captured)} outputs, the first of shape {shape}"
                )
            activation = captured[0]
            maps = []
            for k in range(logits.shape[1]):
                (grad,) = torch.autograd.grad(logits[:, k].sum(), activation, retain_graph=True)
                maps.append((grad.mean((2, 3), keepdim=True) * activation).sum(1))
    finally:
        hook.remove()
    return logits.detach(), torch.stack(maps, 1).clamp_min(0).detach()


def class_maps(
    model: torch.nn.Module, images: torch.Tensor, layer: str | None = None, in_channels: int = 1
) -> tuple[torch.Tensor, str]:
    """``(maps (B, K, h, w), how)``: the model's own map (a cxrlib model with maps, grey input) unless a
    ``layer`` is named, else Grad-CAM on ``layer``. ``ValueError`` when neither is possible."""
    if layer is None and isinstance(model, MapModel) and in_channels == 1:
        with torch.no_grad():
            logits, features = model.forward_with_features(images)
            if hasattr(model, "class_maps"):
                return model.class_maps(features).clamp_min(0), "the model's own class maps (its map head)"
        return saliency_maps(model, features, logits, "cam").detach(), "CAM (the model's pooled linear head)"
    if layer is None:
        raise ValueError("the model has no class-map head: name a layer (layer=) for Grad-CAM")
    return layer_gradcam(model, images, layer, in_channels)[1], f"Grad-CAM on layer {layer!r}"
