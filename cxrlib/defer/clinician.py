"""The clinician the model defers to: a simulated reader whose predictions exist for every image, so the
accuracy of model + clinician is measured rather than assumed.

On SynthCXR the clinician is one of the generator's readers (``open_dataset("synth-cxr",
readers={"n_readers": 1, "sensitivity": ..., "specificity": ...})``), with per-class sensitivity and
specificity against the true labels. On any other dataset (or to change one class's reader) it is drawn
from the labels with :func:`simulated_clinician`. Predictions are ``(N, K)`` floats: 1.0 / 0.0, NaN
where the clinician has none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..data.dataset import CXRDataset
from ..rng import as_keys, random_stream

__all__ = ["reader_clinician", "simulated_clinician", "with_clinician", "WithClinician"]


def reader_clinician(ds: CXRDataset, reader: str = "reader_0") -> np.ndarray:
    """The labels reader ``reader`` gave to the images of ``ds``, ``(N, K)`` in ``ds.classes`` order.

    Raises ``ValueError`` when the dataset has no simulated readers (``ds.info["reader_labels"]``: a
    real dataset, or SynthCXR opened without ``readers=``) or not this one, or when an image has none.
    """
    labels = ds.info.get("reader_labels")
    if labels is None:
        raise ValueError(
            f"{ds.name} has no simulated readers, so there is no clinician to defer to; open SynthCXR with "
            "readers={'n_readers': 1, ...} or draw one from the labels with simulated_clinician()"
        )
    mine = labels[labels["reader"] == reader]
    if mine.empty:
        raise ValueError(f"{ds.name}: no reader {reader!r}; readers are {sorted(labels['reader'].unique())}")
    table = mine.set_index("image").reindex(ds.table["image"].to_numpy())[ds.classes]
    missing = table.isna().all(axis=1)
    if missing.any():
        raise ValueError(f"{ds.name}: reader {reader!r} has no labels for {int(missing.sum())} image(s)")
    return table.to_numpy(dtype=np.float64)


def _per_class(value: float | Mapping[str, float] | Sequence[float], classes: Sequence[str], what: str) -> np.ndarray:
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(classes))
        if unknown:
            raise ValueError(f"clinician {what} given for unknown class(es) {unknown}; classes are {list(classes)}")
        values = [float(value.get(c, np.nan)) for c in classes]
    elif isinstance(value, (int, float)):
        values = [float(value)] * len(classes)
    else:
        values = [float(v) for v in value]
        if len(values) != len(classes):
            raise ValueError(f"clinician {what}: {len(values)} values for {len(classes)} classes")
    out = np.asarray(values)
    if np.isnan(out).any() or (out < 0).any() or (out > 1).any():
        raise ValueError(f"clinician {what} must lie in [0, 1] for every class, got {dict(zip(classes, values))}")
    return out


def simulated_clinician(
    labels: np.ndarray,
    sensitivity: float | Mapping[str, float] | Sequence[float],
    specificity: float | Mapping[str, float] | Sequence[float],
    seed: int | Sequence[int] = 0,
    classes: Sequence[str] | None = None,
) -> np.ndarray:
    """A clinician drawn from ``labels (N, K)`` (1 / 0 / NaN): each positive found with probability
    ``sensitivity``, each negative called negative with probability ``specificity`` (a number, one per
    class, or ``{class: value}`` with ``classes`` naming the columns). Class ``k`` draws from its own
    stream ``(*seed, k)`` (``seed`` one integer or a flat tuple of them, see
    :func:`~cxrlib.rng.random_stream`), so changing one class's parameters leaves the others' predictions as they
    were. NaN labels give NaN predictions."""
    y = np.asarray(labels, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"labels must be (N, K), got shape {y.shape}")
    known = ~np.isnan(y)
    if not np.isin(y[known], (0.0, 1.0)).all():
        raise ValueError("labels must be 0, 1 or NaN")
    names = list(classes) if classes is not None else [str(k) for k in range(y.shape[1])]
    if len(names) != y.shape[1]:
        raise ValueError(f"{len(names)} class names for {y.shape[1]} label columns")
    sens = _per_class(sensitivity, names, "sensitivity")
    spec = _per_class(specificity, names, "specificity")
    out = np.full_like(y, np.nan)
    for k in range(y.shape[1]):
        draw = random_stream(*as_keys(seed), k).random(len(y))
        says = np.where(y[:, k] == 1, draw < sens[k], draw >= spec[k])
        out[:, k] = np.where(known[:, k], says.astype(np.float64), np.nan)
    return out


class WithClinician(Dataset):
    """``data``'s items with ``"clinician"``: the clinician's ``(K,)`` predictions for that image."""

    def __init__(self, data: Dataset, clinician: np.ndarray):
        clinician = np.asarray(clinician, dtype=np.float32)
        if clinician.ndim != 2 or len(clinician) != len(data):
            raise ValueError(f"clinician predictions {clinician.shape} do not match {len(data)} images")
        self.data = data
        self.clinician = torch.from_numpy(clinician)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = dict(self.data[i])
        item["clinician"] = self.clinician[i]
        return item


def with_clinician(data: Dataset, clinician: np.ndarray) -> WithClinician:
    """``data`` whose items also carry the clinician's predictions (what the deferral surrogate trains on)."""
    return WithClinician(data, clinician)
