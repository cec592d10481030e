"""Building a real dataset's image cache: decoded in parallel worker processes, chunk by chunk, so that
a stopped build resumes where it stopped.

The images go into ``images.npy`` ``(N, size, size)`` uint8 in the entry's working directory, which
is allocated in full first (a full disk fails there, before any decoding). The images are cut into
chunks of consecutive rows; each chunk is decoded by one worker, which writes its rows straight into
the file (no pixels pass between processes) and returns the original sizes, the failures and a
SHA-256 of the chunk's bytes. The parent then writes the chunk's record, ``chunks/<first row>.json``.
A resumed build keeps each recorded chunk whose bytes still hash to its record and decodes the rest;
so does a build whose earlier run was killed half-way. Every image is decoded by the same function
as in a serial build, so the bytes do not depend on the number of workers.

Memory stays flat whatever N is: a worker maps only its chunk's rows while it writes them, and the
parent maps the file only to verify a chunk of a resumed build, one chunk at a time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .._progress import progress_enabled
from .decode import ImageDecodeError, decode_image, resize_to_uint8

__all__ = ["ChunkResult", "default_workers", "default_chunk_size", "decode_chunk", "build_image_cache"]

log = logging.getLogger("cxrlib.data")

_IMAGES = "images.npy"
_CHUNKS = "chunks"


def default_workers() -> int:
    """The CPU cores this process may use (``os.sched_getaffinity`` where there is one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def default_chunk_size(n: int) -> int:
    """Rows per chunk: ``n / 64`` within 16 to 512 rows (enough chunks for an even load on 8 workers and a
    fine-grained resume). It does not depend on the number of workers, so that a build resumed with
    other ``workers=`` (or on another machine) finds the same chunks."""
    return int(min(512, max(16, -(-n // 64))))


@dataclass(frozen=True)
class ChunkResult:
    """One decoded chunk: rows ``start:stop``, their original ``(height, width)`` (0, 0 where an image
    failed), the failures as ``[row, error type, message]``, and the SHA-256 of the chunk's bytes."""

    start: int
    stop: int
    sizes: list[list[int]]
    failed: list[list]
    sha256: str


def _chunk_digest(images: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(images).data).hexdigest()


def decode_chunk(
    images_path: str,
    start: int,
    paths: Sequence[str],
    names: Sequence[str],
    image_size: int,
    on_bad: str,
    decode: Callable[[Path], np.ndarray] = decode_image,
) -> ChunkResult:
    """Decode ``paths`` (the rows from ``start``) into the ``images.npy`` at ``images_path``.

    A missing or undecodable image raises, naming the table row and image (``on_bad="raise"``), or is
    recorded in ``failed`` with its row left black (``"skip"``). Runs in a worker process.
    """
    stop = start + len(paths)
    out = np.load(images_path, mmap_mode="r+")
    sizes = np.zeros((len(paths), 2), np.int64)
    failed: list[list] = []
    try:
        rows = out[start:stop]
        for j, (path, name) in enumerate(zip(paths, names)):
            try:
                image = decode(Path(path))
            except (FileNotFoundError, ValueError) as err:
                if on_bad == "raise":
                    kind = FileNotFoundError if isinstance(err, FileNotFoundError) else ImageDecodeError
                    raise kind(f"{err} (table row {start + j}, image {name})") from err
                failed.append([start + j, type(err).__name__, str(err)])
                rows[j] = 0
                continue
            sizes[j] = image.shape
            rows[j] = resize_to_uint8(image, image_size)
        digest = _chunk_digest(rows)
        out.flush()
    finally:
        del out
    return ChunkResult(start, stop, sizes.tolist(), failed, digest)


def _decode_chunk_task(args: tuple) -> ChunkResult:
    return decode_chunk(*args)


def _record_path(work: Path, start: int) -> Path:
    return work / _CHUNKS / f"{start:09d}.json"


def _write_record(work: Path, result: ChunkResult) -> None:
    path = _record_path(work, result.start)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result.__dict__))
    os.replace(tmp, path)  # a record is whole or absent


def _finished_chunks(work: Path, bounds: list[tuple[int, int]]) -> dict[int, ChunkResult]:
    """The recorded chunks of an earlier build whose bytes still match their record."""
    kept: dict[int, ChunkResult] = {}
    folder = work / _CHUNKS
    if not folder.is_dir():
        return kept
    images = np.load(work / _IMAGES, mmap_mode="r")
    try:
        for start, stop in bounds:
            path = _record_path(work, start)
            if not path.exists():
                continue
            try:
                result = ChunkResult(**json.loads(path.read_text()))
            except (ValueError, TypeError):
                continue  # a damaged record: decode the chunk again
            if (result.start, result.stop) == (start, stop) and _chunk_digest(images[start:stop]) == result.sha256:
                kept[start] = result
    finally:
        del images
    return kept


def _open_images(work: Path, n: int, image_size: int) -> bool:
    """Create ``images.npy`` or keep an earlier build's of the same shape, allocated in full on disk
    either way (a full disk fails here, not as a SIGBUS in a worker writing through the mapping);
    returns whether an earlier build's file was kept."""
    path = work / _IMAGES
    shape = (n, image_size, image_size)
    kept = False
    if path.exists():
        try:
            existing = np.load(path, mmap_mode="r")
            kept = existing.shape == shape and existing.dtype == np.uint8
            del existing
        except (ValueError, OSError):
            kept = False
        if not kept:
            path.unlink()
            shutil.rmtree(work / _CHUNKS, ignore_errors=True)
    if not kept:
        np.lib.format.open_memmap(path, "w+", np.uint8, shape).flush()
    if hasattr(os, "posix_fallocate") and n:
        fd = os.open(path, os.O_RDWR)
        try:
            os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
        except OSError as err:
            raise OSError(err.errno, f"cannot allocate the cache file {path}: {err.strerror}") from err
        finally:
            os.close(fd)
    return kept


def _picklable(decode: Callable) -> bool:
    try:
        pickle.dumps(decode)
        return True
    except Exception:  # a lambda or a local function: worker processes cannot receive it
        return False


def build_image_cache(
    work: Path,
    paths: Sequence[Path],
    names: Sequence[str],
    image_size: int,
    *,
    on_bad: str = "raise",
    decode: Callable[[Path], np.ndarray] = decode_image,
    workers: int | None = None,
    chunk_size: int | None = None,
    progress: bool = True,
    desc: str = "decode",
) -> dict:
    """Decode ``paths`` into ``work/images.npy`` ``(N, image_size, image_size)`` uint8 and
    ``work/sizes.npy`` ``(N, 2)`` (original height, width); returns the entry's metadata:
    ``failed`` (``[row, error type, message]`` per image skipped) and ``build`` (workers, chunks, and
    how many were kept from an earlier, stopped build and how many images were decoded now).

    ``names``: the table's image names, for error messages. ``workers``: processes (default: the
    machine's cores; 1 decodes in this process). A ``decode`` that cannot be sent to a worker process
    (a lambda) is run in this process, with a warning.
    """
    n = len(paths)
    if len(names) != n:
        raise ValueError(f"{len(names)} names for {n} paths")
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers > 1 and not _picklable(decode):
        log.warning("the decode function %r cannot go to worker processes: decoding in this process", decode)
        workers = 1
    size = int(chunk_size) if chunk_size else default_chunk_size(n)
    bounds = [(s, min(s + size, n)) for s in range(0, n, size)]
    resumed = _open_images(work, n, image_size)
    (work / _CHUNKS).mkdir(exist_ok=True)
    done = _finished_chunks(work, bounds) if resumed else {}
    todo = [(s, e) for s, e in bounds if s not in done]
    kept_images = sum(e - s for s, e in bounds if s in done)
    if done:
        log.info("%s: resuming a stopped build, %d of %d images already decoded", desc, kept_images, n)
    images_path = str(work / _IMAGES)
    tasks = [
        (images_path, s, [str(p) for p in paths[s:e]], [str(x) for x in names[s:e]], image_size, on_bad, decode)
        for s, e in todo
    ]
    bar = tqdm(
        total=n,
        initial=kept_images,
        desc=f"{desc} ({workers} worker{'s' if workers > 1 else ''})",
        unit="img",
        disable=not progress_enabled(progress),
    )
    try:
        if workers == 1 or len(tasks) <= 1:
            for task in tasks:
                result = _decode_chunk_task(task)
                _write_record(work, result)
                done[result.start] = result
                bar.update(result.stop - result.start)
        else:
            with ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
                pending = {pool.submit(_decode_chunk_task, task) for task in tasks}
                try:
                    while pending:
                        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                        errors = [f.exception() for f in finished if f.exception() is not None]
                        for future in finished:  # record every chunk that succeeded, then raise
                            if future.exception() is None:
                                result = future.result()
                                _write_record(work, result)
                                done[result.start] = result
                                bar.update(result.stop - result.start)
                        if errors:
                            raise errors[0]  # a worker's error, naming the file and row
                except BaseException:
                    for future in pending:
                        future.cancel()
                    raise
    finally:
        bar.close()
    sizes = np.zeros((n, 2), np.int64)
    failed: list[list] = []
    for _, result in sorted(done.items()):
        sizes[result.start : result.stop] = np.asarray(result.sizes, np.int64).reshape(-1, 2)
        failed += result.failed
    np.save(work / "sizes.npy", sizes)
    shutil.rmtree(work / _CHUNKS, ignore_errors=True)
    return {
        "failed": failed,
        "build": {
            "workers": workers,
            "chunks": len(bounds),
            "chunks_kept_from_a_stopped_build": len(bounds) - len(todo),
            "images_decoded": int(sum(e - s for s, e in todo)),
        },
    }
