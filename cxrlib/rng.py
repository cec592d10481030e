"""Random streams keyed by several integers: one helper for every ``np.random.default_rng([a, b, ...])``.

A stream named by a tuple of integers (a seed, an image index, a class, a split...) is independent of
every other tuple's and the same on every machine. numpy's ``SeedSequence`` takes a *flat* list of
non-negative integers; numpy 2.4 also took a nested one (``[[seed, split], k]``) and flattened it
silently, numpy 2.5 rejects it. :func:`random_stream` takes the keys flat and checks them, so a nested
key fails here, on every numpy, with a message that names it.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

__all__ = ["random_stream", "stream_keys", "as_keys"]


def stream_keys(*keys: int) -> tuple[int, ...]:
    """The keys as a tuple of Python ints; ``TypeError`` for anything but an integer (a nested sequence,
    a float, a bool), ``ValueError`` for a negative one (``SeedSequence`` takes none)."""
    out = []
    for position, key in enumerate(keys):
        if isinstance(key, bool) or not isinstance(key, numbers.Integral):
            raise TypeError(
                f"random stream key {position} is {key!r} ({type(key).__name__}); keys are flat integers: "
                "pass random_stream(a, b, c), not random_stream((a, b), c)"
            )
        if key < 0:
            raise ValueError(f"random stream key {position} is {key}; keys must be >= 0")
        out.append(int(key))
    if not out:
        raise ValueError("a random stream needs at least one key")
    return tuple(out)


def random_stream(*keys: int) -> np.random.Generator:
    """``np.random.default_rng([k0, k1, ...])`` after :func:`stream_keys` checked the keys.

    Equal keys give equal streams; ``random_stream(s)`` equals ``np.random.default_rng(s)``'s stream of
    ``[s]`` and ``random_stream(a, b)`` that of ``[a, b]``, so replacing a flat ``default_rng`` call by
    it changes no number.
    """
    return np.random.default_rng(list(stream_keys(*keys)))


def as_keys(seed: int | Sequence[int]) -> tuple[int, ...]:
    """A seed given as one integer or a flat sequence of them, as a tuple of keys."""
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return (int(seed),)
    if isinstance(seed, Sequence) and not isinstance(seed, str):
        return stream_keys(*seed)
    return stream_keys(seed)
