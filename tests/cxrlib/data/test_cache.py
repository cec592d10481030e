import numpy as np

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


def test_failed_build_leaves_nothing(tmp_path):
    def broken(folder):
        (folder / "partial.npy").write_bytes(b"x")
        raise RuntimeError("decode failed")

    try:
        open_or_build("kind", {"a": 3}, broken, tmp_path)
    except RuntimeError:
        pass
    assert not any((tmp_path / "kind").iterdir())
