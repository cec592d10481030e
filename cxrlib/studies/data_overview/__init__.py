"""Study 00: the data: gallery, label distributions, uncertain labels, finding sizes, split audit.

Runs on SynthCXR and on every real source. The SynthCXR-only settings (``n``,
``studies_per_patient``, ``n_readers``, ``uncertain_rate`` and the shortcut marker) go to the
generator only. On real data there are no masks (the mask columns of ``sizes`` are NaN and the
headline says so), finding sizes come from the source's truth boxes alone, and the label counts
show the reported uncertain labels where the reader counts them (CheXpert, MIMIC).
"""

from .result import DataOverview
from .run import (
    NIH_ATTRIBUTION,
    finding_sizes,
    gallery_positions,
    open_nih_sample,
    real_beside_synthetic,
    run_data_overview,
    split_audit,
)
from .settings import PRESETS, DataSettings, data_settings

__all__ = [
    "NIH_ATTRIBUTION",
    "open_nih_sample",
    "real_beside_synthetic",
    "gallery_positions",
    "data_settings",
    "DataSettings",
    "DataOverview",
    "run_data_overview",
    "finding_sizes",
    "split_audit",
    "PRESETS",
]
