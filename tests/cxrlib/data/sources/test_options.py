"""One option schema for every reader; class presets, label-policy presets and truth boxes per source."""

import inspect

import numpy as np
import pytest

from cxrlib.data import available_sources, open_dataset
from cxrlib.data.registry import _SOURCES
from cxrlib.data.sources.common import COMMON_OPTIONS

REAL = {
    "chexpert": "chexpert_root",
    "mimic": "mimic_root",
    "nih": "nih_root",
    "vindr": "vindr_root",
    "mura": "mura_root",
}


def test_every_real_source_is_covered_and_takes_the_common_options():
    needs_root = {name for name in available_sources() if _SOURCES[name][1]}
    assert needs_root == set(REAL)
    generated = set(available_sources()) - needs_root
    assert generated == {"synth-cxr", "synth-cmr", "synth-msk"}
    for name in [*REAL, *sorted(generated - {"synth-cxr"})]:  # the other generators take them too
        params = inspect.signature(_SOURCES[name][0]).parameters
        missing = [o for o in COMMON_OPTIONS if o not in params]
        assert not missing, f"{name} lacks {missing}"


@pytest.mark.parametrize("source", sorted(REAL))
def test_every_reader_accepts_every_common_option(source, request, tmp_path):
    root = request.getfixturevalue(REAL[source])
    ds = open_dataset(
        source,
        root=root,
        image_size=32,
        classes="all",
        label_policy="sharma2023",
        views=None,
        seed=1,
        load_images=False,
        on_bad="raise",
        cache_dir=tmp_path,
        progress=False,
    )
    assert ds.info["options"]["seed"] == 1 and ds.info["options"]["classes"] == ds.classes
    without = ds.info["options_without_effect"]
    assert "image_size" in without and "cache_dir" in without  # load_images=False reads no pixel
    if source in ("nih", "vindr", "mura"):
        assert "no uncertain labels" in without["label_policy"]
    else:
        assert "label_policy" not in without
    assert ("seed" in without) == (source == "mimic")  # MIMIC's official split draws nothing


@pytest.mark.parametrize("source", sorted(REAL))
def test_impossible_or_mistyped_options_raise(source, request):
    root = request.getfixturevalue(REAL[source])
    with pytest.raises(ValueError, match="unknown uncertain-label policy 'sometimes'"):
        open_dataset(source, root=root, label_policy="sometimes", load_images=False)
    with pytest.raises(ValueError, match="image_size must be an integer"):
        open_dataset(source, root=root, image_size=8, load_images=False)
    with pytest.raises(ValueError, match="unknown class preset 'competiton'"):
        open_dataset(source, root=root, classes="competiton", load_images=False)
    with pytest.raises(ValueError, match="on_bad"):
        open_dataset(source, root=root, on_bad="ignore", load_images=False)


def test_mura_has_no_views_and_no_chest_presets(mura_root):
    with pytest.raises(ValueError, match="records no view position"):
        open_dataset("mura", root=mura_root, views=["PA"], load_images=False)
    with pytest.raises(ValueError, match="musculoskeletal"):
        open_dataset("mura", root=mura_root, classes="chexpert5", load_images=False)
    ds = open_dataset("mura", root=mura_root, classes=["XR_WRIST", "XR_HAND"], load_images=False)
    assert ds.classes == ["XR_WRIST", "XR_HAND"]
    assert open_dataset("mura", root=mura_root, task="abnormality", classes="all", load_images=False).classes == [
        "Abnormal"
    ]


def test_mimic_competition_is_the_five_not_its_letters(mimic_root):
    ds = open_dataset("mimic", root=mimic_root, classes="competition", load_images=False)
    assert ds.classes == ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"]


def test_chexpert_sharma2023_on_a_subset_without_its_named_classes(chexpert_root):
    ds = open_dataset(
        "chexpert",
        root=chexpert_root,
        classes=["Atelectasis", "Pleural Effusion"],
        label_policy="sharma2023",
        load_images=False,
    )
    p2 = "CheXpert-v1.0-small/train/patient00002/study2/view1_frontal.jpg"
    assert ds.table.set_index("image").loc[p2, ["Atelectasis", "Pleural Effusion"]].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="names unknown classes"):
        open_dataset(
            "chexpert", root=chexpert_root, classes=["Atelectasis"], label_policy={"Edema": "ones"}, load_images=False
        )


def test_nih_takes_classes_and_a_label_policy(nih_root):
    ds = open_dataset("nih", root=nih_root, classes="chexpert5", label_policy="sharma2023", load_images=False)
    assert ds.classes == ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion"]
    assert "Mass" not in ds.table.columns
    assert set(ds.boxes["class"]) == {"Atelectasis"}  # Mass and Infiltration boxes go with their classes
    assert ds.info["options_without_effect"]["label_policy"] == "nih has no uncertain labels"
    with pytest.raises(ValueError, match=r"names unknown classes \['Pleural Effusion'\]"):
        open_dataset(
            "nih", root=nih_root, classes="chexpert5", label_policy={"Pleural Effusion": "ones"}, load_images=False
        )


def test_vindr_majority_keeps_no_box_of_a_class_it_labels_0(vindr_root):
    b, c = f"{0xB:032x}", f"{0xC:032x}"
    union = open_dataset("vindr", root=vindr_root, load_images=False)
    majority = open_dataset("vindr", root=vindr_root, label_rule="majority", load_images=False)
    lone = {(b, "Nodule/Mass"), (c, "Aortic enlargement")}  # marked by one reader each
    assert lone <= set(zip(union.boxes["image"], union.boxes["class"]))
    assert not lone & set(zip(majority.boxes["image"], majority.boxes["class"]))
    assert majority.info["boxes_dropped_by_label_rule"] == 2 and union.info["boxes_dropped_by_label_rule"] == 0
    labels = majority.table.set_index("image")
    for image, cls in zip(majority.boxes["image"], majority.boxes["class"]):
        assert labels.loc[image, cls] == 1.0
    assert len(majority.boxes[(majority.boxes["image"] == b) & (majority.boxes["class"] == "Cardiomegaly")]) == 2


def test_vindr_class_subset_and_its_chexpert5_refusal(vindr_root):
    ds = open_dataset("vindr", root=vindr_root, classes=["Pleural effusion"], load_images=False)
    assert ds.classes == ["Pleural effusion"] and set(ds.boxes["class"]) == {"Pleural effusion"}
    with pytest.raises(ValueError, match="no Edema"):
        open_dataset("vindr", root=vindr_root, classes="chexpert5", load_images=False)


def test_truth_boxes_per_source(nih_root, vindr_root, chexpert_root, tmp_path):
    nih = open_dataset("nih", root=nih_root, image_size=32, cache_dir=tmp_path, progress=False)
    truth = nih.truth_boxes()
    assert len(truth) == len(nih.boxes) == 3 and set(truth["reader"]) == {"nih"}  # NIH's boxes are all truth
    mass = truth.set_index("class").loc["Mass"]
    assert mass["x"] == pytest.approx(100.5 / 32) and mass["h"] == pytest.approx(150 / 32)  # array pixels
    vindr = open_dataset(
        "vindr", root=vindr_root, image_size=32, label_rule="majority", cache_dir=tmp_path, progress=False
    )
    truth = vindr.truth_boxes()
    assert len(truth) == len(vindr.boxes) and set(truth["reader"]) >= {"R9", "R10"}
    assert vindr.info["truth_rule"].startswith("majority")
    assert (truth["x"] + truth["w"] <= 32 + 1e-6).all()
    chexpert = open_dataset("chexpert", root=chexpert_root, load_images=False)
    assert chexpert.truth_boxes().empty and chexpert.info["truth_readers"] == []
    assert np.array_equal(nih.subset("test").truth_boxes()["image"].unique(), ["00000003_000.png", "00000004_000.png"])
