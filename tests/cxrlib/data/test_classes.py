import pytest

from cxrlib.data import CHEXPERT5, NIH_BOX_CLASSES, SYNTH_CLASSES, class_presets, resolve_classes
from cxrlib.data.sources import CHEXPERT_CLASSES, MIMIC_CLASSES, MURA_BODY_PARTS, NIH_CLASSES, VINDR_CLASSES


@pytest.mark.parametrize(
    "source, expected",
    [
        ("chexpert", ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"]),
        ("mimic", ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"]),
        ("nih", ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion"]),  # NIH's spelling
        ("synth-cxr", CHEXPERT5),
    ],
)
def test_chexpert5_in_each_sources_spelling(source, expected):
    assert resolve_classes("chexpert5", source) == expected


def test_all_and_competition_alias():
    for source, classes in [
        ("chexpert", CHEXPERT_CLASSES),
        ("mimic", MIMIC_CLASSES),
        ("nih", NIH_CLASSES),
        ("vindr", VINDR_CLASSES),
        ("mura", MURA_BODY_PARTS),
        ("synth-cxr", SYNTH_CLASSES),
    ]:
        assert resolve_classes("all", source) == classes
    assert resolve_classes("competition", "mimic") == resolve_classes("chexpert5", "mimic")
    assert resolve_classes("nih-boxes", "synth-cxr") == NIH_BOX_CLASSES
    assert "Pneumonia" in resolve_classes("nih-boxes", "nih")


def test_a_string_that_is_not_a_preset_raises_naming_the_presets():
    with pytest.raises(ValueError, match=r"unknown class preset 'competiton'.*\['all', 'chexpert5', 'competition'\]"):
        resolve_classes("competiton", "mimic")
    with pytest.raises(ValueError, match="unknown class preset 'Edema'"):
        resolve_classes("Edema", "chexpert")  # one class is a list of one, never list("Edema")


def test_a_preset_the_source_cannot_serve_says_why():
    with pytest.raises(ValueError, match="no Edema"):
        resolve_classes("chexpert5", "vindr")
    with pytest.raises(ValueError, match="musculoskeletal"):
        resolve_classes("chexpert5", "mura")
    assert isinstance(class_presets("vindr")["chexpert5"], str)


def test_lists_keep_their_order_and_are_checked():
    assert resolve_classes(("Edema", "Atelectasis"), "chexpert") == ["Edema", "Atelectasis"]
    with pytest.raises(ValueError, match=r"unknown NIH ChestX-ray14 class\(es\) \['Pleural Effusion'\]"):
        resolve_classes(["Pleural Effusion"], "nih")
    with pytest.raises(ValueError, match="empty"):
        resolve_classes([], "nih")
    with pytest.raises(ValueError, match="more than once"):
        resolve_classes(["Edema", "Edema"], "nih")
    with pytest.raises(ValueError, match="no class list for source"):
        resolve_classes("all", "padchest")
