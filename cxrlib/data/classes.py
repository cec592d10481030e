"""Class lists of every source and the one resolver of class presets.

``resolve_classes(spec, source)`` turns what a user asks for (a list of names, ``"all"`` or a named
preset) into the source's own column names, in the preset's order. A preset is one idea across
sources: ``"chexpert5"`` is the five CheXpert competition findings (Atelectasis, Cardiomegaly,
Consolidation, Edema, Pleural Effusion) in each source's spelling (NIH writes ``Effusion``).
A preset a source cannot serve (VinDr-CXR has no Edema label, MURA is not a chest dataset) raises
a ``ValueError`` saying why, rather than returning fewer classes under the same name.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "CHEXPERT_CLASSES",
    "CHEXPERT_COMPETITION",
    "MIMIC_CLASSES",
    "NIH_CLASSES",
    "NIH_BOX_CLASSES_NIH",
    "VINDR_CLASSES",
    "MURA_BODY_PARTS",
    "MURA_ABNORMALITY",
    "class_presets",
    "resolve_classes",
    "SYNTH_NAMES_OF_NIH",
]

CHEXPERT_CLASSES = [
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
]
#: the five CheXpert competition findings, in the competition's order
CHEXPERT_COMPETITION = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"]
MIMIC_CLASSES = [
    "Atelectasis",
    "Cardiomegaly",
    "Consolidation",
    "Edema",
    "Enlarged Cardiomediastinum",
    "Fracture",
    "Lung Lesion",
    "Lung Opacity",
    "No Finding",
    "Pleural Effusion",
    "Pleural Other",
    "Pneumonia",
    "Pneumothorax",
    "Support Devices",
]
NIH_CLASSES = [
    "Atelectasis",
    "Cardiomegaly",
    "Consolidation",
    "Edema",
    "Effusion",
    "Emphysema",
    "Fibrosis",
    "Hernia",
    "Infiltration",
    "Mass",
    "Nodule",
    "Pleural_Thickening",
    "Pneumonia",
    "Pneumothorax",
]
#: the eight NIH classes that have boxes in BBox_List_2017.csv (NIH spelling)
NIH_BOX_CLASSES_NIH = [
    "Atelectasis",
    "Cardiomegaly",
    "Effusion",
    "Infiltration",
    "Mass",
    "Nodule",
    "Pneumonia",
    "Pneumothorax",
]
VINDR_CLASSES = [
    "Aortic enlargement",
    "Atelectasis",
    "Calcification",
    "Cardiomegaly",
    "Consolidation",
    "ILD",
    "Infiltration",
    "Lung Opacity",
    "Nodule/Mass",
    "Other lesion",
    "Pleural effusion",
    "Pleural thickening",
    "Pneumothorax",
    "Pulmonary fibrosis",
]
MURA_BODY_PARTS = ["XR_ELBOW", "XR_FINGER", "XR_FOREARM", "XR_HAND", "XR_HUMERUS", "XR_SHOULDER", "XR_WRIST"]
MURA_ABNORMALITY = ["Abnormal"]

#: NIH ChestX-ray14 names (of labels or boxes) that SynthCXR spells otherwise
SYNTH_NAMES_OF_NIH = {"Effusion": "Pleural Effusion", "Infiltrate": "Infiltration"}

_NIH_CHEXPERT5 = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion"]

#: source → {preset: class list in the source's spelling, or the reason the source cannot serve it}
_PRESETS: dict[str, dict[str, list[str] | str]] = {
    "chexpert": {"all": CHEXPERT_CLASSES, "chexpert5": CHEXPERT_COMPETITION, "competition": CHEXPERT_COMPETITION},
    "mimic": {"all": MIMIC_CLASSES, "chexpert5": CHEXPERT_COMPETITION, "competition": CHEXPERT_COMPETITION},
    "nih": {"all": NIH_CLASSES, "chexpert5": _NIH_CHEXPERT5, "nih-boxes": NIH_BOX_CLASSES_NIH},
    "vindr": {
        "all": VINDR_CLASSES,
        "chexpert5": "VinDr-CXR's labels have no Edema (its pleural effusion is 'Pleural effusion')",
    },
    "mura": {"all": MURA_BODY_PARTS, "chexpert5": "MURA is a musculoskeletal dataset without chest findings"},
    "mura-abnormality": {
        "all": MURA_ABNORMALITY,
        "chexpert5": "MURA is a musculoskeletal dataset without chest findings",
    },
}


_DISPLAY = {
    "chexpert": "CheXpert",
    "mimic": "MIMIC-CXR",
    "nih": "NIH ChestX-ray14",
    "vindr": "VinDr-CXR",
    "mura": "MURA body-part",
    "mura-abnormality": "MURA abnormality",
    "synth-cxr": "SynthCXR",
}


def _synth_presets() -> dict[str, list[str] | str]:
    # imported here: the synthetic package may itself call resolve_classes
    from .synthetic import CHEXPERT5, NIH_BOX_CLASSES, SYNTH_CLASSES

    return {"all": list(SYNTH_CLASSES), "chexpert5": list(CHEXPERT5), "nih-boxes": list(NIH_BOX_CLASSES)}


def class_presets(source: str) -> dict[str, list[str] | str]:
    """``{preset: classes}`` of ``source`` (a string value is why the source cannot serve that preset)."""
    if source == "synth-cxr":
        return _synth_presets()
    if source not in _PRESETS:
        raise ValueError(f"no class list for source {source!r}; sources: {sorted([*_PRESETS, 'synth-cxr'])}")
    return _PRESETS[source]


def resolve_classes(spec: str | Iterable[str], source: str) -> list[str]:
    """The class names ``spec`` asks of ``source``, in the source's spelling and the preset's order.

    ``spec`` is ``"all"``, a named preset (``"chexpert5"``; ``"competition"`` where the source has a
    competition; ``"nih-boxes"`` for NIH and SynthCXR) or a list of the source's own class names
    (kept in the given order). Raises ``ValueError`` for a string that is not a preset (naming the
    presets), a preset the source cannot serve (saying why), an empty or repeating list, or names the
    source does not have (naming its classes).
    """
    presets = class_presets(source)
    if isinstance(spec, str):
        usable = sorted(k for k, v in presets.items() if not isinstance(v, str))
        if spec not in presets:
            raise ValueError(f"{source}: unknown class preset {spec!r}; use a list of class names or one of {usable}")
        value = presets[spec]
        if isinstance(value, str):
            raise ValueError(
                f"{source}: class preset {spec!r} is not available: {value}; use a list of class "
                f"names or one of {usable}"
            )
        return list(value)
    try:
        classes = list(spec)
    except TypeError:
        raise ValueError(f"{source}: classes must be a preset name or a list of names, got {spec!r}") from None
    if not classes:
        raise ValueError(f"{source}: the class list is empty")
    if any(not isinstance(c, str) for c in classes):
        raise ValueError(f"{source}: class names must be strings, got {classes!r}")
    repeated = sorted({c for c in classes if classes.count(c) > 1})
    if repeated:
        raise ValueError(f"{source}: class(es) {repeated} listed more than once")
    known = presets["all"]
    unknown = [c for c in classes if c not in known]
    if unknown:
        raise ValueError(f"unknown {_DISPLAY.get(source, source)} class(es) {unknown}; its classes are {known}")
    return classes
