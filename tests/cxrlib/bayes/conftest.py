import pytest
import torch
from torch.utils.data import Dataset

from cxrlib.models import build_model


class Images(Dataset):
    """Random 32 px images with one-hot labels of ``k`` classes (what a CXRDataset yields)."""

    def __init__(self, n: int, k: int = 3, seed: int = 0, dtype: torch.dtype = torch.float32):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.rand(n, 1, 32, 32, generator=g, dtype=dtype)
        self.y = torch.nn.functional.one_hot(torch.randint(0, k, (n,), generator=g), k).to(dtype)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"image": self.x[i], "labels": self.y[i], "index": torch.tensor(i)}


@pytest.fixture(scope="module")
def small_model():
    """The seed's CNN with 3 classes, in float64, its head scaled up so the probabilities are not flat."""
    torch.manual_seed(0)
    model = build_model("vilter-cnn", 3).double().eval()
    with torch.no_grad():
        model.classifier.weight.mul_(20.0)
    return model
