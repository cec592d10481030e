"""The one dataset contract every source (synthetic or real) returns.

``ds.classes``  list of class names (K)
``ds.table``    one row per image: ``image, patient_id, study_id, view, split`` and one float column
                per class (1.0 / 0.0 / NaN after the label policy)
``ds.boxes``    ``image, class, x, y, w, h, reader`` in original pixel coordinates (may be empty)
``ds[i]``       ``{"image": (1, H, W) float in [0, 1], "labels": (K,) float with NaN, "index": i}``
                plus ``"masks": (K, H, W) bool`` where the source has masks
``ds.truth_boxes()``  the boxes that count as ground truth, in array pixels. Which readers' boxes
                count is the source's rule, ``ds.info["truth_readers"]``: a list of reader names, or
                ``"all"`` (every box). Without that entry only reader ``"truth"`` counts (SynthCXR).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

__all__ = ["CXRDataset", "TABLE_COLUMNS", "BOX_COLUMNS", "empty_boxes", "DEFAULT_TRUTH_READERS"]

TABLE_COLUMNS = ["image", "patient_id", "study_id", "view", "split"]
BOX_COLUMNS = ["image", "class", "x", "y", "w", "h", "reader"]
#: the ground-truth readers of a source that does not say (SynthCXR's ground truth is reader "truth")
DEFAULT_TRUTH_READERS = ["truth"]


def empty_boxes() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float if c in "xywh" else object) for c in BOX_COLUMNS})


class CXRDataset(Dataset):
    """Images from a uint8 ``(N, H, W)`` array (usually a memory-mapped cache), labels from a table.

    Parameters
    ----------
    name: source name (``"synth-cxr"``, ``"nih"``...).
    classes: class names, in label-column order.
    table: one row per image, see module docstring; row ``i`` is array row ``rows[i]``.
    boxes: box table in original pixel coordinates.
    images: ``(N_all, H, W)`` uint8.
    masks: optional callable ``array_row -> (K, H, W) bool ndarray``.
    rows: array rows of this view (default: all).
    extras: optional dict of named per-row callables added to each item (e.g. shortcut-marker mask).
    original_size: ``(H, W)`` of the original images, per row (column ``original_height/width``) or
        one size for all; used to scale boxes to the array size.
    """

    def __init__(
        self,
        name: str,
        classes: list[str],
        table: pd.DataFrame,
        boxes: pd.DataFrame,
        images: np.ndarray,
        masks: Callable[[int], np.ndarray] | None = None,
        rows: np.ndarray | None = None,
        extras: dict[str, Callable[[int], np.ndarray]] | None = None,
        info: dict | None = None,
    ):
        self.name = name
        self.classes = list(classes)
        self.rows = np.arange(len(table)) if rows is None else np.asarray(rows)
        self.table = table.reset_index(drop=True)
        if len(self.table) != len(self.rows):
            raise ValueError(f"{name}: table has {len(self.table)} rows but {len(self.rows)} array rows")
        self.boxes = boxes.reset_index(drop=True)
        # labels as one array, so that ds[i] does no pandas work (the table is read-only once built)
        self._labels = self.table[self.classes].to_numpy(dtype=np.float32)
        self._images = images
        self._masks = masks
        self._extras = extras or {}
        self.info = dict(info or {})

    # -- torch Dataset -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not 0 <= i < len(self):
            raise IndexError(f"{self.name}: index {i} out of range for {len(self)} images")
        row = int(self.rows[i])
        item = {
            "image": torch.from_numpy(np.asarray(self._images[row], dtype=np.float32) / 255.0)[None],
            "labels": torch.from_numpy(self._labels[i].copy()),
            "index": torch.tensor(i),
        }
        if self._masks is not None:
            item["masks"] = torch.from_numpy(np.ascontiguousarray(self._masks(row)))
        for key, get in self._extras.items():
            item[key] = torch.from_numpy(np.ascontiguousarray(get(row)))
        return item

    # -- views -----------------------------------------------------------------------------------
    @property
    def image_size(self) -> tuple[int, int]:
        """``(H, W)`` of the arrays served by ``ds[i]``."""
        return tuple(self._images.shape[1:])  # type: ignore[return-value]

    @property
    def has_masks(self) -> bool:
        """Whether ``ds[i]`` carries ``"masks"`` ``(K, H, W)``."""
        return self._masks is not None

    @property
    def labels(self) -> np.ndarray:
        """``(N, K)`` float labels with NaN for unknown."""
        return self.table[self.classes].to_numpy(dtype=np.float64)

    def subset(self, split: str | list[str]) -> CXRDataset:
        """The rows of one split (or several); raises ``ValueError`` if the split is empty."""
        wanted = [split] if isinstance(split, str) else list(split)
        keep = self.table["split"].isin(wanted).to_numpy()
        if not keep.any():
            raise ValueError(
                f"{self.name}: split {wanted} is empty; splits present: {self.table['split'].value_counts().to_dict()}"
            )
        return self.take(np.flatnonzero(keep))

    def take(self, positions: np.ndarray) -> CXRDataset:
        """A view on the rows at ``positions`` (boxes restricted to those images)."""
        positions = np.asarray(positions)
        table = self.table.iloc[positions]
        boxes = self.boxes[self.boxes["image"].isin(set(table["image"]))]
        return CXRDataset(
            self.name,
            self.classes,
            table,
            boxes,
            self._images,
            self._masks,
            rows=self.rows[positions],
            extras=self._extras,
            info=self.info,
        )

    def boxes_in_array_pixels(self) -> pd.DataFrame:
        """Boxes scaled from original pixel coordinates to the ``(H, W)`` served by ``ds[i]``.

        Needs ``original_height``/``original_width`` in the table (else boxes are returned as is).
        """
        boxes = self.boxes.copy()
        if boxes.empty or "original_height" not in self.table.columns:
            return boxes
        size = self.table.set_index("image")[["original_height", "original_width"]]
        h, w = self.image_size
        sy = h / boxes["image"].map(size["original_height"]).astype(float)
        sx = w / boxes["image"].map(size["original_width"]).astype(float)
        boxes["x"] *= sx
        boxes["w"] *= sx
        boxes["y"] *= sy
        boxes["h"] *= sy
        return boxes

    def truth_boxes(self) -> pd.DataFrame:
        """The ground-truth boxes (``BOX_COLUMNS``) in the pixels of the ``(H, W)`` served by ``ds[i]``.

        The rule is the source's ``info["truth_readers"]``: ``"all"`` keeps every box, a list keeps
        the boxes of those readers; a source that does not say keeps reader ``"truth"`` only. An empty
        frame means the source has no ground-truth boxes (localisation is not measurable).
        """
        readers = self.info.get("truth_readers", DEFAULT_TRUTH_READERS)
        boxes = self.boxes_in_array_pixels()
        if isinstance(readers, str):
            if readers != "all":
                raise ValueError(
                    f"{self.name}: info['truth_readers'] must be 'all' or a list of readers, got {readers!r}"
                )
            return boxes.reset_index(drop=True)
        return boxes[boxes["reader"].isin(list(readers))].reset_index(drop=True)

    def __repr__(self) -> str:
        counts = self.table["split"].value_counts().to_dict() if "split" in self.table else {}
        return (
            f"CXRDataset({self.name!r}, n={len(self)}, size={self.image_size}, "
            f"classes={len(self.classes)}, boxes={len(self.boxes)}, splits={counts})"
        )
