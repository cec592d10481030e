"""Decode-once cache: images resized once and kept as a uint8 array on disk, reused across runs.

A cache entry is a directory named by a hash of everything that determines its content (source,
image list, size, generator options). It is built in a sibling working directory
(``<key>.partial``) and renamed into place when complete, so a reader never sees a half-written entry.

* **One builder at a time.** The build holds a file lock (``<key>.lock``, released by the operating
  system if the process dies): a second process asking for the same entry waits for the first (with a
  message, up to ``lock_timeout`` seconds) and then opens what it built, instead of decoding everything
  again.
* **Resumable builds.** With ``resumable=True`` the working directory survives an interrupted build
  (Ctrl-C, a killed job, a full disk), and the next build is handed it back with what was finished;
  :mod:`cxrlib.data.cache_build` keeps chunks that verify and decodes the rest. Otherwise a stale
  working directory is cleared first.
* **Room first.** Where the entry's size is known in advance (``size_bytes``), an unwritable folder
  or a disk without room for it raises before anything is built, naming the folder.
* **Stale work said, never silently deleted.** A resumable build of an entry whose key has since
  changed (other options, another image list) cannot be resumed; its working directory would hold its
  gigabytes forever. Before a build, the working directories beside it that no process holds and that
  are older than :data:`STALE_PARTIAL_S` are named with their size (:func:`stale_partials`);
  :func:`sweep_partials` deletes them.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "default_cache_dir",
    "cache_key",
    "CacheEntry",
    "open_or_build",
    "check_writable",
    "check_free_space",
    "LOCK_TIMEOUT_S",
    "STALE_PARTIAL_S",
    "StalePartial",
    "stale_partials",
    "sweep_partials",
]

log = logging.getLogger("cxrlib.data")

#: how long a process waits for another one building the same entry (``$CXRLIB_CACHE_LOCK_TIMEOUT``)
LOCK_TIMEOUT_S = float(os.environ.get("CXRLIB_CACHE_LOCK_TIMEOUT", 6 * 3600))
#: a resumable working directory untouched this long, of another key, is reported as stale (7 days)
STALE_PARTIAL_S = 7 * 24 * 3600.0
#: room left free beside an entry (the file system's own needs, the entry's small files)
_SPACE_MARGIN = 64 * 2**20


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


def check_writable(folder: Path) -> None:
    """Create ``folder`` if needed and write a probe file in it; ``PermissionError`` naming it if not."""
    folder = Path(folder)
    hint = "set $CXRLIB_CACHE or pass cache_dir= to a folder you can write"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise OSError(errno.ENOSPC, f"the disk of the cache folder {folder} is full ({hint})") from err
        raise PermissionError(f"the cache folder {folder} is not writable: {err.strerror or err} ({hint})") from err


def check_free_space(folder: Path, size_bytes: int, already_written: int = 0) -> None:
    """``OSError(ENOSPC)`` naming ``folder`` when its disk cannot take ``size_bytes`` more (less what a
    resumed build has ``already_written``), with a margin."""
    free = shutil.disk_usage(folder).free
    needed = max(0, int(size_bytes) - int(already_written)) + _SPACE_MARGIN
    if free < needed:
        raise OSError(
            errno.ENOSPC,
            f"not enough disk space for the cache in {folder}: the entry needs {_gib(size_bytes)} "
            f"({_gib(needed)} more with a margin), the disk has {_gib(free)} free; free space there, or set "
            "$CXRLIB_CACHE or cache_dir= to a larger disk",
        )


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def _directory_bytes(folder: Path) -> int:
    """Bytes already allocated on disk under ``folder`` (a preallocated file counts in full)."""
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file())


@dataclass(frozen=True)
class StalePartial:
    """A working directory of an unfinished build: its path, bytes on disk and seconds since last written."""

    path: Path
    bytes: int
    age_s: float


def _held_by_another(lock_path: Path) -> bool:
    from filelock import FileLock, Timeout

    if not lock_path.exists():
        return False
    lock = FileLock(str(lock_path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def stale_partials(
    folder: str | Path, older_than_s: float = STALE_PARTIAL_S, keep: str | None = None
) -> list[StalePartial]:
    """The ``*.partial`` working directories in ``folder`` (one kind's cache folder) that no process is
    building (their lock is free) and that nothing has written for ``older_than_s`` seconds, other than
    ``keep`` (the key about to be built)."""
    folder, now, found = Path(folder), time.time(), []
    if not folder.is_dir():
        return found
    for work in sorted(folder.glob("*.partial")):
        key = work.name.removesuffix(".partial")
        if key == keep or not work.is_dir():
            continue
        files = [p for p in work.rglob("*") if p.is_file()]
        newest = max([work.stat().st_mtime, *(p.stat().st_mtime for p in files)])
        if now - newest < older_than_s or _held_by_another(work.with_name(key + ".lock")):
            continue
        found.append(StalePartial(work, _directory_bytes(work), now - newest))
    return found


def sweep_partials(folder: str | Path, older_than_s: float = STALE_PARTIAL_S) -> list[StalePartial]:
    """Delete what :func:`stale_partials` finds in ``folder``; returns what was deleted."""
    found = stale_partials(folder, older_than_s)
    for stale in found:
        shutil.rmtree(stale.path, ignore_errors=True)
    return found


def _report_stale(folder: Path, keep: str) -> None:
    found = stale_partials(folder, keep=keep)
    if not found:
        return
    total = sum(s.bytes for s in found)
    names = ", ".join(f"{s.path.name} ({_gib(s.bytes)}, {s.age_s / 86400:.0f} days)" for s in found[:5])
    message = (
        f"{len(found)} unfinished cache build(s) in {folder} that nothing has touched for over "
        f"{STALE_PARTIAL_S / 86400:.0f} days hold {_gib(total)}: {names}. Their options have changed since, so "
        f"they cannot be resumed; delete them with cxrlib.data.cache.sweep_partials({str(folder)!r})"
    )
    log.warning(message)
    print(f"[cxrlib] {message}", flush=True)


def _acquire(lock_path: Path, what: str, timeout: float):
    """The held ``filelock.FileLock`` at ``lock_path``; waits (saying so) while another process holds it."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(lock_path))
    try:
        lock.acquire(timeout=0)
        return lock
    except Timeout:
        pass
    message = f"another process is building the cache entry {what}; waiting for it (up to {timeout:.0f} s)"
    log.info(message)
    print(f"[cxrlib] {message}", flush=True)
    started = time.monotonic()
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise TimeoutError(
            f"waited {time.monotonic() - started:.0f} s for another process building the cache entry {what} "
            f"(lock {lock_path}); raise $CXRLIB_CACHE_LOCK_TIMEOUT if its build is just slow"
        ) from None
    return lock


def open_or_build(
    kind: str,
    spec: dict,
    build: Callable[[Path], dict],
    cache_dir: str | Path | None = None,
    *,
    resumable: bool = False,
    size_bytes: int | None = None,
    lock_timeout: float | None = None,
) -> CacheEntry:
    """Return the cache entry for ``spec``, calling ``build(workdir) -> meta`` once if it is absent.

    ``build`` writes its arrays/files into ``workdir`` and returns JSON-serialisable metadata. With
    ``resumable`` an interrupted build's ``workdir`` is kept and handed to the next ``build`` as it
    was left. ``size_bytes``: the entry's size, if known, checked against the free disk space before
    ``build`` runs. ``lock_timeout``: seconds to wait for another process building the same entry
    (default :data:`LOCK_TIMEOUT_S`).
    """
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    final = root / kind / cache_key(spec)
    if (final / "meta.json").exists():
        return CacheEntry(final)
    check_writable(final.parent)
    timeout = LOCK_TIMEOUT_S if lock_timeout is None else lock_timeout
    lock = _acquire(final.with_name(final.name + ".lock"), str(final), timeout)
    try:
        if (final / "meta.json").exists():  # built by the process we waited for
            return CacheEntry(final)
        work = final.with_name(final.name + ".partial")
        _report_stale(final.parent, keep=final.name)
        if work.exists() and not resumable:
            shutil.rmtree(work)
        if size_bytes is not None:
            check_free_space(final.parent, size_bytes, _directory_bytes(work))
        work.mkdir(exist_ok=True)
        try:
            meta = build(work)
        except BaseException:
            if not resumable:
                shutil.rmtree(work, ignore_errors=True)
            raise
        (work / "meta.json").write_text(json.dumps({"spec": spec, **meta}, default=str, indent=1))
        if final.exists():  # an incomplete entry left by an older version of this module
            shutil.rmtree(final)
        os.replace(work, final)
    finally:
        lock.release()
    return CacheEntry(final)
