import numpy as np
import pytest
import torch

from cxrlib.data.synthetic import FINDINGS, SYNTH_CLASSES, SynthCXRConfig, place_findings, sample_parameters
from cxrlib.data.synthetic.anatomy import build_anatomy, make_coords
from cxrlib.data.synthetic.findings import FindingDraw, finding_context
from cxrlib.data.synthetic.noise import ImageRandom


@pytest.fixture(scope="module")
def scene():
    cfg = SynthCXRConfig(n=6, image_size=64, seed=2, prevalence=1.0)
    params = place_findings(sample_parameters(cfg), cfg.seed)
    coords = make_coords(params, 64)
    return params, coords, build_anatomy(coords, params), ImageRandom(cfg.seed, np.arange(6))


def test_registry_has_one_function_per_class():
    assert list(FINDINGS) == SYNTH_CLASSES
    assert all(callable(f) and f.__doc__ for f in FINDINGS.values())


@pytest.mark.parametrize("name", SYNTH_CLASSES)
def test_each_finding_returns_its_attenuation_and_instances(scene, name):
    params, coords, anatomy, random = scene
    k, rows = SYNTH_CLASSES.index(name), np.array([1, 3, 4])
    draw = FINDINGS[name](finding_context(name, coords, anatomy, params, random, k, rows))
    assert isinstance(draw, FindingDraw)
    assert draw.attenuation.shape == (3, 64, 64) and torch.isfinite(draw.attenuation).all()
    assert len(draw.instances) == (2 if name in ("Edema", "Pleural Effusion") else 1)
    union = torch.zeros(3, 64, 64, dtype=torch.bool)
    for instance in draw.instances:
        assert instance.mask.dtype == torch.bool and instance.mask.shape == (3, 64, 64)
        assert instance.drawn.shape == (3,)
        assert not (instance.mask & ~instance.drawn[:, None, None]).any()  # no pixels where not drawn
        union |= instance.mask
    assert union.flatten(1).any(1).all()  # placed where it is visible
    if name != "Cardiomegaly":
        assert not (union & ~anatomy.lungs_hard[rows]).any()  # lung findings stay in the lungs
    # a finding in one image does not depend on which other images it is drawn with
    alone = FINDINGS[name](finding_context(name, coords, anatomy, params, random, k, rows[1:2]))
    assert torch.allclose(alone.attenuation[0], draw.attenuation[1])
    assert all(torch.equal(a.mask[0], b.mask[1]) for a, b in zip(alone.instances, draw.instances))


def test_pneumothorax_hides_lung_markings_in_its_rim(scene):
    params, coords, anatomy, random = scene
    k = SYNTH_CLASSES.index("Pneumothorax")
    draw = FINDINGS["Pneumothorax"](finding_context("Pneumothorax", coords, anatomy, params, random, k, np.arange(6)))
    rim = draw.instances[0].mask
    assert draw.hides_markings is not None and float(draw.hides_markings[rim].mean()) > 0.5
