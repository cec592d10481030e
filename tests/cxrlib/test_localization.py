"""The thesis's IoBB-or-IoU hit rate (Table 5.2's measure) on maps built by hand."""

import numpy as np
import pandas as pd
import pytest

from cxrlib.localization import iobb_or_iou_hits


def _logit_map(size: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """Logits high (+8) inside ``box`` (x, y, w, h) and low (−8) elsewhere, at full resolution."""
    m = np.full((size, size), -8.0)
    x, y, w, h = box
    m[y : y + h, x : x + w] = 8.0
    return m


def test_hits_by_iobb_or_iou_and_misses_by_neither():
    size = 32
    truth = pd.DataFrame(
        [
            {"image": "a", "class": "Nodule", "x": 8, "y": 8, "w": 8, "h": 8},  # the map is exactly the box
            {"image": "b", "class": "Nodule", "x": 0, "y": 0, "w": 24, "h": 24},  # a small blob inside: IoBB 1
            {"image": "c", "class": "Nodule", "x": 8, "y": 8, "w": 4, "h": 4},  # a big blob around: both small
            {"image": "c", "class": "Mass", "x": 20, "y": 20, "w": 8, "h": 8},  # a blob elsewhere: 0
        ]
    )
    maps = np.stack(
        [
            np.stack([_logit_map(size, (8, 8, 8, 8)), _logit_map(size, (0, 0, 1, 1))]),
            np.stack([_logit_map(size, (4, 4, 4, 4)), _logit_map(size, (0, 0, 1, 1))]),
            np.stack([_logit_map(size, (0, 0, 24, 24)), _logit_map(size, (0, 0, 6, 6))]),
        ]
    )
    out = iobb_or_iou_hits(maps, truth, ["a", "b", "c"], ["Nodule", "Mass"], (size, size)).set_index(["image", "class"])
    assert out.loc[("a", "Nodule"), "iou"] == pytest.approx(1.0) and out.loc[("a", "Nodule"), "hit"]
    assert out.loc[("b", "Nodule"), "iobb"] == pytest.approx(1.0) and out.loc[("b", "Nodule"), "iou"] < 0.5
    assert out.loc[("b", "Nodule"), "hit"]  # IoBB alone is enough
    assert out.loc[("c", "Nodule"), "iobb"] == pytest.approx(16 / 576) and not out.loc[("c", "Nodule"), "hit"]
    assert out.loc[("c", "Mass"), "iobb"] == 0.0 and not out.loc[("c", "Mass"), "hit"]


def test_the_truth_is_the_union_of_a_class_s_boxes_in_the_image():
    size = 16
    maps = _logit_map(size, (0, 0, 16, 8))[None, None]
    truth = pd.DataFrame(
        [
            {"image": "a", "class": "Effusion", "x": 0, "y": 0, "w": 8, "h": 8},
            {"image": "a", "class": "Effusion", "x": 8, "y": 0, "w": 8, "h": 8},
        ]
    )
    out = iobb_or_iou_hits(maps, truth, ["a"], ["Effusion"], (size, size))
    assert len(out) == 1 and out.loc[0, "iou"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="lack column"):
        iobb_or_iou_hits(maps, truth.drop(columns="w"), ["a"], ["Effusion"], (size, size))
