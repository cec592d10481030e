"""The shared reader helpers: option checking from a reader's arguments, the session's info, image lookups."""

from pathlib import Path

import pandas as pd
import pytest

from cxrlib.data.sources.common import COMMON_OPTIONS, SkipReport, find_first, first_existing, skip_rows
from cxrlib.data.sources.session import ReaderSession, check_options, keep_found_images, start_session

ARGS = {
    "root": Path("/data"),
    "image_size": 64,
    "classes": "all",
    "label_policy": None,
    "views": None,
    "seed": 3,
    "load_images": False,
    "on_bad": "skip",
    "cache_dir": None,
    "progress": False,
    "workers": None,
    "val_fraction": 0.1,  # a reader's own option is not passed on
}


def test_check_options_takes_the_common_options_from_the_arguments():
    opts = check_options("nih", ARGS, uncertain_labels=False)
    assert opts.source == "nih" and opts.seed == 3 and opts.on_bad == "skip" and len(opts.classes) == 14
    assert opts.info()["options_without_effect"] == {"image_size": "load_images=False: no pixel is read"}
    with pytest.raises(ValueError, match="nih: seed must be an integer"):
        check_options("nih", {**ARGS, "seed": "3"}, uncertain_labels=False)
    with pytest.raises(TypeError, match=r"lack the common option\(s\) \['progress'\]"):
        check_options("nih", {k: v for k, v in ARGS.items() if k != "progress"}, uncertain_labels=False)
    assert set(COMMON_OPTIONS) <= set(ARGS)
    for bad in (0, 1.5, "2"):
        with pytest.raises(ValueError, match="nih: workers must be None"):
            check_options("nih", {**ARGS, "workers": bad}, uncertain_labels=False)


def test_start_session_orders_info_and_counts_skips():
    opts = check_options("mura", ARGS, uncertain_labels=False, has_views=False)
    session = start_session(opts, Path("/data"), task="body-part", truth_readers=[], truth_rule="none")
    assert list(session.info) == [
        "root",
        "task",
        "options",
        "options_without_effect",
        "truth_readers",
        "truth_rule",
    ]
    assert session.info["root"] == "/data" and session.source == "mura" and session.classes == opts.classes
    assert session.skips.source == "mura" and session.skips.on_bad == "skip"
    table = pd.DataFrame({"image": ["a.png", "b.png"]})
    assert session.image_paths(table, Path("/data")) is None  # load_images=False reads no pixel
    loading = ReaderSession(
        check_options("mura", {**ARGS, "load_images": True}, has_views=False, uncertain_labels=False), session.skips, {}
    )
    assert loading.image_paths(table, Path("/data")) == [Path("/data/a.png"), Path("/data/b.png")]


def test_filter_views_reports_into_the_session_info():
    opts = check_options("nih", {**ARGS, "views": ["PA"]}, uncertain_labels=False)
    session = start_session(opts, "/data", truth_readers=["nih"], truth_rule="all")
    table = pd.DataFrame({"image": ["a", "b", "c"], "view": ["PA", "AP", "PA"]})
    assert session.filter_views(table)["image"].tolist() == ["a", "c"]
    assert session.info["filters"][0]["dropped_by_view"] == {"AP": 1}


def test_keep_found_images_and_find_first(tmp_path):
    (tmp_path / "b.png").write_bytes(b"")
    table = pd.DataFrame({"image": ["a", "b", "c"]}, index=[5, 6, 7])
    found = [find_first(tmp_path, [f"{i}.dcm", f"{i}.png"]) for i in table["image"]]
    assert found == [None, tmp_path / "b.png", None]
    kept, paths = keep_found_images(table, found)
    assert kept["image"].tolist() == ["b"] and list(kept.index) == [0] and paths == [tmp_path / "b.png"]
    assert first_existing(tmp_path, ["a.png", "b.png"], "thing") == tmp_path / "b.png"
    with pytest.raises(FileNotFoundError, match=r"thing: none of \['a.png'\] found in"):
        first_existing(tmp_path, ["a.png"], "thing")


def test_skip_rows_raises_or_counts():
    frame = pd.DataFrame({"x": [1, 2, 3]})
    bad = frame["x"] == 2

    def describe(i):
        return f"bad x {frame.loc[i, 'x']}", f"line {i + 2}"

    with pytest.raises(ValueError, match="line 3: bad x 2"):
        skip_rows(frame, bad, SkipReport("t"), describe)
    skips = SkipReport("t", "skip")
    assert skip_rows(frame, bad, skips, describe)["x"].tolist() == [1, 3]
    assert skips.as_dict() == {"counts": {"bad x 2": 1}, "examples": {"bad x 2": ["line 3"]}}
