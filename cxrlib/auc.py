"""Deep AUC maximisation (Yuan et al. 2021) with LibAUC 2.0.1 underneath: the multi-label AUC-margin
(AUC-M) loss, its PESG optimizer as a :func:`~cxrlib.train.fit` optimizer factory, and LibAUC's
recipe (weighted-BCE pre-training, then AUC-M fine-tuning of a fresh head).

What this module smooths over in LibAUC 2.0.1 (each pinned by a test):

* Its losses and PESG put their state on ``cuda`` whenever CUDA exists (``device=None``); here the
  device is always passed explicitly.
* ``MultiLabelAUCMLoss.forward`` defaults to ``auto=True``, which silently replaces the given
  ``imratio`` by the mini-batch's positive rate (and overwrites it in place); here ``auto=False``.
* Its version ``"v1"`` drops the margin from the ``2α·p(1−p)·m`` term (it uses ``m = 1``); the
  term is constant in the network's weights and PESG updates α in closed form with its own margin,
  so training is unaffected, but the loss value is corrected here to the single-label formula.
* Its single-label ``AUCMLoss`` reshapes ``(B, K)`` targets to ``(B·K, 1)`` and so mixes classes:
  only the multi-label loss is used.
* It has no notion of unknown labels (see :class:`AUCMarginLoss`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import libauc.losses
import libauc.optimizers
import numpy as np
import torch
from torch.utils.data import Dataset

from .losses import WeightedBCELoss, positive_weights
from .models.backbones import ModelOutput
from .train import TrainConfig, TrainResult, fit, resolve_device

__all__ = [
    "class_imratio",
    "AUCMarginLoss",
    "auc_margin_objective",
    "AUCMarginObjectiveLoss",
    "PESG",
    "pesg_optimizer",
    "pesg_regularizer_schedule",
    "auc_finetune",
]


def _labels_array(labels) -> np.ndarray:
    y = labels.detach().cpu().double().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels, float)
    if y.ndim != 2:
        raise ValueError(f"labels must be (N, K), got shape {y.shape}")
    if not np.isin(y[~np.isnan(y)], (0.0, 1.0)).all():
        raise ValueError("labels must be 0, 1 or NaN (unknown)")
    return y


def class_imratio(labels, classes: Sequence[str] | None = None) -> np.ndarray:
    """LibAUC's ``imratio`` per class: ``n_positive / n_known`` of ``(N, K)`` training labels (NaN
    ignored). Returns ``(K,)`` float64.

    Raises ``ValueError`` naming every class without a positive, without a negative, or without any
    known label: AUC is undefined for it, and AUC-M would train on a degenerate objective.
    """
    y = _labels_array(labels)
    names = list(classes) if classes is not None else [str(k) for k in range(y.shape[1])]
    if len(names) != y.shape[1]:
        raise ValueError(f"{len(names)} class names for {y.shape[1]} label columns")
    pos, neg = np.nansum(y == 1, axis=0), np.nansum(y == 0, axis=0)
    why = [
        "no known label" if pos[k] + neg[k] == 0 else "no positive" if pos[k] == 0 else "no negative"
        for k in range(len(pos))
    ]
    problems = [f"{names[k]!r} ({why[k]})" for k in range(y.shape[1]) if pos[k] == 0 or neg[k] == 0]
    if problems:
        raise ValueError(
            f"AUC maximisation needs positives and negatives of every class in the training labels; "
            f"imratio is 0 or 1 for {', '.join(problems)}"
        )
    return pos / (pos + neg)


class AUCMarginLoss:
    """Training loss: LibAUC's multi-label AUC-margin loss (``MultiLabelAUCMLoss``, version ``"v1"``,
    Yuan et al. 2021) on ``sigmoid(logits)``, the mean over classes of

    ``(1−p)·E[(s−a)² 1(y=1)] + p·E[(s−b)² 1(y=0)] + 2α(p(1−p)m + E[p·s 1(y=0) − (1−p)·s 1(y=1)]) − p(1−p)α²``

    with ``s`` the scores of one class, ``p`` its ``imratio`` (from the training labels, fixed),
    ``m`` the margin and ``a, b, α`` (``(K,)`` each) LibAUC's auxiliary variables, which
    :func:`pesg_optimizer` trains along with the network.

    **Unknown labels** (NaN): per class, the unknown entries are dropped from that class's term (its
    expectations run over the rows whose label for that class is known), so an unknown label is
    neither a positive nor a negative; a class without a known label in the batch is left out of the
    mean over classes (a batch without any known label gives a zero loss). On fully known labels the
    value is exactly LibAUC's (with margin 1; other margins are corrected, see the module notes).

    ``output.logits (B, K)``, ``batch["labels"] (B, K)`` in {0, 1, NaN}. ``device`` (``"auto"``: CUDA
    if available, as :class:`~cxrlib.train.TrainConfig`) holds ``a, b, α`` and must be the device
    the model trains on.
    """

    def __init__(
        self,
        imratio: Sequence[float] | np.ndarray | torch.Tensor,
        margin: float = 1.0,
        device: str | torch.device = "auto",
        classes: Sequence[str] | None = None,
    ):
        p = np.asarray(imratio.detach().cpu() if isinstance(imratio, torch.Tensor) else imratio, float).ravel()
        names = list(classes) if classes is not None else [str(k) for k in range(len(p))]
        if len(p) == 0 or len(names) != len(p):
            raise ValueError(f"imratio needs one value per class, got {len(p)} value(s) for {len(names)} class(es)")
        bad = [names[k] for k in range(len(p)) if not 0 < p[k] < 1]
        if bad:
            raise ValueError(
                f"imratio must lie strictly between 0 and 1; it does not for class(es) {bad}: {p.tolist()}"
            )
        if margin <= 0:
            raise ValueError(f"margin must be > 0, got {margin}")
        self.device = torch.zeros(0, device=resolve_device(device)).device  # "cuda" → "cuda:0"
        self.imratio, self.classes = tuple(float(v) for v in p), names
        self.libauc = libauc.losses.MultiLabelAUCMLoss(
            margin=margin, version="v1", imratio=list(self.imratio), num_labels=len(p), device=self.device
        )

    @classmethod
    def from_labels(
        cls,
        labels,
        margin: float = 1.0,
        device: str | torch.device = "auto",
        classes: Sequence[str] | None = None,
    ) -> AUCMarginLoss:
        """Build with ``imratio`` from ``(N, K)`` training labels (:func:`class_imratio`)."""
        return cls(class_imratio(labels, classes), margin, device, classes)

    @property
    def num_classes(self) -> int:
        return len(self.imratio)

    @property
    def margin(self) -> float:
        return float(self.libauc.margin)

    @property
    def a(self) -> torch.Tensor:
        """``(K,)`` LibAUC's ``a`` (where the positive scores are pulled)."""
        return self.libauc.a

    @property
    def b(self) -> torch.Tensor:
        """``(K,)`` LibAUC's ``b`` (where the negative scores are pulled)."""
        return self.libauc.b

    @property
    def alpha(self) -> torch.Tensor:
        """``(K,)`` LibAUC's dual variable ``α`` (≥ 0)."""
        return self.libauc.alpha

    def _class_term(self, scores: torch.Tensor, labels: torch.Tensor, classes: list[int]) -> torch.Tensor:
        """LibAUC's mean over ``classes`` of their terms, with the margin restored."""
        loss = self.libauc(scores, labels, task_id=torch.tensor(classes), auto=False)
        p = torch.tensor([self.imratio[k] for k in classes], dtype=torch.float32, device=self.device)
        return loss + (2 * self.alpha[classes] * p * (1 - p) * (self.margin - 1.0)).mean()

    def __call__(self, output: ModelOutput, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        logits, labels = output.logits, batch["labels"]
        if logits.ndim != 2 or logits.shape != labels.shape or logits.shape[1] != self.num_classes:
            raise ValueError(
                f"AUC-M needs (B, {self.num_classes}) logits and labels, "
                f"got {tuple(logits.shape)} and {tuple(labels.shape)}"
            )
        if logits.device != self.device:
            raise ValueError(
                f"AUCMarginLoss keeps a, b, alpha on {self.device} but the logits are on {logits.device}; "
                "build it with the device the model trains on (TrainConfig.device)"
            )
        scores = torch.sigmoid(logits.float())
        labels = labels.float()
        known = ~torch.isnan(labels)
        if bool(known.all()):
            return self._class_term(scores, labels, list(range(self.num_classes)))
        terms = [
            self._class_term(scores[known[:, k]], labels[known[:, k]], [k])
            for k in range(self.num_classes)
            if bool(known[:, k].any())
        ]
        return torch.stack(terms).mean() if terms else scores.sum() * 0.0

    def validation_loss(self, output: ModelOutput, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """:func:`auc_margin_objective` of the batch (``fit``'s ``val_loss_fn`` for AUC-M fine-tuning):
        the loss at the ``a, b, α`` that are optimal for these scores rather than at PESG's current
        ones, so that it falls as the classes separate (the loss itself rises with α during training)."""
        return auc_margin_objective(output.logits, batch["labels"], self.imratio, self.margin)


def auc_margin_objective(
    logits: torch.Tensor, labels: torch.Tensor, imratio: Sequence[float], margin: float = 1.0
) -> torch.Tensor:
    """The AUC-M objective of :class:`AUCMarginLoss` at its saddle point ``min_{a,b} max_{α≥0}`` for the
    given scores, in closed form, averaged over classes (unknown labels dropped per class, classes
    without a known label left out). Per class, with ``s = sigmoid(logits)`` over the ``n`` known
    rows, ``a* = mean(s | y=1)``, ``b* = mean(s | y=0)`` and
    ``c = p(1−p)m + (p Σ_{y=0} s − (1−p) Σ_{y=1} s) / n``:

    ``(1−p)/n Σ_{y=1} (s−a*)² + p/n Σ_{y=0} (s−b*)² + max(c, 0)² / (p(1−p))``

    (``α* = max(c, 0) / (p(1−p))``). It does not depend on any optimizer state: a validation loss.
    ``logits, labels (B, K)``; returns a scalar tensor.
    """
    if logits.ndim != 2 or logits.shape != labels.shape or logits.shape[1] != len(imratio):
        raise ValueError(
            f"expected (B, {len(imratio)}) logits and labels, got {tuple(logits.shape)} and {tuple(labels.shape)}"
        )
    scores, labels = torch.sigmoid(logits.float()), labels.float()
    terms = []
    for k, p in enumerate(imratio):
        known = ~torch.isnan(labels[:, k])
        if not bool(known.any()):
            continue
        s, y = scores[known, k], labels[known, k]
        n, pos, neg = len(s), y == 1, y == 0
        spread = scores.new_zeros(())
        if bool(pos.any()):
            spread = spread + (1 - p) * ((s[pos] - s[pos].mean()) ** 2).sum() / n
        if bool(neg.any()):
            spread = spread + p * ((s[neg] - s[neg].mean()) ** 2).sum() / n
        c = p * (1 - p) * margin + (p * s[neg].sum() - (1 - p) * s[pos].sum()) / n
        terms.append(spread + c.clamp_min(0) ** 2 / (p * (1 - p)))
    return torch.stack(terms).mean() if terms else scores.sum() * 0.0


class AUCMarginObjectiveLoss:
    """Training loss: :func:`auc_margin_objective` of each batch, the AUC-M objective with ``a, b, α``
    at their optimum for the batch's scores, so an ordinary optimizer (Adam) can minimise it over the
    network alone. A reading of "trained with Adam like every other loss": Adam cannot take PESG's
    ascent step on ``α``, so the inner min-max is solved in closed form per batch instead.

    ``imratio (K,)`` per class (:func:`class_imratio` of the training labels), ``margin`` m.
    ``output.logits (B, K)``, ``batch["labels"] (B, K)`` in {0, 1, NaN}.
    """

    def __init__(self, imratio: Sequence[float], margin: float = 1.0):
        p = [float(v) for v in imratio]
        if not p or any(not 0 < v < 1 for v in p):
            raise ValueError(f"imratio must lie strictly between 0 and 1 for every class, got {p}")
        if margin <= 0:
            raise ValueError(f"margin must be > 0, got {margin}")
        self.imratio, self.margin = tuple(p), float(margin)

    @classmethod
    def from_labels(cls, labels, margin: float = 1.0, classes: Sequence[str] | None = None) -> AUCMarginObjectiveLoss:
        """Build with ``imratio`` from ``(N, K)`` training labels (a class without positive raises)."""
        return cls(class_imratio(labels, classes), margin)

    def __call__(self, output: ModelOutput, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return auc_margin_objective(output.logits, batch["labels"], self.imratio, self.margin)


class PESG(libauc.optimizers.PESG):
    """LibAUC's PESG whose ``load_state_dict`` also restores the loss's ``a, b, α`` (LibAUC's own
    replaces the saved values by the live tensors, so a resumed run would restart them)."""

    def load_state_dict(self, state_dict: dict) -> None:
        group = state_dict["param_groups"][0]
        with torch.no_grad():
            for name in ("a", "b", "alpha"):
                live, saved = getattr(self, name), group.get(name)
                if live is not None and isinstance(saved, torch.Tensor):
                    live.copy_(saved.to(live.device))
        super().load_state_dict(state_dict)


def pesg_optimizer(
    loss: AUCMarginLoss,
    lr: float = 0.1,
    epoch_decay: float = 2e-3,
    weight_decay: float = 1e-5,
    momentum: float = 0.9,
    clip_value: float = 1.0,
    mode: str = "sgd",
    device: str | torch.device | None = None,
) -> Callable[[Iterable[torch.nn.Parameter]], PESG]:
    """An optimizer factory for ``fit(..., optimizer=...)``: ``params -> PESG`` training the network's
    parameters, the loss's ``a, b`` (appended by PESG) and ``α`` (PESG's closed-form dual step with the
    loss's margin). Defaults are LibAUC's CheXpert recipe (lr 0.1, epoch decay 2e-3 = 1/γ with γ = 500,
    weight decay 1e-5). ``epoch_decay`` pulls the weights towards a reference point that
    :func:`pesg_regularizer_schedule` resets. ``device`` defaults to (and must equal) the loss's.
    """
    if not isinstance(loss, AUCMarginLoss):
        raise TypeError(f"pesg_optimizer needs an AUCMarginLoss, got {type(loss).__name__}")
    if device is not None and torch.zeros(0, device=resolve_device(device)).device != loss.device:
        raise ValueError(f"device {device} differs from the loss's {loss.device}, where a, b and alpha live")
    if mode not in ("sgd", "adam"):
        raise ValueError(f"mode must be 'sgd' or 'adam', got {mode!r}")

    def factory(params: Iterable[torch.nn.Parameter]) -> PESG:
        return PESG(
            params,
            loss_fn=loss.libauc,
            lr=lr,
            mode=mode,
            clip_value=clip_value,
            weight_decay=weight_decay,
            epoch_decay=epoch_decay,
            momentum=momentum,
            verbose=False,
            device=loss.device,
        )

    return factory


def pesg_regularizer_schedule(
    decay_epochs: Sequence[int] | None = None, decay_factor: float = 10.0
) -> Callable[[int, torch.optim.Optimizer, dict], None]:
    """``fit(..., on_epoch_end=...)`` callback for PESG: after each (1-based) epoch in
    ``decay_epochs`` (None: every epoch, LibAUC's CheXpert recipe ``if epoch > 0:
    update_regularizer(10)``) divide the learning rate by ``decay_factor`` and move the epoch-decay
    reference point to the mean of the iterates since the last reset (``update_regularizer``)."""
    if decay_factor <= 0:
        raise ValueError(f"decay_factor must be > 0, got {decay_factor}")
    chosen = None if decay_epochs is None else {int(e) for e in decay_epochs}

    def on_epoch_end(epoch: int, optimizer: torch.optim.Optimizer, row: dict) -> None:
        if not hasattr(optimizer, "update_regularizer"):
            raise TypeError(f"pesg_regularizer_schedule needs LibAUC's PESG, got {type(optimizer).__name__}")
        if (chosen is None or epoch in chosen) and optimizer.model_ref is not None and optimizer.T > 0:
            optimizer.update_regularizer(decay_factor=decay_factor)

    return on_epoch_end


def _dataset_labels(data: Dataset) -> np.ndarray:
    """``(N, K)`` labels of a dataset: its ``labels`` array when it has one (a CXRDataset), else read
    item by item."""
    labels = getattr(data, "labels", None)
    if isinstance(labels, (np.ndarray, torch.Tensor)) and len(labels) == len(data):
        return _labels_array(labels)
    return _labels_array(np.stack([np.asarray(data[i]["labels"], float) for i in range(len(data))]))


def auc_finetune(
    model: torch.nn.Module,
    train_data: Dataset,
    val_data: Dataset | None,
    config: TrainConfig | None = None,
    finetune_config: TrainConfig | None = None,
    *,
    pretrain_loss: Callable | None = None,
    margin: float = 1.0,
    lr: float = 0.1,
    epoch_decay: float = 2e-3,
    weight_decay: float = 1e-5,
    decay_epochs: Sequence[int] | None = None,
    decay_factor: float = 10.0,
    classes: Sequence[str] | None = None,
) -> tuple[TrainResult, TrainResult]:
    """LibAUC's recipe: pre-train with ``pretrain_loss`` (default weighted BCE, ``pos_weight`` from the
    training labels) under ``config`` (Adam), re-initialise the head ``model.classifier``, then
    fine-tune everything with :class:`AUCMarginLoss` and PESG under ``finetune_config`` (default:
    ``config``), both through :func:`~cxrlib.train.fit`, and return both stages' results.

    ``imratio`` comes from the training labels and is checked before anything is trained (a class
    without positive raises ``ValueError``). Each stage selects its weights (and steps fit's plateau
    scheduler) by its validation loss: the pre-training loss, then :func:`auc_margin_objective` (the
    AUC-M objective at its saddle point for the validation scores; the AUC-M loss at PESG's current
    ``a, b, α`` grows with α and would pick the first epoch). PESG's learning rate and reference point follow
    :func:`pesg_regularizer_schedule` (``decay_epochs``, ``decay_factor``) and fit's plateau
    scheduler still runs. With a ``checkpoint_dir`` the stages checkpoint into ``stage1/`` and
    ``stage2/``.
    """
    config = config or TrainConfig()
    finetune_config = finetune_config or config
    head = getattr(model, "classifier", None)
    if not isinstance(head, torch.nn.Module) or not hasattr(head, "reset_parameters"):
        raise TypeError(f"auc_finetune re-initialises model.classifier; {type(model).__name__} has no such layer")
    labels = _dataset_labels(train_data)
    classes = classes if classes is not None else getattr(train_data, "classes", None)
    imratio = class_imratio(labels, classes)  # fails before any training
    if pretrain_loss is None:
        pretrain_loss = WeightedBCELoss(positive_weights(labels))

    def staged(cfg: TrainConfig, stage: str) -> TrainConfig:
        return replace(cfg, checkpoint_dir=str(Path(cfg.checkpoint_dir) / stage)) if cfg.checkpoint_dir else cfg

    first = fit(model, train_data, val_data, pretrain_loss, staged(config, "stage1"))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(finetune_config.seed)
        head.reset_parameters()
    loss = AUCMarginLoss(imratio, margin, finetune_config.device, classes)
    second = fit(
        model,
        train_data,
        val_data,
        loss,
        staged(finetune_config, "stage2"),
        optimizer=pesg_optimizer(loss, lr=lr, epoch_decay=epoch_decay, weight_decay=weight_decay),
        val_loss_fn=loss.validation_loss,
        on_epoch_end=pesg_regularizer_schedule(decay_epochs, decay_factor),
    )
    return first, second
