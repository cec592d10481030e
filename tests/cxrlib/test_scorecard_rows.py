"""Every scorecard row reads a key that a result of its profile's shape has.

A profile can change a result's *shape*: which backbones, arms, λ values, models or ablations it holds
(the fields in ``SHAPE_FIELDS``), and with it the headline's keys. A key that exists on ``smoke`` but
not on ``full`` fills the row on the CPU book and leaves it "not yet run" on the real one (the λ-grid
bug of study 02: ``full`` stored the Custom arm as ``custom_lambda_1.4``). So for every profile whose
shape differs from another's, the study is run at a tiny size with that profile's shape, and every
row of the study must resolve in its headline.
"""

from __future__ import annotations

from dataclasses import asdict

import pytest

from cxrlib.scorecard import lookup
from cxrlib.scorecard_rows import SCORECARD
from cxrlib.studies import STUDY_RUNNERS

#: the settings fields that decide which keys a study's headline has
SHAPE_FIELDS = {
    "01_baseline": ("backbones",),
    "02_saliency_losses": ("arms", "lambda_cd", "lambda_grid"),
    "03_heatmap_loss": ("experiments", "cce_control"),
    "04_imbalance_losses": ("losses",),
    "05_calibration": ("losses",),
    "06_laplace": ("hessians",),
    "07_defer": ("rules",),
    "08_pylon": ("models",),
    "09_pylon_ablations": ("ablations", "gap_baselines", "transfer_baselines"),
}
#: a tiny run of each study that keeps its shape (sizes and epochs only)
TINY = {
    "01_baseline": {"n": 100, "epochs": 1, "seeds": (0,)},
    "02_saliency_losses": {"n": 120, "epochs": 1, "second_epochs": 1, "seeds": (0,)},
    "08_pylon": {"n": 30, "epochs": 1, "seeds": (0,), "batch_size": 16},
    "09_pylon_ablations": {
        "n": 60,
        "epochs": 1,
        "gap_seeds": (0, 1),  # two seeds: the rows of standard deviations need them
        "ablation_seeds": (0,),
        "transfer_seeds": (0,),
        "target_n": 60,
        "transfer_epochs": 1,
    },
}


PROFILES = ("smoke", "default", "full")


def _shape(study: str, profile: str) -> dict:
    """The values of ``study``'s shape fields on ``profile``."""
    settings = STUDY_RUNNERS[study][0](profile)
    return {f: getattr(settings, f) for f in SHAPE_FIELDS[study]}


def _shapes() -> list[tuple[str, str]]:
    """(study, profile) for every profile whose shape differs from the smoke profile's and from the
    shapes listed before it."""
    cases = []
    scored = {row.notebook for row in SCORECARD if row.key}
    for study in SHAPE_FIELDS:
        if study not in scored:
            continue
        seen = [_shape(study, "smoke")]
        for profile in ("default", "full"):
            shape = _shape(study, profile)
            if shape not in seen:
                seen.append(shape)
                cases.append((study, profile))
    return cases


def test_every_study_with_scorecard_rows_declares_its_shape_fields():
    studies = {row.notebook for row in SCORECARD if row.notebook and row.key}
    assert studies <= set(SHAPE_FIELDS)
    assert {study for study, _ in _shapes()} <= set(TINY)
    for study, fields in SHAPE_FIELDS.items():
        settings = asdict(STUDY_RUNNERS[study][0]("smoke"))
        assert set(fields) <= set(settings), study


def _members(shape: dict) -> set[str]:
    """The names a shape holds (backbones, arms, models...): the strings inside its tuple fields."""
    return {v for value in shape.values() if isinstance(value, tuple) for v in value if isinstance(v, str)}


def _expected(key: str, shape: dict, every: set[str]) -> bool:
    """A row is expected to be filled unless its key names a member (a model, an arm...) of ``every``
    (the members any profile has) that this shape lacks: 08's ``models.unet`` on ``default``, which
    trains no U-Net."""
    members = _members(shape)

    def names(part: str) -> set[str]:  # "li2018 (scratch)" names the member "li2018"
        return {m for m in every if part == m or part.startswith(f"{m} (")}

    return not any(names(part) and not names(part) & members for part in key.split("."))


@pytest.mark.parametrize(("study", "profile"), _shapes())
def test_scorecard_keys_exist_in_a_result_of_each_profiles_shape(study, profile, tmp_path, monkeypatch):
    monkeypatch.setenv("CXRLIB_RESULTS", str(tmp_path))
    settings_for, run = STUDY_RUNNERS[study]
    shape = _shape(study, profile)
    tiny = dict(TINY[study])
    if shape.get("gap_baselines"):
        # 09's PAN rows come from the same code as its DeepLabV3+ rows; PAN alone would make every model of
        # the run train at 256 px (its pyramid needs a multiple of 256), three minutes here: left out
        shape["gap_baselines"] = tuple(m for m in shape["gap_baselines"] if not m.startswith("pan"))
    if "pan" in shape.get("models", ()):
        # likewise 08's PAN rows: PAN's pyramid needs a multiple of 256 pixels (35 s here), and its keys are
        # written by the code that writes every other model's
        shape["models"] = tuple(m for m in shape["models"] if m != "pan")
    if study == "01_baseline" and len(shape["backbones"]) > 2:
        # 01's `full` trains three deep backbones; their keys come from one loop, so two of them (the
        # source's DenseNet-121 and one other) show that every backbone's rows resolve, in half the time
        shape["backbones"] = shape["backbones"][:2]
    settings = settings_for("smoke", progress=False, **shape, **tiny)
    headline = run(settings).headline
    every = set().union(*(_members(_shape(study, p)) for p in PROFILES))
    rows = [row for row in SCORECARD if row.notebook == study and row.key and _expected(row.key, shape, every)]
    assert rows, f"no scorecard row of {study} is expected with {profile}'s shape"
    missing = [row.key for row in rows if lookup({study: headline}, study, row.key) is None]
    assert not missing, f"{study} with {profile}'s shape {shape} lacks scorecard keys {missing}"
