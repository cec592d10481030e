"""Study 06: the result object: its tables, figures and the JSON (headline) it writes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .settings import SOURCE_TABLE1, LaplaceSettings

__all__ = ["LaplaceResult", "headline"]


@dataclass
class LaplaceResult:
    settings: LaplaceSettings
    table1: pd.DataFrame  #: one row per method: accuracy, ECE, NLL, fit and optimisation seconds
    curves: dict  #: method → reliability curve (top-label)
    cam: dict  #: images, maps, classes, class_index of one test image per body part
    multilabel: pd.DataFrame | None = None  #: (method, metric) rows × classes
    ood: pd.DataFrame | None = None  #: per method: mean entropy in / out, AUROC
    history: pd.DataFrame | None = None
    extra: dict = field(default_factory=dict)
    priors: pd.DataFrame | None = None  #: (hessian, prior fit) rows: prior precision, seconds, test scores
    searches: dict = field(default_factory=dict)  #: (hessian, prior fit) → grid, loss (and fold_loss for cv)
    headline: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)

    def table1_display(self, part: str = "all") -> pd.DataFrame:
        """:attr:`table1` as the page shows it: four decimals (three significant digits for the prior
        precision and the seconds), "–" where a column means nothing for the row (the MAP network has
        no Laplace fit, prior precision or optimisation time). ``part``: ``"scores"`` (prior fit,
        accuracy, confidence, ECE, NLL, prior precision), ``"timing"`` (the seconds and the source's
        hours) or ``"all"``."""
        table = self.table1
        timing = [c for c in table.columns if c.endswith("(s)") or c.endswith("(h)")]
        if part == "scores":
            table = table.drop(columns=timing)
        elif part == "timing":
            table = table[timing]
        elif part != "all":
            raise ValueError(f"part must be 'scores', 'timing' or 'all', got {part!r}")
        shown = table.astype(object).copy()
        for column in table.columns:
            if pd.api.types.is_numeric_dtype(table[column]):
                three = column == "prior precision" or column in timing
                shown[column] = [
                    "–" if pd.isna(v) else (f"{v:.3g}" if three else round(float(v), 4)) for v in table[column]
                ]
        return shown

    def table1_beside_source(self) -> pd.DataFrame:
        """Table 1 as the source printed it beside ours, one row per method; each cell "source / ours":
        accuracy, ECE, the change of ECE from the MAP network (negative: better calibrated) and NLL."""
        map_ece = float(self.table1.loc["MAP", "ECE"])
        rows = {}
        for method in self.table1.index:
            if method not in SOURCE_TABLE1:
                continue
            acc, ece, nll = SOURCE_TABLE1[method]
            ours = self.table1.loc[method]
            rows[method] = {
                "accuracy": f"{acc:.3f} / {ours['accuracy']:.3f}",
                "ECE": f"{ece:.3f} / {ours['ECE']:.3f}",
                "ECE − MAP's": f"{ece - SOURCE_TABLE1['MAP'][1]:+.3f} / {ours['ECE'] - map_ece:+.3f}",
                "NLL": f"{nll:.3f} / {ours['NLL']:.3f}",
            }
        table = pd.DataFrame(rows).T
        table.columns.name = "source / ours"
        return table

    def loss_figure(self):
        """The MSK network's training and validation loss per epoch (the source's Fig. 1)."""
        from ... import plots

        s = self.settings
        return plots.training_curves(
            {s.backbone: self.history}, title=f"{s.backbone} on SynthMSK, {s.image_size} px: loss per epoch"
        )

    def prior_search_figure(self):
        """The loss of each prior precision of the grid (cross-validated NLL, and validation NLL for the
        grid search), one line per Hessian and search, the evidence's choice marked."""
        from ... import plots

        if not self.searches:
            return None
        curves = {
            f"{h}, {method}": (np.asarray(search["grid"]), np.asarray(search["loss"]))
            for (h, method), search in self.searches.items()
        }
        marks = {}
        if self.priors is not None:
            for h in self.settings.hessians:
                if (h, "marglik") in self.priors.index:
                    marks[f"{h}, evidence"] = float(self.priors.loc[(h, "marglik"), "prior precision"])
        return plots.prior_precision_search(curves, marks, title="Choosing the prior precision λ")

    def reliability_figure(self):
        from ... import plots

        return plots.reliability_diagram(
            {m: {m: c} for m, c in self.curves.items()},
            title=f"SynthMSK test: top-label reliability ({self.settings.n_bins} bins)",
            ncols=2,  # four panels in a row were too small to read on the page
        )

    def cam_figure(self):
        from ... import plots

        c = self.cam
        return plots.saliency_overlays(c["images"], {"CAM": c["maps"]}, c["classes"], c["class_index"], panel=1.9)

    def multilabel_figure(self, metric: str = "ECE"):
        from ... import plots

        if self.multilabel is None:
            return None
        table = self.multilabel.xs(metric, level="metric")
        return plots.per_class_heatmap(
            table, f"SynthCXR test: per-class {metric}", vmax=float(np.nanmax(table.to_numpy())), cmap="magma_r"
        )


def _summary(row: pd.Series, with_times: bool) -> str:
    text = f"{row['accuracy']:.3f} / {row['ECE']:.3f} / {row['NLL']:.3f}"
    if with_times:
        text += f"; {row['fit (s)']:.2g} s, {row['optimise (s)']:.2g} s"
    return text


def headline(result: LaplaceResult) -> dict:
    s, t = result.settings, result.table1
    table1 = {}
    for name, row in t.iterrows():
        key = "map" if name == "MAP" else name.removeprefix("Laplace ").replace(" (", "_").rstrip(")")
        entry = {k: float(row[k]) for k in ("accuracy", "ECE", "NLL")}
        if key != "map":
            entry.update(
                {
                    "prior_fit": row["prior fit"],
                    "fit_seconds": float(row["fit (s)"]),
                    "fit_with_forward_pass_seconds": float(row["fit + forward pass (s)"]),
                    "optimise_seconds": float(row["optimise (s)"]),
                    "prior_precision": float(row["prior precision"]),
                }
            )
        entry["summary"] = _summary(row, key != "map")
        table1[key] = entry
    head = {"run": result.run, "profile": s.profile, "prior_fit": s.prior_fit, "table1": table1}
    if result.priors is not None:
        head["priors"] = {
            f"{h}_{method}": {k.replace(" (s)", "_seconds").replace(" ", "_"): float(v) for k, v in r.items()}
            for (h, method), r in result.priors.iterrows()
        }
    if result.multilabel is not None:
        m = result.multilabel.mean(axis=1).unstack()
        head["multilabel"] = {
            "mean": {name: {"ECE": float(r["ECE"]), "NLL": float(r["NLL"])} for name, r in m.iterrows()},
            **{k: v for k, v in result.extra["bernoulli"].items() if k != "seconds"},
        }
    if result.ood is not None:
        head["ood"] = {
            name: {k.split(" (")[0].replace(" ", "_"): float(v) for k, v in r.items()}
            for name, r in result.ood.iterrows()
        }
    return head
