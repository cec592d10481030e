import pytest

from cxrlib.data import open_dataset
from cxrlib.data.synthetic import CHEXPERT5, DEFAULT_PREVALENCE, NIH_BOX_CLASSES, SYNTH_CLASSES, SynthCXRConfig
from cxrlib.data.synthetic.config import resolve_classes


def test_class_lists_and_presets():
    assert set(CHEXPERT5) <= set(SYNTH_CLASSES) and set(NIH_BOX_CLASSES) <= set(SYNTH_CLASSES)
    assert set(DEFAULT_PREVALENCE) == set(SYNTH_CLASSES)
    assert resolve_classes("chexpert5") == tuple(CHEXPERT5)
    assert resolve_classes(["Nodule", "Mass"]) == ("Nodule", "Mass")


def test_prevalence_of():
    assert SynthCXRConfig().prevalence_of("Mass") == DEFAULT_PREVALENCE["Mass"]
    assert SynthCXRConfig(prevalence=1.0).prevalence_of("Mass") == 1.0
    assert SynthCXRConfig(prevalence={"Mass": 0.4}).prevalence_of("Mass") == 0.4
    assert SynthCXRConfig(prevalence={"Mass": 0.4}).prevalence_of("Nodule") == DEFAULT_PREVALENCE["Nodule"]


def test_laterality_options_are_stated_and_validated():
    cfg = SynthCXRConfig()
    assert cfg.left_fraction == 0.5 and 0 < cfg.bilateral_fraction < 1
    for name in ("left_fraction", "bilateral_fraction"):
        for bad in (-0.1, 1.5, float("nan")):
            with pytest.raises(ValueError, match=name):
                SynthCXRConfig(**{name: bad})


@pytest.mark.parametrize(
    "options, message",
    [
        ({"prevalence": 1.5}, "impossible prevalence"),
        ({"prevalence": -0.1}, "impossible prevalence"),
        ({"prevalence": {"Nodule": 2.0}}, "impossible prevalence"),
        ({"image_size": 0}, "image_size"),
        ({"image_size": 1024}, "image_size"),
        ({"n": 0}, "n must be"),
        ({"classes": ["Nodule", "Fracture"]}, "unknown class"),
        ({"classes": "chexpert14"}, "unknown class preset"),
        ({"label_policy": "maybe"}, "unknown uncertain-label policy"),
        ({"label_policy": {"Fracture": "ones"}}, "unknown classes"),
        ({"uncertain_rate": 2.0}, "uncertain_rate"),
        ({"left_fraction": 1.2}, "left_fraction"),
        ({"bilateral_fraction": -0.5}, "bilateral_fraction"),
        ({"shortcut": {"class_name": "Fracture"}}, "shortcut class"),
        ({"readers": {"n_readers": 0}}, "n_readers"),
        ({"prevalence": {"Fracture": 0.1}}, "unknown class"),
    ],
)
def test_bad_input_raises_clear_value_error(options, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        open_dataset("synth-cxr", **{"n": 30, "image_size": 64, "progress": False, "cache_dir": tmp_path, **options})


def test_unknown_dataset_and_root_errors():
    with pytest.raises(ValueError, match="unknown dataset 'chexpert-lite'"):
        open_dataset("chexpert-lite")
    with pytest.raises(ValueError, match="takes no root"):
        open_dataset("synth-cxr", root="/tmp")
