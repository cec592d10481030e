"""The studies of the scorecard (STUDIES.md): each one's title, sources, notebooks and the data its
paper's numbers come from. Data only; :mod:`cxrlib.scorecard_rows` holds their rows."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Study", "STUDIES"]


@dataclass(frozen=True)
class Study:
    """One study of STUDIES.md: where it comes from and which notebooks reproduce it."""

    id: str
    title: str
    sources: tuple[str, ...]  #: bib keys (book/references.bib): the source document first, then published work
    sections: str  #: where in the source document
    notebooks: tuple[str, ...]  #: notebook names (notebooks/<name>.ipynb), existing or planned
    paper_data: str = ""  #: the data and scale the paper's numbers come from, as a reader would say it
    datasets: tuple[str, ...] = ()  #: our dataset names that are the paper's data (a run on another is not comparable)


STUDIES: list[Study] = [
    Study(
        "S1",
        "Interpretability-guided inductive bias (class distinctiveness, spatial coherence)",
        ("sharma2023reliable", "selvaraju2017gradcam"),
        "ch. 3.1–3.3, 4.3–4.5",
        ("01_baseline", "02_saliency_losses"),
        "CheXpert, 224 px, DenseNet-121",
        ("chexpert",),
    ),
    Study(
        "S2",
        "Heatmap loss against dataset bias",
        ("anonymous_heatmap_loss", "draelos2020hirescam"),
        "",
        ("03_heatmap_loss",),
        "the authors' own synthetic cardiac MRI, about 30 models per arm",
        (),
    ),
    Study(
        "S3",
        "Class-imbalance losses (weighted CE, focal, AUC maximisation)",
        ("sharma2023reliable", "lin2017focal", "yuan2021deepauc"),
        "ch. 3.4, 4.6",
        ("01_baseline", "04_imbalance_losses"),
        "CheXpert, 224 px, DenseNet-121",
        ("chexpert",),
    ),
    Study(
        "S4",
        "Calibration: ECE, temperature scaling, MIMO",
        ("sharma2023reliable", "guo2017calibration", "naeini2015ece", "havasi2021mimo"),
        "ch. 3.5–3.6, 4.7",
        ("05_calibration",),
        "CheXpert, 224 px, DenseNet-121",
        ("chexpert",),
    ),
    Study(
        "S5",
        "Bayesian last layer by Laplace approximation",
        ("vilter_bayesian_xray", "daxberger2021laplace"),
        "",
        ("06_laplace",),
        "MURA, 7 body parts, 224 px",
        ("mura",),
    ),
    Study(
        "S6",
        "Learning to defer with Grad-CAM",
        ("levin_defer_gradcam", "mozannar2020defer"),
        "",
        ("07_defer",),
        "MIMIC-CXR-JPG, DenseNet-121 (a proposal: no numbers reported)",
        ("mimic",),
    ),
    Study(
        "S7",
        "PYLON: high-resolution, accurate CAM",
        ("preechakul2020redesigning", "preechakul2022pylon"),
        "",
        ("08_pylon", "09_pylon_ablations"),
        "NIH ChestX-ray14 (and VinDr-CXR for Table 5.5), 256–512 px, ResNet-50, 5 seeds",
        ("nih", "vindr"),
    ),
]
