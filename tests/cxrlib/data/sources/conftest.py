"""Fixtures written in exactly each dataset's own format, with tiny images."""

import gzip
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def png(path: Path, value: int = 128, size=(40, 32), mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.full(size[::-1], value, np.uint8)
    arr[: size[1] // 2] = 255 - value  # top half differs: orientation is checkable
    if mode == "RGBA":
        img = Image.fromarray(np.stack([arr, arr, arr, np.full_like(arr, 255)], -1), "RGBA")
    elif mode == "I;16":
        img = Image.fromarray(arr.astype(np.uint16) * 257)
    else:
        img = Image.fromarray(arr, "L")
    img.save(path)
    return path


def jpg(path: Path, value: int = 100, size=(36, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(size[::-1], value, np.uint8)).save(path, quality=95)
    return path


def dicom(path: Path, monochrome1: bool = False, bits: int = 12, size=(24, 20)):
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.zeros(size[::-1], np.uint16)
    arr[: size[1] // 2] = 2**bits - 1  # top half at maximum raw value
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = pydicom.uid.DigitalXRayImageStorageForPresentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = arr.shape
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1, 16, bits, bits - 1
    ds.PixelRepresentation = 0
    ds.PhotometricInterpretation = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    ds.PixelData = arr.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


CHEXPERT_HEADER = (
    "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,Lung Opacity,"
    "Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,Pleural Other,"
    "Fracture,Support Devices"
)


@pytest.fixture
def chexpert_root(tmp_path):
    base = tmp_path / "CheXpert-v1.0-small"
    train = [
        "CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg,Female,68,Frontal,AP,1.0,,,,,,,,,0.0,,,,1.0",
        "CheXpert-v1.0-small/train/patient00002/study2/view1_frontal.jpg,Female,87,Frontal,AP,,,-1.0,1.0,,-1.0,-1.0,,-1.0,,-1.0,,1.0,",
        "CheXpert-v1.0-small/train/patient00002/study2/view2_lateral.jpg,Female,87,Lateral,,,,-1.0,1.0,,-1.0,-1.0,,-1.0,,-1.0,,1.0,",
        "CheXpert-v1.0-small/train/patient00003/study1/view1_frontal.jpg,Male,41,Frontal,PA,,,1.0,,,0.0,,,1.0,,0.0,,,",
    ] + [
        f"CheXpert-v1.0-small/train/patient000{p}/study1/view1_frontal.jpg,Male,50,Frontal,PA,,,{p % 2}.0,,,1.0,"
        f"{(p + 1) % 2}.0,,{int(p % 3 == 0)}.0,,1.0,,,"
        for p in range(10, 30)
    ]  # Cardiomegaly / Consolidation alternate, Atelectasis every third patient
    valid = [
        "CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg,Male,73,Frontal,AP,0.0,1.0,1.0,1.0,0.0,"
        "0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,1.0",
        "CheXpert-v1.0-small/valid/patient64542/study1/view1_frontal.jpg,Female,60,Frontal,PA,0.0,0.0,0.0,0.0,0.0,"
        "1.0,1.0,0.0,1.0,0.0,1.0,0.0,0.0,0.0",
    ]
    base.mkdir()
    (base / "train.csv").write_text("\n".join([CHEXPERT_HEADER, *train]) + "\n")
    (base / "valid.csv").write_text("\n".join([CHEXPERT_HEADER, *valid]) + "\n")
    for line in train + valid:
        jpg(tmp_path / line.split(",")[0])
    return tmp_path


MIMIC_LABELS = (
    "subject_id,study_id,Atelectasis,Cardiomegaly,Consolidation,Edema,Enlarged Cardiomediastinum,Fracture,"
    "Lung Lesion,Lung Opacity,No Finding,Pleural Effusion,Pleural Other,Pneumonia,Pneumothorax,Support Devices"
)
MIMIC_META = (
    "dicom_id,subject_id,study_id,PerformedProcedureStepDescription,ViewPosition,Rows,Columns,StudyDate,"
    "StudyTime,ProcedureCodeSequence_CodeMeaning,ViewCodeSequence_CodeMeaning,"
    "PatientOrientationCodeSequence_CodeMeaning"
)


def _gz(path: Path, text: str):
    with gzip.open(path, "wt") as f:
        f.write(text)


@pytest.fixture
def mimic_root(tmp_path):
    root = tmp_path / "mimic-cxr-jpg" / "2.0.0"
    root.mkdir(parents=True)
    ids = [f"{i:08x}-0000000{i % 10}-11111111-22222222-33333333" for i in range(11)]
    studies = [
        ("10000032", "50414267"),
        ("10000032", "50414267"),
        ("10000032", "53189527"),
        ("11000001", "51000001"),
        ("12000002", "52000002"),
        ("19999999", "59999999"),
        ("13000003", "53000003"),
        ("13000004", "53000004"),
        ("13000005", "53000005"),
        ("13000006", "53000006"),
        ("14000007", "54000007"),
    ]
    views = ["PA", "LATERAL", "AP", "", "PA", "AP", "PA", "PA", "AP", "PA", "PA"]
    splits = ["train", "train", "train", "validate", "test", "test", "train", "train", "train", "train", "validate"]
    _gz(
        root / "mimic-cxr-2.0.0-chexpert.csv.gz",
        "\n".join(
            [
                MIMIC_LABELS,
                "10000032,50414267,,,,,,,,,1.0,,,,,",
                "10000032,53189527,1.0,-1.0,,0.0,,,,1.0,,1.0,,,,",
                "11000001,51000001,-1.0,,,,,,,,,-1.0,,,-1.0,",
                "12000002,52000002,0.0,1.0,0.0,1.0,,,,,,0.0,,,1.0,",
                "13000003,53000003,0.0,1.0,1.0,0.0,,,,,,0.0,,,,",
                "13000004,53000004,1.0,0.0,0.0,1.0,,,,,,1.0,,,,",
                "13000005,53000005,0.0,1.0,0.0,1.0,,,,,,0.0,,,,",
                "13000006,53000006,0.0,0.0,1.0,0.0,,,,,,1.0,,,,",
                "14000007,54000007,1.0,1.0,0.0,0.0,,,,,,1.0,,,,",
            ]
        )
        + "\n",
    )
    _gz(
        root / "mimic-cxr-2.0.0-metadata.csv.gz",
        "\n".join(
            [MIMIC_META]
            + [
                f"{d},{s},{t},CHEST (PA AND LAT),{v},3056,2544,21800506,213014.531,"
                "CHEST (PA AND LAT),postero-anterior,Erect"
                for d, (s, t), v in zip(ids, studies, views)
            ]
        )
        + "\n",
    )
    _gz(
        root / "mimic-cxr-2.0.0-split.csv.gz",
        "\n".join(
            ["dicom_id,study_id,subject_id,split"]
            + [f"{d},{t},{s},{sp}" for d, (s, t), sp in zip(ids, studies, splits)]
        )
        + "\n",
    )
    for d, (s, t) in zip(ids, studies):
        jpg(root / "files" / f"p{s[:2]}" / f"p{s}" / f"s{t}" / f"{d}.jpg")
    return root


NIH_HEADER = (
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Sex,View Position,"
    "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],"
)


_NIH_FINDINGS = [
    "No Finding",
    "Atelectasis|Effusion",
    "Consolidation",
    "Edema|Effusion",
    "No Finding",
    "Atelectasis|Consolidation|Edema",
]


@pytest.fixture
def nih_root(tmp_path):
    root = tmp_path / "nih"
    rows = [
        "00000001_000.png,Cardiomegaly,0,1,57,M,PA,2682,2749,0.14300000000000002,0.14300000000000002,",
        "00000001_001.png,Cardiomegaly|Emphysema,1,1,58,M,PA,2894,2729,0.14300000000000002,0.14300000000000002,",
        "00000002_000.png,No Finding,0,2,80,M,PA,2500,2048,0.171,0.171,",
        "00000003_000.png,Mass|Atelectasis,7,3,81,F,AP,2582,2991,0.143,0.143,",
        "00000004_000.png,Infiltration|Nodule,0,4,40,F,AP,2048,2500,0.168,0.168,",
    ] + [f"000000{p:02d}_000.png,{_NIH_FINDINGS[p % 6]},0,{p},30,F,PA,2048,2048,0.168,0.168," for p in range(10, 30)]
    root.mkdir()
    (root / "Data_Entry_2017_v2020.csv").write_text("\n".join([NIH_HEADER, *rows]) + "\n")
    (root / "BBox_List_2017.csv").write_text(
        "Image Index,Finding Label,Bbox [x,y,w,h],,,\n"
        "00000003_000.png,Mass,100.5,200.25,300.0,150.0\n"
        "00000003_000.png,Atelectasis,10.0,20.0,30.0,40.0\n"
        "00000004_000.png,Infiltrate,512.0,512.0,256.0,128.0\n"
    )
    names = [r.split(",")[0] for r in rows]
    test = ["00000003_000.png", "00000004_000.png"]
    (root / "test_list.txt").write_text("\n".join(sorted(test)) + "\n")
    (root / "train_val_list.txt").write_text("\n".join(sorted(set(names) - set(test))) + "\n")
    for i, name in enumerate(names):
        folder = root / ("images" if i % 2 else "images_001/images")  # both the NIH and Kaggle layouts
        png(
            folder / name,
            mode="RGBA" if name == "00000001_000.png" else ("I;16" if name == "00000002_000.png" else "L"),
        )
    return root


@pytest.fixture
def vindr_root(tmp_path):
    root = tmp_path / "vindr"
    rows = [
        "image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max",
        "0000000000000000000000000000000a,No finding,14,R11,,,,",
        "0000000000000000000000000000000a,No finding,14,R7,,,,",
        "0000000000000000000000000000000a,No finding,14,R9,,,,",
        "0000000000000000000000000000000b,Cardiomegaly,3,R10,6.0,10.0,18.0,16.0",
        "0000000000000000000000000000000b,Cardiomegaly,3,R9,5.0,11.0,17.0,15.0",
        "0000000000000000000000000000000b,Nodule/Mass,8,R9,2.0,2.0,4.0,5.0",
        "0000000000000000000000000000000b,No finding,14,R8,,,,",
        "0000000000000000000000000000000c,Pleural effusion,10,R1,1.0,1.0,9.0,9.0",
        "0000000000000000000000000000000c,Pleural effusion,10,R2,2.0,1.0,9.0,8.0",
        "0000000000000000000000000000000c,Aortic enlargement,0,R3,10.0,2.0,12.0,6.0",
    ]
    rows += [f"{i:032x},No finding,14,R{r},,,," for i in range(0x10, 0x24) for r in (1, 2, 3)]
    for i in range(0x30, 0x3C):  # Cardiomegaly (even) or Pleural effusion (odd), marked by two readers each
        name, cid, box = (
            ("Cardiomegaly", 3, "4.0,8.0,20.0,16.0") if i % 2 == 0 else ("Pleural effusion", 10, "1.0,10.0,8.0,19.0")
        )
        rows += [f"{i:032x},{name},{cid},R{r},{box}" for r in (4, 5)]
    root.mkdir()
    (root / "train.csv").write_text("\n".join(rows) + "\n")
    dicom(root / "train" / "0000000000000000000000000000000a.dicom", monochrome1=True)
    dicom(root / "train" / "0000000000000000000000000000000b.dicom", monochrome1=False, bits=16)
    png(root / "train" / "0000000000000000000000000000000c.png", size=(24, 20))
    for i in [*range(0x10, 0x24), *range(0x30, 0x3C)]:
        png(root / "train" / f"{i:032x}.png", size=(24, 20))
    return root


_MURA_PARTS = ["XR_ELBOW", "XR_FINGER", "XR_FOREARM", "XR_HAND", "XR_HUMERUS", "XR_SHOULDER", "XR_WRIST"]


@pytest.fixture
def mura_root(tmp_path):
    base = tmp_path / "data"
    m = base / "MURA-v1.1"
    images = [
        "train/XR_SHOULDER/patient00001/study1_positive/image1.png",
        "train/XR_SHOULDER/patient00001/study1_positive/image2.png",
        "train/XR_HUMERUS/patient00002/study1_negative/image1.png",
        "train/XR_WRIST/patient00003/study2_positive/image1.png",
    ]
    images += [f"train/{_MURA_PARTS[p % 7]}/patient{p:05d}/study1_negative/image1.png" for p in range(10, 38)]
    valid = [
        "valid/XR_ELBOW/patient11185/study1_positive/image1.png",
        "valid/XR_FINGER/patient11186/study1_negative/image1.png",
    ]
    m.mkdir(parents=True)
    (m / "train_image_paths.csv").write_text("".join(f"MURA-v1.1/{p}\n" for p in images))
    (m / "valid_image_paths.csv").write_text("".join(f"MURA-v1.1/{p}\n" for p in valid))
    for part, paths in (("train", images), ("valid", valid)):
        studies = sorted({p.rsplit("/", 1)[0] + "/" for p in paths})
        (m / f"{part}_labeled_studies.csv").write_text(
            "".join(f"MURA-v1.1/{s},{int('positive' in s)}\n" for s in studies)
        )
    for p in images + valid:
        png(m / p, mode="RGBA" if "WRIST" in p else "L")
    return base
