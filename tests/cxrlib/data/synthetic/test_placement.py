import numpy as np
import pytest

from cxrlib.data.synthetic import (
    SYNTH_CLASSES,
    SynthCXRConfig,
    place_findings,
    placement,
    render_synth_cxr,
    sample_parameters,
)
from cxrlib.data.synthetic.parameters import PLACEMENT_KEYS


def test_every_drawn_finding_is_visible():
    cfg = SynthCXRConfig(n=120, image_size=64, seed=6, prevalence=0.8)
    drawn = sample_parameters(cfg)
    placed = place_findings(drawn, cfg.seed)
    assert np.array_equal(placed["truth"], drawn["truth"])  # labels are kept, only placement moves
    _, masks, _, _ = render_synth_cxr(placed, np.arange(cfg.n), 64, cfg.seed)
    assert np.array_equal(masks.any((2, 3)).numpy(), placed["truth"])
    # some findings (hidden behind the heart or below the diaphragm) had to move, and only those
    moved = placed["redraws"] > 0
    assert moved.any() and not (moved & ~placed["truth"]).any()
    for key in (*PLACEMENT_KEYS, "side"):
        assert np.array_equal(placed[key][~moved], drawn[key][~moved])
    assert not (placed["side_switches"] & ~moved).any()
    assert (placed["redraws"][:, SYNTH_CLASSES.index("Nodule")] > 0).any()


def test_placement_is_deterministic_per_image():
    cfg = SynthCXRConfig(n=40, image_size=64, seed=2, prevalence=0.8)
    a = place_findings(sample_parameters(cfg), cfg.seed, chunk=40)
    b = place_findings(sample_parameters(cfg), cfg.seed, chunk=7)
    for key in (*PLACEMENT_KEYS, "side", "redraws", "side_switches"):
        assert np.array_equal(a[key], b[key])


def test_a_finding_that_cannot_be_placed_raises(monkeypatch):
    monkeypatch.setattr(placement, "MAX_TRIES", 0)
    cfg = SynthCXRConfig(n=60, image_size=64, seed=6, prevalence=1.0)
    with pytest.raises(ValueError, match="could not place a visible .* prevalence cannot be met"):
        place_findings(sample_parameters(cfg), cfg.seed)


def test_a_lung_without_room_sends_the_finding_to_the_other_lung():
    """Severe cardiomegaly in AP views hides the whole left base: lower-zone Atelectasis moves right."""
    cfg = SynthCXRConfig(
        n=400,
        image_size=64,
        seed=5,
        classes=("Atelectasis", "Cardiomegaly"),
        prevalence=1.0,
        ap_fraction=1.0,
        left_fraction=1.0,
    )
    placed = place_findings(sample_parameters(cfg), cfg.seed)
    k = SYNTH_CLASSES.index("Atelectasis")
    switched = placed["side_switches"][:, k]
    assert switched.any() and (placed["redraws"][switched, k] >= placement.SWITCH_SIDE_AFTER).all()
    assert (placed["side"][switched, k] == 0).all() and (placed["side"][~switched, k] == 1).all()
    _, masks, _, _ = render_synth_cxr(placed, np.flatnonzero(switched), 64, cfg.seed)
    assert masks[:, k].any((1, 2)).all()
