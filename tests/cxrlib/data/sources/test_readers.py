"""Each reader on a fixture in its dataset's exact format; label matrices checked cell by cell."""

import numpy as np
import pandas as pd
import pytest
import torch

from cxrlib.data import open_dataset

nan = np.nan


def _labels(ds, key_col="image"):
    return ds.table.set_index(key_col)[ds.classes]


def _eq(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.array_equal(np.isnan(a), np.isnan(b)) and np.array_equal(a[~np.isnan(a)], b[~np.isnan(b)])


def test_chexpert_fixture(chexpert_root, tmp_path):
    ds = open_dataset(
        "chexpert",
        root=chexpert_root,
        classes="competition",
        label_policy="sharma2023",
        image_size=32,
        cache_dir=tmp_path,
        progress=False,
    )
    lab = _labels(ds)
    p2 = "CheXpert-v1.0-small/train/patient00002/study2/view1_frontal.jpg"
    # Atelectasis -1 → 0 ; Cardiomegaly -1 → 1 ; Consolidation -1 → 0 ; Edema -1 → 1 ; Effusion -1 → 0
    assert _eq(lab.loc[p2], [0.0, 1.0, 0.0, 1.0, 0.0])
    p1 = "CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg"
    assert _eq(lab.loc[p1], [nan, nan, nan, nan, nan])  # blanks stay unknown
    p3 = "CheXpert-v1.0-small/train/patient00003/study1/view1_frontal.jpg"
    assert _eq(lab.loc[p3], [1.0, 1.0, nan, 0.0, 0.0])
    t = ds.table.set_index("image")
    assert t.loc["CheXpert-v1.0-small/train/patient00002/study2/view2_lateral.jpg", "view"] == "LATERAL"
    assert t.loc[p2, "view"] == "AP" and t.loc[p2, "patient_id"] == "patient00002"
    assert t.loc[p2, "study_id"] == "patient00002/study2"
    assert t.loc["CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg", "split"] == "test"
    assert set(ds.table["split"]) == {"train", "val", "test"}
    item = ds[0]
    assert item["image"].shape == (1, 32, 32) and abs(float(item["image"].mean()) - 100 / 255) < 0.02
    ignore = open_dataset(
        "chexpert", root=chexpert_root, classes="competition", label_policy="ignore", load_images=False
    )
    assert _eq(_labels(ignore).loc[p2], [nan, nan, nan, nan, nan])
    libauc = open_dataset(
        "chexpert", root=chexpert_root, classes="competition", label_policy="libauc", load_images=False
    )
    assert _eq(_labels(libauc).loc[p2], [1.0, 0.0, 0.0, 1.0, 0.0])


def test_chexpert_frontal_filter_is_reported(chexpert_root):
    ds = open_dataset("chexpert", root=chexpert_root, frontal_only=True, load_images=False)
    assert (ds.table["view"] != "LATERAL").all()
    report = ds.info["filters"][0]
    assert report["filter"] == "frontal only" and report["dropped"] == 1
    assert report["dropped_by_frontal_lateral"] == {"Lateral": 1}


def test_mimic_fixture(mimic_root, tmp_path):
    ds = open_dataset(
        "mimic",
        root=mimic_root,
        classes=["Atelectasis", "Cardiomegaly", "Pneumothorax", "No Finding"],
        label_policy="ignore",
        image_size=32,
        cache_dir=tmp_path,
        progress=False,
    )
    t = ds.table.set_index("image")
    first = "files/p10/p10000032/s50414267/00000000-00000000-11111111-22222222-33333333.jpg"
    assert _eq(t.loc[first, ds.classes], [nan, nan, nan, 1.0])
    second = "files/p10/p10000032/s50414267/00000001-00000001-11111111-22222222-33333333.jpg"
    assert _eq(t.loc[second, ds.classes], [nan, nan, nan, 1.0])  # study-level labels shared by its images
    assert t.loc[second, "view"] == "LATERAL"
    third = "files/p10/p10000032/s53189527/00000002-00000002-11111111-22222222-33333333.jpg"
    assert _eq(t.loc[third, ds.classes], [1.0, nan, nan, nan])
    fourth = t.index[t["study_id"] == "51000001"][0]
    assert t.loc[fourth, "view"] is None or pd.isna(t.loc[fourth, "view"])  # blank ViewPosition
    assert t.loc[fourth, "split"] == "val"  # "validate"
    assert ds.info["images_without_label_row"] == 1  # study 59999999 has no chexpert row
    assert t.loc[t.index[t["study_id"] == "59999999"][0], ds.classes].isna().all()
    assert t.loc[first, "original_height"] == 3056
    frontal = open_dataset("mimic", root=mimic_root, views=["PA", "AP"], load_images=False)
    assert frontal.info["filters"][0]["dropped_by_view"] == {"LATERAL": 1, "(blank)": 1}
    strict = open_dataset(
        "mimic",
        root=mimic_root,
        classes=["Atelectasis", "Pleural Effusion", "Pneumothorax"],
        drop_only_uncertain=True,
        load_images=False,
    )
    assert "51000001" not in set(strict.table["study_id"])  # only -1 labels
    assert len(ds[0]["image"][0]) == 32


def test_nih_fixture(nih_root, tmp_path):
    ds = open_dataset("nih", root=nih_root, image_size=64, cache_dir=tmp_path, progress=False)
    lab = _labels(ds)
    assert lab.loc["00000003_000.png", "Mass"] == 1 and lab.loc["00000003_000.png", "Atelectasis"] == 1
    assert lab.loc["00000003_000.png"].sum() == 2
    assert lab.loc["00000002_000.png"].sum() == 0  # No Finding
    assert lab.loc["00000001_001.png", ["Cardiomegaly", "Emphysema"]].tolist() == [1.0, 1.0]
    t = ds.table.set_index("image")
    assert t.loc["00000003_000.png", "patient_id"] == "00000003" and t.loc["00000003_000.png", "follow_up"] == 7
    assert t.loc["00000003_000.png", "split"] == "test" and t.loc["00000003_000.png", "view"] == "AP"
    assert set(t.loc[["00000001_000.png", "00000001_001.png"], "split"]) <= {"train", "val"}
    boxes = ds.boxes.set_index("class")
    assert boxes.loc["Infiltration", "image"] == "00000004_000.png"  # "Infiltrate" mapped
    scaled = ds.boxes_in_array_pixels().set_index("class")
    assert scaled.loc["Mass", ["x", "y", "w", "h"]].tolist() == pytest.approx(
        [100.5 / 16, 200.25 / 16, 300 / 16, 150 / 16]
    )
    # RGBA converts to one channel, 16-bit is scaled by 65535
    rgba = ds[int(np.flatnonzero(ds.table["image"] == "00000001_000.png")[0])]["image"]
    sixteen = ds[int(np.flatnonzero(ds.table["image"] == "00000002_000.png")[0])]["image"]
    assert rgba.shape == (1, 64, 64) and abs(float(rgba[0, -1, 0]) - 128 / 255) < 0.01
    assert abs(float(rgba[0, 0, 0]) - 127 / 255) < 0.01
    assert abs(float(sixteen[0, -1, 0]) - 128 / 255) < 0.01


def test_nih_2017_variant_with_padded_ids_and_y_ages(nih_root):
    text = (
        "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
        "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],\n"
        "00000001_000.png,Cardiomegaly,000,00000001,058Y,M,PA,2682,2749,0.143,0.143\n"
        "00000002_000.png,No Finding,000,00000002,081Y,M,PA,2500,2048,0.171,0.171\n"
    )
    (nih_root / "Data_Entry_2017_v2020.csv").unlink()
    (nih_root / "Data_Entry_2017.csv").write_text(text)
    ds = open_dataset("nih", root=nih_root, load_images=False, val_fraction=0.0)
    t = ds.table.set_index("image")
    assert t.loc["00000001_000.png", "age"] == 58 and t.loc["00000001_000.png", "patient_id"] == "00000001"
    assert t.loc["00000002_000.png", "sex"] == "M"


def test_vindr_fixture(vindr_root, tmp_path):
    ds = open_dataset("vindr", root=vindr_root, image_size=32, cache_dir=tmp_path, progress=False)
    lab = _labels(ds)
    a, b, c = (f"{i:032x}" for i in (0xA, 0xB, 0xC))
    assert lab.loc[a].sum() == 0
    assert lab.loc[b, "Cardiomegaly"] == 1 and lab.loc[b, "Nodule/Mass"] == 1 and lab.loc[b].sum() == 2
    assert lab.loc[c, "Pleural effusion"] == 1 and lab.loc[c, "Aortic enlargement"] == 1
    maj = _labels(open_dataset("vindr", root=vindr_root, label_rule="majority", load_images=False))
    assert maj.loc[b, "Cardiomegaly"] == 1 and maj.loc[b, "Nodule/Mass"] == 0 and maj.loc[c, "Aortic enlargement"] == 0
    bx = ds.boxes[(ds.boxes["image"] == b) & (ds.boxes["class"] == "Cardiomegaly")].set_index("reader")
    assert bx.loc["R10", ["x", "y", "w", "h"]].tolist() == [6.0, 10.0, 12.0, 6.0]  # corners → x, y, w, h
    assert sorted(bx.index) == ["R10", "R9"]
    t = ds.table.set_index("image")
    assert (t.loc[a, "original_height"], t.loc[a, "original_width"]) == (20, 24)
    img_a = ds[int(np.flatnonzero(ds.table["image"] == a)[0])]["image"][0]
    img_b = ds[int(np.flatnonzero(ds.table["image"] == b)[0])]["image"][0]
    # MONOCHROME1: the top half (maximum raw value) is dark after inversion; MONOCHROME2: bright
    assert img_a[:8].mean() < 0.1 and img_a[-8:].mean() > 0.9
    assert img_b[:8].mean() > 0.9 and img_b[-8:].mean() < 0.1
    assert ds.info["images_with_no_finding_and_finding"] == 1


def test_mura_fixture(mura_root, tmp_path):
    ds = open_dataset("mura", root=mura_root, image_size=32, cache_dir=tmp_path, progress=False)
    lab = _labels(ds)
    shoulder = "MURA-v1.1/train/XR_SHOULDER/patient00001/study1_positive/image2.png"
    assert lab.loc[shoulder, "XR_SHOULDER"] == 1 and lab.loc[shoulder].sum() == 1
    t = ds.table.set_index("image")
    assert t.loc[shoulder, "abnormal"] == 1 and t.loc[shoulder, "patient_id"] == "patient00001"
    assert t.loc["MURA-v1.1/valid/XR_ELBOW/patient11185/study1_positive/image1.png", "split"] == "test"
    ab = open_dataset("mura", root=mura_root / "MURA-v1.1", task="abnormality", load_images=False)
    assert ab.classes == ["Abnormal"]
    assert (
        ab.table.set_index("image").loc[
            "MURA-v1.1/train/XR_HUMERUS/patient00002/study1_negative/image1.png", "Abnormal"
        ]
        == 0
    )
    assert ds[0]["image"].shape == (1, 32, 32)


def test_decode_once_cache_is_reused(nih_root, tmp_path):
    a = open_dataset("nih", root=nih_root, image_size=32, cache_dir=tmp_path, progress=False)
    b = open_dataset("nih", root=nih_root, image_size=32, cache_dir=tmp_path, progress=False)
    assert a.info["cache"] == b.info["cache"] and torch.equal(a[3]["image"], b[3]["image"])
    with pytest.raises(RuntimeError, match="load_images=False"):
        open_dataset("nih", root=nih_root, load_images=False)[0]


def test_the_reader_decodes_in_parallel_to_the_bytes_of_one_worker(nih_root, tmp_path):
    one = open_dataset("nih", root=nih_root, image_size=32, cache_dir=tmp_path / "a", workers=1, progress=False)
    two = open_dataset("nih", root=nih_root, image_size=32, cache_dir=tmp_path / "b", workers=2, progress=False)
    assert len(one) == len(two) and all(torch.equal(one[i]["image"], two[i]["image"]) for i in range(len(one)))
    assert one.info["cache_build"]["workers"] == 1 and two.info["cache_build"]["workers"] == 2
    assert two.info["cache_build"]["images_decoded"] == len(two.table) and two.info["options"]["workers"] == 2
