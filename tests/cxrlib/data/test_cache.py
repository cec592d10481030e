import os
import time

import numpy as np
import pytest

from cxrlib.data.cache import cache_key, open_or_build


def test_build_once_then_reuse(tmp_path):
    calls = []

    def build(folder):
        calls.append(folder)
        np.save(folder / "x.npy", np.arange(6, dtype=np.uint8).reshape(2, 3))
        return {"rows": 2}

    a = open_or_build("kind", {"a": 1}, build, tmp_path)
    b = open_or_build("kind", {"a": 1}, build, tmp_path)
    assert len(calls) == 1 and a.path == b.path and a.meta["rows"] == 2
    assert a.array("x")[1, 2] == 5
    open_or_build("kind", {"a": 2}, build, tmp_path)
    assert len(calls) == 2
    assert cache_key({"a": 1, "b": 2}) == cache_key({"b": 2, "a": 1})


def test_failed_build_leaves_nothing_but_its_lock_file(tmp_path):
    def broken(folder):
        (folder / "partial.npy").write_bytes(b"x")
        raise RuntimeError("decode failed")

    try:
        open_or_build("kind", {"a": 3}, broken, tmp_path)
    except RuntimeError:
        pass
    # the lock file stays: removing it could let two later builders lock two different files
    assert [p.name for p in (tmp_path / "kind").iterdir()] == [cache_key({"a": 3}) + ".lock"]


def test_a_failed_resumable_build_keeps_its_work_for_the_next(tmp_path):
    def broken(folder):
        (folder / "half.npy").write_bytes(b"x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        open_or_build("kind", {"a": 4}, broken, tmp_path, resumable=True)
    seen = []
    entry = open_or_build(
        "kind", {"a": 4}, lambda folder: seen.append(sorted(os.listdir(folder))) or {}, tmp_path, resumable=True
    )
    assert seen == [["half.npy"]] and (entry.path / "half.npy").exists()


def test_stale_unfinished_builds_of_other_keys_are_named_and_swept_only_on_request(tmp_path, capsys):
    from filelock import FileLock

    from cxrlib.data.cache import cache_key, stale_partials, sweep_partials

    folder = tmp_path / "kind"
    old, fresh, busy = (folder / f"{name}.partial" for name in ("oldkey", "freshkey", "busykey"))
    for work in (old, fresh, busy):
        work.mkdir(parents=True)
        (work / "images.npy").write_bytes(b"x" * 4096)
    week_ago = time.time() - 8 * 24 * 3600
    for path in (old, old / "images.npy", busy, busy / "images.npy"):
        os.utime(path, (week_ago, week_ago))
    held = FileLock(str(folder / "busykey.lock"))
    held.acquire()  # another process's build (filelock's locks are per process and thread: held here)
    try:
        open_or_build("kind", {"a": 1}, lambda work: {}, tmp_path)
        out = capsys.readouterr().out
        assert "oldkey.partial" in out and "freshkey" not in out and "sweep_partials" in out
        assert old.exists()  # named, never deleted without being asked
        assert [s.path for s in stale_partials(folder, keep=cache_key({"a": 1}))] == [old]
    finally:
        held.release()
    assert {s.path for s in sweep_partials(folder)} == {old, busy} and not old.exists() and fresh.exists()
