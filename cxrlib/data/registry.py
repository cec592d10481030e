"""Registry of dataset sources behind ``open_dataset(name, root=None, **options)``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .dataset import CXRDataset

__all__ = ["register_source", "open_dataset", "available_sources"]

_SOURCES: dict[str, tuple[Callable[..., CXRDataset], bool]] = {}


def register_source(name: str, needs_root: bool = True):
    """Decorator: register ``factory(root, **options) -> CXRDataset`` (or ``factory(**options)``)."""

    def wrap(factory: Callable[..., CXRDataset]) -> Callable[..., CXRDataset]:
        _SOURCES[name] = (factory, needs_root)
        return factory

    return wrap


def available_sources() -> list[str]:
    return sorted(_SOURCES)


def open_dataset(name: str, root: str | Path | None = None, **options) -> CXRDataset:
    """Open a dataset by name: ``"synth-cxr"`` needs no root; real sources need their ``root``."""
    if name not in _SOURCES:
        raise ValueError(f"unknown dataset {name!r}; available: {available_sources()}")
    factory, needs_root = _SOURCES[name]
    if needs_root:
        if root is None:
            raise ValueError(f"dataset {name!r} needs root= (the folder holding its files)")
        root = Path(root)
        if not root.exists():
            raise FileNotFoundError(f"dataset {name!r}: root {root} does not exist")
        return factory(root, **options)
    if root is not None:
        raise ValueError(f"dataset {name!r} is generated and takes no root (got {root!r})")
    return factory(**options)
