"""One Settings dataclass and one run function per study; the notebooks call these."""

from .baseline import BaselineResult, BaselineSettings, baseline_settings, run_baseline
from .common import Profile, open_study_dataset, resolve_settings
from .data_overview import DataOverview, DataSettings, data_settings, run_data_overview

#: the Settings dataclass behind each notebook (a test keeps each parameters cell equal to it)
STUDY_SETTINGS = {"00_data": DataSettings, "01_baseline": BaselineSettings}

__all__ = [
    "STUDY_SETTINGS",
    "BaselineResult",
    "BaselineSettings",
    "baseline_settings",
    "run_baseline",
    "Profile",
    "open_study_dataset",
    "resolve_settings",
    "DataOverview",
    "DataSettings",
    "data_settings",
    "run_data_overview",
]
