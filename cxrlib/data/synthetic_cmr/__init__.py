"""SynthCMR: short-axis cardiac-MR-like slices in four balanced classes, with sex, heart masks and an
optional male marker, after the synthetic cardiac MR data of the "heatmap loss" study (Callanan et al.).

Each image shows a chest in cross-section (body with a subcutaneous fat rim, lungs, liver, descending
aorta), a left ventricle (bright blood pool with papillary muscles inside a darker myocardial ring
with a low-frequency texture) and a right ventricle (a crescent on the image left), with pericardial
fat, Rician noise (the magnitude of complex Gaussian noise) and a random pose, size, contrast,
brightness and gamma. Classes: ``Normal``; ``HCM`` (thick, septum-heavy LV wall, small cavity, patchy
myocardial texture in about half); ``DCM`` (large, thin-walled LV); ``ARV`` (enlarged RV with a wobbly,
aneurysmal boundary). A severity in [0, 1] per diseased image makes low-severity cases overlap normal.

Modules: ``config`` (options, classes, sex prevalence, marker box), ``parameters`` (everything random
about an image), ``render`` (``render_synth_cmr``), ``dataset`` (``open_synth_cmr`` and its cache).
Registered as source ``"synth-cmr"`` in :mod:`cxrlib.data`.
"""

from .config import CMR_CLASSES, MALE_FRACTION, MALE_SIZE_FACTOR, MARKER_BOX, SynthCMRConfig
from .dataset import open_synth_cmr
from .parameters import sample_parameters
from .render import render_synth_cmr

__all__ = [
    "CMR_CLASSES",
    "MALE_FRACTION",
    "MALE_SIZE_FACTOR",
    "MARKER_BOX",
    "SynthCMRConfig",
    "open_synth_cmr",
    "render_synth_cmr",
    "sample_parameters",
]
