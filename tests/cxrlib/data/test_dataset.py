import numpy as np
import pandas as pd
import pytest
import torch

from cxrlib.data import CXRDataset


def test_subset_and_take_keep_rows_aligned(synth):
    test = synth.subset("test")
    assert set(test.table["split"]) == {"test"}
    key = test.table.loc[0, "image"]
    full_pos = int(np.flatnonzero(synth.table["image"] == key)[0])
    assert torch.equal(test[0]["image"], synth[full_pos]["image"])
    assert torch.equal(test[0]["masks"], synth[full_pos]["masks"])
    assert set(test.boxes["image"]) <= set(test.table["image"])


def test_empty_split_and_index_errors(synth):
    with pytest.raises(ValueError, match=r"split \['holdout'\] is empty"):
        synth.subset("holdout")
    with pytest.raises(IndexError, match="out of range"):
        synth[len(synth)]


def test_boxes_scale_to_array_size():
    table = pd.DataFrame(
        {
            "image": ["a.png"],
            "patient_id": ["p"],
            "study_id": ["s"],
            "view": ["PA"],
            "split": ["train"],
            "X": [1.0],
            "original_height": [1024],
            "original_width": [512],
        }
    )
    boxes = pd.DataFrame(
        {"image": ["a.png"], "class": ["X"], "x": [100.0], "y": [512.0], "w": [50.0], "h": [256.0], "reader": ["truth"]}
    )
    ds = CXRDataset("t", ["X"], table, boxes, np.zeros((1, 256, 256), np.uint8))
    b = ds.boxes_in_array_pixels().iloc[0]
    assert (b.x, b.y, b.w, b.h) == (50.0, 128.0, 25.0, 64.0)


def _boxed(info):
    table = pd.DataFrame(
        {
            "image": ["a.png", "b.png"],
            "patient_id": ["p", "q"],
            "study_id": ["s", "t"],
            "view": ["PA", "PA"],
            "split": ["train", "test"],
            "X": [1.0, 1.0],
            "original_height": [64, 64],
            "original_width": [64, 64],
        }
    )
    boxes = pd.DataFrame(
        {
            "image": ["a.png", "a.png", "b.png"],
            "class": ["X", "X", "X"],
            "x": [8.0, 16.0, 0.0],
            "y": [8.0, 16.0, 0.0],
            "w": [8.0, 8.0, 32.0],
            "h": [8.0, 8.0, 32.0],
            "reader": ["truth", "reader_0", "R1"],
        }
    )
    return CXRDataset("t", ["X"], table, boxes, np.zeros((2, 32, 32), np.uint8), info=info)


def test_truth_boxes_follow_the_sources_rule_in_array_pixels():
    default = _boxed(None).truth_boxes()  # a source that does not say: reader "truth" (SynthCXR)
    assert default["reader"].tolist() == ["truth"] and default[["x", "y", "w", "h"]].iloc[0].tolist() == [4, 4, 4, 4]
    assert len(_boxed({"truth_readers": "all"}).truth_boxes()) == 3
    assert _boxed({"truth_readers": ["R1"]}).truth_boxes()["image"].tolist() == ["b.png"]
    assert _boxed({"truth_readers": []}).truth_boxes().empty
    assert _boxed({"truth_readers": "all"}).subset("test").truth_boxes()["reader"].tolist() == ["R1"]
    with pytest.raises(ValueError, match="truth_readers"):
        _boxed({"truth_readers": "most"}).truth_boxes()


def test_has_masks(synth):
    assert synth.has_masks and not _boxed(None).has_masks
