"""Decode-once cache: images resized once and kept as a uint8 array on disk, reused across runs.

A cache entry is a directory named by a hash of everything that determines its content (source,
image list, size, generator options). It is written into a temporary directory and renamed into
place when complete, so an interrupted build never leaves a half-written entry behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["default_cache_dir", "cache_key", "CacheEntry", "open_or_build"]


def default_cache_dir() -> Path:
    """``$CXRLIB_CACHE`` if set, else ``~/.cache/cxrlib``."""
    return Path(os.environ.get("CXRLIB_CACHE", Path.home() / ".cache" / "cxrlib"))


def cache_key(spec: dict) -> str:
    """Stable short hash of a JSON-serialisable spec."""
    text = json.dumps(spec, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class CacheEntry:
    """A complete cache directory: ``meta.json`` plus named ``.npy`` arrays (memory-mapped on read)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.meta = json.loads((self.path / "meta.json").read_text())

    def array(self, name: str) -> np.ndarray:
        """Memory-mapped read-only view of array ``name``."""
        return np.load(self.path / f"{name}.npy", mmap_mode="r")

    def file(self, name: str) -> Path:
        return self.path / name


def open_or_build(
    kind: str, spec: dict, build: Callable[[Path], dict], cache_dir: str | Path | None = None
) -> CacheEntry:
    """Return the cache entry for ``spec``, calling ``build(tmpdir) -> meta`` once if it is absent.

    ``build`` writes its arrays/files into ``tmpdir`` and returns JSON-serialisable metadata.
    """
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    final = root / kind / cache_key(spec)
    if (final / "meta.json").exists():
        return CacheEntry(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=final.parent))
    try:
        meta = build(tmp)
        (tmp / "meta.json").write_text(json.dumps({"spec": spec, **meta}, default=str, indent=1))
        try:
            os.replace(tmp, final)
        except OSError:  # another process finished first
            if not (final / "meta.json").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return CacheEntry(final)
