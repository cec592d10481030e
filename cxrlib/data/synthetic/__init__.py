"""SynthCXR: chest-radiograph-like images with ground-truth masks, boxes, shortcut markers and readers.

Everything is drawn in normalised coordinates ``u, v ∈ [-1, 1]`` (x to the right, y down), and each
image draws its random numbers from generators of its own (seeded by the dataset seed and its index),
so one seed gives the same anatomy, findings and masks at any size from 64 to 512 pixels and in any
batch; only the pixel noise depends on the size. Rendering is vectorised over a batch with torch.

Modules: ``config`` (options, class lists, prevalences), ``parameters`` (everything random about an
image), ``anatomy`` (body, lungs, diaphragm, heart, mediastinum, spine, ribs, clavicles, vessels,
texture), ``findings`` (one function per finding in ``FINDINGS``), ``placement`` (every drawn finding
is visible), ``render`` (``render_synth_cxr``), ``readers`` (simulated readers), ``dataset``
(``open_synth_cxr`` and its cache). ``noise`` and ``shapes`` are the shared rendering helpers.

Anatomy: a soft-tissue body, two lungs with diaphragm domes, mediastinum, a heart that overlaps the
left lung, spine, curved posterior ribs, clavicles, branching-vessel texture radiating from the hila,
low-frequency texture, a per-image exposure (contrast, gamma, brightness), a small rotation and
Gaussian noise. Findings (see ``findings``) add attenuation where a radiologist would look for them;
each carries a pixel mask and one box per instance (bilateral edema / effusion: one box per side).
One-sided findings are in the patient's left lung with probability ``left_fraction`` (default 0.5);
a Pleural Effusion is bilateral with probability ``bilateral_fraction`` (default 1/3).

Labels are drawn per class with the given prevalence; a drawn finding is always placed where it is
visible (its position redrawn if the heart or diaphragm would hide it), so the realised prevalence is
the requested one. Each positive finding gets a severity in [0.25, 1] that scales its contrast and
size, so faint findings are genuinely hard. Reported labels may then be made uncertain (-1) or flipped
(label noise); the truth is kept in ``ds.info["truth"]``.
"""

from .config import (
    CHEXPERT5,
    DEFAULT_PREVALENCE,
    NIH_BOX_CLASSES,
    SYNTH_CLASSES,
    ReaderSpec,
    ShortcutSpec,
    SynthCXRConfig,
)
from .dataset import open_synth_cxr
from .findings import FINDINGS
from .parameters import sample_parameters
from .placement import place_findings
from .readers import readers_as_truth
from .render import render_synth_cxr

__all__ = [
    "SYNTH_CLASSES",
    "CHEXPERT5",
    "NIH_BOX_CLASSES",
    "DEFAULT_PREVALENCE",
    "SynthCXRConfig",
    "ShortcutSpec",
    "ReaderSpec",
    "open_synth_cxr",
    "readers_as_truth",
    "render_synth_cxr",
    "sample_parameters",
    "place_findings",
    "FINDINGS",
]
