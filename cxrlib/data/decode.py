"""Decoding real images into ``(H, W)`` float32 in [0, 1]: 8- and 16-bit PNG, JPEG and DICOM.

* PNG / JPEG through Pillow. Grey (``L``), 16-bit (``I;16``, ``I``), RGB and RGBA are accepted; colour
  images are turned into one channel by Pillow's luma conversion (for NIH's RGBA files R = G = B and
  alpha is a constant 255, so this is exactly the grey value and the alpha is ignored). 16-bit
  images are scaled by their bit depth's maximum (65535).
* DICOM through pydicom: modality LUT (rescale slope/intercept), then the VOI LUT or window, then
  MONOCHROME1 is inverted so that bone is bright, then min-max to [0, 1].

Every failure names the file: a missing file raises ``FileNotFoundError``; a truncated or
unreadable image raises ``ImageDecodeError`` (a ``ValueError``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["ImageDecodeError", "decode_image", "resize_to_uint8"]

DICOM_SUFFIXES = {".dcm", ".dicom"}


class ImageDecodeError(ValueError):
    """An image file exists but cannot be decoded (truncated, corrupt, unsupported)."""


def _decode_pil(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        img.load()  # forces a full decode: a truncated file fails here
        mode = img.mode
        if mode in ("I;16", "I;16B", "I;16L"):
            arr = np.asarray(img, dtype=np.float32) / 65535.0
        elif mode == "I":
            arr = np.asarray(img, dtype=np.float32)
            arr = arr / (65535.0 if arr.max() > 255 else 255.0)
        elif mode == "F":
            arr = np.asarray(img, dtype=np.float32)
            lo, hi = float(arr.min()), float(arr.max())
            arr = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
        else:
            arr = np.asarray(img.convert("L"), dtype=np.float32) / 255.0
    return arr


def _decode_dicom(path: Path) -> np.ndarray:
    import pydicom
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    ds = pydicom.dcmread(path)
    pixels = ds.pixel_array
    if pixels.ndim != 2:
        raise ImageDecodeError(f"{path}: expected a single grey frame, got pixel array of shape {pixels.shape}")
    arr = apply_modality_lut(pixels, ds)
    if "VOILUTSequence" in ds or "WindowCenter" in ds:
        arr = apply_voi_lut(arr, ds)
    arr = arr.astype(np.float32)
    lo, hi = float(arr.min()), float(arr.max())
    arr = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    if getattr(ds, "PhotometricInterpretation", "MONOCHROME2") == "MONOCHROME1":
        arr = 1.0 - arr
    return arr


def decode_image(path: str | Path) -> np.ndarray:
    """Decode one image file to ``(H, W)`` float32 in [0, 1]."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        arr = _decode_dicom(path) if path.suffix.lower() in DICOM_SUFFIXES else _decode_pil(path)
    except (FileNotFoundError, ImageDecodeError):
        raise
    except Exception as err:  # PIL's OSError for truncated files, pydicom's InvalidDicomError, ...
        raise ImageDecodeError(f"cannot decode image {path}: {type(err).__name__}: {err}") from err
    if arr.ndim != 2 or arr.size == 0:
        raise ImageDecodeError(f"{path}: decoded to shape {arr.shape}, expected a 2-D grey image")
    if not np.isfinite(arr).all():
        raise ImageDecodeError(f"{path}: decoded pixels contain NaN or infinity")
    return np.clip(arr, 0.0, 1.0)


def resize_to_uint8(image: np.ndarray, size: int) -> np.ndarray:
    """``(H, W)`` float in [0, 1] → ``(size, size)`` uint8, with Pillow's antialiased bilinear filter."""
    img = Image.fromarray(image.astype(np.float32)).resize((size, size), Image.Resampling.BILINEAR)
    return (np.clip(np.asarray(img), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
