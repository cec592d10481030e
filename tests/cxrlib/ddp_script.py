"""Run by tests/cxrlib/test_distributed.py under ``torchrun --nproc_per_node=2`` (gloo on CPU), and in
process with one. ``python ddp_script.py MODE OUT``; every rank writes ``OUT.rank<r>.json``.

Modes:

* ``equal``: trains a BatchNorm-free model; the history (compared with one process).
* ``batchnorm``: ``fit_two_phase`` on a BatchNorm model: the statistics after phase one (its checkpoint)
  equal the start, the returned model has plain BatchNorm. (DDP refuses SyncBatchNorm on CPU modules,
  so the SyncBatchNorm conversion itself is tested in process, in test_distributed.py.)
* ``disagree``: rank 1 validates on flipped labels, so its validation loss rises where rank 0's falls;
  with a plateau patience of 0 it would cut the learning rate and stop at once while rank 0 goes on
  and waits forever in the next collective: every rank must take rank 0's numbers.
* ``nan``: rank 1's second batch is NaN: every rank must raise ``FloatingPointError`` at that step.
"""

import json
import os
import sys
import tempfile

import torch
import torch.nn as nn

from cxrlib.losses import WeightedBCELoss
from cxrlib.models import CXRClassifier
from cxrlib.train import TrainConfig, fit, fit_two_phase, load_checkpoint


class Toy(torch.utils.data.Dataset):
    def __init__(self, n: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.y = torch.randint(0, 2, (n, 2), generator=g).float()
        self.x = torch.rand(n, 1, 16, 16, generator=g) * 0.3
        self.x[self.y[:, 0] == 1, :, 4:10, 4:10] += 0.7

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"image": self.x[i], "labels": self.y[i], "index": torch.tensor(i)}


def _plain_model(batchnorm: bool = False) -> CXRClassifier:
    torch.manual_seed(0)
    norm = [nn.BatchNorm2d(8)] if batchnorm else []
    encoder = nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1), *norm, nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU()
    )
    return CXRClassifier(encoder, 16, 2)


def _config(**kw) -> TrainConfig:
    return TrainConfig(**{"epochs": 3, "batch_size": 16, "lr": 3e-3, "seed": 1, "progress": False, **kw})


def _rank() -> int:
    """torchrun's RANK (set before fit starts the process group)."""
    return int(os.environ.get("RANK", "0"))


def train() -> dict:
    result = fit(_plain_model(), Toy(64, 0), Toy(32, 1), WeightedBCELoss(), _config(plateau_patience=5))
    return {k: result.history[k].tolist() for k in ("train_loss", "val_loss")}


def _statistics(model) -> list[float]:
    bn = model.encoder[1]
    return bn.running_mean.tolist() + bn.running_var.tolist() + [int(bn.num_batches_tracked)]


def batchnorm() -> dict:
    out = {}
    start = _statistics(_plain_model(batchnorm=True))
    model = _plain_model(batchnorm=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = f"{tmp}/rank{_rank()}"
        fit_two_phase(model, Toy(64, 0), Toy(32, 1), WeightedBCELoss(), _config(epochs=2, checkpoint_dir=folder))
        if _rank() == 0:  # only rank 0 writes checkpoints
            after_one = load_checkpoint(f"{folder}/phase1/last.pt")["model"]
            bn = "encoder.1."
            out["phase1_statistics_kept"] = (
                after_one[bn + "running_mean"].tolist()
                + after_one[bn + "running_var"].tolist()
                + [int(after_one[bn + "num_batches_tracked"])]
            ) == start
    out["two_phase_layers"] = sorted({type(m).__name__ for m in model.modules() if "BatchNorm" in type(m).__name__})
    out["phase2_statistics_moved"] = _statistics(model) != start
    return out


def disagree() -> dict:
    config = _config(epochs=6, plateau_patience=0, stop_after_lr_reductions=1, lr=0.05)
    val = Toy(32, 1)
    if _rank() == 1:  # labels flipped: its validation loss rises while rank 0's falls
        val.y = 1 - val.y
    result = fit(_plain_model(), Toy(64, 0), val, WeightedBCELoss(), config)
    return {"history": result.history.drop(columns="seconds").to_dict("list"), "stopped": result.stopped}


def nan() -> dict:
    data = Toy(64, 0)
    if _rank() == 1:
        data.x[:] = float("nan")  # its share of every batch is NaN: rank 0's stays finite
    try:
        fit(_plain_model(), data, Toy(32, 1), WeightedBCELoss(), _config())
    except FloatingPointError as err:
        return {"raised": str(err)}
    return {"raised": None}


if __name__ == "__main__":
    mode, out = sys.argv[1], sys.argv[2]
    result = {"equal": train, "batchnorm": batchnorm, "disagree": disagree, "nan": nan}[mode]()
    result["world_size"] = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
    with open(f"{out}.rank{_rank()}.json", "w") as f:
        json.dump(result, f)
