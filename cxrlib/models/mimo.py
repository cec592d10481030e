"""MIMO: M independent subnetworks in one network (Havasi et al. 2021, "Training independent
subnetworks for robust prediction").

One backbone whose first convolution takes M channels (one image per member, stacked on the channel
axis) and whose head has M·K outputs (M linear heads of K logits each, on the shared pooled
features).

* **Training** (``model.train()``): a batch of ``B`` grayscale images is turned into ``B`` rows of M
  images: member 0 sees the batch in its order, every other member an independent permutation of it
  (:func:`mimo_permutations`), so each member sees every image once per batch, paired with other
  images for the other members. With the input repetition probability ``ρ`` a share ``ρ`` of the
  rows shows one image to all members ("input repetition" in Havasi et al.; their code repeats a
  fixed share of each batch). The member logits are put back in the batch's order: ``logits (B, M, K)``, row ``b``,
  member ``m`` is member m's prediction for image ``b``; :class:`MIMOLoss` scores each member
  against the batch's own labels. The permutations are drawn from torch's global RNG, which
  :func:`~cxrlib.train.fit` seeds and checkpoints, so runs stay reproducible and resumable.
* **Evaluation** (``model.eval()``): the image is repeated M times and the members' predictions are
  averaged **in probability space**, as the paper does (it averages the members' softmax outputs;
  here the members' sigmoids): the returned logits are ``logit(mean_m sigmoid(z_m))``, computed
  stably with log-sum-exp, so ``sigmoid(logits)`` is the ensemble's probability. One forward pass.

It meets :class:`~cxrlib.models.MapModel` (in eval mode: ``logits (B, K)``), so ``fit``, ``predict``
and the saliency functions work with it. Its Grad-CAM (and CAM, HiResCAM) is the **mean of the
members' maps** on the repeated input, each member's map ReLU'd on its own as pytorch-grad-cam would:
``M_c = 1/M Σ_m ReLU(Σ_k α^m_ck A_k)`` with ``α^m_ck = mean_hw ∂z^m_c / ∂A_k``; closed form for
average pooling, autograd otherwise (:meth:`MIMO.saliency_maps`, which
:func:`cxrlib.saliency.saliency_maps` defers to).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
import torch.nn as nn

from .backbones import Backbone, CXRClassifier, Pooling, build_classifier
from .protocol import ModelOutput, SaliencyMethod

__all__ = ["MIMO", "MIMOLoss", "build_mimo", "mimo_permutations", "ensemble_logits"]


def mimo_permutations(
    batch_size: int,
    members: int,
    repetition: float = 0.0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``(M, B)`` long: row ``m`` lists which image of the batch member ``m`` sees in each input row.

    Row 0 is the identity (the batch already comes in random order); each other row independently
    permutes the first ``B − round(ρ·B)`` rows and keeps the last ``round(ρ·B)`` rows in place, so
    those rows show one image to every member (input repetition, ``ρ = repetition``). Drawn from
    ``generator`` (default: torch's global RNG).
    """
    if members < 1:
        raise ValueError(f"members must be >= 1, got {members}")
    if not 0.0 <= repetition <= 1.0:
        raise ValueError(f"the input repetition probability must lie in [0, 1], got {repetition}")
    shuffled = batch_size - round(repetition * batch_size)
    rows = [torch.arange(batch_size)]
    for _ in range(members - 1):
        perm = torch.arange(batch_size)
        perm[:shuffled] = torch.randperm(shuffled, generator=generator)
        rows.append(perm)
    return torch.stack(rows).to(device)


def ensemble_logits(member_logits: torch.Tensor) -> torch.Tensor:
    """``(..., M, K)`` member logits → ``(..., K)`` logits of the mean of the members' sigmoids:
    ``log(mean σ(z)) − log(mean σ(−z))``, by log-sum-exp (no overflow, differentiable)."""
    log_p = torch.logsumexp(nn.functional.logsigmoid(member_logits), dim=-2)
    log_q = torch.logsumexp(nn.functional.logsigmoid(-member_logits), dim=-2)
    return log_p - log_q


def _first_conv(module: nn.Module) -> nn.Conv2d | None:
    return next((m for m in module.modules() if isinstance(m, nn.Conv2d)), None)


class MIMO(nn.Module):
    """M members in one :class:`~cxrlib.models.CXRClassifier` (see the module notes).

    ``base`` must take M input channels and have ``M·K`` outputs (ordered member by member); build
    one with :func:`build_mimo`. ``forward_with_features(images (B, 1, H, W))`` returns in eval mode
    ``ModelOutput(logits (B, K), features (B, C, h, w))`` (the members' probability-averaged
    ensemble on the repeated image) and in train mode ``logits (B, M, K)`` (each member on its own
    shuffled images, rows put back in the batch's order) with the features of the stacked inputs.
    """

    def __init__(self, base: CXRClassifier, members: int, input_repetition: float = 0.0):
        super().__init__()
        if members < 1:
            raise ValueError(f"members must be >= 1, got {members}")
        if base.classifier.out_features % members:
            raise ValueError(
                f"the base has {base.classifier.out_features} outputs, not a multiple of {members} members"
            )
        conv = _first_conv(base.encoder)
        if conv is not None and conv.in_channels != members:
            raise ValueError(
                f"the base's first convolution takes {conv.in_channels} channels, not one per member ({members}); "
                "build it with build_mimo(...) or build_model(..., in_chans=members)"
            )
        if not 0.0 <= input_repetition <= 1.0:
            raise ValueError(f"input_repetition must lie in [0, 1], got {input_repetition}")
        self.base, self.members, self.input_repetition = base, members, float(input_repetition)

    @property
    def num_classes(self) -> int:
        """K, the classes of each member (and of the ensemble)."""
        return self.base.classifier.out_features // self.members

    @property
    def feature_layer(self) -> nn.Module:
        return self.base.encoder

    @property
    def classifier(self) -> nn.Linear:
        """The M heads as one ``Linear(C, M·K)``; member ``m`` is rows ``m·K … (m+1)·K − 1``."""
        return self.base.classifier

    def member_head(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, C, h, w)`` → member logits ``(B, M, K)``."""
        logits = self.base.head(features)
        return logits.view(len(logits), self.members, self.num_classes)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, C, h, w)`` → ensemble logits ``(B, K)`` (probability average of the members)."""
        return ensemble_logits(self.member_head(features))

    def member_forward(self, inputs: torch.Tensor) -> ModelOutput:
        """``inputs (B, M, H, W)`` (member m's image in channel m) → ``ModelOutput(logits (B, M, K),
        features (B, C, h, w))``."""
        if inputs.ndim != 4 or inputs.shape[1] != self.members:
            raise ValueError(f"member inputs must be (B, {self.members}, H, W), got {tuple(inputs.shape)}")
        features = self.base.features(inputs)
        return ModelOutput(self.member_head(features), features)

    def forward_with_features(self, images: torch.Tensor) -> ModelOutput:
        if images.ndim != 4 or images.shape[1] != 1:
            raise ValueError(
                f"MIMO takes grayscale images (B, 1, H, W), got {tuple(images.shape)}; "
                f"use member_forward for explicit (B, {self.members}, H, W) member inputs"
            )
        if not self.training:
            features = self.base.features(images.expand(-1, self.members, -1, -1))
            return ModelOutput(self.head(features), features)
        perms = mimo_permutations(len(images), self.members, self.input_repetition, device=images.device)
        logits, features = self.member_forward(torch.cat([images[p] for p in perms], 1))
        inverse = torch.argsort(perms, dim=1)  # inverse[m, b]: the input row where member m saw image b
        return ModelOutput(torch.stack([logits[inverse[m], m] for m in range(self.members)], 1), features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_with_features(images).logits

    def saliency_maps(
        self,
        features: torch.Tensor,
        method: str = "gradcam",
        create_graph: bool = True,
        relu: bool = True,
        closed_form: bool = True,
    ) -> torch.Tensor:
        """``(B, K, h, w)`` maps of the ensemble on the repeated input: the mean over members of each
        member's map (``relu`` applied per member), from the features ``(B, C, h, w)`` of the
        repeated input. Closed form for CAM and for Grad-CAM / HiResCAM under average pooling;
        autograd (``create_graph`` as asked) otherwise or with ``closed_form=False``."""
        method = SaliencyMethod(method)
        h, w = features.shape[-2:]
        if method is SaliencyMethod.CAM or (closed_form and self.base.pooling is Pooling.AVG):
            weight = self.classifier.weight.to(features.dtype).view(self.members, self.num_classes, -1)
            maps = torch.einsum("mkc,bchw->bmkhw", weight, features)
            maps = maps if method is SaliencyMethod.CAM else maps / (h * w)
        else:
            logits = self.member_head(features)
            per = []
            for m in range(self.members):
                for c in range(self.num_classes):
                    (grad,) = torch.autograd.grad(
                        logits[:, m, c].sum(), features, create_graph=create_graph, retain_graph=True
                    )
                    weights = grad.mean((2, 3), keepdim=True) if method is SaliencyMethod.GRADCAM else grad
                    per.append((weights * features).sum(1))
            maps = torch.stack(per, 1).view(len(features), self.members, self.num_classes, h, w)
        return (maps.clamp_min(0) if relu else maps).mean(1)


class MIMOLoss:
    """Training loss for :class:`MIMO`: ``base`` applied to each member's logits against the batch's
    labels, averaged over the members (the paper sums them; the mean keeps the training loss on the
    scale of the validation loss, and only rescales the gradients). On ensemble logits ``(B, K)``
    (eval mode: fit's validation) it is ``base`` itself.

    ``base`` is any loss that reads only ``output.logits`` and ``batch["labels"]`` (weighted BCE,
    focal, AUC-M); saliency losses need the features of one image per row, which a MIMO training
    batch does not have. Returns ``{"loss", "member_0", …}`` for member logits.
    """

    def __init__(self, base: Callable):
        self.base = base

    @property
    def needs_grad(self) -> bool:
        """The base loss's: a saliency loss on an autograd head needs gradients in validation too."""
        return bool(getattr(self.base, "needs_grad", False))

    def __call__(self, output: ModelOutput, batch: Mapping[str, torch.Tensor]):
        logits = output.logits
        if logits.ndim == 2:
            return self.base(output, batch)
        if logits.ndim != 3:
            raise ValueError(
                f"MIMOLoss needs member logits (B, M, K) or ensemble logits (B, K), got {tuple(logits.shape)}"
            )
        losses = []
        for m in range(logits.shape[1]):
            value = self.base(ModelOutput(logits[:, m], output.features), batch)
            losses.append(value["loss"] if isinstance(value, Mapping) else value)
        total = torch.stack(losses).mean()
        return {"loss": total, **{f"member_{m}": v.detach() for m, v in enumerate(losses)}}


def build_mimo(
    backbone: Backbone | str,
    num_classes: int,
    members: int = 3,
    input_repetition: float = 0.0,
    pretrained: bool = False,
    pooling: Pooling | str = Pooling.AVG,
    dropout: float = 0.0,
    output_stride: int | None = None,
) -> MIMO:
    """A :class:`MIMO` of ``members`` members on ``backbone`` (see :func:`~cxrlib.models.build_model`):
    the stem takes ``members`` channels (pretrained stems are spread over them), the head has
    ``members · num_classes`` outputs."""
    if members < 1:
        raise ValueError(f"members must be >= 1, got {members}")
    base = build_classifier(
        backbone,
        num_classes * members,
        pretrained=pretrained,
        in_chans=members,
        pooling=pooling,
        dropout=dropout,
        output_stride=output_stride,
    )
    return MIMO(base, members, input_repetition)
