"""One Settings dataclass and one run function per study; the notebooks call these."""

from ..legibility import install_notebook_hook
from .baseline import BaselineResult, BaselineSettings, baseline_settings, run_baseline
from .calibration import CalibrationResult, CalibrationSettings, calibration_settings, run_calibration
from .common import Profile, open_study_dataset, resolve_settings
from .data_overview import DataOverview, DataSettings, data_settings, run_data_overview
from .defer import DeferResult, DeferSettings, defer_settings, run_defer
from .heatmap_loss import HeatmapLossResult, HeatmapLossSettings, heatmap_loss_settings, run_heatmap_loss
from .imbalance_losses import (
    ImbalanceLossResult,
    ImbalanceLossSettings,
    imbalance_loss_settings,
    run_imbalance_losses,
)
from .laplace import LaplaceResult, LaplaceSettings, laplace_settings, run_laplace
from .pylon import PylonResult, PylonSettings, pylon_settings, run_pylon
from .pylon_ablations import (
    PylonAblationResult,
    PylonAblationSettings,
    pylon_ablation_settings,
    run_pylon_ablations,
)
from .reliability_report import ReliabilityResult, ReliabilitySettings, reliability_settings, run_reliability
from .saliency_losses import SaliencyLossResult, SaliencyLossSettings, run_saliency_losses, saliency_loss_settings

#: the Settings dataclass behind each notebook (a test keeps each parameters cell equal to it)
STUDY_SETTINGS = {
    "00_data": DataSettings,
    "01_baseline": BaselineSettings,
    "02_saliency_losses": SaliencyLossSettings,
    "03_heatmap_loss": HeatmapLossSettings,
    "04_imbalance_losses": ImbalanceLossSettings,
    "05_calibration": CalibrationSettings,
    "06_laplace": LaplaceSettings,
    "07_defer": DeferSettings,
    "08_pylon": PylonSettings,
    "09_pylon_ablations": PylonAblationSettings,
    "10_reliability_report": ReliabilitySettings,
}
#: each study's settings function and run function (``python -m cxrlib.studies NAME``)
STUDY_RUNNERS = {
    "00_data": (data_settings, run_data_overview),
    "01_baseline": (baseline_settings, run_baseline),
    "02_saliency_losses": (saliency_loss_settings, run_saliency_losses),
    "03_heatmap_loss": (heatmap_loss_settings, run_heatmap_loss),
    "04_imbalance_losses": (imbalance_loss_settings, run_imbalance_losses),
    "05_calibration": (calibration_settings, run_calibration),
    "06_laplace": (laplace_settings, run_laplace),
    "07_defer": (defer_settings, run_defer),
    "08_pylon": (pylon_settings, run_pylon),
    "09_pylon_ablations": (pylon_ablation_settings, run_pylon_ablations),
    "10_reliability_report": (reliability_settings, run_reliability),
}

# in a notebook, every figure is shown with text no smaller than legibility.MIN_TEXT_PT (see there)
install_notebook_hook()

__all__ = [
    "PylonAblationResult",
    "PylonAblationSettings",
    "pylon_ablation_settings",
    "run_pylon_ablations",
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
    "ImbalanceLossResult",
    "ImbalanceLossSettings",
    "imbalance_loss_settings",
    "run_imbalance_losses",
    "CalibrationResult",
    "CalibrationSettings",
    "calibration_settings",
    "run_calibration",
    "LaplaceResult",
    "LaplaceSettings",
    "laplace_settings",
    "run_laplace",
    "DeferResult",
    "DeferSettings",
    "defer_settings",
    "run_defer",
    "PylonResult",
    "PylonSettings",
    "pylon_settings",
    "run_pylon",
    "ReliabilityResult",
    "ReliabilitySettings",
    "reliability_settings",
    "run_reliability",
]
