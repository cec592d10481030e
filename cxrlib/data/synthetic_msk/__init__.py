"""SynthMSK: MURA-like musculoskeletal radiographs of seven body parts, with an abnormality flag, bone
masks and the abnormality's site, for the Laplace study (Vilter and Daglaroglou) and anything else run on MURA.

Each image shows the bones of one body part (``XR_ELBOW, XR_FINGER, XR_FOREARM, XR_HAND, XR_HUMERUS,
XR_SHOULDER, XR_WRIST``, MURA's names and order): long bones as tubes with flared ends and a cortical
rim, carpal clusters, phalanx chains with joint gaps, the humeral head against the glenoid, flat
bones (scapula, ribs), in a soft-tissue envelope, frontal or lateral, with a random pose,
magnification, exposure and noise. Abnormal patients show a fracture (fragments with a gap, shift
and angulation) or metal (a plate with screws, or one screw); some wear a plaster cast. The classes
overlap as real films do (a lateral forearm shows one shaft like a humerus, a magnified hand looks
like a wrist), so a small CNN does not reach 100% accuracy.

Modules: ``config`` (options, classes, tasks), ``anatomy`` (one layout function per body part),
``parameters`` (everything random about an image: layouts, findings, pose, exposure), ``render``
(``render_synth_msk``), ``dataset`` (``open_synth_msk`` and its cache). Registered as source
``"synth-msk"`` in :mod:`cxrlib.data`.
"""

from .anatomy import BODY_PARTS
from .config import ABNORMALITY_CLASSES, MSK_CLASSES, MSKTask, SynthMSKConfig
from .dataset import open_synth_msk
from .parameters import FINDINGS, sample_parameters
from .render import render_synth_msk

__all__ = [
    "ABNORMALITY_CLASSES",
    "BODY_PARTS",
    "FINDINGS",
    "MSK_CLASSES",
    "MSKTask",
    "SynthMSKConfig",
    "open_synth_msk",
    "render_synth_msk",
    "sample_parameters",
]
