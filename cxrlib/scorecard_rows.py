"""The scorecard's rows: every paper table of the source documents (the studies of
:mod:`cxrlib.scorecard_studies`, re-exported here as ``STUDIES``), and for each number the results file
and key of ours that fills it (``SCORECARD``). Data only; :mod:`cxrlib.scorecard` renders the page."""

from __future__ import annotations

from dataclasses import dataclass

from .scorecard_studies import STUDIES, Study

__all__ = ["Study", "STUDIES", "ScorecardRow", "SCORECARD"]


@dataclass(frozen=True)
class ScorecardRow:
    study: str
    table: str
    row: str
    metric: str
    paper: str
    notebook: str | None = None  #: results file that fills "ours"
    key: str | None = None  #: dotted path inside that file
    setup: str = ""  #: the paper's set-up for this number, where two rows share one run of ours
    note: str = ""  #: what a reader must know beside the paper's number (a contradiction in the source...)
    image_size: int | None = None  #: the paper's input size, where the row compares only a run at that size


_IMBALANCE = "04_imbalance_losses"
_CHEXPERT5 = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion")
#: §3.4 of Sharma et al. gives two per-class AUROCs of weighted CE that match neither Table 4.1 nor 4.2
_SECTION_34 = {
    "Atelectasis": "§3.4 gives 0.867 for weighted CE, which matches neither Table 4.1 nor Table 4.2",
    "Edema": "§3.4 gives 0.691 for weighted CE, which matches neither Table 4.1 nor Table 4.2",
}
_PYLON = "08_pylon"
_PYLON_II = "09_pylon_ablations"
SCORECARD: list[ScorecardRow] = [
    ScorecardRow(
        "S1", "Table 4.1", "CE (weighted BCE)", "mean val AUROC", "0.756", "02_saliency_losses", "arms.ce.mean_auroc"
    ),
    ScorecardRow(
        "S1",
        "Table 4.1",
        "Custom (CE + class distinctiveness)",
        "mean val AUROC",
        "0.745",
        "02_saliency_losses",
        "arms.custom.mean_auroc",
    ),
    ScorecardRow(
        "S1",
        "Table 4.1",
        "Modified (two-stage)",
        "mean val AUROC",
        "0.749",
        "02_saliency_losses",
        "arms.modified.mean_auroc",
    ),
    *(
        ScorecardRow(
            "S1",
            "Table 4.1",
            f"{label} {c}",
            "val AUROC",
            paper,
            "02_saliency_losses",
            f"arms.{arm}.per_class_auroc.{c}",
            note=_SECTION_34.get(c, "") if arm == "ce" else "",
        )
        for arm, label, papers in (
            ("ce", "CE", ("0.769", "0.764", "0.751", "0.675", "0.822")),
            ("custom", "Custom", ("0.722", "0.807", "0.743", "0.645", "0.806")),
            ("modified", "Modified", ("0.752", "0.810", "0.716", "0.646", "0.822")),
        )
        for c, paper in zip(_CHEXPERT5, papers, strict=True)
    ),
    # §4.5: "All the three backbone based methods, after 15 epochs obtained AUCs of over 0.8", against
    # Table 4.1's CE (DenseNet-121, 15 epochs) at 0.756: the report contradicts itself
    *(
        ScorecardRow(
            "S1",
            "§4.5",
            label,
            "mean val AUROC",
            "> 0.8",
            "01_baseline",
            f"backbones.{backbone}.mean_auroc",
            note="§4.5 says every backbone reached over 0.8 after 15 epochs; Table 4.1 gives DenseNet-121 with "
            "weighted CE 0.756 after 15 epochs: the report contradicts itself",
        )
        for backbone, label in (("densenet121", "DenseNet-121"), ("resnet101", "ResNet-101"), ("vgg19", "VGG-19"))
    ),
    # S2 reports p-values only, whose floor depends on the group sizes and which carry no direction: the
    # rows compare the rank-biserial effect size (loss vs the source's CCE control; > 0: the loss arm's
    # overlap is larger) that
    # the source's p implies at its group sizes under the normal approximation. 23 vs 25 models: the
    # floor is 3.2e-9, so p ≈ 1e-9 is complete separation (+1); 22 vs 23: floor 9.9e-9 (p ≈ 1e-8: +1);
    # p ≈ 1e-7 at 22 vs 23 is about −0.93.
    ScorecardRow(
        "S2",
        "Exp. 1",
        "heatmap loss vs CCE: heart overlap",
        "rank-biserial (p; models compared)",
        "+1 (p ≈ 1e-9, 23 vs 25 models)",
        "03_heatmap_loss",
        "experiments.exp1.vs_cce.heart_overlap.summary",
    ),
    ScorecardRow(
        "S2",
        "Exp. 2",
        "heatmap loss vs CCE: heart overlap",
        "rank-biserial (p; models compared)",
        "+1 (p ≈ 1e-8, 22 vs 23 models)",
        "03_heatmap_loss",
        "experiments.exp2.vs_cce.heart_overlap.summary",
    ),
    ScorecardRow(
        "S2",
        "Exp. 2",
        "heatmap loss vs CCE: sex-label overlap",
        "rank-biserial (p; models compared)",
        "−0.93 (p ≈ 1e-7, 22 vs 23 models)",
        "03_heatmap_loss",
        "experiments.exp2.vs_cce.marker_overlap_male.summary",
    ),
    ScorecardRow("S3", "Table 4.2", "CE", "mean val AUROC", "0.8841", _IMBALANCE, "losses.wbce.mean_auroc"),
    *(
        ScorecardRow(
            "S3",
            "Table 4.2",
            f"{label} {c}",
            "val AUROC",
            paper,
            _IMBALANCE,
            f"losses.{loss}.per_class_auroc.{c}",
            note=_SECTION_34.get(c, "") if loss == "wbce" else "",
        )
        for loss, label, papers in (
            ("wbce", "CE", ("0.8350", "0.9032", "0.9120", "0.8489", "0.9217")),
            ("focal", "Focal", ("0.8568", "0.9077", "0.9016", "0.8447", "0.9230")),
            ("aucm", "DeepAUC", ("0.7368", "0.8263", "0.9160", "0.8269", "0.8393")),
        )
        for c, paper in zip(_CHEXPERT5, papers, strict=True)
    ),
    ScorecardRow("S3", "Table 4.2", "Focal", "mean val AUROC", "0.8867", _IMBALANCE, "losses.focal.mean_auroc"),
    ScorecardRow(
        "S3",
        "Table 4.2",
        "DeepAUC (AUC-M)",
        "mean val AUROC",
        "0.8291",
        _IMBALANCE,
        "losses.aucm.mean_auroc",
    ),
    *(
        ScorecardRow(
            "S4",
            "Table 4.3",
            row,
            "mean ECE before → after TS",
            paper,
            "05_calibration",
            f"losses.{loss}.ece_15_before_after_ts",
        )
        for row, loss, paper in (
            ("CE", "wbce", "0.1147 → 0.0996"),
            ("Focal", "focal", "0.1763 → 0.1091"),
            ("DeepAUC", "aucm", "0.2348 → 0.0992"),
        )
    ),
    ScorecardRow(
        "S5", "Table 1", "CNN", "acc / ECE / NLL", "0.87519 / 0.07406 / 0.6465", "06_laplace", "table1.map.summary"
    ),
    ScorecardRow(
        "S5",
        "Table 1",
        "Laplace diag",
        "acc / ECE / NLL; fit, optimise (h)",
        "0.87550 / 0.07269 / 0.5997; 0.072, 0.546",
        "06_laplace",
        "table1.diag.summary",
    ),
    ScorecardRow(
        "S5",
        "Table 1",
        "Laplace full",
        "acc / ECE / NLL; fit, optimise (h)",
        "0.87519 / 0.03033 / 0.4667; 0.063, 0.351",
        "06_laplace",
        "table1.full.summary",
    ),
    ScorecardRow(
        "S5",
        "Table 1",
        "Laplace Kron",
        "acc / ECE / NLL; fit, optimise (h)",
        "0.87519 / 0.02774 / 0.4751; 0.074, 0.709",
        "06_laplace",
        "table1.kron.summary",
    ),
    ScorecardRow(
        "S6",
        "—",
        "Grad-CAM error model, c = 0.2",
        "coverage (share of images kept)",
        "none reported",
        "07_defer",
        "rules.error-model.coverage_at_c",
    ),
    ScorecardRow(
        "S6",
        "—",
        "Grad-CAM error model, c = 0.2",
        "accuracy of the kept images",
        "none reported",
        "07_defer",
        "rules.error-model.kept_accuracy_at_c",
    ),
    *[
        ScorecardRow(
            "S7",
            "Table 5.1",
            label,
            "weighted point loc. acc.",
            paper,
            _PYLON,
            f"models.{model}.point_localization_weighted",
            setup="NIH, 256 px",
        )
        for label, paper, model in (
            ("GMP baseline", "0.46", "gmp"),
            ("Li 2018 (MIL)", "0.49", "li2018"),
            ("U-Net", "0.45", "unet"),
            ("FPN (BN)", "0.53", "fpn"),
            ("DeepLabV3+", "0.45", "deeplabv3plus"),
            ("PAN", "0.38", "pan"),
            ("PYLON", "0.62", "pylon"),
        )
    ],
    ScorecardRow(
        "S7",
        "Table 5.1",
        "GMP baseline: Nodule",
        "point loc. acc.",
        "0.09",
        _PYLON,
        "models.gmp.point_localization_per_class.Nodule",
        setup="NIH, 256 px",
    ),
    ScorecardRow(
        "S7",
        "Table 5.1",
        "PYLON: Nodule",
        "point loc. acc.",
        "0.48",
        _PYLON,
        "models.pylon.point_localization_per_class.Nodule",
        setup="NIH, 256 px",
    ),
    *[
        ScorecardRow(
            "S7",
            "Table 5.2",
            f"PYLON (256 px): {nih_name}",
            "IoBB > 0.5 or IoU > 0.5",
            paper,
            _PYLON,
            f"models.pylon.iobb_or_iou_above_half.{ours}",
            setup="NIH, 256 px; ours: the SynthCXR class of that name",
        )
        for nih_name, ours, paper in (
            ("Atelectasis", "Atelectasis", "0.37 ± 0.04"),
            ("Cardiomegaly", "Cardiomegaly", "1.00 ± 0.01"),
            ("Effusion", "Pleural Effusion", "0.42 ± 0.06"),
            ("Infiltration", "Infiltration", "0.60 ± 0.06"),
            ("Mass", "Mass", "0.59 ± 0.06"),
            ("Nodule", "Nodule", "0.23 ± 0.03"),
            ("Pneumothorax", "Pneumothorax", "0.16 ± 0.02"),
        )  # the table's Pneumonia has no SynthCXR class
    ],
    ScorecardRow(
        "S7",
        "Table 5.3",
        "GMP baseline (512 px)",
        "weighted point loc. acc.",
        "0.58",
        _PYLON,
        "models.gmp.point_localization_weighted",
        setup="NIH, 512 px",
        image_size=512,
    ),
    ScorecardRow(
        "S7",
        "Table 5.3",
        "PYLON (512 px)",
        "weighted point loc. acc.",
        "0.65",
        _PYLON,
        "models.pylon.point_localization_weighted",
        setup="NIH, 512 px",
        image_size=512,
    ),
    ScorecardRow(
        "S7",
        "Table 5.4",
        "GMP baseline",
        "weighted AUROC",
        "0.795",
        _PYLON,
        "models.gmp.auroc_weighted",
        setup="NIH, 256 px",
    ),
    ScorecardRow(
        "S7",
        "Table 5.4",
        "Li 2018 (MIL)",
        "weighted AUROC",
        "0.796",
        _PYLON,
        "models.li2018.auroc_weighted",
        setup="NIH, 256 px",
    ),
    ScorecardRow(
        "S7",
        "Table 5.4",
        "FPN (BN)",
        "weighted AUROC",
        "0.795",
        _PYLON,
        "models.fpn.auroc_weighted",
        setup="NIH, 256 px",
    ),
    ScorecardRow(
        "S7",
        "Table 5.4",
        "PYLON",
        "weighted AUROC",
        "0.794",
        _PYLON,
        "models.pylon.auroc_weighted",
        setup="NIH, 256 px",
    ),
    *[
        ScorecardRow(
            "S7",
            "Table 5.5",
            label,
            "macro point loc. acc.",
            paper,
            _PYLON_II,
            f"transfer.arms.{arm}.point_localization_macro",
            setup="NIH → VinDr-CXR, 256 px; ours: SynthCXR → a shifted SynthCXR set labelled by 3 simulated readers",
        )
        for label, paper, arm in (
            ("GMP baseline (VinDr)", "0.31 ± 0.02", "gmp (scratch)"),
            ("Li 2018 (VinDr)", "0.29 ± 0.04", "li2018 (scratch)"),
            ("FPN (BN) (VinDr)", "0.36 ± 0.03", "fpn (scratch)"),
            ("PYLON (VinDr)", "0.42 ± 0.03", "pylon (scratch)"),
            ("GMP baseline fine-tuned from NIH", "0.34 ± 0.02", "gmp (fine-tuned)"),
            ("PYLON fine-tuned from NIH", "0.48 ± 0.04", "pylon (fine-tuned)"),
            ("PYLON two-phase transfer", "0.55 ± 0.03", "pylon (two-phase)"),
        )
    ],
    *[
        ScorecardRow(
            "S7",
            "Table 6.2",
            label,
            "weighted point loc. acc. (± 95 %)",
            paper,
            _PYLON_II,
            f"models.{model}.point_localization_weighted_text",
            setup="NIH, 256 px, 5 seeds; every ablation is built on PYLON (UP1), one Conv1×1 in each UP module",
        )
        for label, paper, model in (
            ("PYLON (UP1), the base", "0.62 ± 0.01", "pylon-up1"),
            ("(A) PYLON (no PY, UP1)", "0.60 ± 0.02", "pylon-up1-no-pyramid"),
            ("(B) PYLON (UP1, Conv 3×3 UP)", "0.59 ± 0.02", "pylon-up1-3x3-up"),
            ("(B) PYLON (two-layer Conv1×1 UP)", "0.62 ± 0.01", "pylon"),
            ("(C) PYLON (UP1, Head 3×3)", "0.57 ± 0.02", "pylon-up1-3x3-head"),
        )
    ],
    *[
        ScorecardRow(
            "S7",
            "Table 6.1",
            label,
            "weighted point loc. acc. (± 95 %)",
            paper,
            _PYLON_II,
            f"models.{model}.point_localization_weighted_text",
            setup="NIH, 256 px, 5 seeds; a wide interval is the instability the table is about",
        )
        for label, paper, model in (
            ("(A) PAN", "0.38 ± 0.17", "pan"),
            ("(A) PAN − GAP in FPA", "0.61 ± 0.04", "pan-no-gap-fpa"),
            ("(A) PAN − GAP in GAU", "0.50 ± 0.24", "pan-no-gap-gau"),
            ("(A) PAN − all GAP", "0.61 ± 0.03", "pan-no-gap"),
            ("(B) PYLON (UP1)", "0.62 ± 0.01", "pylon-up1"),
            ("(B) PYLON (UP1) + GAP in PA", "0.60 ± 0.04", "pylon-up1+gap-pa"),
            ("(B) PYLON (UP1) + GAP in UP", "0.57 ± 0.08", "pylon-up1+gap-up"),
            ("(C) DeepLabV3+", "0.45 ± 0.05", "deeplabv3plus"),
            ("(C) DeepLabV3+ − all GAP", "0.44 ± 0.04", "deeplabv3plus-no-gap"),
        )
    ],
]
