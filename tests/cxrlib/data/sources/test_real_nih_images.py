"""The NIH reader on the 21 real NIH images shipped in cxrlib/data/samples/nih (NIH Clinical Center data,
downsized to 512 px); the RGBA quirk of NIH's originals on the 1024-px original in tests/data/nih (the
shipped copies are grey)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cxrlib.data import nih_sample_root, open_dataset
from cxrlib.data.sources.nih import NIH_CLASSES

ROOT = nih_sample_root()
ORIGINALS = Path(__file__).resolve().parents[3] / "data" / "nih"  # one 1024-px RGBA original


@pytest.fixture(scope="module")
def nih(tmp_path_factory):
    return open_dataset("nih", root=ROOT, image_size=128, cache_dir=tmp_path_factory.mktemp("cache"), progress=False)


def test_the_21_images_with_their_rows(nih):
    subset = pd.read_csv(ROOT / "Data_Entry_2017_v2020.csv", index_col=False)
    assert len(nih) == 21 and set(nih.table["image"]) == set(subset["Image Index"])
    t = nih.table.set_index("image")
    for _, row in subset.iterrows():
        found = set(row["Finding Labels"].split("|")) - {"No Finding"}
        assert {c for c in NIH_CLASSES if t.loc[row["Image Index"], c] == 1} == found
        assert t.loc[row["Image Index"], "view"] == row["View Position"]
        assert t.loc[row["Image Index"], "age"] == row["Patient Age"]
    test = set((ROOT / "test_list.txt").read_text().split())
    assert {i for i in t.index if t.loc[i, "split"] == "test"} == test & set(t.index)
    assert (t["split"] == "test").sum() == 15 and t["split"].isin(["train", "val"]).sum() == 6


def test_boxes_of_the_real_images(nih):
    listed = pd.read_csv(ROOT / "BBox_List_2017.csv", usecols=range(6), index_col=False)
    listed.columns = ["image", "label", "x", "y", "w", "h"]
    listed = listed[listed["image"].isin(set(nih.table["image"]))]
    assert len(nih.boxes) == len(listed) == 12 and nih.boxes["image"].nunique() == 12
    merged = nih.boxes.merge(listed, on="image")
    assert np.allclose(merged[["x_x", "y_x", "w_x", "h_x"]].to_numpy(), merged[["x_y", "y_y", "w_y", "h_y"]].to_numpy())
    assert set(nih.boxes["class"]) == {"Atelectasis", "Cardiomegaly", "Infiltration", "Mass", "Nodule", "Pneumonia"}
    scaled = nih.boxes_in_array_pixels().set_index("image")
    assert scaled.loc["00001369_000.png", "x"] == pytest.approx(
        listed.set_index("image").loc["00001369_000.png", "x"] / 8
    )


def test_rgba_images_decode_to_their_grey_value(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("test_samples", Path(__file__).parents[1] / "test_samples.py")
    samples = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(samples)
    nih = open_dataset(
        "nih", root=samples.original_root(tmp_path / "nih"), image_size=128, cache_dir=tmp_path, progress=False
    )
    name = "00001369_000.png"
    with Image.open(ORIGINALS / "images" / name) as img:
        assert img.mode == "RGBA"
        red = np.asarray(img)[..., 0].astype(float) / 255
    small = np.asarray(Image.fromarray(red.astype(np.float32)).resize((128, 128), Image.Resampling.BILINEAR))
    ours = nih[int(np.flatnonzero(nih.table["image"] == name)[0])]["image"][0].numpy()
    assert np.abs(ours - small).max() < 1 / 255 + 1e-6
