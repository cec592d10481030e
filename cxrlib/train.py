"""One training loop for every study.

``fit(model, train_data, val_data, loss_fn, config)`` trains with Adam (or any optimizer factory),
ReduceLROnPlateau on the validation loss and PYLON's stopping rule (stop after the n-th LR
reduction), keeps the best-validation-loss weights, writes atomic checkpoints and resumes from
them, seeds everything explicitly, and uses AMP + channels_last only on a GPU.
"""

from __future__ import annotations

import hashlib
import json
import os
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
from .distributed import DistInfo, GlobalBatchSampler, all_reduce_sum, init_distributed
from .metrics import per_class_auroc
from .models.backbones import ModelOutput
from .models.protocol import require_map_model

__all__ = [
    "TrainConfig",
    "TrainResult",
    "Predictions",
    "fit",
    "is_single_label",
    "fit_two_stage",
    "fit_two_phase",
    "predict",
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


class CheckpointMismatchError(ValueError):
    """A checkpoint was written by a run with another configuration than the one resuming it."""


@dataclass
class TrainConfig:
    epochs: int = 10
    lr: float = 1e-4
    weight_decay: float = 0.0
    batch_size: int = 32
    device: str = "auto"
    amp: bool = True  #: bfloat16 autocast, on CUDA only
    channels_last: bool = True  #: on CUDA only
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


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA if available, else CPU; anything else is passed to ``torch.device``."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch; return a torch Generator with the same seed (for callers that
    shuffle data of their own; ``fit`` orders its batches with :class:`~cxrlib.distributed.GlobalBatchSampler`)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


_NORMS = (torch.nn.modules.batchnorm._BatchNorm,)
_FROZEN_FLAG = "_cxrlib_frozen_statistics"


def freeze(model: torch.nn.Module, *prefixes: str, batchnorm_statistics: bool = True) -> list[str]:
    """Set ``requires_grad=False`` on parameters whose name starts with a prefix; returns their names.

    With ``batchnorm_statistics=True`` (the default) the BatchNorm layers under those prefixes are
    frozen too: :func:`fit` keeps them in eval mode, so their running mean and variance stay as they
    are and they normalise with them (a frozen encoder then computes the same features in every
    epoch, as two-phase transfer expects). ``False`` lets their statistics follow the new data.
    """
    names = []
    for name, p in model.named_parameters():
        if any(name.startswith(pre) for pre in prefixes):
            p.requires_grad_(False)
            names.append(name)
    if not names:
        raise ValueError(f"no parameter starts with {prefixes}")
    if batchnorm_statistics:
        for name, module in model.named_modules():
            if isinstance(module, _NORMS) and any(
                (name + ".").startswith(pre) or name.startswith(pre) for pre in prefixes
            ):
                setattr(module, _FROZEN_FLAG, True)
    return names


def unfreeze(model: torch.nn.Module) -> None:
    """Make every parameter trainable and every BatchNorm layer's statistics free again."""
    for p in model.parameters():
        p.requires_grad_(True)
    for module in model.modules():
        if hasattr(module, _FROZEN_FLAG):
            delattr(module, _FROZEN_FLAG)


def transfer_weights(
    model: torch.nn.Module, source_state: Mapping[str, torch.Tensor], new: tuple[str, ...] = ("classifier.",)
) -> list[str]:
    """Start ``model`` from another model's weights (transfer learning): copy every entry of
    ``source_state`` (a ``state_dict``) into ``model`` except those whose name starts with a prefix in
    ``new`` (by default the class head, which stays freshly initialised, as when the target data has
    other classes). Every other entry of ``model`` must be in ``source_state`` with the same shape, and
    the source may have no entry the model lacks, else a ``ValueError`` names the first ones that
    differ. Returns the names copied."""
    own = model.state_dict()
    wanted = [k for k in own if not k.startswith(new)]
    missing = [k for k in wanted if k not in source_state]
    wrong = [k for k in wanted if k in source_state and source_state[k].shape != own[k].shape]
    extra = [k for k in source_state if k not in own and not k.startswith(new)]
    if missing or wrong or extra:
        raise ValueError(
            "the source weights do not fit this model (another architecture or encoder?): "
            + (f"missing {missing[:5]} " if missing else "")
            + (f"shape differs for {wrong[:5]} " if wrong else "")
            + (f"not in this model: {extra[:5]}" if extra else "")
        )
    model.load_state_dict({**own, **{k: source_state[k] for k in wanted}})
    return wanted


def train_mode(model: torch.nn.Module) -> None:
    """``model.train()``, except BatchNorm layers frozen by :func:`freeze`, which stay in eval mode."""
    model.train()
    for module in model.modules():
        if getattr(module, _FROZEN_FLAG, False):
            module.eval()


#: TrainConfig fields that may change between a run and its resumption without changing what is trained
_RESUMABLE_CHANGES = frozenset({"epochs", "device", "checkpoint_dir", "resume", "progress", "num_workers"})


def config_hash(config: TrainConfig, optimizer: torch.optim.Optimizer | None = None) -> str:
    """Hash of everything in ``config`` that determines the training trajectory (not ``epochs``, which
    a resumed run may extend, nor device, paths or progress bars), and of the optimizer's class."""
    fields = {k: v for k, v in asdict(config).items() if k not in _RESUMABLE_CHANGES}
    fields["optimizer"] = type(optimizer).__name__ if optimizer is not None else None
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]


def rng_states() -> dict:
    """Every random state a training run draws from: Python, numpy and torch (CPU and CUDA); as plain
    tensors and ints so that ``weights_only`` loading works. (The order of the training batches needs
    none: :class:`~cxrlib.distributed.GlobalBatchSampler` draws it from the seed and the epoch.)"""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(gauss),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_states(states: dict) -> None:
    """Restore what :func:`rng_states` captured."""
    random.setstate(_as_tuple(states["python"]))
    n = states["numpy"]
    np.random.set_state(
        (n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _as_tuple(value):
    return tuple(_as_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value


def save_checkpoint(path: str | Path, state: dict) -> None:
    """Write atomically: to a temporary file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    return torch.load(path, map_location=map_location, weights_only=True)


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


def _forward(net, images, device, amp) -> ModelOutput:
    """``net(images)`` (a :class:`_WithFeatures`, possibly inside DDP), under bf16 autocast on CUDA."""
    if device.type == "cuda" and amp:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            return net(images)
    return net(images)


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
            out = _forward(net, batch["image"], device, amp)
            loss, _ = _as_loss(loss_fn(out, batch))
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

    Under ``torchrun --nproc_per_node=N`` (see :mod:`cxrlib.distributed`) the model is wrapped in
    DistributedDataParallel, each process trains on its share of every global batch of
    ``config.batch_size`` images, and only rank 0 writes checkpoints and progress. BatchNorm layers
    are converted to SyncBatchNorm on GPUs; on CPUs (gloo) their statistics stay per process.
    """
    config = config or TrainConfig()
    require_map_model(model, "fit")
    info = init_distributed()
    main = info.rank == 0
    device = resolve_device(config.device)
    if info.distributed and device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
    seed_everything(config.seed)
    model.to(device)
    if device.type == "cuda" and config.channels_last:
        model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("every parameter is frozen; nothing to train")
    opt = optimizer(params) if optimizer else torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=config.plateau_factor, patience=config.plateau_patience
    )
    net: torch.nn.Module = _WithFeatures(model)
    if info.distributed:
        if device.type == "cuda":
            net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
        net = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None
        )
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
        set_rng_states(state["rng"])
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
        t_epoch, total, n, extra = time.perf_counter(), 0.0, 0, {}
        bar = tqdm(
            train_loader,
            desc=f"epoch {epoch + 1}/{config.epochs}",
            disable=not show,
            leave=False,
        )
        for batch in bar:
            batch = _to(batch, device)
            images = batch["image"]
            if device.type == "cuda" and config.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            out = _forward(net, images, device, config.amp)
            loss, terms = _as_loss(loss_fn(out, batch))
            if not torch.isfinite(loss):
                raise FloatingPointError(f"epoch {epoch + 1}: loss is {loss.item()}; lower the learning rate")
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
        row = {"epoch": epoch + 1, "train_loss": total / n, "lr": opt.param_groups[0]["lr"]}
        row.update({f"train_{k}": v / n for k, v in zip(names, sums, strict=True)})
        if val_loader is not None:
            row.update(_evaluate(model, val_loader, val_loss_fn, device, config.amp))
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
                    "rng": rng_states(),
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
    """The "modified" pipeline of Sharma and P. (2023, §3.3): train with ``first_loss`` (``fit`` keeps
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
    """PYLON's two-phase transfer (Preechakul et al., §5.5): freeze the parameters under ``encoder``
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
