import numpy as np
import pandas as pd
import pytest

from cxrlib.data.dataset import CXRDataset, empty_boxes
from cxrlib.defer import DEFER_FRACTIONS, DEFER_SPLITS, defer_splits


def _dataset(n_patients=40, per=3, unlabelled=(0, 5)):
    n = n_patients * per
    labels = np.random.default_rng(0).integers(0, 2, (n, 2)).astype(float)
    labels[list(unlabelled)] = np.nan  # images without any known label
    table = pd.DataFrame(
        {
            "image": [f"img{i}" for i in range(n)],
            "patient_id": [f"p{i // per}" for i in range(n)],
            "study_id": [f"s{i}" for i in range(n)],
            "view": "PA",
            "split": "train",
            "A": labels[:, 0],
            "B": labels[:, 1],
        }
    )
    return CXRDataset("hand", ["A", "B"], table, empty_boxes(), np.zeros((n, 8, 8), np.uint8))


def _patients(splits, name):
    return set(getattr(splits, name).table["patient_id"])


def test_no_patient_in_two_of_the_four_splits():
    splits = defer_splits(_dataset(), seed=3)
    for i, a in enumerate(DEFER_SPLITS):
        for b in DEFER_SPLITS[i + 1 :]:
            assert not _patients(splits, a) & _patients(splits, b), (a, b)
        assert (getattr(splits, a).table["split"] == a).all()
    # every patient's images stay together, and the shares follow the fractions (of 40 patients)
    assert [len(_patients(splits, s)) for s in DEFER_SPLITS] == [20, 8, 6, 6]
    assert splits.dropped == 2 and sum(splits.sizes().values()) == 118
    assert not splits.table()["image"].isin(["img0", "img5"]).any()


def test_splits_of_synthcxr_with_several_studies_per_patient(synth):
    splits = defer_splits(synth, seed=1)
    table = splits.table()
    assert table.groupby("patient_id")["split"].nunique().max() == 1
    assert table["patient_id"].duplicated().any()  # patients with two images each were kept together
    assert set(table["split"]) == set(DEFER_SPLITS)
    assert splits.dropped == int(np.isnan(synth.labels).all(1).sum())


def test_split_is_deterministic_and_ignores_the_source_split():
    a, b = defer_splits(_dataset(), seed=5), defer_splits(_dataset(), seed=5)
    assert a.table()["image"].tolist() == b.table()["image"].tolist()
    assert defer_splits(_dataset(), seed=6).table()["image"].tolist() != a.table()["image"].tolist()


def test_bad_fractions_and_unlabelled_data():
    with pytest.raises(ValueError, match="must name the splits"):
        defer_splits(_dataset(), {"train": 0.7, "val": 0.15, "test": 0.15})
    with pytest.raises(ValueError, match="sum to 1"):
        defer_splits(_dataset(), dict(zip(DEFER_SPLITS, (0.5, 0.2, 0.2, 0.2), strict=True)))
    with pytest.raises(ValueError, match="would be empty"):
        defer_splits(_dataset(n_patients=3, unlabelled=()), DEFER_FRACTIONS)
    with pytest.raises(ValueError, match="no image has a known label"):
        defer_splits(_dataset(n_patients=2, per=1, unlabelled=(0, 1)))
