"""One training loop for every study.

``fit(model, train_data, val_data, loss_fn, config)`` trains with Adam (or any optimizer factory),
ReduceLROnPlateau on the validation loss and PYLON's stopping rule (stop after the n-th LR
reduction), keeps the best-validation-loss weights, writes atomic checkpoints and resumes from
them, seeds everything explicitly, and uses AMP + channels_last only on a GPU.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from ._progress import progress_enabled
from .metrics import per_class_auroc
from .models.backbones import ModelOutput

__all__ = [
    "TrainConfig", "TrainResult", "Predictions", "fit", "predict", "resolve_device", "seed_everything",
    "freeze", "unfreeze", "save_checkpoint", "load_checkpoint",
]


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
        return 1.0 / (1.0 + np.exp(-self.logits))


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA if available, else CPU; anything else is passed to ``torch.device``."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch; return a torch Generator for data shuffling."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def freeze(model: torch.nn.Module, *prefixes: str) -> list[str]:
    """Set ``requires_grad=False`` on parameters whose name starts with a prefix; returns their names."""
    names = []
    for name, p in model.named_parameters():
        if any(name.startswith(pre) for pre in prefixes):
            p.requires_grad_(False)
            names.append(name)
    if not names:
        raise ValueError(f"no parameter starts with {prefixes}")
    return names


def unfreeze(model: torch.nn.Module) -> None:
    for p in model.parameters():
        p.requires_grad_(True)


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


def _forward(model, images, device, amp) -> ModelOutput:
    if device.type == "cuda" and amp:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            return model.forward_with_features(images)
    return model.forward_with_features(images)


def _loader(data: Dataset, config: TrainConfig, shuffle: bool, generator=None) -> DataLoader:
    if len(data) == 0:
        raise ValueError("empty dataset given to the training loop")
    return DataLoader(data, batch_size=config.batch_size, shuffle=shuffle, generator=generator,
                      num_workers=config.num_workers, drop_last=False)


def _evaluate(model, loader, loss_fn, device, amp) -> tuple[float, float]:
    model.eval()
    total, n, logits, labels = 0.0, 0, [], []
    for batch in loader:
        batch = _to(batch, device)
        with torch.enable_grad() if getattr(loss_fn, "needs_grad", False) else torch.no_grad():
            out = _forward(model, batch["image"], device, amp)
            loss, _ = _as_loss(loss_fn(out, batch))
        total += float(loss.detach()) * len(batch["image"])
        n += len(batch["image"])
        logits.append(out.logits.detach().float().cpu())
        labels.append(batch["labels"].cpu())
    auc = per_class_auroc(torch.cat(logits), torch.cat(labels))["mean"]
    return total / n, float(auc)


def fit(
    model: torch.nn.Module,
    train_data: Dataset,
    val_data: Dataset | None,
    loss_fn: Callable,
    config: TrainConfig | None = None,
    optimizer: Callable[[Iterable[torch.nn.Parameter]], torch.optim.Optimizer] | None = None,
    val_loss_fn: Callable | None = None,
) -> TrainResult:
    """Train ``model`` in place and leave it with its best-validation-loss weights.

    ``loss_fn(output, batch)`` gets a :class:`~cxrlib.models.ModelOutput` (logits and feature map)
    and the batch dict. ``optimizer`` is a factory taking the trainable parameters (default Adam with
    ``config.lr`` and ``config.weight_decay``). Without ``val_data`` the last epoch is kept.
    """
    config = config or TrainConfig()
    device = resolve_device(config.device)
    generator = seed_everything(config.seed)
    model.to(device)
    if device.type == "cuda" and config.channels_last:
        model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("every parameter is frozen; nothing to train")
    opt = optimizer(params) if optimizer else torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=config.plateau_factor,
                                                       patience=config.plateau_patience)
    train_loader = _loader(train_data, config, shuffle=True, generator=generator)
    val_loader = _loader(val_data, config, shuffle=False) if val_data is not None else None
    val_loss_fn = val_loss_fn or loss_fn
    ckpt_dir = Path(config.checkpoint_dir) if config.checkpoint_dir else None
    history: list[dict] = []
    start_epoch, best_loss, best_epoch, reductions = 0, float("inf"), -1, 0
    best_state = None
    if ckpt_dir and config.resume and (ckpt_dir / "last.pt").exists():
        state = load_checkpoint(ckpt_dir / "last.pt", map_location=device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        generator.set_state(state["generator"])
        history = state["history"]
        start_epoch, best_loss, best_epoch, reductions = (state["epoch"] + 1, state["best_loss"],
                                                          state["best_epoch"], state["reductions"])
        if (ckpt_dir / "best.pt").exists():
            best_state = load_checkpoint(ckpt_dir / "best.pt", map_location="cpu")["model"]
    stopped = "epochs"
    t0 = time.perf_counter()
    for epoch in range(start_epoch, config.epochs):
        model.train()
        t_epoch, total, n, extra = time.perf_counter(), 0.0, 0, {}
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress_enabled(config.progress), leave=False)
        for batch in bar:
            batch = _to(batch, device)
            images = batch["image"]
            if device.type == "cuda" and config.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            out = _forward(model, images, device, config.amp)
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
        row = {"epoch": epoch + 1, "train_loss": total / n, "lr": opt.param_groups[0]["lr"]}
        row.update({f"train_{k}": v / n for k, v in extra.items()})
        if val_loader is not None:
            row["val_loss"], row["val_auroc"] = _evaluate(model, val_loader, val_loss_fn, device, config.amp)
            old_lr = opt.param_groups[0]["lr"]
            sched.step(row["val_loss"])
            reductions += int(opt.param_groups[0]["lr"] < old_lr)
            if row["val_loss"] < best_loss:
                best_loss, best_epoch = row["val_loss"], epoch + 1
                best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                if ckpt_dir:
                    save_checkpoint(ckpt_dir / "best.pt", {"model": best_state, "epoch": epoch})
        row["seconds"] = time.perf_counter() - t_epoch
        history.append(row)
        if progress_enabled(config.progress):
            shown = ", ".join(f"{k}={v:.4g}" for k, v in row.items() if k not in ("epoch",))
            tqdm.write(f"epoch {epoch + 1}: {shown}")
        if ckpt_dir:
            save_checkpoint(ckpt_dir / "last.pt", {
                "model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "generator": generator.get_state(), "history": history, "epoch": epoch, "best_loss": best_loss,
                "best_epoch": best_epoch, "reductions": reductions})
        if config.stop_after_lr_reductions is not None and reductions >= config.stop_after_lr_reductions:
            stopped = f"lr reduced {reductions}x"
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return TrainResult(pd.DataFrame(history), best_epoch, best_loss, stopped, time.perf_counter() - t0,
                       asdict(config))


@torch.no_grad()
def predict(model: torch.nn.Module, data: Dataset, batch_size: int = 64, device: str = "auto",
            saliency: str | None = None, progress: bool = False) -> Predictions:
    """Logits ``(N, K)`` (and, with ``saliency="gradcam"|"hirescam"|"cam"``, maps ``(N, K, h, w)``)."""
    from .saliency.cam import compute_saliency

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
    return Predictions(torch.cat(logits).numpy(), torch.cat(labels).numpy(),
                       torch.cat(maps).numpy() if maps else None)
