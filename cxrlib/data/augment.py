"""PYLON's training augmentation, applied to an image, its masks and its boxes together.

The thesis's list (Preechakul et al., §4): rotation by up to 90°, horizontal flip, brightness and
contrast factors in 0.5–1.5, random resized crop of 70–100 % of the area with aspect 3:4–4:3, back
to the input size. torchvision.transforms.v2 moves ``tv_tensors.Mask`` and ``tv_tensors.BoundingBoxes``
with the image, so a box drawn around a finding stays around it (boxes are re-fitted to their rotated
corners and clipped to the image; photometric changes touch the image only).

``AugmentedDataset(ds)`` wraps a :class:`~cxrlib.data.CXRDataset` (or any dataset of such items) for
training: ``image (1, H, W)`` and, where present, ``masks (K, H, W)`` are transformed together; the
labels are unchanged. Randomness comes from torch's global RNG, which :func:`cxrlib.train.fit` seeds.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

__all__ = ["pylon_augmentation", "augment_sample", "AugmentedDataset"]


def pylon_augmentation(
    image_size: int | tuple[int, int],
    rotation: float = 90.0,
    brightness: float = 0.5,
    contrast: float = 0.5,
    scale: tuple[float, float] = (0.7, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    hflip: float = 0.5,
) -> v2.Compose:
    """The thesis's augmentation as one ``v2.Compose`` for ``image_size`` (side or ``(H, W)``)."""
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    return v2.Compose(
        [
            v2.RandomResizedCrop(size, scale=scale, ratio=ratio, antialias=True),
            v2.RandomHorizontalFlip(hflip),
            v2.RandomRotation(rotation),
            v2.ColorJitter(brightness=brightness, contrast=contrast),
        ]
    )


def augment_sample(
    transform,
    image: torch.Tensor,
    masks: torch.Tensor | None = None,
    boxes: pd.DataFrame | torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Apply ``transform`` to ``image (C, H, W)`` in [0, 1], ``masks (K, H, W)`` and ``boxes``
    (``(N, 4)`` XYWH pixels, or a box table with ``x, y, w, h``) together. Returns
    ``(image, masks, boxes (M, 4) XYWH)``: masks bool, boxes that left the image dropped."""
    size = tuple(image.shape[-2:])
    inputs: dict = {"image": tv_tensors.Image(image)}
    if masks is not None:
        inputs["masks"] = tv_tensors.Mask(masks.to(torch.uint8))
    if boxes is not None:
        if isinstance(boxes, pd.DataFrame):
            boxes = torch.tensor(boxes[["x", "y", "w", "h"]].to_numpy(dtype="float32")).reshape(-1, 4)
        inputs["boxes"] = tv_tensors.BoundingBoxes(boxes.float(), format="XYWH", canvas_size=size)
    out = transform(inputs)
    if boxes is not None:  # clip to the image and drop the boxes that left it
        out["boxes"] = v2.ClampBoundingBoxes()(out["boxes"])
        out = v2.SanitizeBoundingBoxes(min_size=1.0, labels_getter=None)(out)
    image = out["image"].as_subclass(torch.Tensor).clamp(0, 1)
    new_masks = out["masks"].as_subclass(torch.Tensor).bool() if masks is not None else None
    new_boxes = out["boxes"].as_subclass(torch.Tensor) if boxes is not None else None
    return image, new_masks, new_boxes


class AugmentedDataset(Dataset):
    """``ds`` with ``transform`` (default :func:`pylon_augmentation` at its image size) applied to each
    item's ``image`` and ``masks``; every other key of the item is passed through."""

    def __init__(self, ds, transform=None):
        self.ds = ds
        self.transform = transform if transform is not None else pylon_augmentation(ds.image_size)

    def __len__(self) -> int:
        return len(self.ds)

    def __getattr__(self, name):  # classes, labels, image_size... of the wrapped dataset
        if name in ("ds", "transform"):
            raise AttributeError(name)
        return getattr(self.ds, name)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = dict(self.ds[i])
        image, masks, _ = augment_sample(self.transform, item["image"], item.get("masks"))
        item["image"] = image
        if masks is not None:
            item["masks"] = masks
        return item
