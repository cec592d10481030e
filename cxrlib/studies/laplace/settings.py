"""Study 06: the parameters: the ``Settings`` dataclass, its presets and checks."""

from __future__ import annotations

from dataclasses import dataclass

from ..common import check_backbone, resolve_settings
from ..shared_settings import ModelSettings

__all__ = ["SOURCE_TABLE1", "STUDY_HELP", "HESSIANS", "PRIOR_FITS", "LaplaceSettings", "PRESETS", "laplace_settings"]


HESSIANS = ("diag", "full", "kron")

#: how the prior precision can be chosen: the source's cross-validation first
PRIOR_FITS = ("cv", "marglik", "gridsearch")


@dataclass
class LaplaceSettings(ModelSettings):
    n: int = 3000  #: SynthMSK images generated (train / val / test by patient)
    backbone: str = "vilter-cnn"
    epochs: int = 20
    lr: float = 1e-3
    batch_size: int = 32
    hessians: tuple[str, ...] = HESSIANS
    prior_fit: str = "cv"  #: "cv" (k-fold NLL, the source's), "marglik" (evidence) or "gridsearch" (validation NLL)
    cv_folds: int = 5  #: folds of the cross-validation
    predictive: str = "probit"  #: "probit" or "mc"
    n_bins: int = 15
    cxr_n: int = 1200  #: SynthCXR images for the multi-label part (0: skip it)
    cxr_backbone: str = "small-cnn"
    cxr_epochs: int = 8
    ood_n: int = 300  #: SynthCXR images fed to the MSK model (0: skip the OOD check)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_backbone(self.backbone)
        check_backbone(self.cxr_backbone, "cxr_backbone")
        bad = [h for h in self.hessians if h not in HESSIANS]
        if bad or not self.hessians:
            raise ValueError(f"parameter 'hessians': unknown {bad or 'empty list'}; use any of {list(HESSIANS)}")
        if self.prior_fit not in PRIOR_FITS:
            raise ValueError(f"parameter 'prior_fit' must be one of {list(PRIOR_FITS)}, got {self.prior_fit!r}")
        if self.cv_folds < 2:
            raise ValueError(f"parameter 'cv_folds' must be >= 2, got {self.cv_folds}")
        if self.predictive not in ("probit", "mc"):
            raise ValueError(f"parameter 'predictive' must be 'probit' or 'mc', got {self.predictive!r}")
        if self.n < 70:
            raise ValueError(f"parameter 'n' must be >= 70 (10 images per body part), got {self.n}")
        if self.n_bins < 2 or self.epochs < 1 or self.cxr_epochs < 1:
            raise ValueError("parameters 'n_bins' (>= 2), 'epochs' and 'cxr_epochs' (>= 1) are out of range")
        if self.cxr_n < 0 or self.ood_n < 0:
            raise ValueError("parameters 'cxr_n' and 'ood_n' must be >= 0")


#: Budgets on a 2-core CPU: smoke <= 90 s, default <= 4 min; ``full`` approaches the source's scale
#: (its MURA set has ~40k images at 224 px).
PRESETS = {
    "smoke": {"n": 700, "epochs": 8, "cxr_n": 400, "cxr_epochs": 3, "ood_n": 100},
    "default": {"n": 3000, "epochs": 20, "cxr_n": 1200, "cxr_epochs": 8, "ood_n": 300},
    "full": {"n": 10000, "image_size": 128, "epochs": 30, "cxr_n": 6000, "cxr_epochs": 15, "ood_n": 1000},
}


def laplace_settings(profile: str = "default", **overrides) -> LaplaceSettings:
    """Settings for ``profile`` with every non-None override applied."""
    return resolve_settings(LaplaceSettings, PRESETS, profile, **overrides)


#: parameter descriptions of its own (the rest: shared_settings.PARAMETER_HELP); its notebook shows them
STUDY_HELP = {
    "n": "SynthMSK images generated (train / val / test by patient)",
    "image_size": "pixels per side",
    "backbone": "vilter-cnn (the source's 4-layer CNN), or small-cnn, densenet121, resnet50, ...",
    "epochs": "maximum training epochs of the MSK model",
    "lr": "learning rate (Adam; the source: 1e-3)",
    "hessians": "any of diag, full, kron",
    "prior_fit": "cv (k-fold NLL over a grid, the source's), marglik (evidence) or gridsearch (val NLL)",
    "cv_folds": "folds of the cross-validation",
    "predictive": "probit or mc (Monte Carlo)",
    "n_bins": "bins of the ECE and the reliability diagrams",
    "cxr_n": "SynthCXR images of the multi-label part (0: skip it)",
    "cxr_backbone": "backbone of the multi-label chest model",
    "cxr_epochs": "maximum training epochs of the chest model",
    "ood_n": "SynthCXR images fed to the MSK model (0: skip the out-of-distribution check)",
    "data_seed": "seed of the generators",
}


#: the source's Table 1 (Vilter and Daglaroglou; MURA, their 4-layer CNN): accuracy, top-label ECE, NLL
SOURCE_TABLE1 = {
    "MAP": (0.87519, 0.07406, 0.6465),
    "Laplace diag": (0.87550, 0.07269, 0.5997),
    "Laplace full": (0.87519, 0.03033, 0.4667),
    "Laplace kron": (0.87519, 0.02774, 0.4751),
}
