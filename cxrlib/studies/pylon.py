"""Study 08: PYLON against the GMP CAM baseline and segmentation decoders (Preechakul et al. 2022, ch. 5–6).

Every model shares one encoder (``encoder``, a segmentation-models-pytorch ResNet), plain BCE and
the thesis's schedule (Adam, ReduceLROnPlateau ×0.2 after 2 epochs without improvement, stop after
the second reduction, best validation loss). Each model's native class map (its head's output, no
ReLU) is scored against the truth boxes of the test split: point localisation accuracy per class,
weighted (pooled over boxes) and macro (mean over classes) as in Tables 5.1/5.3, IoBB (Table 5.2's
share of boxes with IoBB > 0.5) and AUROC (Table 5.4: weighted by positives and macro), as mean ±
95 % Student-t half-width over the training seeds.

``models`` names architectures of :data:`cxrlib.models.MAP_ARCHITECTURES` or PYLON ablations
(:data:`VARIANTS`: ``pylon-no-pyramid``, ``pylon-1-layer-up``, ``pylon-3x3-up``, ``pylon-3x3-head``,
``pylon+gap-pa``, ``pylon+gap-up``; Tables 6.1/6.2). ``dataset="nih"`` or ``"vindr"`` with
``data_root`` runs the same on real data (``classes="nih-boxes"`` for NIH).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from ..data.augment import AugmentedDataset
from ..losses import WeightedBCELoss
from ..metrics import iobb_scores, per_class_auroc, point_localization_accuracy
from ..models import build_model
from ..train import fit, resolve_device
from .common import (
    boxed_examples,
    boxed_overlay_figure,
    mean_ci,
    open_chest_dataset,
    resolve_settings,
    seed_mean_and_half_width,
    study_train_config,
)
from .prose import short_ci
from .runinfo import describe_run

__all__ = [
    "PylonSettings",
    "PylonRun",
    "PylonResult",
    "run_pylon",
    "pylon_settings",
    "VARIANTS",
    "class_maps",
    "evaluate_map_model",
    "truth_box_area",
]

#: the notebook whose results and artifacts this study writes
NOTEBOOK = "08_pylon"
#: model names the study understands: architecture and build options (PYLON's ablations of ch. 6)
VARIANTS: dict[str, tuple[str, dict]] = {
    "pylon": ("pylon", {}),
    "gmp": ("gmp", {}),
    "li2018": ("li2018", {}),
    "unet": ("unet", {}),
    "fpn": ("fpn", {}),
    "deeplabv3plus": ("deeplabv3plus", {}),
    "pan": ("pan", {}),
    "pylon-no-pyramid": ("pylon", {"pyramid": False}),
    "pylon-1-layer-up": ("pylon", {"up_layers": 1}),
    "pylon-3x3-up": ("pylon", {"up_kernel": 3}),
    "pylon-3x3-head": ("pylon", {"head_kernel": 3}),
    "pylon+gap-pa": ("pylon", {"gap_in_pa": True}),
    "pylon+gap-up": ("pylon", {"gap_in_up": True}),
    "pylon-light-up": ("pylon", {"light_up": True}),
}
#: the colour-bar label of every figure of the models' own class maps
MAP_LABEL = "class map (min-max normalised)"
#: a class is a small-lesion class when its median truth box covers less than this share of the image
SMALL_LESION_AREA = 0.025
#: PYLON's AUROC counts as comparable to GMP's when it is at most this much lower
COMPARABLE_AUROC = 0.03


@dataclass
class PylonSettings:
    profile: str = "default"
    dataset: str = "synth-cxr"
    data_root: str | None = None
    n: int = 800
    image_size: int = 64
    classes: str | tuple[str, ...] = "nih-boxes"  #: a preset ("nih-boxes", "all"...) or class names
    label_policy: str = "zeros"
    uncertain_rate: float = 0.0
    prevalence: float | None = 0.25
    models: tuple[str, ...] = ("pylon", "gmp")
    encoder: str = "resnet18"
    epochs: int = 6
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    augment: bool = False
    seeds: tuple[int, ...] = (0, 1)
    pretrained: bool = False
    device: str = "auto"
    data_seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        unknown = [m for m in self.models if m not in VARIANTS]
        if unknown or not self.models:
            raise ValueError(f"parameter 'models': unknown {unknown or 'empty list'}; use any of {list(VARIANTS)}")
        if "pan" in self.models and self.image_size % 256:
            raise ValueError(
                f"parameter 'models': PAN's pyramid halves the stride-32 map three times, so it needs an image_size "
                f"that is a multiple of 256, got {self.image_size}"
            )
        if self.image_size % 32:
            raise ValueError(
                f"parameter 'image_size' must be a multiple of 32 (the encoder's stride), got {self.image_size}"
            )
        if not self.seeds:
            raise ValueError("parameter 'seeds' must name at least one seed")


#: Budgets on a 2-core CPU: smoke <= 90 s, default <= 5 min. ResNet-18 from scratch at 64 px is what
#: fits: PYLON's maps are 16×16 there, the GMP baseline's 2×2. ``default`` adds the two cheapest other
#: baselines (Li 2018, FPN; about 20 and 30 s each per seed here; U-Net takes about 90 s, DeepLabV3+ 30 s,
#: PAN needs 256 px). ``full`` (a GPU box) is the thesis's setting: ResNet-50, 256 px, every baseline,
#: augmentation, Adam 1e-4, five seeds.
PRESETS = {
    "smoke": {"n": 400, "image_size": 64, "epochs": 2, "models": ("pylon", "gmp"), "seeds": (0,)},
    "default": {"n": 800, "image_size": 64, "epochs": 6, "models": ("pylon", "gmp", "li2018", "fpn"), "seeds": (0, 1)},
    "full": {
        "n": 20000,
        "image_size": 256,
        "epochs": 30,
        "batch_size": 64,
        "lr": 1e-4,
        "encoder": "resnet50",
        "augment": True,
        "seeds": (0, 1, 2, 3, 4),
        "models": ("gmp", "li2018", "unet", "fpn", "deeplabv3plus", "pan", "pylon"),
    },
}


def pylon_settings(profile: str = "default", **overrides) -> PylonSettings:
    """Settings for ``profile`` with every non-None override applied."""
    return resolve_settings(PylonSettings, PRESETS, profile, **overrides)


@dataclass
class PylonRun:
    model: str
    seed: int
    history: pd.DataFrame
    auroc: pd.Series  #: per class + "mean" (macro) + "weighted"
    localization: pd.DataFrame  #: point localisation per class + "weighted", "macro"
    iobb: pd.DataFrame  #: per class: mean IoBB and share of boxes with IoBB > 0.5
    train_seconds: float
    maps: np.ndarray  #: (N_test, K, h, w) native class maps, no ReLU
    logits: np.ndarray


@torch.no_grad()
def class_maps(model, data, batch_size: int = 64, device: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """``(logits (N, K), maps (N, K, h, w))``: each model's native class map (its head's output,
    without ReLU: the point of a negative map is still its maximum), one forward pass per batch."""
    dev = resolve_device(device)
    model.to(dev).eval()
    logits, maps = [], []
    for batch in DataLoader(data, batch_size=batch_size, shuffle=False):
        features = model.features(batch["image"].to(dev))
        m = model.class_maps(features)
        logits.append(model.pool(m).float().cpu())
        maps.append(m.float().cpu())
    return torch.cat(logits).numpy(), torch.cat(maps).numpy()


@dataclass
class PylonResult:
    settings: PylonSettings
    classes: list[str]
    runs: list[PylonRun]
    test_data: object = None
    box_area: pd.Series | None = None  #: per class, median truth-box area as a share of the image
    trained: dict = field(default_factory=dict)  #: model name → its first seed's trained model (CPU, eval)
    headline: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(r.model for r in self.runs))

    @property
    def small_lesion_classes(self) -> list[str]:
        if self.box_area is None:
            return []
        return [c for c in self.classes if c in self.box_area and self.box_area[c] < SMALL_LESION_AREA]

    def _runs(self, model: str) -> list[PylonRun]:
        return [r for r in self.runs if r.model == model]

    def localization_stats(self, model: str, key: str) -> tuple[float, float]:
        """Mean and 95 % half-width over seeds of point accuracy for ``key`` (class, weighted, macro)."""
        return mean_ci([r.localization.loc[key, "accuracy"] for r in self._runs(model)])

    def auroc_stats(self, model: str, key: str = "mean") -> tuple[float, float]:
        return mean_ci([r.auroc[key] for r in self._runs(model)])

    def localization_table(self) -> pd.DataFrame:
        """Table 5.1's layout: point localisation accuracy, mean ± 95 % half-width over seeds, one row
        per model; columns weighted and macro averages, then every class; a last row counts the boxes."""
        keys = ["weighted", "macro", *self.classes]
        rows = {m: {k: short_ci(*self.localization_stats(m, k)) for k in keys} for m in self.models}
        table = pd.DataFrame(rows).T[keys]
        n = self.runs[0].localization["n"]
        table.loc["boxes (test)"] = [str(int(n[k])) for k in keys]
        return table.rename(columns={"weighted": "Weighted avg.", "macro": "Macro avg."})

    def localization_means(self) -> pd.DataFrame:
        """The same numbers as floats (means over seeds), models × (weighted, macro, classes)."""
        keys = ["weighted", "macro", *self.classes]
        return pd.DataFrame({m: {k: self.localization_stats(m, k)[0] for k in keys} for m in self.models}).T[keys]

    def iobb_table(self) -> pd.DataFrame:
        """Table 5.2's measure: the share of truth boxes with IoBB > 0.5 per class (mean over seeds)."""
        cols = {m: pd.concat([r.iobb["iobb>0.5"] for r in self._runs(m)], axis=1).mean(axis=1) for m in self.models}
        return pd.DataFrame(cols).T

    def auroc_table(self) -> pd.DataFrame:
        """Table 5.4: weighted (by positives) and macro AUROC, mean ± 95 % half-width, and the map grid."""
        rows = {}
        for m in self.models:
            r0 = self._runs(m)[0]
            rows[m] = {
                "Weighted avg.": short_ci(*self.auroc_stats(m, "weighted")),
                "Macro avg.": short_ci(*self.auroc_stats(m, "mean")),
                "map grid": f"{r0.maps.shape[-2]}×{r0.maps.shape[-1]}",
                "training time (s)": round(float(np.mean([r.train_seconds for r in self._runs(m)]))),
            }
        return pd.DataFrame(rows).T

    def per_class_auroc(self) -> pd.DataFrame:
        return seed_mean_and_half_width({m: [r.auroc for r in self._runs(m)] for m in self.models})[0].drop(
            columns=["weighted"]
        )

    def histories(self) -> dict[str, pd.DataFrame]:
        return {f"{r.model} s{r.seed}": r.history for r in self.runs}

    def overlay_figure(self, per_class: int = 1):
        """Every model's class map (first seed) on ``per_class`` boxed test images per class."""
        first = self.settings.seeds[0]
        maps = {r.model: r.maps for r in self.runs if r.seed == first}
        return boxed_overlay_figure(self.test_data, maps, per_class, value_label=MAP_LABEL)

    def peak_concentration(self, regions: int = 4) -> pd.DataFrame:
        """Per model (rows) and class (columns): the share of the boxed test findings whose map peak
        lies in the class's most frequent region of a ``regions × regions`` grid over the image (first
        seed). Near 1, the model puts a class's evidence at one fixed place whatever the image: it has
        learned where to *report* the class, not where the finding is. Chance for findings spread over
        the lungs is far lower: the last row gives the same share for the truth boxes' centres."""
        test, first = self.test_data, self.settings.seeds[0]
        truth = test.truth_boxes().drop_duplicates(["image", "class"])
        boxes = truth[["image", "class"]]
        position = {key: i for i, key in enumerate(test.table["image"])}
        h_img, w_img = test.image_size
        rows = {}
        reference = {}
        for c in self.classes:  # the truth boxes' centres, for reference
            b = truth[truth["class"] == c]
            if b.empty:
                reference[c] = np.nan
                continue
            ry = ((b["y"] + b["h"] / 2) / h_img * regions).clip(0, regions - 1).astype(int)
            rx = ((b["x"] + b["w"] / 2) / w_img * regions).clip(0, regions - 1).astype(int)
            reference[c] = float(np.bincount(ry * regions + rx).max() / len(b))
        for r in self.runs:
            if r.seed != first:
                continue
            h, w = r.maps.shape[-2:]
            row = {}
            for k, c in enumerate(self.classes):
                idx = [position[i] for i in boxes.loc[boxes["class"] == c, "image"] if i in position]
                if not idx:
                    row[c] = np.nan
                    continue
                flat = r.maps[idx, k].reshape(len(idx), -1).argmax(1)
                ry = ((flat // w) + 0.5) / h * regions
                rx = ((flat % w) + 0.5) / w * regions
                cells = ry.astype(int) * regions + rx.astype(int)
                row[c] = float(np.bincount(cells).max() / len(cells))
            rows[r.model] = row
        rows["truth boxes (centres)"] = reference
        return pd.DataFrame(rows).T[self.classes]

    def small_lesion_comparison(self) -> dict | None:
        """PYLON vs GMP on the small-lesion classes: per class ``(pylon, gmp)`` point accuracy (means
        over seeds), the macro-AUROC difference, whether it is comparable, and the verdict (PYLON better
        on every small-lesion class at a comparable AUROC). None without both models or small lesions."""
        small = self.small_lesion_classes
        if not small or "pylon" not in self.models or "gmp" not in self.models:
            return None
        per = {c: (self.localization_stats("pylon", c)[0], self.localization_stats("gmp", c)[0]) for c in small}
        d_auc = self.auroc_stats("pylon", "mean")[0] - self.auroc_stats("gmp", "mean")[0]
        wins = [c for c, (p, g) in per.items() if p > g]
        comparable = bool(d_auc >= -COMPARABLE_AUROC)
        return {
            "classes": small,
            "per_class": per,
            "wins": wins,
            "auroc_difference": float(d_auc),
            "comparable_auroc": comparable,
            "pylon_beats_gmp": bool(len(wins) == len(small) and comparable),
        }

    def _examples(self, classes: list[str] | None = None):
        """One boxed test image per class (of ``classes``): images ``(N, 1, H, W)``, class indices, boxes."""
        test = self.test_data
        positions, class_index = boxed_examples(test)
        keep = [i for i, k in enumerate(class_index) if classes is None or self.classes[k] in classes]
        positions, class_index = [positions[i] for i in keep], [class_index[i] for i in keep]
        truth = test.truth_boxes()
        boxes = [
            truth[(truth["image"] == test.table.loc[p, "image"]) & (truth["class"] == self.classes[k])]
            for p, k in zip(positions, class_index, strict=True)
        ]
        images = torch.stack([test[p]["image"] for p in positions]) if positions else None
        return images, class_index, boxes

    def layer_figure(self):
        """Chapter 7's layer-wise view (first seed's PYLON): the class map after PA, then after each UP
        module (cumulative), on one boxed test image per class; None without a PYLON model."""
        from .. import plots
        from ..models.pylon import layer_maps

        model = self.trained.get("pylon")
        images, class_index, boxes = self._examples()
        if model is None or images is None:
            return None
        parts = layer_maps(model, images)
        maps, total = {}, 0
        for i, (name, part) in enumerate(parts.items()):
            total = total + part
            maps[name if i == 0 else f"PA…{name}"] = total.numpy()
        return plots.saliency_overlays(images, maps, self.classes, class_index, boxes, value_label=MAP_LABEL)

    def layer_histogram_figure(self):
        """Chapter 7's histograms (first seed's PYLON): for each decoder stage (PA, UP1–UP3, not cumulative),
        the values it adds to the class map at the map cells inside the truth boxes against those
        outside, over one boxed test image per class; None without a PYLON model."""
        from .. import plots
        from ..models.pylon import layer_maps

        model = self.trained.get("pylon")
        images, class_index, boxes = self._examples()
        if model is None or images is None:
            return None
        size_h, size_w = images.shape[-2:]
        panels = {}
        for name, part in layer_maps(model, images).items():
            inside, outside = [], []
            for i, k in enumerate(class_index):
                m = part[i, k].numpy()
                h, w = m.shape
                cy = ((np.arange(h) + 0.5) * size_h / h)[:, None]
                cx = ((np.arange(w) + 0.5) * size_w / w)[None, :]
                mask = np.zeros((h, w), bool)
                for b in boxes[i].itertuples():
                    mask |= (cy >= b.y) & (cy <= b.y + b.h) & (cx >= b.x) & (cx <= b.x + b.w)
                inside.append(m[mask])
                outside.append(m[~mask])
            panels[name] = {"outside the box": np.concatenate(outside), "inside the box": np.concatenate(inside)}
        return plots.value_histograms(
            panels, "What each decoder stage adds to the class map (cells inside vs outside the truth box)", "value"
        )

    def channel_figure(self, top: int = 20, shown: tuple[int, ...] = (1, 2, 5, 10, 20)):
        """Chapter 7's channel-wise view (first seed's PYLON): for one boxed test image per small-lesion
        class (every class when none is small), the map of the ``n`` decoder channels with the largest
        head weight for that class, cumulatively, for ``n`` in ``shown``; None without a PYLON model."""
        from .. import plots
        from ..models.pylon import channel_maps

        model = self.trained.get("pylon")
        images, class_index, boxes = self._examples(self.small_lesion_classes or None)
        if model is None or images is None:
            return None
        features = model.features(images)
        maps = {}
        for n in shown:
            if n > top:
                continue
            arr = np.zeros((len(images), len(self.classes), *features.shape[-2:]), dtype=np.float32)
            for i, k in enumerate(class_index):
                arr[i, k] = channel_maps(model, features[i : i + 1], k, top)[0, n - 1].numpy()
            maps[f"top {n} channels"] = arr
        return plots.saliency_overlays(images, maps, self.classes, class_index, boxes, value_label=MAP_LABEL)

    def nih_sample_figure(self):
        """The real boxed NIH images shipped with cxrlib, resized to the run's image size, with their real
        boxes and the class maps of every model (first seed) for the boxed class. Classes the models do
        not have (Pneumonia is no SynthCXR class) are left out; NIH's "Effusion" is "Pleural Effusion"."""
        from .. import plots
        from ..data import open_nih_sample

        if not self.trained:
            return None
        nih = open_nih_sample(self.settings.image_size, classes="nih-boxes")
        names = {"Effusion": "Pleural Effusion"}
        truth = nih.truth_boxes()
        keys = list(nih.table["image"])
        rows = [
            (keys.index(img), self.classes.index(names.get(c, c)), g)
            for (img, c), g in truth.groupby(["image", "class"], sort=False)
            if names.get(c, c) in self.classes and img in keys
        ]
        if not rows:
            return None
        images = torch.stack([nih[i]["image"] for i, _, _ in rows])
        maps = {}
        for name, model in self.trained.items():
            with torch.no_grad():
                maps[name] = model.class_maps(model.features(images)).numpy()
        return plots.saliency_overlays(
            images, maps, self.classes, [k for _, k, _ in rows], [g for _, _, g in rows], value_label=MAP_LABEL
        )

    def save_weights(self, notebook: str = NOTEBOOK) -> str:
        """Save the first seed's trained ``pylon`` and ``gmp`` (those of them this run has) as the artifact
        ``weights`` of ``notebook``, with what they were trained on, for the transfer of notebook 09
        (:mod:`cxrlib.studies.pylon_ablations`). Returns the artifact's path."""
        from ..artifacts import save_artifact

        s = self.settings
        models = {m: self.trained[m].state_dict() for m in ("pylon", "gmp") if m in self.trained}
        meta = {
            "dataset": s.dataset,
            "profile": s.profile,
            "encoder": s.encoder,
            "image_size": s.image_size,
            "seed": s.seeds[0],
            "n_train": int(self.run.get("n_train", 0)),
            "classes": list(self.classes),
            "pretrained": bool(s.pretrained),
        }
        return str(save_artifact(notebook, "weights", {"models": models, "meta": meta}))

    def discussion(self) -> str:
        return pylon_discussion(self)


def pylon_discussion(result: PylonResult) -> str:
    """Paragraphs generated from the numbers of ``result`` (Markdown)."""
    s, run = result.settings, result.run
    lines = []
    auc = {m: result.auroc_stats(m, "mean") for m in result.models}
    loc = {m: result.localization_stats(m, "weighted") for m in result.models}
    grids = {m: "×".join(str(x) for x in result._runs(m)[0].maps.shape[-2:]) for m in result.models}
    seeds = len(s.seeds)
    lines.append(
        f"**Setting.** {s.encoder} encoder trained from {'ImageNet weights' if s.pretrained else 'scratch'} on "
        f"{s.dataset} at {s.image_size} px ({run.get('n_train', '?')} training images, at most {s.epochs} epochs, "
        f"{seeds} seed{'s' if seeds > 1 else ''}{'' if seeds > 1 else ', so no interval'}, "
        f"{run.get('device', 'device not recorded')}). Macro test AUROC was "
        + ", ".join(f"{short_ci(*auc[m])} for {m}" for m in result.models)
        + "; weighted point localisation accuracy "
        + ", ".join(f"{short_ci(*loc[m])} for {m} ({grids[m]} maps)" for m in result.models)
        + "."
    )
    weak = [m for m in result.models if not np.isfinite(auc[m][0]) or auc[m][0] < 0.6]
    if weak:
        lines.append(
            f"{', '.join(weak)} stayed close to chance (macro AUROC below 0.6): in this budget "
            f"{'it has' if len(weak) == 1 else 'they have'} barely learned the findings, so "
            f"{'its' if len(weak) == 1 else 'their'} maps say little."
        )
    cmp = result.small_lesion_comparison()
    if cmp is not None:
        small, per, d_auc, comparable = (
            cmp["classes"],
            cmp["per_class"],
            cmp["auroc_difference"],
            cmp["comparable_auroc"],
        )
        n_small = result.runs[0].localization.loc[small, "n"].astype(int)
        lines.append(
            f"**Small lesions.** The classes whose median truth box covers less than {SMALL_LESION_AREA:.1%} of "
            f"the image are {', '.join(small)}. Point localisation accuracy, PYLON vs GMP (means over seeds): "
            + "; ".join(f"{c} {p:.2f} vs {g:.2f} ({int(n_small[c])} boxes)" for c, (p, g) in per.items())
            + f". PYLON's macro AUROC is {abs(d_auc):.3f} {'above' if d_auc >= 0 else 'below'} GMP's "
            f"({'comparable' if comparable else 'not comparable'} by this page's rule: comparable means at most "
            f"{COMPARABLE_AUROC} lower in the mean; the 95 % intervals of Table 5.4 say how firm that is)."
        )
        small_auc = {c: (result.auroc_stats("pylon", c)[0], result.auroc_stats("gmp", c)[0]) for c in small}
        undetected = [c for c, (p, g) in small_auc.items() if max(p, g) < 0.6]
        if undetected:
            lines.append(
                "Their per-class AUROC, PYLON vs GMP: "
                + "; ".join(f"{c} {p:.2f} vs {g:.2f}" for c, (p, g) in small_auc.items())
                + f". Neither model detects {', '.join(undetected)} (AUROC below 0.6 for both), so neither map can be "
                "expected to point at them: this run cannot test the thesis's small-lesion gain for "
                + ("that class." if len(undetected) == 1 else "those classes.")
            )
        gmp_run, pylon_run = result._runs("gmp")[0], result._runs("pylon")[0]
        cell = {m: s.image_size // r.maps.shape[-1] for m, r in (("gmp", gmp_run), ("pylon", pylon_run))}
        if cmp["pylon_beats_gmp"]:
            lines.append(
                "So on this run **PYLON beats the GMP baseline on point localisation of every small-lesion class "
                "at a comparable AUROC**, as the thesis found on NIH. Resolution is one reason: GMP's "
                f"{grids['gmp']} map can only put its maximum in one of {int(np.prod(gmp_run.maps.shape[-2:]))} cells "
                f"of {cell['gmp']} px, larger than these boxes, while PYLON's {grids['pylon']} map has cells of "
                f"{cell['pylon']} px."
            )
        else:
            why = []
            if not comparable:
                why.append(
                    f"PYLON's mean AUROC is more than {COMPARABLE_AUROC} below GMP's, so by this page's rule the two "
                    "are not equally well trained"
                )
            lost = [c for c in small if c not in cmp["wins"]]
            if lost:
                why.append(f"PYLON does not localise {', '.join(lost)} better than GMP")
            if any(m in weak for m in ("pylon", "gmp")):
                why.append("at least one of the two is near chance in this budget (too few epochs and images)")
            lines.append(
                (
                    "So on this run **PYLON beats the GMP baseline on no small-lesion class at a comparable AUROC**: "
                    if not cmp["wins"]
                    else "So on this run **PYLON does not beat the GMP baseline on every small-lesion class at a "
                    "comparable AUROC**: "
                )
                + "; ".join(why)
                + f". A likely reason: a finer map ({cell['pylon']} px cells against GMP's {cell['gmp']} px) only "
                "helps once the decoder has learned where the findings are; from scratch, with few images and "
                "epochs, it has little signal to learn that from. The `full` profile (ResNet-50, 256 px, more data "
                "and epochs) is the thesis's setting."
            )
    elif "pylon" in result.models and "gmp" in result.models:
        lines.append("**Small lesions.** No class of this run has boxes small enough to call small lesions.")
    others = [m for m in result.models if m not in ("pylon", "gmp")]
    if others and "pylon" in result.models:
        better = [m for m in others if loc[m][0] > loc["pylon"][0]]

        def apart(m: str) -> bool:
            return bool(np.isfinite(loc[m][1]) and np.isfinite(loc["pylon"][1])) and (
                loc[m][0] - loc["pylon"][0] > loc[m][1] + loc["pylon"][1]
            )

        measured = [m for m in better if apart(m)]
        text = (
            f"Among the other models, {', '.join(better) if better else 'none'} localised better than PYLON in the "
            "mean weighted point accuracy"
        )
        if better:
            text += (
                f"; for {', '.join(measured)} the 95 % intervals lie apart, so the difference is measured"
                if measured
                else "; every such difference lies within the two models' 95 % intervals, so none is established"
            )
            weak_better = [m for m in better if m in weak]
            if weak_better:
                text += f" ({', '.join(weak_better)} near chance: a point accuracy without detection means little)"
        lines.append(text + ".")
    conc = result.peak_concentration()
    if len(conc) > 1:
        mean_conc = conc.mean(axis=1)
        truth_share = mean_conc.iloc[-1]
        models_conc = mean_conc.iloc[:-1]
        lines.append(
            "**Where the peaks go.** The share of boxed findings whose map peak falls in the class's most frequent "
            "of 16 image regions (4×4; first seed), averaged over classes, was "
            + ", ".join(f"{v:.2f} for {m}" for m, v in models_conc.items())
            + f"; for the centres of the truth boxes themselves it is {truth_share:.2f}. "
            + " ".join(
                f"{m}'s peaks are more concentrated than the findings (by {v - truth_share:.2f}), as they would "
                "be if it reported a class at a few fixed places rather than following the finding (one seed; the "
                "table gives each class)."
                if v - truth_share >= 0.1
                else f"{m}'s peaks are about as spread as the findings (within 0.1), so fixed positions alone do not "
                "explain its misses (the table above gives the share per class)."
                for m, v in models_conc.items()
            )
        )
    gmp_runs = result._runs("gmp") if "gmp" in result.models else []
    if gmp_runs and min(gmp_runs[0].maps.shape[-2:]) <= 2:
        lines.append(
            f"GMP's {grids['gmp']} map is a special case: upsampled bilinearly, its maximum lies in a flat square "
            "at one corner of the image (a quarter of the side wide), so its point is always near a corner; "
            "at this image size the baseline cannot point at a finding away from the corners, whatever it has learned."
        )
    lines.append(
        "Point accuracy is scored on each model's raw map, upsampled bilinearly to the image; a constant map "
        "has no maximum and counts as a miss."
    )
    return "\n\n".join(lines)


def _weighted_auroc(auroc: pd.Series, labels: np.ndarray, classes: list[str]) -> float:
    positives = np.nansum(labels == 1, axis=0).astype(float)
    values = auroc[classes].to_numpy(float)
    keep = np.isfinite(values) & (positives > 0)
    return float(np.sum(values[keep] * positives[keep]) / positives[keep].sum()) if keep.any() else float("nan")


def _iobb_per_class(maps, boxes, keys, classes, size) -> pd.DataFrame:
    scores = iobb_scores(maps, boxes, keys, classes, size)
    if scores.empty:
        return pd.DataFrame({"iobb": np.nan, "iobb>0.5": np.nan}, index=classes)
    grouped = scores.groupby("class")["iobb"]
    out = pd.DataFrame({"iobb": grouped.mean(), "iobb>0.5": grouped.apply(lambda v: float((v > 0.5).mean()))})
    return out.reindex(classes)


def evaluate_map_model(
    name: str, seed: int, model, test, history: pd.DataFrame, seconds: float, device: str = "auto"
) -> PylonRun:
    """Score a trained map model on ``test`` (a :class:`~cxrlib.data.CXRDataset` with truth boxes):
    per-class and weighted AUROC of its logits, point localisation and IoBB of its native maps."""
    logits, maps = class_maps(model, test, device=device)
    classes = list(test.classes)
    boxes, keys = test.truth_boxes(), list(test.table["image"])
    auroc = per_class_auroc(logits, test.labels, classes)
    auroc["weighted"] = _weighted_auroc(auroc, test.labels, classes)
    return PylonRun(
        name,
        seed,
        history,
        auroc,
        point_localization_accuracy(maps, boxes, keys, classes, test.image_size),
        _iobb_per_class(maps, boxes, keys, classes, test.image_size),
        seconds,
        maps,
        logits,
    )


def truth_box_area(test) -> pd.Series:
    """Per class, the median truth-box area of ``test`` as a share of the image; ``ValueError`` when
    the split has no truth boxes (localisation cannot be scored)."""
    boxes = test.truth_boxes()
    if boxes.empty:
        raise ValueError(f"{test.name}'s test split has no truth boxes: this study scores localisation and needs them")
    h, w = test.image_size
    return ((boxes["w"] * boxes["h"]) / (h * w)).groupby(boxes["class"]).median()


def run_pylon(settings: PylonSettings) -> PylonResult:
    t_start = time.perf_counter()
    ds = open_chest_dataset(settings)
    train, val, test = ds.subset("train"), ds.subset("val"), ds.subset("test")
    box_area = truth_box_area(test)
    train_data = AugmentedDataset(train) if settings.augment else train
    loss = WeightedBCELoss()  # plain BCE, as the thesis
    runs, trained = [], {}
    for name in settings.models:
        architecture, options = VARIANTS[name]
        for seed in settings.seeds:
            torch.manual_seed(seed)
            model = build_model(
                architecture,
                len(ds.classes),
                encoder=settings.encoder,
                pretrained=settings.pretrained,
                **options,
            )
            config = study_train_config(settings, seed)
            t0 = time.perf_counter()
            fitted = fit(model, train_data, val, loss, config)
            run = evaluate_map_model(name, seed, model, test, fitted.history, time.perf_counter() - t0, settings.device)
            runs.append(run)
            if seed == settings.seeds[0]:
                trained[name] = model.cpu().eval()
    result = PylonResult(settings, list(ds.classes), runs, test, box_area, trained=trained)
    result.run = describe_run(
        settings,
        {"train": len(train), "val": len(val), "test": len(test)},
        time.perf_counter() - t_start,
        classes=list(ds.classes),
        map_grid=" / ".join(
            f"{r.model} {r.maps.shape[-2]}×{r.maps.shape[-1]}" for r in runs if r.seed == settings.seeds[0]
        ),
    )
    result.headline = {
        "run": result.run,
        "dataset": settings.dataset,
        "profile": settings.profile,
        "image_size": settings.image_size,
        "encoder": settings.encoder,
        "n_train": len(train),
        "n_test": len(test),
        "small_lesion_classes": result.small_lesion_classes,
        "models": {
            m: {
                "point_localization_weighted": result.localization_stats(m, "weighted")[0],
                "point_localization_weighted_ci": result.localization_stats(m, "weighted")[1],
                "point_localization_macro": result.localization_stats(m, "macro")[0],
                "point_localization_per_class": {c: result.localization_stats(m, c)[0] for c in ds.classes},
                "iobb_above_half": {
                    c: mean_ci([r.iobb.loc[c, "iobb>0.5"] for r in result._runs(m)])[0] for c in ds.classes
                },
                "auroc_weighted": result.auroc_stats(m, "weighted")[0],
                "auroc_macro": result.auroc_stats(m, "mean")[0],
                "per_class_auroc": {c: result.auroc_stats(m, c)[0] for c in ds.classes},
                "map_grid": [int(x) for x in result._runs(m)[0].maps.shape[-2:]],
            }
            for m in result.models
        },
    }
    cmp = result.small_lesion_comparison()
    if cmp is not None:
        result.headline["small_lesions"] = {
            "pylon_beats_gmp": cmp["pylon_beats_gmp"],
            "comparable_auroc": cmp["comparable_auroc"],
            "auroc_difference": cmp["auroc_difference"],
            "per_class": {c: {"pylon": p, "gmp": g} for c, (p, g) in cmp["per_class"].items()},
        }
    return result
