"""What the synthetic generators (SynthCXR, SynthCMR, SynthMSK) share: the cache entry of a generated
set (its spec from the options and the generator's source, built chunk by chunk with a progress bar,
boolean masks stored bit-packed and unpacked per row) and the checks of their common options.

An entry holds ``params.npz`` (the sampled parameters), ``images.npy`` ``(n, H, W)`` uint8, one
``<name>.npy`` ``(n, *channels, H, ceil(W / 8))`` uint8 per packed mask, one ``<name>.npy`` per other
per-image array, and whatever the generator's ``finish`` writes.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import DTypeLike
from tqdm.auto import tqdm

from .cache import CacheEntry, open_or_build
from .labels import resolve_policy

__all__ = [
    "package_source_hash",
    "generator_cache_spec",
    "default_chunk",
    "build_generated",
    "build_mask_pair_entry",
    "load_params",
    "mask_reader",
    "class_channel_masks",
    "truth_boxes",
    "is_int",
    "is_number",
    "in_unit_interval",
    "check_integer",
    "check_bool",
    "check_size_and_seed",
    "check_split_fractions",
    "resolve_class_list",
    "check_reader_options",
]

Params = dict[str, np.ndarray]
#: ``render(params, idx)`` → ``(images, outputs)``: ``images`` ``(B, H, W)`` float in [0, 1] (tensor or
#: array) and ``outputs`` ``{name: (B, ...)}``, one entry per packed mask and per other array
Render = Callable[[Params, np.ndarray], tuple[Any, Mapping[str, Any]]]


def package_source_hash(folder: str | Path) -> str:
    """Hash (16 hex digits) of the source text of the modules in ``folder`` and of this module.

    A generator's version: an entry built by other code gets another key.
    """
    digest = hashlib.sha256()
    for path in [*sorted(Path(folder).glob("*.py")), Path(__file__)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def generator_cache_spec(generator: str, source: str, cfg: Any) -> dict:
    """What determines an entry: the generator's name and source hash and the options of the dataclass
    ``cfg``, without ``split_fractions`` (splits do not change pixels)."""
    spec = {"generator": generator, "source": source, **asdict(cfg)}
    spec.pop("split_fractions")
    return spec


def default_chunk(image_size: int) -> int:
    """Images rendered per chunk: 128 up to 128 px, then about 2 megapixels' worth (at least 1)."""
    return 128 if image_size <= 128 else max(1, 2**21 // image_size**2)


def _numpy(x: Any) -> np.ndarray:
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def build_generated(
    kind: str,
    spec: dict,
    n: int,
    image_size: int,
    sample: Callable[[], Params],
    render: Render,
    *,
    masks: Mapping[str, tuple[int, ...]],
    arrays: Mapping[str, tuple[tuple[int, ...], DTypeLike]] | None = None,
    title: str,
    chunk: int,
    progress: bool,
    cache_dir: str | Path | None,
    finish: Callable[[Path], None] | None = None,
) -> CacheEntry:
    """Return the entry ``kind/<key of spec>``, generating it first if it is absent.

    On a build: ``sample()`` gives the parameters (saved as ``params.npz``), then ``render(params,
    idx)`` runs per chunk of ``chunk`` rows ``idx`` (a progress bar ``"<title> <n>×<size>px"`` when
    ``progress``). Its images ``(B, H, W)`` in [0, 1] are stored as ``images.npy`` ``(n, H, W)`` uint8
    (rounded); each mask ``name`` of ``masks`` (``name -> channels``), ``(B, *channels, H, W)`` bool,
    as ``<name>.npy`` ``(n, *channels, H, ceil(W / 8))`` uint8 packed along the width; each array
    ``name`` of ``arrays`` (``name -> (shape, dtype)``), ``(B, *shape)``, as ``<name>.npy``
    ``(n, *shape)``. ``finish(tmp)`` may then write more files. The entry's meta holds ``n`` and
    ``image_size``.
    """
    size = image_size
    arrays = arrays or {}

    def build(tmp: Path) -> dict:
        params = sample()
        np.savez(tmp / "params.npz", **params)

        def stored(name: str, dtype: DTypeLike, shape: tuple[int, ...]) -> np.memmap:
            return np.lib.format.open_memmap(tmp / f"{name}.npy", "w+", dtype, (n, *shape))

        images = stored("images", np.uint8, (size, size))
        packed = {name: stored(name, np.uint8, (*ch, size, (size + 7) // 8)) for name, ch in masks.items()}
        plain = {name: stored(name, dtype, shape) for name, (shape, dtype) in arrays.items()}
        for start in tqdm(range(0, n, chunk), desc=f"{title} {n}×{size}px", disable=not progress, unit="chunk"):
            idx = np.arange(start, min(start + chunk, n))
            img, outputs = render(params, idx)
            images[idx] = (_numpy(img) * 255 + 0.5).astype(np.uint8)
            for name, out in packed.items():
                out[idx] = np.packbits(_numpy(outputs[name]), axis=-1)
            for name, out in plain.items():
                out[idx] = _numpy(outputs[name])
        for out in (images, *packed.values(), *plain.values()):
            out.flush()
        if finish is not None:
            finish(tmp)
        return {"n": n, "image_size": size}

    return open_or_build(kind, spec, build, cache_dir)


def build_mask_pair_entry(
    kind: str,
    spec: dict,
    cfg: Any,
    sample: Callable[[Any], Params],
    render: Callable[[Params, np.ndarray, int, int], tuple[Any, Any, Any]],
    names: tuple[str, str],
    boxes_of: Callable[[Any], np.ndarray],
    *,
    title: str,
    progress: bool,
    cache_dir: str | Path | None,
) -> CacheEntry:
    """:func:`build_generated` for a generator of one image and two masks per row (SynthCMR, SynthMSK).

    ``cfg`` has ``n``, ``image_size`` and ``seed``; ``sample(cfg)`` gives the parameters and
    ``render(params, idx, image_size, seed)`` ``(images, first, second)``, the masks ``(B, H, W)``
    bool, stored packed as ``<names[0]>.npy`` and ``<names[1]>.npy``. ``boxes_of(first)`` ``(B, 4)``
    ``x, y, w, h`` is stored as ``boxes.npy`` ``(n, 4)`` float64. Chunks of :func:`default_chunk`.
    """
    first, second = names

    def render_chunk(params: Params, idx: np.ndarray) -> tuple[Any, dict[str, Any]]:
        img, a, b = render(params, idx, cfg.image_size, cfg.seed)
        return img, {first: a, second: b, "boxes": boxes_of(a)}

    return build_generated(
        kind,
        spec,
        cfg.n,
        cfg.image_size,
        lambda: sample(cfg),
        render_chunk,
        masks={first: (), second: ()},
        arrays={"boxes": ((4,), np.float64)},
        title=title,
        chunk=default_chunk(cfg.image_size),
        progress=progress,
        cache_dir=cache_dir,
    )


def load_params(entry: CacheEntry) -> Params:
    """The parameters an entry was generated from (``params.npz``), read into memory."""
    with np.load(entry.file("params.npz")) as stored:
        return dict(stored)


def mask_reader(
    packed: np.ndarray, image_size: int, channels: Sequence[int] | None = None
) -> Callable[[int], np.ndarray]:
    """``packed`` ``(n, [C,] H, ceil(W / 8))`` uint8 → ``read(row)`` ``([K,] H, W)`` bool.

    ``channels``: the ``K`` channels kept, in this order (all of them, or none there are, for None).
    """

    def read(row: int) -> np.ndarray:
        bits = packed[row] if channels is None else packed[row, channels]
        return np.unpackbits(bits, axis=-1, count=image_size).astype(bool)

    return read


def class_channel_masks(
    read: Callable[[int], np.ndarray], label: np.ndarray, n_classes: int, image_size: int
) -> Callable[[int], np.ndarray]:
    """Single-label masks: ``read(row)`` ``(H, W)`` bool put in channel ``label[row]`` of an otherwise
    empty ``(n_classes, H, W)`` bool array, per row."""

    def masks(row: int) -> np.ndarray:
        out = np.zeros((n_classes, image_size, image_size), bool)
        out[label[row]] = read(row)
        return out

    return masks


def truth_boxes(images: Sequence[str], classes: Sequence[str] | np.ndarray, xywh: np.ndarray) -> pd.DataFrame:
    """The ground-truth box table: ``images`` and ``classes`` ``(N,)``, ``xywh`` ``(N, 4)`` in pixels →
    columns ``image, class, x, y, w, h, reader`` (reader ``"truth"``)."""
    return pd.DataFrame(
        {
            "image": images,
            "class": classes,
            "x": xywh[:, 0],
            "y": xywh[:, 1],
            "w": xywh[:, 2],
            "h": xywh[:, 3],
            "reader": "truth",
        }
    )


# ---- checks of the options -------------------------------------------------------------------------


def is_int(value: Any) -> bool:
    """A Python or numpy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A Python or numpy integer or float, not a bool."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def in_unit_interval(value: Any) -> bool:
    """``value`` converts to a float in [0, 1] (NaN does not lie there)."""
    try:
        return 0.0 <= float(value) <= 1.0
    except (TypeError, ValueError):
        return False


def _prefix(who: str | None) -> str:
    return f"{who}: " if who else ""


def check_integer(
    value: Any, option: str, *, who: str | None = None, low: int | None = None, high: int | None = None
) -> None:
    """Raise ``ValueError`` ("``<who>: <option> must be an integer ...``") unless ``value`` is an
    integer (not a bool) in ``[low, high]`` (either bound may be None; ``low=1`` alone reads "a
    positive integer")."""
    if is_int(value) and (low is None or value >= low) and (high is None or value <= high):
        return
    if low is not None and high is not None:
        what = f"an integer from {low} to {high}"
    elif low == 1:
        what = "a positive integer"
    elif low is not None:
        what = f"an integer >= {low}"
    elif high is not None:
        what = f"an integer <= {high}"
    else:
        what = "an integer"
    raise ValueError(f"{_prefix(who)}{option} must be {what}, got {value!r}")


def check_bool(value: Any, option: str, *, who: str | None = None) -> None:
    """Raise ``ValueError`` ("``<who>: <option> must be True or False``") unless ``value`` is a bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{_prefix(who)}{option} must be True or False, got {value!r}")


def check_size_and_seed(
    who: str, n: Any, image_size: Any, seed: Any, *, min_n: int = 8, sizes: tuple[int, int] = (16, 1024)
) -> None:
    """The options every generator has: ``n >= min_n``, ``image_size`` in ``sizes``, an integer seed."""
    check_integer(n, "n", who=who, low=min_n)
    check_integer(image_size, "image_size", who=who, low=sizes[0], high=sizes[1])
    check_integer(seed, "seed", who=who)


def check_split_fractions(who: str, fractions: Any) -> None:
    """Raise ``ValueError`` unless ``fractions`` maps some of train / val / test to non-negative
    numbers summing to 1."""
    if not isinstance(fractions, Mapping) or not fractions:
        raise ValueError(f"{who}: split_fractions must be a mapping split -> fraction, got {fractions!r}")
    unknown = [s for s in fractions if s not in ("train", "val", "test")]
    if unknown:
        raise ValueError(f"{who}: split_fractions names unknown split(s) {unknown}; use train, val, test")
    try:
        values = [float(f) for f in fractions.values()]
    except (TypeError, ValueError):
        raise ValueError(f"{who}: split_fractions must hold numbers, got {dict(fractions)}") from None
    if any(f < 0 or math.isnan(f) for f in values) or not math.isclose(sum(values), 1.0, abs_tol=1e-6):
        raise ValueError(f"{who}: split_fractions must be non-negative and sum to 1, got {dict(fractions)}")


def resolve_class_list(
    who: str, classes: Iterable[str] | str, known: Sequence[str], *, domain: str, unknown_hint: str
) -> tuple[str, ...]:
    """``"all"`` or a list of names out of ``known`` (kept in the given order) → a tuple of names.

    Raises ``ValueError`` (naming ``classes``) for another preset (saying chest presets do not apply
    to ``domain``), an empty or repeating list or an unknown name (the message ending with
    ``unknown_hint``).
    """
    if isinstance(classes, str):
        if classes != "all":
            raise ValueError(
                f"{who}: classes must be 'all' or a list of {list(known)}, got the preset {classes!r} "
                f"(chest presets such as 'chexpert5' do not apply to {domain})"
            )
        return tuple(known)
    try:
        names = list(classes)
    except TypeError:
        raise ValueError(f"{who}: classes must be 'all' or a list of class names, got {classes!r}") from None
    if not names:
        raise ValueError(f"{who}: classes is an empty list")
    unknown = [c for c in names if c not in known]
    if unknown:
        raise ValueError(f"{who}: unknown class(es) {unknown} {unknown_hint}")
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:
        raise ValueError(f"{who}: classes repeats {repeated}")
    return tuple(names)


def check_reader_options(
    who: str,
    classes: list[str],
    *,
    split_seed: Any,
    label_policy: Any,
    views: Iterable[str] | str | None,
    load_images: Any,
    on_bad: Any,
    progress: Any,
    cache_dir: Any,
    check_views: Callable[[Iterable[str] | str], str],
    workers: Any = None,
) -> dict[str, str]:
    """Check the common reader options of a generator ``who``; returns ``{option: why}`` for those
    accepted but without effect (``label_policy``: no uncertain labels; ``load_images``: images are
    generated anyway; ``on_bad="skip"``: no bad rows; ``views``: the note ``check_views(views)``
    returns, or raises, when views is not None).

    Raises ``ValueError`` naming the option for a bad one (``split_seed`` not None or an integer, an
    unknown policy, ``on_bad`` not raise / skip, ``progress`` or ``load_images`` not a bool,
    ``cache_dir`` not None or a path, ``workers`` not None or an integer >= 1; a ``workers`` is
    without effect: nothing is decoded).
    """
    if split_seed is not None and not is_int(split_seed):
        raise ValueError(f"{who}: split_seed must be None or an integer, got {split_seed!r}")
    notes: dict[str, str] = {}
    if label_policy is not None:
        resolve_policy(label_policy, classes)  # a typo or a class that is not there still raises
        notes["label_policy"] = f"{who} has no uncertain labels"
    if views is not None:
        notes["views"] = check_views(views)
    check_bool(load_images, "load_images", who=who)
    if not load_images:
        notes["load_images"] = "synthetic images are generated (and cached) whatever load_images says"
    if on_bad not in ("raise", "skip"):
        raise ValueError(f"{who}: on_bad must be 'raise' or 'skip', got {on_bad!r}")
    if on_bad == "skip":
        notes["on_bad"] = f"{who} has no bad rows to skip"
    check_bool(progress, "progress", who=who)
    if cache_dir is not None and not isinstance(cache_dir, (str, Path)):
        raise ValueError(f"{who}: cache_dir must be None or a path, got {cache_dir!r}")
    if workers is not None:
        if not (is_int(workers) and workers >= 1):
            raise ValueError(f"{who}: workers must be None or an integer >= 1, got {workers!r}")
        notes["workers"] = f"{who} generates its images: there is no file to decode in parallel"
    return notes
