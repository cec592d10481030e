"""The readers on the datasets' real label files (shipped in the torchxrayvision wheel, and NIH's
official split lists in tests/data/nih), with pixels absent: counts computed independently here, and the label matrices
cross-checked against torchxrayvision's own parsing where the conventions coincide."""

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torchxrayvision as txv  # a test dependency: it ships the real label files

from cxrlib.data import open_dataset
from cxrlib.data.sources.chexpert import CHEXPERT_CLASSES
from cxrlib.data.sources.nih import NIH_CLASSES
from cxrlib.data.sources.vindr import VINDR_CLASSES

TXV_DATA = Path(txv.__file__).parent / "data"
TEST_DATA = Path(__file__).resolve().parents[3] / "data" / "nih"  # NIH's official split lists, gzipped


def _gunzip(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(src) as f, open(dst, "wb") as g:
        shutil.copyfileobj(f, g)
    return dst


@pytest.fixture(scope="module")
def nih_root(tmp_path_factory):
    """The real NIH table and box list (shipped in the torchxrayvision wheel) and official split lists
    (tests/data/nih), in NIH's layout, no images."""
    root = tmp_path_factory.mktemp("nih")
    for name in ("Data_Entry_2017_v2020.csv.gz", "BBox_List_2017.csv.gz"):
        (root / name).symlink_to(TXV_DATA / name)
    for name in ("train_val_list.txt", "test_list.txt"):
        _gunzip(TEST_DATA / f"{name}.gz", root / name)
    return root


@pytest.fixture(scope="module")
def nih(nih_root):
    return open_dataset("nih", root=nih_root, load_images=False)


def test_nih_counts(nih, nih_root):
    raw = pd.read_csv(nih_root / "Data_Entry_2017_v2020.csv.gz")
    assert len(nih.table) == len(raw) == 112_120
    assert nih.table["patient_id"].nunique() == raw["Patient ID"].nunique() == 30_805
    tokens = raw["Finding Labels"].str.split("|")
    for c in NIH_CLASSES:
        expected = int(tokens.apply(lambda t, c=c: c in t).sum())
        assert int(nih.table[c].sum()) == expected, c
    assert int(nih.table["Infiltration"].sum()) == 19_894 and int(nih.table["Hernia"].sum()) == 227
    assert (nih.table[NIH_CLASSES].sum(axis=1) == 0).sum() == 60_361  # No Finding
    assert nih.table["view"].value_counts().to_dict() == {"PA": 67_310, "AP": 44_810}
    assert not nih.table[NIH_CLASSES].isna().any().any()


def test_nih_boxes_and_official_splits(nih, nih_root):
    assert len(nih.boxes) == 984 and nih.boxes["image"].nunique() == 880
    assert nih.boxes["class"].value_counts().to_dict() == {
        "Atelectasis": 180,
        "Effusion": 153,
        "Cardiomegaly": 146,
        "Infiltration": 123,
        "Pneumonia": 120,
        "Pneumothorax": 98,
        "Mass": 85,
        "Nodule": 79,
    }
    test = set((nih_root / "test_list.txt").read_text().split())
    assert set(nih.table.loc[nih.table["split"] == "test", "image"]) == test and len(test) == 25_596
    assert set(nih.boxes["image"]) <= test
    assert (nih.table.groupby("patient_id")["split"].nunique() == 1).all()
    assert nih.table["split"].value_counts()["val"] > 0


def test_nih_matches_torchxrayvision(nih, nih_root):
    ref = txv.datasets.NIH_Dataset(
        imgpath=str(nih_root),
        csvpath=str(nih_root / "Data_Entry_2017_v2020.csv.gz"),
        views=["PA", "AP"],
        unique_patients=False,
    )
    ours = nih.table.set_index("image")
    names = ref.csv["Image Index"].to_numpy()
    for k, pathology in enumerate(ref.pathologies):
        if pathology in NIH_CLASSES:
            assert np.array_equal(ours.loc[names, pathology].to_numpy(), ref.labels[:, k]), pathology


@pytest.fixture(scope="module")
def chexpert_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("chexpert")
    _gunzip(TXV_DATA / "chexpert_train.csv.gz", root / "CheXpert-v1.0-small" / "train.csv")
    return root


def test_chexpert_counts(chexpert_root):
    ds = open_dataset("chexpert", root=chexpert_root, label_policy="ignore", load_images=False, val_fraction=0.0)
    raw = pd.read_csv(chexpert_root / "CheXpert-v1.0-small" / "train.csv")
    assert len(ds.table) == len(raw) == 223_414
    assert (ds.table["frontal_lateral"] == "Frontal").sum() == 191_027
    assert (ds.table["view"] == "LATERAL").sum() == 32_387
    assert ds.table["patient_id"].nunique() == raw["Path"].str.extract(r"(patient\d+)")[0].nunique()
    for c in CHEXPERT_CLASSES:
        assert (ds.table[c] == 1).sum() == (raw[c] == 1).sum(), c
        assert (ds.table[c] == 0).sum() == (raw[c] == 0).sum(), c
        assert ds.table[c].isna().sum() == (raw[c] == -1).sum() + raw[c].isna().sum(), c
        assert ds.info["uncertain_counts"][c] == (raw[c] == -1).sum()
    seed = open_dataset("chexpert", root=chexpert_root, classes="competition", load_images=False)
    for c in ("Cardiomegaly", "Edema"):  # Sharma and P. (2023): uncertain → 1
        assert (seed.table[c] == 1).sum() == ((raw[c] == 1) | (raw[c] == -1)).sum()
    assert (seed.table["Atelectasis"] == 0).sum() == ((raw["Atelectasis"] == 0) | (raw["Atelectasis"] == -1)).sum()
    assert (seed.table.groupby("patient_id")["split"].nunique() == 1).all()


def test_chexpert_matches_torchxrayvision(chexpert_root):
    """torchxrayvision also maps -1 and blank to NaN, but sets every pathology except Support Devices to
    0 when "No Finding" is 1. Every other cell must agree; the differing cells are exactly those."""
    csv = chexpert_root / "CheXpert-v1.0-small" / "train.csv"
    ref = txv.datasets.CheX_Dataset(
        imgpath=str(chexpert_root), csvpath=str(csv), views=["PA", "AP", "L"], unique_patients=False
    )
    ds = open_dataset("chexpert", root=chexpert_root, label_policy="ignore", load_images=False, val_fraction=0.0)
    ours = ds.table.set_index("image").loc[ref.csv["Path"]]
    assert len(ours) > 223_000  # every image but the 17 frontal rows whose AP/PA is LL or RL
    for k, pathology in enumerate(ref.pathologies):
        name = "Pleural Effusion" if pathology == "Effusion" else pathology
        if name not in CHEXPERT_CLASSES:
            continue
        a, b = ours[name].to_numpy(), ref.labels[:, k]
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        h = ref.csv["No Finding"].eq(1).to_numpy()
        assert same[~h].all(), pathology
        if name != "Support Devices":
            assert (b[h] == 0).all()


@pytest.fixture(scope="module")
def vindr_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("vindr")
    _gunzip(TXV_DATA / "vinbigdata-train.csv.gz", root / "train.csv")
    return root


def test_vindr_counts(vindr_root):
    ds = open_dataset("vindr", root=vindr_root, load_images=False)
    raw = pd.read_csv(vindr_root / "train.csv")
    assert len(raw) == 67_914 and len(ds.table) == raw["image_id"].nunique() == 15_000
    assert ds.info["readers_per_image"] == {3: 15_000}
    normal = raw.groupby("image_id")["class_id"].apply(lambda s: (s == 14).all())
    assert int(normal.sum()) == 10_606 and (ds.table[VINDR_CLASSES].sum(axis=1) == 0).sum() == 10_606
    boxes = raw[raw["class_id"] != 14]
    assert len(ds.boxes) == len(boxes)
    assert ds.boxes["class"].value_counts().to_dict() == boxes["class_name"].value_counts().to_dict()
    for c in VINDR_CLASSES:  # union over readers
        assert int(ds.table[c].sum()) == boxes.loc[boxes["class_name"] == c, "image_id"].nunique(), c
    majority = open_dataset("vindr", root=vindr_root, load_images=False, label_rule="majority")
    votes = boxes.groupby(["image_id", "class_name"])["rad_id"].nunique()
    assert int(majority.table["Cardiomegaly"].sum()) == int((votes.xs("Cardiomegaly", level=1) >= 2).sum())
    assert (ds.boxes["w"] > 0).all() and (ds.boxes["h"] > 0).all()
