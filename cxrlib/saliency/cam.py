"""CAM, Grad-CAM and HiResCAM for all K classes of a batch at once, differentiable.

For a head that is global pooling + one linear layer (every :class:`~cxrlib.models.CXRClassifier`)
the maps have a closed form in the classifier weights ``W (K, C)`` and the features ``A (B, C, h, w)``:

* CAM:       ``M_c = Σ_k W_ck A_k``
* Grad-CAM:  ``α_ck = mean_hw ∂y_c/∂A_k``; with average pooling ``∂y_c/∂A_k = W_ck / (hw)`` everywhere,
  so ``M_c = ReLU(Σ_k W_ck A_k) / (hw)``
* HiResCAM:  ``M_c = ReLU(Σ_k ∂y_c/∂A_k ⊙ A_k)``, equal to Grad-CAM under average pooling.

One einsum gives all K maps, and it stays in the autograd graph, so a loss on the maps costs
almost nothing. For any other head (max pooling, PYLON's decoder...) Grad-CAM / HiResCAM use
autograd with ``create_graph`` (one backward per class).
"""

from __future__ import annotations

import torch

from ..maps import display_maps, normalize_maps, upsample_maps
from ..models.backbones import CXRClassifier, Pooling
from ..models.protocol import SaliencyMethod, require_map_model

__all__ = [
    "SaliencyMethod",
    "maps_need_autograd",
    "saliency_maps",
    "compute_saliency",
    "upsample_maps",
    "normalize_maps",
    "display_maps",
]


def _closed_form_available(model: torch.nn.Module) -> bool:
    return isinstance(model, CXRClassifier) and model.pooling is Pooling.AVG


def maps_need_autograd(model: torch.nn.Module, method: SaliencyMethod | str) -> bool:
    """Whether :func:`saliency_maps` takes the autograd path for this model and method (so a loss on
    the maps needs gradients enabled even when it is only evaluated, e.g. on the validation split)."""
    return SaliencyMethod(method) is not SaliencyMethod.CAM and not _closed_form_available(model)


def saliency_maps(
    model: torch.nn.Module,
    features: torch.Tensor,
    logits: torch.Tensor | None = None,
    method: SaliencyMethod | str = SaliencyMethod.GRADCAM,
    create_graph: bool = True,
    relu: bool = True,
    closed_form: bool = True,
) -> torch.Tensor:
    """Saliency maps ``(B, K, h, w)`` for every class from the last feature map ``(B, C, h, w)``.

    ``logits`` (computed from ``features``) is needed only on the autograd path (heads other than
    average pooling + linear). With ``create_graph=True`` the maps are differentiable with respect
    to the model's parameters. ``relu`` keeps the positive part (as pytorch-grad-cam does).
    ``closed_form=False`` forces the autograd path (for benchmarks and tests). A model that defines
    its own ``saliency_maps(features, method, create_graph=, relu=, closed_form=)`` (an ensemble such
    as :class:`~cxrlib.models.MIMO`) gets its maps from it.
    """
    method = SaliencyMethod(method)
    own = getattr(model, "saliency_maps", None)
    if callable(own):
        return own(features, method, create_graph=create_graph, relu=relu, closed_form=closed_form)
    if method is SaliencyMethod.CAM:
        if not isinstance(model, CXRClassifier):
            raise ValueError("CAM needs a pooling + linear head (a CXRClassifier)")
        maps = torch.einsum("kc,bchw->bkhw", model.classifier.weight.to(features.dtype), features)
        return maps.clamp_min(0) if relu else maps
    if closed_form and _closed_form_available(model):
        h, w = features.shape[-2:]
        maps = torch.einsum("kc,bchw->bkhw", model.classifier.weight.to(features.dtype), features) / (h * w)
        return maps.clamp_min(0) if relu else maps
    if logits is None:
        raise ValueError(f"{method.value} on this head needs the logits computed from `features`")
    per_class = []
    for c in range(logits.shape[1]):
        (grad,) = torch.autograd.grad(logits[:, c].sum(), features, create_graph=create_graph, retain_graph=True)
        if method is SaliencyMethod.GRADCAM:
            per_class.append((grad.mean((2, 3), keepdim=True) * features).sum(1))
        else:
            per_class.append((grad * features).sum(1))
    maps = torch.stack(per_class, 1)
    return maps.clamp_min(0) if relu else maps


def compute_saliency(
    model: torch.nn.Module,
    images: torch.Tensor,
    method: SaliencyMethod | str = SaliencyMethod.GRADCAM,
    create_graph: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the model and return ``(logits (B, K), maps (B, K, h, w))``; detached unless ``create_graph``."""
    require_map_model(model, "compute_saliency")
    with torch.enable_grad():
        logits, features = model.forward_with_features(images)
        if not features.requires_grad:
            features.requires_grad_(True)
            logits = model.head(features)
        maps = saliency_maps(model, features, logits, method, create_graph=create_graph)
    if not create_graph:
        logits, maps = logits.detach(), maps.detach()
    return logits, maps
