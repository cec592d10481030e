"""Real data shipped with the package: 21 NIH ChestX-ray14 images in NIH's own file formats.

``nih/`` holds ``images/<Image Index>.png`` (downsized from 1024 to 512 px, 8-bit grayscale),
``Data_Entry_2017_v2020.csv``, ``BBox_List_2017.csv`` (12 boxes, in NIH's 1024-px coordinates),
``train_val_list.txt``, ``test_list.txt`` and ``ATTRIBUTION.md`` (NIH Clinical Center data: cite
Wang et al., ChestX-ray8, IEEE CVPR 2017). The images are square, so the NIH reader's 1024-px box
coordinates scale to any ``image_size``. Made by ``tools/make_nih_sample.py``.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from ..dataset import CXRDataset
from ..registry import open_dataset

__all__ = ["nih_sample_root", "open_nih_sample"]


def nih_sample_root() -> Path:
    """The folder of the shipped NIH sample (an NIH ``root`` for ``open_dataset("nih", root=...)``)."""
    return Path(str(files(__name__).joinpath("nih")))


def open_nih_sample(image_size: int = 256, **options) -> CXRDataset:
    """The 21 shipped NIH images as a dataset (official split: 15 test, 6 train/val; 12 boxes).

    ``options`` go to ``open_dataset("nih", ...)`` (``classes``, ``cache_dir``, ``split``...);
    ``progress`` defaults to False.
    """
    options.setdefault("split", "official")
    options.setdefault("progress", False)
    return open_dataset("nih", root=nih_sample_root(), image_size=image_size, **options)
