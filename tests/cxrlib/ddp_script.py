"""Run by tests/cxrlib/test_distributed.py under ``torchrun --nproc_per_node=2`` (gloo on CPU), and in
process with one: trains a BatchNorm-free model and writes the history (rank 0 only)."""

import json
import sys

import torch
import torch.nn as nn

from cxrlib.distributed import is_main_process
from cxrlib.losses import WeightedBCELoss
from cxrlib.models import CXRClassifier
from cxrlib.train import TrainConfig, fit


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


def train() -> dict:
    torch.manual_seed(0)
    encoder = nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU()
    )
    model = CXRClassifier(encoder, 16, 2)
    config = TrainConfig(epochs=3, batch_size=16, lr=3e-3, seed=1, progress=False, plateau_patience=5)
    result = fit(model, Toy(64, 0), Toy(32, 1), WeightedBCELoss(), config)
    return {k: result.history[k].tolist() for k in ("train_loss", "val_loss")}


if __name__ == "__main__":
    history = train()
    history["world_size"] = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
    if is_main_process():
        with open(sys.argv[1], "w") as f:
            json.dump(history, f)
