"""Study 08: the result object: its tables, figures and the JSON (headline) it writes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ..common import (
    boxed_examples,
    boxed_overlay_figure,
    mean_ci,
    seed_mean_and_half_width,
)
from ..prose import bounded_ci
from .settings import COMPARABLE_AUROC, SMALL_LESION_AREA, VARIANT_LABELS, PylonSettings

__all__ = ["NOTEBOOK", "MAP_LABEL", "model_label", "PylonRun", "PylonResult"]


#: the notebook whose results and artifacts this study writes
NOTEBOOK = "08_pylon"


#: the colour-bar label of every figure of the models' own class maps
MAP_LABEL = "class map (min-max normalised)"


def model_label(model: str) -> str:
    """How a reader meets ``model`` in tables and figures (:data:`VARIANT_LABELS`): ``PYLON``, and for a
    name that starts with a model and adds a qualifier, ``"pylon (two-phase)"`` → ``PYLON (two-phase)``;
    other names as they are."""
    if model in VARIANT_LABELS:
        return VARIANT_LABELS[model]
    head, sep, rest = model.partition(" (")
    return f"{VARIANT_LABELS[head]}{sep}{rest}" if sep and head in VARIANT_LABELS else model


@dataclass
class PylonRun:
    model: str
    seed: int
    history: pd.DataFrame
    auroc: pd.Series  #: per class + "mean" (macro) + "weighted"
    localization: pd.DataFrame  #: point localisation per class + "weighted", "macro"
    iobb: pd.DataFrame  #: per class: mean IoBB over regions, and the Table 5.2 hit rate (IoBB or IoU > 0.5)
    train_seconds: float
    maps: np.ndarray  #: (N_test, K, h, w) native class maps, no ReLU
    logits: np.ndarray


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
        rows = {m: {k: bounded_ci(*self.localization_stats(m, k)) for k in keys} for m in self.models}
        table = pd.DataFrame(rows).T[keys]
        n = self.runs[0].localization["n"]
        table.loc["boxes (test)"] = [str(int(n[k])) for k in keys]
        return table.rename(index=model_label, columns={"weighted": "Weighted avg.", "macro": "Macro avg."})

    def localization_means(self) -> pd.DataFrame:
        """The same numbers as floats (means over seeds), models × (weighted, macro, classes)."""
        keys = ["weighted", "macro", *self.classes]
        table = pd.DataFrame({m: {k: self.localization_stats(m, k)[0] for k in keys} for m in self.models}).T[keys]
        return table.rename(index=model_label)

    def iobb_table(self) -> pd.DataFrame:
        """Table 5.2's measure, the reference code's: per class, the share of (image, class) pairs whose
        thresholded map has IoBB > 0.5 or IoU > 0.5 with the union of the class's boxes (mean over seeds)."""
        cols = {
            m: pd.concat([r.iobb["iobb_or_iou>0.5"] for r in self._runs(m)], axis=1).mean(axis=1) for m in self.models
        }
        return pd.DataFrame(cols).T.rename(index=model_label)

    def auroc_table(self) -> pd.DataFrame:
        """Table 5.4: weighted (by positives) and macro AUROC, mean ± 95 % half-width, and the map grid."""
        rows = {}
        for m in self.models:
            r0 = self._runs(m)[0]
            rows[m] = {
                "Weighted avg.": bounded_ci(*self.auroc_stats(m, "weighted")),
                "Macro avg.": bounded_ci(*self.auroc_stats(m, "mean")),
                "map grid": f"{r0.maps.shape[-2]}×{r0.maps.shape[-1]}",
                "training time (s)": round(float(np.mean([r.train_seconds for r in self._runs(m)]))),
            }
        return pd.DataFrame(rows).T.rename(index=model_label)

    def per_class_auroc(self) -> pd.DataFrame:
        table = seed_mean_and_half_width({m: [r.auroc for r in self._runs(m)] for m in self.models})[0]
        return table.drop(columns=["weighted"]).rename(index=model_label)

    def histories(self) -> dict[str, pd.DataFrame]:
        return {f"{model_label(r.model)}, seed {r.seed}": r.history for r in self.runs}

    def overlay_figure(self, per_class: int = 1):
        """Every model's class map (first seed) on ``per_class`` boxed test images per class."""
        first = self.settings.seeds[0]
        maps = {model_label(r.model): r.maps for r in self.runs if r.seed == first}
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
        return pd.DataFrame(rows).T[self.classes].rename(index=model_label)

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
        from ... import plots
        from ...models.pylon import layer_maps

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

    def pyramid_table(self) -> pd.DataFrame:
        """The sizes of PYLON's pyramid-attention maps at this run's image size: the bottleneck (stride 32)
        and the three max-pooled levels; a 1×1 level is one number per image and channel."""
        from ...models.pylon import pyramid_levels

        levels = pyramid_levels(self.settings.image_size)
        names = ["bottleneck (stride 32)", "level 1 (÷2)", "level 2 (÷4)", "level 3 (÷8)"]
        return pd.DataFrame(
            {
                "map": [f"{h}×{w}" for h, w in levels],
                "a spatial map?": ["yes" if h * w > 1 else "no: one number per image" for h, w in levels],
            },
            index=names,
        )

    def attention_figure(self):
        """The thesis's Fig. 7.1 (first seed's PYLON) on one boxed test image per class, each upsampled to
        the image: PA's middle path (mean over channels), the pyramid's attention, and PA's output (their
        product). At an image size whose pyramid levels are all 1×1 the attention is one number per image,
        and its panels say "flat". None without a PYLON model."""
        from ... import plots
        from ...models.pylon import pyramid_attention_parts

        model = self.trained.get("pylon")
        images, class_index, boxes = self._examples()
        if model is None or images is None:
            return None
        names = {"middle path": "PA middle path", "attention": "PA attention", "output": "PA output"}
        maps = {
            names[name]: np.repeat(part.numpy()[:, None], len(self.classes), axis=1)
            for name, part in pyramid_attention_parts(model, images).items()
        }
        return plots.saliency_overlays(
            images, maps, self.classes, class_index, boxes, value_label="value (min-max normalised)"
        )

    def layer_histogram_figure(self):
        """Chapter 7's histograms (first seed's PYLON): for each decoder stage (PA, UP1–UP3, not cumulative),
        the values it adds to the class map at the map cells inside the truth boxes against those
        outside, over one boxed test image per class; None without a PYLON model."""
        from ... import plots
        from ...models.pylon import layer_maps

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
            panels,
            "What each decoder stage adds to the class map (cells inside vs outside the truth box)",
            "contribution to the class map (logit units)",
        )

    def channel_figure(self, top: int = 20, shown: tuple[int, ...] = (1, 2, 5, 10, 20), cumulative: bool = True):
        """Chapter 7's channel-wise view (first seed's PYLON): for one boxed test image per small-lesion
        class (every class when none is small), the decoder channels with the largest head weight in
        magnitude for that class, each as its contribution ``w · f`` (negative weights inverted, as the
        thesis does): cumulatively, the sum of the first ``n`` for ``n`` in ``shown`` (Fig. 7.4), or
        one by one, channels ``shown`` (Fig. 7.3). None without a PYLON model."""
        from ... import plots
        from ...models.pylon import channel_maps

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
                part = channel_maps(model, features[i : i + 1], k, top, cumulative=cumulative)
                arr[i, k] = part[0, n - 1].numpy()
            maps[f"top {n} channels" if cumulative else f"channel {n}"] = arr
        return plots.saliency_overlays(images, maps, self.classes, class_index, boxes, value_label=MAP_LABEL)

    def cumulative_histogram_figure(self):
        """Fig. 7.2's histograms (first seed's PYLON): the values of the class map as it is built, PA, then
        PA + UP1, ... up to the whole map, over every cell of one boxed test image per class. The thesis
        saw them shift towards negative values as each UP module is added. None without a PYLON model."""
        from ... import plots
        from ...models.pylon import layer_maps

        model = self.trained.get("pylon")
        images, class_index, _ = self._examples()
        if model is None or images is None:
            return None
        panels, total, names = {}, 0, []
        for name, part in layer_maps(model, images).items():
            total = total + part
            names.append(name)
            values = np.concatenate([total[i, k].numpy().ravel() for i, k in enumerate(class_index)])
            panels["+".join(names)] = {"class-map cells": values}
        return plots.value_histograms(
            panels, "The class map as each decoder stage is added (all cells)", "class-map value (logit units)"
        )

    def nih_sample_figure(self):
        """The real boxed NIH images shipped with cxrlib, resized to the run's image size, with their real
        boxes and the class maps of every model (first seed) for the boxed class. Classes the models do
        not have (Pneumonia is no SynthCXR class) are left out; NIH's "Effusion" is "Pleural Effusion"."""
        from ... import plots
        from ...data import open_nih_sample
        from ...data.classes import SYNTH_NAMES_OF_NIH as names

        if not self.trained:
            return None
        nih = open_nih_sample(self.settings.image_size, classes="nih-boxes")
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
        from ...artifacts import save_artifact

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
