"""One Settings dataclass and one run function per study; the notebooks call these."""

from .baseline import BaselineResult, BaselineSettings, baseline_settings, run_baseline
from .common import Profile, open_study_dataset, resolve_settings
from .data_overview import DataOverview, DataSettings, data_settings, run_data_overview
from .heatmap_loss import HeatmapLossResult, HeatmapLossSettings, heatmap_loss_settings, run_heatmap_loss
from .saliency_losses import SaliencyLossResult, SaliencyLossSettings, run_saliency_losses, saliency_loss_settings

#: the Settings dataclass behind each notebook (a test keeps each parameters cell equal to it)
STUDY_SETTINGS = {
    "00_data": DataSettings,
    "01_baseline": BaselineSettings,
    "02_saliency_losses": SaliencyLossSettings,
    "03_heatmap_loss": HeatmapLossSettings,
}
#: each study's settings function and run function (``python -m cxrlib.studies NAME``)
STUDY_RUNNERS = {
    "00_data": (data_settings, run_data_overview),
    "01_baseline": (baseline_settings, run_baseline),
    "02_saliency_losses": (saliency_loss_settings, run_saliency_losses),
    "03_heatmap_loss": (heatmap_loss_settings, run_heatmap_loss),
}

__all__ = [
    "STUDY_SETTINGS",
    "STUDY_RUNNERS",
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
    "SaliencyLossResult",
    "SaliencyLossSettings",
    "saliency_loss_settings",
    "run_saliency_losses",
    "HeatmapLossResult",
    "HeatmapLossSettings",
    "heatmap_loss_settings",
    "run_heatmap_loss",
]
