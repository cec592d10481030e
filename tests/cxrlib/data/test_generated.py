"""The generators' shared cache-entry builder and option checks."""

from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from cxrlib.data.generated import (
    build_generated,
    check_integer,
    check_reader_options,
    check_size_and_seed,
    check_split_fractions,
    class_channel_masks,
    generator_cache_spec,
    in_unit_interval,
    is_int,
    load_params,
    mask_reader,
    package_source_hash,
    truth_boxes,
)


@dataclass(frozen=True)
class _Cfg:
    n: int = 5
    image_size: int = 12
    split_fractions: dict = field(default_factory=lambda: {"train": 1.0})


def _render(params, idx):
    size = 12
    rows = torch.as_tensor(idx)[:, None, None].expand(-1, size, size)
    img = rows.float() / 10
    mask = torch.zeros(len(idx), 2, size, size, dtype=torch.bool)
    mask[:, 0, : params["height"][0]] = True  # the top rows, in channel 0
    return img, {"mask": mask, "edge": mask[:, 0], "row": np.asarray(idx) * 2}


def test_build_generated_stores_images_packed_masks_arrays_once(tmp_path):
    calls, finished = [], []

    def sample():
        calls.append(1)
        return {"height": np.array([3])}

    def build():
        return build_generated(
            "toy",
            generator_cache_spec("toy", "abc", _Cfg()),
            5,
            12,
            sample,
            _render,
            masks={"mask": (2,), "edge": ()},
            arrays={"row": ((), np.int64)},
            title="Toy",
            chunk=2,
            progress=False,
            cache_dir=tmp_path,
            finish=lambda tmp: finished.append((tmp / "images.npy").exists()),
        )

    entry = build()
    assert build().path == entry.path and calls == [1] and finished == [True]
    assert entry.meta["n"] == 5 and entry.meta["image_size"] == 12 and entry.meta["spec"]["source"] == "abc"
    assert "split_fractions" not in entry.meta["spec"] and entry.path.parent == tmp_path / "toy"
    images = entry.array("images")
    assert images.dtype == np.uint8 and images.shape == (5, 12, 12) and images[4, 0, 0] == round(0.4 * 255)
    assert entry.array("mask").shape == (5, 2, 12, 2) and entry.array("edge").shape == (5, 12, 2)
    assert entry.array("row").tolist() == [0, 2, 4, 6, 8]
    assert load_params(entry)["height"].tolist() == [3]
    channel1 = mask_reader(entry.array("mask"), 12, [1, 0])(2)
    assert channel1.shape == (2, 12, 12) and channel1.dtype == bool
    assert not channel1[0].any() and channel1[1, :3].all() and not channel1[1, 3:].any()
    edge = mask_reader(entry.array("edge"), 12)
    assert (edge(0) == channel1[1]).all()
    one_hot = class_channel_masks(edge, np.array([2, 0, 1, 0, 0]), 3, 12)(0)
    assert one_hot.shape == (3, 12, 12) and one_hot[2].sum() == 36 and one_hot.sum() == 36


def test_source_hash_follows_the_package_text(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    before = package_source_hash(tmp_path)
    assert len(before) == 16 and package_source_hash(tmp_path) == before
    (tmp_path / "a.py").write_text("x = 2\n")
    assert package_source_hash(tmp_path) != before


def test_truth_boxes_table():
    boxes = truth_boxes(["a.png", "b.png"], ["X", "Y"], np.arange(8.0).reshape(2, 4))
    assert list(boxes.columns) == ["image", "class", "x", "y", "w", "h", "reader"]
    assert boxes["h"].tolist() == [3.0, 7.0] and set(boxes["reader"]) == {"truth"}


def test_integer_and_interval_checks_name_the_option():
    assert is_int(np.int64(3)) and not is_int(True) and not is_int(2.0)
    assert in_unit_interval("0.5") and not in_unit_interval(float("nan")) and not in_unit_interval(None)
    check_integer(8, "n", low=1)
    with pytest.raises(ValueError, match="^n must be a positive integer, got 0$"):
        check_integer(0, "n", low=1)
    with pytest.raises(ValueError, match="^gen: image_size must be an integer from 16 to 1024, got 8$"):
        check_size_and_seed("gen", 8, 8, 0)
    with pytest.raises(ValueError, match="^gen: n must be an integer >= 8, got 4$"):
        check_size_and_seed("gen", 4, 64, 0)
    with pytest.raises(ValueError, match="^gen: seed must be an integer, got True$"):
        check_size_and_seed("gen", 8, 64, True)
    check_split_fractions("gen", {"train": 0.5, "test": 0.5})
    for bad, named in [({}, "mapping"), ({"dev": 1.0}, "unknown split"), ({"train": "x"}, "numbers")]:
        with pytest.raises(ValueError, match=named):
            check_split_fractions("gen", bad)


def test_reader_options_without_effect_are_named():
    def views(v):
        return "all one view"

    common = dict(split_seed=None, label_policy=None, views=None, load_images=True, on_bad="raise", progress=True)
    assert check_reader_options("gen", ["A"], **common, cache_dir=None, check_views=views) == {}
    notes = check_reader_options(
        "gen",
        ["A"],
        **{**common, "views": ["X"], "on_bad": "skip", "load_images": False},
        cache_dir=None,
        check_views=views,
    )
    assert list(notes) == ["views", "load_images", "on_bad"] and notes["on_bad"] == "gen has no bad rows to skip"
    for option, bad in [("split_seed", 1.5), ("split_seed", True), ("on_bad", "ignore"), ("progress", "yes")]:
        with pytest.raises(ValueError, match=f"gen: {option}"):
            check_reader_options("gen", ["A"], **{**common, option: bad}, cache_dir=None, check_views=views)
    with pytest.raises(ValueError, match="cache_dir"):
        check_reader_options("gen", ["A"], **common, cache_dir=3, check_views=views)
