"""One training loop for every study.

``fit(model, train_data, val_data, loss_fn, config)`` trains with Adam (or any optimizer factory),
ReduceLROnPlateau on the validation loss and PYLON's stopping rule (stop after the n-th LR
reduction), keeps the best-validation-loss weights, writes atomic checkpoints and resumes from
them, seeds everything explicitly, and uses AMP + channels_last only on a GPU.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.special
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from ._progress import progress_enabled
from .checkpoint import (
    CheckpointMismatchError,
    config_hash,
    load_checkpoint,
    rng_states,
    save_checkpoint,
    set_rng_states,
)
from .distributed import (
    SYNC_BATCHNORM_DEVICES,
    DistInfo,
    GlobalBatchSampler,
    all_reduce_sum,
    any_rank,
    broadcast_from_main,
    init_distributed,
    resolve_device,
    to_plain_batchnorm,
    to_sync_batchnorm,
)
from .metrics import per_class_auroc
from .models.backbones import ModelOutput
from .models.protocol import require_map_model
from .precision import training_autocast
from .transfer import freeze, train_mode, transfer_weights, unfreeze

__all__ = [
    "TrainConfig",
    "TrainResult",
    "Predictions",
    "fit",
    "is_single_label",
    "fit_two_stage",
    "fit_two_phase",
    "predict",
    "forward_and_loss",
    "resolve_device",
    "seed_everything",
    "freeze",
    "unfreeze",
    "transfer_weights",
    "train_mode",
    "save_checkpoint",
    "load_checkpoint",
    "config_hash",
    "rng_states",
    "set_rng_states",
    "CheckpointMismatchError",
]


@dataclass
class TrainConfig:
    epochs: int = 10
    lr: float = 1e-4
    weight_decay: float = 0.0
    batch_size: int = 32
    device: str = "auto"
    amp: bool = True  #: bfloat16 autocast of the forward pass and the loss, on CUDA only
    channels_last: bool = True  #: on CUDA only
    compile: bool = False  #: ``torch.compile`` the network (opt-in; pays a compile time once per run)
    plateau_factor: float = 0.2
    plateau_patience: int = 2
    stop_after_lr_reductions: int | None = 2  #: PYLON: stop after the second reduction; None = never
    checkpoint_dir: str | None = None
    resume: bool = True
    seed: int = 0
    num_workers: int = 0
    progress: bool = True


@dataclass
class TrainResult:
    history: pd.DataFrame
    best_epoch: int
    best_val_loss: float
    stopped: str
    seconds: float
    config: dict = field(default_factory=dict)


@dataclass
class Predictions:
    logits: np.ndarray  # (N, K)
    labels: np.ndarray  # (N, K) NaN unknown
    maps: np.ndarray | None = None  # (N, K, h, w)

    @property
    def probs(self) -> np.ndarray:
        """``(N, K)`` float64 sigmoid of the logits. For ranking metrics (AUROC) use the logits:
        probabilities of logits above ~37 are 1.0 even in float64."""
        return scipy.special.expit(np.asarray(self.logits, dtype=np.float64))


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch; return a torch Generator with the same seed (for callers that
    shuffle data of their own; ``fit`` orders its batches with :class:`~cxrlib.distributed.GlobalBatchSampler`)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def _to(batch: Mapping[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def _as_loss(value) -> tuple[torch.Tensor, dict[str, float]]:
    if isinstance(value, Mapping):
        return value["loss"], {k: float(v) for k, v in value.items() if k != "loss"}
    return value, {}


class _WithFeatures(torch.nn.Module):
    """``forward`` = the model's ``forward_with_features``, so DistributedDataParallel (which calls
    ``forward``) hands the losses logits and features alike."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> ModelOutput:
        return self.model.forward_with_features(images)


def forward_and_loss(net, images, batch, loss_fn, device, amp) -> tuple[ModelOutput, object]:
    """``net(images)`` (``fit``'s network: the model's ``forward_with_features``, possibly in DDP or
    compiled) and ``loss_fn(output, batch)``, both inside one bf16 autocast block where
    :func:`~cxrlib.precision.training_autocast` turns it on (CUDA with ``amp``): a loss that runs a head
    of the model on the bf16 features must run under the same autocast as the forward pass."""
    with training_autocast(device, amp):
        out = net(images)
        return out, loss_fn(out, batch)


def _loader(data: Dataset, config: TrainConfig, shuffle: bool, info: DistInfo | None = None) -> DataLoader:
    if len(data) == 0:
        raise ValueError("empty dataset given to the training loop")
    if shuffle:  # the same global batches, in the same order, for 1 or N processes
        sampler = GlobalBatchSampler(len(data), config.batch_size, config.seed, info)
        return DataLoader(data, batch_sampler=sampler, num_workers=config.num_workers)
    return DataLoader(data, batch_size=config.batch_size, shuffle=False, num_workers=config.num_workers)


def is_single_label(labels: torch.Tensor) -> bool:
    """Whether ``(N, K)`` labels are one class per row: K >= 2, every entry 0 or 1 (no NaN), one 1 per row."""
    if labels.ndim != 2 or labels.shape[1] < 2 or not len(labels):
        return False
    binary = ((labels == 0) | (labels == 1)).all()
    return bool(binary and (labels.sum(1) == 1).all())


def _evaluate(model, loader, loss_fn, device, amp) -> dict[str, float]:
    """``val_loss``, ``val_auroc`` (mean over classes, one-vs-rest) and, where the labels are single-label
    (one-hot, see :func:`is_single_label`), ``val_accuracy`` (argmax of the logits against the label).
    Every process evaluates the whole validation set, so all of them take the same learning-rate and
    stopping decisions."""
    model.eval()
    net = _WithFeatures(model)
    total, n, logits, labels = 0.0, 0, [], []
    for batch in loader:
        batch = _to(batch, device)
        with torch.enable_grad() if getattr(loss_fn, "needs_grad", False) else torch.no_grad():
            out, value = forward_and_loss(net, batch["image"], batch, loss_fn, device, amp)
            loss, _ = _as_loss(value)
        total += float(loss.detach()) * len(batch["image"])
        n += len(batch["image"])
        logits.append(out.logits.detach().float().cpu())
        labels.append(batch["labels"].cpu())
    logits, labels = torch.cat(logits), torch.cat(labels)
    metrics = {"val_loss": total / n, "val_auroc": float(per_class_auroc(logits, labels)["mean"])}
    if is_single_label(labels):
        metrics["val_accuracy"] = float((logits.argmax(1) == labels.argmax(1)).float().mean())
    return metrics


def fit(
    model: torch.nn.Module,
    train_data: Dataset,
    val_data: Dataset | None,
    loss_fn: Callable,
    config: TrainConfig | None = None,
    optimizer: Callable[[Iterable[torch.nn.Parameter]], torch.optim.Optimizer] | None = None,
    val_loss_fn: Callable | None = None,
    on_epoch_end: Callable[[int, torch.optim.Optimizer, dict], None] | None = None,
) -> TrainResult:
    """Train ``model`` in place and leave it with its best-validation-loss weights.

    ``loss_fn(output, batch)`` gets a :class:`~cxrlib.models.ModelOutput` (logits and feature map)
    and the batch dict. ``optimizer`` is a factory taking the trainable parameters (default Adam with
    ``config.lr`` and ``config.weight_decay``). Without ``val_data`` the last epoch is kept.
    Each epoch's history row holds ``train_loss`` (and the loss's logged terms), ``lr`` and, with
    ``val_data``, ``val_loss``, ``val_auroc`` and, for single-label (one-hot) labels such as a softmax
    classifier's (:class:`~cxrlib.losses.SoftmaxCrossEntropyLoss`), ``val_accuracy``.
    ``on_epoch_end(epoch, optimizer, row)`` is called after each epoch (1-based ``epoch``, after the
    validation and the plateau scheduler's step, before the checkpoint, so what it changes in the
    optimizer is checkpointed), e.g. for LibAUC's PESG ``update_regularizer`` schedule.

    On CUDA the forward pass and the loss run under bf16 autocast (``config.amp``, see
    :mod:`cxrlib.precision`) with channels_last inputs; ``config.compile`` wraps the network in
    ``torch.compile``.

    Under ``torchrun --nproc_per_node=N`` (see :mod:`cxrlib.distributed`) the model is wrapped in
    DistributedDataParallel, each process trains on its share of every global batch of
    ``config.batch_size`` images, and only rank 0 writes checkpoints and progress. Every rank stops
    together on a non-finite loss anywhere, and takes rank 0's validation metrics for the learning-rate
    and stopping decisions. BatchNorm layers become SyncBatchNorm on GPUs for the run (frozen ones
    stay frozen) and plain BatchNorm again when ``fit`` returns; on CPUs (gloo) their statistics stay
    per process.
    """
    config = config or TrainConfig()
    require_map_model(model, "fit")
    device = resolve_device(config.device)
    info = init_distributed(device)
    seed_everything(config.seed)
    model.to(device)
    if device.type == "cuda" and config.channels_last:
        model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("every parameter is frozen; nothing to train")
    opt = optimizer(params) if optimizer else torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    sync = info.distributed and device.type in SYNC_BATCHNORM_DEVICES
    if sync:
        to_sync_batchnorm(model)
    try:
        return _fit_loop(model, train_data, val_data, loss_fn, config, opt, val_loss_fn, on_epoch_end, device, info)
    finally:
        if sync:
            to_plain_batchnorm(model)


def _network(model: torch.nn.Module, config: TrainConfig, device: torch.device, info: DistInfo) -> torch.nn.Module:
    """What the training steps call: the model's ``forward_with_features``, in DDP under several
    processes, compiled with ``config.compile``."""
    net: torch.nn.Module = _WithFeatures(model)
    if info.distributed:
        net = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None
        )
    return torch.compile(net) if config.compile else net


def _train_epoch(net, loader, loss_fn, opt, device, config, info, epoch: int, show: bool) -> dict[str, float]:
    """One pass over the training batches; returns the global means of the loss and its logged terms."""
    total, n, extra = 0.0, 0, {}
    bar = tqdm(loader, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not show, leave=False)
    for batch in bar:
        batch = _to(batch, device)
        images = batch["image"]
        if device.type == "cuda" and config.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        out, value = forward_and_loss(net, images, batch, loss_fn, device, config.amp)
        loss, terms = _as_loss(value)
        finite = bool(torch.isfinite(loss))
        stop = any_rank(not finite) if info.distributed else not finite  # every rank stops at the same step
        if stop:
            where = f"{loss.item()}" if not finite else "finite here but not on another process"
            raise FloatingPointError(f"epoch {epoch + 1}: loss is {where}; lower the learning rate")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += float(loss.detach()) * len(images)
        n += len(images)
        for k, v in terms.items():
            extra[k] = extra.get(k, 0.0) + v * len(images)
        bar.set_postfix(loss=f"{total / n:.4f}")
    names = sorted(extra)
    total, n, *sums = all_reduce_sum(total, n, *(extra[k] for k in names))  # the global means
    return {"train_loss": total / n, **{f"train_{k}": v / n for k, v in zip(names, sums, strict=True)}}


def _fit_loop(model, train_data, val_data, loss_fn, config, opt, val_loss_fn, on_epoch_end, device, info):
    main = info.rank == 0
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=config.plateau_factor, patience=config.plateau_patience
    )
    net = _network(model, config, device, info)
    train_loader = _loader(train_data, config, shuffle=True, info=info)
    val_loader = _loader(val_data, config, shuffle=False) if val_data is not None else None
    val_loss_fn = val_loss_fn or loss_fn
    ckpt_dir = Path(config.checkpoint_dir) if config.checkpoint_dir else None
    show = main and progress_enabled(config.progress)
    fingerprint = config_hash(config, opt)
    history: list[dict] = []
    start_epoch, best_loss, best_epoch, reductions = 0, float("inf"), -1, 0
    best_state = None
    stopped = "epochs"
    if ckpt_dir and config.resume and (ckpt_dir / "last.pt").exists():
        state = load_checkpoint(ckpt_dir / "last.pt", map_location="cpu")
        if state.get("config_hash") != fingerprint:
            raise CheckpointMismatchError(
                f"{ckpt_dir / 'last.pt'} was written by a run with another configuration "
                f"(hash {state.get('config_hash')} vs {fingerprint} now: a training setting or the optimizer "
                "changed); delete the checkpoint folder, pass another checkpoint_dir, or set resume=False"
            )
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        set_rng_states(state["rng"], device)
        history = state["history"]
        start_epoch, best_loss, best_epoch, reductions = (
            state["epoch"] + 1,
            state["best_loss"],
            state["best_epoch"],
            state["reductions"],
        )
        if state.get("stopped"):  # the run had already stopped by its own rule: nothing left to train
            start_epoch, stopped = config.epochs, state["stopped"]
        if (ckpt_dir / "best.pt").exists():
            best_state = load_checkpoint(ckpt_dir / "best.pt", map_location="cpu")["model"]
    t0 = time.perf_counter()
    for epoch in range(start_epoch, config.epochs):
        train_mode(model)
        train_loader.batch_sampler.set_epoch(epoch)
        t_epoch = time.perf_counter()
        train = _train_epoch(net, train_loader, loss_fn, opt, device, config, info, epoch, show)
        row = {"epoch": epoch + 1, "train_loss": train.pop("train_loss"), "lr": opt.param_groups[0]["lr"], **train}
        if val_loader is not None:
            metrics = _evaluate(model, val_loader, val_loss_fn, device, config.amp)
            names = list(metrics)  # every rank takes rank 0's numbers, so all decide alike
            row.update(zip(names, broadcast_from_main(*(metrics[k] for k in names)), strict=True))
            old_lr = opt.param_groups[0]["lr"]
            sched.step(row["val_loss"])
            reductions += int(opt.param_groups[0]["lr"] < old_lr)
            if row["val_loss"] < best_loss:
                best_loss, best_epoch = row["val_loss"], epoch + 1
                best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                if ckpt_dir and main:
                    save_checkpoint(ckpt_dir / "best.pt", {"model": best_state, "epoch": epoch})
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, opt, row)
        row["seconds"] = time.perf_counter() - t_epoch
        history.append(row)
        if show:
            shown = ", ".join(f"{k}={v:.4g}" for k, v in row.items() if k not in ("epoch",))
            tqdm.write(f"epoch {epoch + 1}: {shown}")
        rule_stop = config.stop_after_lr_reductions is not None and reductions >= config.stop_after_lr_reductions
        if rule_stop:
            stopped = f"lr reduced {reductions}x"
        if ckpt_dir and main:
            save_checkpoint(
                ckpt_dir / "last.pt",
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "rng": rng_states(device),
                    "history": history,
                    "epoch": epoch,
                    "best_loss": best_loss,
                    "best_epoch": best_epoch,
                    "reductions": reductions,
                    "config_hash": fingerprint,
                    "stopped": stopped if rule_stop else None,
                },
            )
        if rule_stop:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return TrainResult(pd.DataFrame(history), best_epoch, best_loss, stopped, time.perf_counter() - t0, asdict(config))


def fit_two_stage(
    model: torch.nn.Module,
    train_data: Dataset,
    val_data: Dataset | None,
    first_loss: Callable,
    second_loss: Callable,
    first_config: TrainConfig | None = None,
    second_config: TrainConfig | None = None,
    optimizer: Callable[[Iterable[torch.nn.Parameter]], torch.optim.Optimizer] | None = None,
    between: Callable[[torch.nn.Module, TrainResult], None] | None = None,
) -> tuple[TrainResult, TrainResult]:
    """The "modified" pipeline of Sharma and Pradeep P. (2023, §3.3): train with ``first_loss`` (``fit`` keeps
    the best-validation weights), then go on from those weights with ``second_loss`` and a fresh
    optimizer. Each stage validates with its own loss. With a ``checkpoint_dir`` the stages checkpoint
    into its ``stage1/`` and ``stage2/`` folders. ``between(model, first_result)`` is called on the
    stage-one model before stage two changes it (e.g. to evaluate it as the plain-loss arm of a
    comparison; it must not change the model). Returns both stages' results."""
    first_config = first_config or TrainConfig()
    second_config = second_config or first_config

    def staged(config: TrainConfig, stage: str) -> TrainConfig:
        if not config.checkpoint_dir:
            return config
        return replace(config, checkpoint_dir=str(Path(config.checkpoint_dir) / stage))

    first = fit(model, train_data, val_data, first_loss, staged(first_config, "stage1"), optimizer)
    if between is not None:
        between(model, first)
    second = fit(model, train_data, val_data, second_loss, staged(second_config, "stage2"), optimizer)
    return first, second


@torch.no_grad()
def predict(
    model: torch.nn.Module,
    data: Dataset,
    batch_size: int = 64,
    device: str = "auto",
    saliency: str | None = None,
    progress: bool = False,
) -> Predictions:
    """Logits ``(N, K)`` (and, with ``saliency="gradcam"|"hirescam"|"cam"``, maps ``(N, K, h, w)``)."""
    from .saliency.cam import compute_saliency

    require_map_model(model, "predict")
    dev = resolve_device(device)
    model.to(dev).eval()
    loader = DataLoader(data, batch_size=batch_size, shuffle=False)
    logits, labels, maps = [], [], []
    for batch in tqdm(loader, desc="predict", disable=not progress_enabled(progress), leave=False):
        images = batch["image"].to(dev)
        if saliency:
            lo, mp = compute_saliency(model, images, saliency)
            maps.append(mp.float().cpu())
        else:
            lo = model(images)
        logits.append(lo.float().cpu())
        labels.append(batch["labels"])
    return Predictions(torch.cat(logits).numpy(), torch.cat(labels).numpy(), torch.cat(maps).numpy() if maps else None)


def fit_two_phase(
    model: torch.nn.Module,
    train_data: Dataset,
    val_data: Dataset | None,
    loss_fn: Callable,
    config: TrainConfig | None = None,
    encoder: str = "encoder.",
) -> tuple[TrainResult, TrainResult]:
    """PYLON's two-phase transfer (Preechakul et al., §5.6): freeze the parameters under ``encoder``
    (and its BatchNorm statistics, see :func:`freeze`), train the decoder and head to convergence;
    then unfreeze everything and train on from the best phase-one weights with the same learning
    rate and a fresh optimizer. With a ``checkpoint_dir`` the phases checkpoint into ``phase1/`` and
    ``phase2/``. Returns both phases' results."""
    config = config or TrainConfig()

    def phased(name: str) -> TrainConfig:
        return (
            config
            if not config.checkpoint_dir
            else replace(config, checkpoint_dir=str(Path(config.checkpoint_dir) / name))
        )

    freeze(model, encoder)
    try:
        first = fit(model, train_data, val_data, loss_fn, phased("phase1"))
    finally:
        unfreeze(model)
    second = fit(model, train_data, val_data, loss_fn, phased("phase2"))
    return first, second
