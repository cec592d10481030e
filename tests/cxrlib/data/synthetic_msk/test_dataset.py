import time

import numpy as np
import pytest
import torch

from cxrlib.data import MSK_CLASSES, check_patient_leakage, open_dataset
from cxrlib.data.classes import MURA_BODY_PARTS
from cxrlib.data.synthetic_msk import SynthMSKConfig, render_synth_msk, sample_parameters


@pytest.fixture(scope="module")
def msk(cache_dir):
    return open_dataset("synth-msk", n=140, image_size=64, seed=5, progress=False, cache_dir=cache_dir)


def test_contract_classes_and_columns_are_mura_like(msk):
    assert msk.classes == MSK_CLASSES == MURA_BODY_PARTS
    item = msk[3]
    K = len(msk.classes)
    assert item["image"].shape == (1, 64, 64) and item["image"].dtype == torch.float32
    assert 0.0 <= float(item["image"].min()) and float(item["image"].max()) <= 1.0
    assert item["labels"].shape == (K,) and float(item["labels"].sum()) == 1.0
    assert item["masks"].shape == (K, 64, 64) and item["masks"].dtype == torch.bool
    k = int(item["labels"].argmax())
    assert torch.equal(item["masks"][k], item["bone_mask"]) and item["bone_mask"].any()
    assert not item["masks"][[j for j in range(K) if j != k]].any()  # the bones only in the class channel
    assert item["abnormality_mask"].shape == (64, 64)
    for col in ["image", "patient_id", "study_id", "view", "split", "body_part", "abnormal", "finding", "cast"]:
        assert col in msk.table.columns
    assert msk.table["view"].isna().all()  # as MURA: no view position
    assert (msk.table["body_part"] == np.array(MSK_CLASSES)[msk.labels.argmax(1)]).all()
    assert not np.isnan(msk.labels).any() and (msk.labels.sum(1) == 1).all()
    assert list(msk.boxes.columns) == ["image", "class", "x", "y", "w", "h", "reader"] and len(msk.boxes) == len(msk)
    assert len(msk.truth_boxes()) == len(msk)
    for key in ("config", "task", "class_counts", "abnormal_counts", "parameters", "cache", "options_without_effect"):
        assert key in msk.info


def test_balanced_patient_level_splits_and_abnormalities(msk):
    counts = msk.table["body_part"].value_counts()
    assert set(counts.index) == set(MSK_CLASSES) and counts.max() - counts.min() <= 2
    check_patient_leakage(msk.table)
    per_patient = msk.table.groupby("patient_id")
    assert (per_patient["body_part"].nunique() == 1).all() and (per_patient.size() == 2).all()
    assert (per_patient["abnormal"].nunique() == 1).all() and set(msk.table["split"]) == {"train", "val", "test"}
    abnormal = msk.table["abnormal"].to_numpy() == 1
    assert 0.2 < abnormal.mean() < 0.6
    assert set(msk.table.loc[abnormal, "finding"]) <= {"fracture", "hardware"}
    assert (msk.table.loc[~abnormal, "finding"] == "none").all()
    has_site = np.array([bool(msk[i]["abnormality_mask"].any()) for i in range(len(msk))])
    assert (has_site == abnormal).all()  # every abnormal image shows its fracture site or metal, no normal one


def test_deterministic_by_seed_and_size_independent_layout(cache_dir, tmp_path):
    a = open_dataset("synth-msk", n=14, image_size=64, seed=11, progress=False, cache_dir=cache_dir)
    b = open_dataset("synth-msk", n=14, image_size=64, seed=11, progress=False, cache_dir=tmp_path)  # rebuilt
    c = open_dataset("synth-msk", n=14, image_size=64, seed=12, progress=False, cache_dir=tmp_path)
    assert torch.equal(a[5]["image"], b[5]["image"]) and a.info["cache"] != b.info["cache"]
    assert not torch.equal(a[5]["image"], c[5]["image"])
    assert (
        open_dataset("synth-msk", n=14, image_size=64, seed=11, progress=False, cache_dir=cache_dir).info["cache"]
        == a.info["cache"]
    )
    big = open_dataset("synth-msk", n=14, image_size=128, seed=11, progress=False, cache_dir=tmp_path)
    small_boxes, big_boxes = a.boxes[["x", "y", "w", "h"]].to_numpy(), big.boxes[["x", "y", "w", "h"]].to_numpy()
    assert np.abs(big_boxes - 2 * small_boxes).max() <= 3  # the same bones, twice the pixels
    # an image does not depend on the batch it is rendered in
    params = sample_parameters(SynthMSKConfig(n=14, image_size=64, seed=11))
    alone, _, _ = render_synth_msk(params, np.array([5]), 64, 11)
    batch, _, _ = render_synth_msk(params, np.arange(14), 64, 11)
    assert torch.allclose(alone[0], batch[5], atol=1e-5)


def test_abnormality_task_and_class_subsets(cache_dir):
    ab = open_dataset("synth-msk", n=28, seed=2, task="abnormality", progress=False, cache_dir=cache_dir)
    assert ab.classes == ["Abnormal"] and (ab.table["Abnormal"] == ab.table["abnormal"]).all()
    assert set(ab.table["body_part"]) == set(MSK_CLASSES)
    item = ab[int(np.flatnonzero(ab.labels[:, 0] == 1)[0])]
    assert item["masks"].shape == (1, 64, 64) and torch.equal(item["masks"][0], item["abnormality_mask"])
    two = open_dataset("synth-msk", n=16, seed=2, classes=["XR_WRIST", "XR_HAND"], progress=False, cache_dir=cache_dir)
    assert two.classes == ["XR_WRIST", "XR_HAND"] and set(two.table["body_part"]) == {"XR_WRIST", "XR_HAND"}
    assert (two.labels.argmax(1) == (two.table["body_part"] == "XR_HAND").to_numpy()).all()


def test_generation_is_fast(tmp_path):
    t0 = time.perf_counter()
    ds = open_dataset("synth-msk", n=1000, image_size=64, seed=0, progress=False, cache_dir=tmp_path)
    seconds = time.perf_counter() - t0
    assert len(ds) == 1000 and seconds < 20, seconds  # about 3 s on one CPU thread


@pytest.mark.parametrize(
    "options, match",
    [
        ({"n": 4}, "n must be"),
        ({"image_size": 8}, "image_size"),
        ({"task": "fracture"}, "task must be"),
        ({"classes": "chexpert5"}, "chest presets"),
        ({"classes": ["XR_KNEE"]}, "unknown class"),
        ({"classes": ["XR_HAND", "XR_HAND"]}, "repeats"),
        ({"classes": []}, "empty"),
        ({"task": "abnormality", "classes": ["XR_HAND"]}, "unknown class"),
        ({"abnormal_rate": 1.5}, "abnormal_rate"),
        ({"cast_rate": -0.1}, "cast_rate"),
        ({"images_per_patient": 0}, "images_per_patient"),
        ({"split_fractions": {"train": 0.5, "val": 0.1}}, "sum to 1"),
        ({"split_fractions": {"train": 0.9, "dev": 0.1}}, "unknown split"),
        ({"views": ["AP"]}, "views must be None"),
        ({"label_policy": "no-such-policy"}, "unknown uncertain-label policy"),
        ({"on_bad": "ignore"}, "on_bad"),
        ({"split_seed": 1.5}, "split_seed"),
        ({"progress": "yes"}, "progress"),
    ],
)
def test_bad_options_raise_value_errors(options, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        open_dataset("synth-msk", **{"n": 16, "progress": False, "cache_dir": tmp_path, **options})
    with pytest.raises(ValueError, match="takes no root"):
        open_dataset("synth-msk", root=tmp_path)
