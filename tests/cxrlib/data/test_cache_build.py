"""The real-dataset cache build: the same bytes with any number of workers, a resume that decodes only
what a stopped (or killed) build left, verified chunks, one builder among two processes, and the
errors for a full disk or an unwritable folder before any image is decoded."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cxrlib.data.cache as cache_module
from cxrlib.data.cache import cache_key, open_or_build
from cxrlib.data.cache_build import build_image_cache, decode_chunk, default_chunk_size
from cxrlib.data.decode import decode_image

ROOT = Path(__file__).resolve().parents[3]
SIZE = 24


def _images(folder: Path, n: int) -> list[Path]:
    """``n`` grey PNGs of differing sizes and content."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        h, w = 40 + i % 7, 36 + (3 * i) % 11
        path = folder / f"{i:05d}.png"
        Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def _names(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


class Counting:
    """A decode that counts its calls (in this process: workers=1)."""

    def __init__(self, fail_after: int | None = None):
        self.calls, self.fail_after = 0, fail_after

    def __call__(self, path: Path) -> np.ndarray:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt  # the user stops the build
        self.calls += 1
        return decode_image(path)


def _built(work: Path) -> np.ndarray:
    return np.array(np.load(work / "images.npy"))


def test_chunk_sizes_do_not_depend_on_the_workers():
    assert default_chunk_size(50_000) == 512 and default_chunk_size(100) == 16 and default_chunk_size(3200) == 50


def test_two_workers_write_the_bytes_of_a_serial_build(tmp_path):
    paths = _images(tmp_path / "img", 45)
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    serial = build_image_cache(tmp_path / "a", paths, _names(paths), SIZE, workers=1, progress=False)
    parallel = build_image_cache(tmp_path / "b", paths, _names(paths), SIZE, workers=2, chunk_size=7, progress=False)
    np.testing.assert_array_equal(_built(tmp_path / "a"), _built(tmp_path / "b"))
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "sizes.npy"), np.load(tmp_path / "b" / "sizes.npy"))
    assert np.load(tmp_path / "a" / "sizes.npy")[3].tolist() == [43, 45]
    assert serial["build"]["images_decoded"] == parallel["build"]["images_decoded"] == 45
    assert parallel["build"] | {"chunks": 7} == {
        "workers": 2,
        "chunks": 7,
        "chunks_kept_from_a_stopped_build": 0,
        "images_decoded": 45,
    }
    assert not (tmp_path / "b" / "chunks").exists()


def test_a_stopped_build_resumes_decoding_only_what_was_left(tmp_path):
    paths = _images(tmp_path / "img", 40)
    reference = tmp_path / "ref"
    reference.mkdir()
    build_image_cache(reference, paths, _names(paths), SIZE, workers=1, progress=False)

    def build(decode):
        return lambda work: build_image_cache(
            work, paths, _names(paths), SIZE, workers=1, chunk_size=8, decode=decode, progress=False
        )

    stopped = Counting(fail_after=19)  # Ctrl-C during the third chunk
    with pytest.raises(KeyboardInterrupt):
        open_or_build("real-test", {"n": 40}, build(stopped), tmp_path / "cache", resumable=True)
    work = tmp_path / "cache" / "real-test" / (cache_key({"n": 40}) + ".partial")
    assert sorted(p.name for p in (work / "chunks").glob("*.json")) == ["000000000.json", "000000008.json"]
    resumed = Counting()
    entry = open_or_build("real-test", {"n": 40}, build(resumed), tmp_path / "cache", resumable=True)
    assert resumed.calls == 40 - 16
    assert entry.meta["build"]["chunks_kept_from_a_stopped_build"] == 2
    assert entry.meta["build"]["images_decoded"] == 24
    np.testing.assert_array_equal(entry.array("images"), _built(reference))
    np.testing.assert_array_equal(entry.array("sizes"), np.load(reference / "sizes.npy"))
    assert not work.exists()


def test_a_build_stopped_with_one_worker_resumes_with_two_on_the_same_chunks(tmp_path):
    paths = _images(tmp_path / "img", 48)  # default chunk size: 16 rows
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(KeyboardInterrupt):
        build_image_cache(work, paths, _names(paths), SIZE, workers=1, decode=Counting(20), progress=False)
    meta = build_image_cache(work, paths, _names(paths), SIZE, workers=2, progress=False)
    assert meta["build"]["chunks_kept_from_a_stopped_build"] == 1 and meta["build"]["images_decoded"] == 32


def test_a_finished_chunk_whose_bytes_changed_is_decoded_again(tmp_path):
    paths = _images(tmp_path / "img", 24)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(KeyboardInterrupt):
        build_image_cache(work, paths, _names(paths), SIZE, workers=1, chunk_size=8, decode=Counting(20))
    images = np.load(work / "images.npy", mmap_mode="r+")
    images[9, 0, 0] ^= 0xFF  # the second chunk's bytes no longer match its record
    images.flush()
    del images
    again = Counting()
    meta = build_image_cache(work, paths, _names(paths), SIZE, workers=1, chunk_size=8, decode=again, progress=False)
    assert again.calls == 16 and meta["build"]["chunks_kept_from_a_stopped_build"] == 1
    reference = tmp_path / "ref"
    reference.mkdir()
    build_image_cache(reference, paths, _names(paths), SIZE, workers=1, progress=False)
    np.testing.assert_array_equal(_built(work), _built(reference))


_SLOW_BUILD = """
import sys, time
from pathlib import Path
from cxrlib.data.cache import open_or_build
from cxrlib.data.cache_build import build_image_cache
from cxrlib.data.decode import decode_image

paths = sorted(Path(sys.argv[1]).glob("*.png"))
counter = Path(sys.argv[3])

def slow_decode(path):
    time.sleep(float(sys.argv[4]))
    with counter.open("a") as f:
        f.write(path.name + "\\n")
    return decode_image(path)

def build(work):
    return build_image_cache(work, paths, [p.name for p in paths], 24, workers=1, chunk_size=4,
                             decode=slow_decode, progress=False)

entry = open_or_build("real-test", {"slow": True}, build, sys.argv[2], resumable=True)
print(entry.path)
"""


def _slow_build(tmp_path: Path, images: Path, counter: Path, delay: float) -> subprocess.Popen:
    script = tmp_path / "slow_build.py"
    script.write_text(textwrap.dedent(_SLOW_BUILD))
    return subprocess.Popen(
        [sys.executable, str(script), str(images), str(tmp_path / "cache"), str(counter), str(delay)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_killed_build_process_resumes_where_it_stopped(tmp_path):
    paths = _images(tmp_path / "img", 32)
    counter = tmp_path / "decoded.txt"
    proc = _slow_build(tmp_path, tmp_path / "img", counter, 0.05)
    work = tmp_path / "cache" / "real-test" / (cache_key({"slow": True}) + ".partial")
    deadline = time.monotonic() + 60
    while len(list((work / "chunks").glob("*.json"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.kill()  # SIGKILL: nothing of the build's own cleanup runs
    proc.wait()
    kept = len(list((work / "chunks").glob("*.json")))
    assert 3 <= kept < 8, proc.stderr.read()
    resumed = Counting()

    def build(work):
        return build_image_cache(
            work, paths, _names(paths), SIZE, workers=1, chunk_size=4, decode=resumed, progress=False
        )

    entry = open_or_build("real-test", {"slow": True}, build, tmp_path / "cache", resumable=True)
    assert resumed.calls == 32 - 4 * kept  # only the chunks without a record are decoded
    reference = tmp_path / "ref"
    reference.mkdir()
    build_image_cache(reference, paths, _names(paths), SIZE, workers=1, progress=False)
    np.testing.assert_array_equal(entry.array("images"), _built(reference))


def test_two_processes_opening_one_uncached_entry_decode_it_once(tmp_path):
    _images(tmp_path / "img", 16)
    counter = tmp_path / "decoded.txt"
    first = _slow_build(tmp_path, tmp_path / "img", counter, 0.03)
    second = _slow_build(tmp_path, tmp_path / "img", counter, 0.03)
    out = [p.communicate(timeout=120) for p in (first, second)]
    assert first.returncode == second.returncode == 0, out
    paths = [o[0].strip().splitlines()[-1] for o in out]
    assert paths[0] == paths[1]  # the same entry
    assert len(counter.read_text().split()) == 16  # decoded by one of them only
    assert any("another process is building" in o[0] + o[1] for o in out)
    entry = cache_module.CacheEntry(Path(paths[0]))
    assert entry.array("images").shape == (16, SIZE, SIZE) and entry.meta["build"]["images_decoded"] == 16


def test_a_held_lock_times_out_with_a_message_naming_the_entry(tmp_path):
    from filelock import FileLock

    final = tmp_path / "real-test" / cache_key({"x": 1})
    final.parent.mkdir(parents=True)
    holder = FileLock(str(final) + ".lock")
    holder.acquire()
    try:
        with pytest.raises(TimeoutError, match=f"another process building the cache entry {final}"):
            open_or_build("real-test", {"x": 1}, lambda work: {}, tmp_path, lock_timeout=0.3)
    finally:
        holder.release()


def test_a_full_disk_is_named_before_any_image_is_decoded(tmp_path, monkeypatch):
    paths = _images(tmp_path / "img", 4)
    decode = Counting()
    monkeypatch.setattr(cache_module.shutil, "disk_usage", lambda folder: type("U", (), {"free": 1000})())

    def build(work):
        return build_image_cache(work, paths, _names(paths), SIZE, workers=1, decode=decode, progress=False)

    with pytest.raises(OSError, match="not enough disk space for the cache in .*real-test") as err:
        open_or_build("real-test", {"n": 4}, build, tmp_path / "cache", size_bytes=4 * SIZE * SIZE)
    assert err.value.errno == errno.ENOSPC and decode.calls == 0


def test_an_unwritable_cache_folder_is_named(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(PermissionError, match=f"the cache folder {blocker}/real-test is not writable"):
        open_or_build("real-test", {"n": 1}, lambda work: {}, blocker)


def test_a_bad_image_in_a_worker_names_its_row_and_keeps_the_finished_chunks(tmp_path):
    paths = _images(tmp_path / "img", 20)
    paths[13].write_bytes(b"not a png")
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(ValueError, match=r"00013\.png.*\(table row 13, image 00013\.png\)"):
        build_image_cache(work, paths, _names(paths), SIZE, workers=2, chunk_size=4, progress=False)
    records = {json.loads(p.read_text())["start"] for p in (work / "chunks").glob("*.json")}
    assert records and 12 not in records  # the chunks done before are recorded, the failing one is not
    meta = build_image_cache(work, paths, _names(paths), SIZE, on_bad="skip", workers=1, chunk_size=4, progress=False)
    assert [row for row, *_ in meta["failed"]] == [13]
    assert not _built(work)[13].any() and meta["build"]["images_decoded"] < 20


def test_decode_chunk_reports_sizes_failures_and_a_digest(tmp_path):
    paths = _images(tmp_path / "img", 3)
    np.lib.format.open_memmap(tmp_path / "images.npy", "w+", np.uint8, (5, SIZE, SIZE)).flush()
    result = decode_chunk(
        str(tmp_path / "images.npy"), 2, [str(p) for p in paths], _names(paths), SIZE, "skip", decode_image
    )
    assert (result.start, result.stop) == (2, 5) and result.sizes[0] == [40, 36] and result.failed == []
    images = np.load(tmp_path / "images.npy")
    assert not images[:2].any() and images[2:].any()
