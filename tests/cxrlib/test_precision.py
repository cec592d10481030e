"""The CUDA AMP path, checked on a CPU: ``CXRLIB_CPU_AUTOCAST=1`` runs fit's forward pass and loss under
CPU bf16 autocast, so every loss × architecture meets bf16 features as it does on a GPU.

Each case pushes one epoch of two batches through ``fit`` (training and validation) and ``predict``
(with Grad-CAM maps). Before the loss ran inside the autocast block, the heads that losses call on the
features (the deferral surrogate's three-way head, PYLON's and the baselines' class maps, MIMO's member
heads, any saliency map on an autograd head) met bf16 features with fp32 weights and crashed.
"""

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from cxrlib.auc import AUCMarginLoss, pesg_optimizer
from cxrlib.defer import DeferralSurrogateLoss, build_deferral_net
from cxrlib.losses import FocalLoss, HeatmapMaskLoss, SaliencyRegularizedLoss, WeightedBCELoss
from cxrlib.models import build_mimo, build_model
from cxrlib.models.mimo import MIMOLoss
from cxrlib.precision import CPU_AUTOCAST_ENV, autocast_enabled, training_autocast
from cxrlib.train import TrainConfig, fit, predict

K, SIZE = 3, 32
pytestmark = pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN:UserWarning")  # mkldnn.flags


class Tiny(Dataset):
    """8 images with labels (a NaN among them), an allowed mask and a clinician's answers."""

    def __init__(self, n=8, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.rand(n, 1, SIZE, SIZE, generator=g)
        self.y = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]).repeat(n // 2, 1)
        self.y[1, 2] = float("nan")
        self.mask = torch.zeros(n, SIZE, SIZE, dtype=torch.bool)
        self.mask[:, 4:28, 4:28] = True
        self.clinician = self.y.nan_to_num(0.0)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"image": self.x[i], "labels": self.y[i], "allowed_mask": self.mask[i], "clinician": self.clinician[i]}


ARCHITECTURES = {
    "cxr-avg": lambda: build_model("small-cnn", K),
    "cxr-max": lambda: build_model("small-cnn", K, pooling="max"),
    "pylon": lambda: build_model("pylon", K, encoder="resnet18"),
    "gmp": lambda: build_model("gmp", K, encoder="resnet18"),
    "li2018": lambda: build_model("li2018", K, encoder="resnet18"),
    "fpn": lambda: build_model("fpn", K, encoder="resnet18"),
}
LOSSES = {
    "wbce": lambda model: (WeightedBCELoss(), None),
    "focal": lambda model: (FocalLoss(), None),
    "auc-m": lambda model: (loss := AUCMarginLoss([0.5] * K, device="cpu"), pesg_optimizer(loss, lr=0.01)),
    "saliency": lambda model: (SaliencyRegularizedLoss(WeightedBCELoss(), model, 1.0, lambda_sc=0.5), None),
    "heatmap": lambda model: (HeatmapMaskLoss(model, classification="bce", form="fraction"), None),
}
CASES = [(a, loss) for a in ARCHITECTURES for loss in LOSSES]


def _run(model, loss, optimizer=None):
    config = TrainConfig(epochs=1, batch_size=4, progress=False, stop_after_lr_reductions=None)
    result = fit(model, Tiny(8, 0), Tiny(4, 1), loss, config, optimizer=optimizer)
    assert np.isfinite(result.history["train_loss"]).all() and np.isfinite(result.history["val_loss"]).all()
    pred = predict(model, Tiny(4, 1), batch_size=4, saliency="gradcam")
    assert pred.logits.shape == (4, K) and pred.maps.shape[:2] == (4, K) and np.isfinite(pred.logits).all()
    return result


@pytest.fixture
def cpu_autocast(monkeypatch):
    """The CPU stand-in of CUDA's bf16 autocast. oneDNN is off inside it: its bf16 convolution on a 1×1
    map with a larger kernel (PYLON's pyramid attention at 32 px) now and then returns NaN from finite
    inputs (seen here with torch 2.14.1, about one run in twenty, depending on what ran before), a CPU
    kernel's fault that would make these tests flaky; ATen's own bf16 kernels are exact."""
    monkeypatch.setenv(CPU_AUTOCAST_ENV, "1")
    with torch.backends.mkldnn.flags(enabled=False):
        yield


def test_the_switch_turns_on_bf16_autocast_on_the_cpu_only_when_asked(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.delenv(CPU_AUTOCAST_ENV, raising=False)
    assert not autocast_enabled(cpu) and autocast_enabled(torch.device("cuda"))
    assert not autocast_enabled(torch.device("cuda"), amp=False)
    monkeypatch.setenv(CPU_AUTOCAST_ENV, "1")
    assert autocast_enabled(cpu) and not autocast_enabled(cpu, amp=False)
    layer = torch.nn.Linear(4, 2)
    with training_autocast(cpu):
        assert layer(torch.ones(1, 4)).dtype == torch.bfloat16  # the stand-in really runs in bf16


@pytest.mark.parametrize(("architecture", "loss"), CASES, ids=[f"{a}-{b}" for a, b in CASES])
def test_every_loss_and_architecture_trains_and_predicts_under_bf16(cpu_autocast, architecture, loss):
    torch.manual_seed(0)
    model = ARCHITECTURES[architecture]()
    loss_fn, optimizer = LOSSES[loss](model)
    _run(model, loss_fn, optimizer)
    assert all(p.dtype == torch.float32 for p in model.parameters())  # autocast leaves the weights fp32


@pytest.mark.parametrize("loss", ["wbce", "saliency"])
def test_mimo_trains_under_bf16(cpu_autocast, loss):
    torch.manual_seed(0)
    model = build_mimo("small-cnn", K, members=2, pooling="max")
    base, _ = LOSSES[loss](model)
    # a saliency loss reads per-image features, which MIMO has in eval mode only: validation takes it
    train_loss = MIMOLoss(WeightedBCELoss())
    config = TrainConfig(epochs=1, batch_size=4, progress=False)
    fit(model, Tiny(8, 0), Tiny(4, 1), train_loss, config, val_loss_fn=MIMOLoss(base))
    assert predict(model, Tiny(4, 1), batch_size=4, saliency="gradcam").maps.shape[:2] == (4, K)


@pytest.mark.parametrize("backbone", ["small-cnn", "pylon"])
def test_the_deferral_surrogate_trains_under_bf16(cpu_autocast, backbone):
    torch.manual_seed(0)
    options = {"encoder": "resnet18"} if backbone == "pylon" else {}
    net = build_deferral_net(backbone, K, **options)
    _run(net, DeferralSurrogateLoss(net))


def test_spatial_coherence_labels_stay_distinct_beyond_256_under_bf16(cpu_autocast):
    # 300 one-pixel foreground clusters: bf16 holds integers exactly only to 256, so labels cast to the
    # maps' dtype merged distinct clusters and the loss changed
    from cxrlib.saliency.coherence import spatial_coherence_loss

    maps = torch.zeros(1, 1, 40, 40)
    maps[0, 0, ::2, ::2] = torch.rand(20, 20) * 0.5 + 0.5
    reference = spatial_coherence_loss(maps.double(), window=3)
    with training_autocast(torch.device("cpu")):
        value = spatial_coherence_loss(maps.bfloat16(), window=3)
    torch.testing.assert_close(value.double(), reference, rtol=2e-2, atol=1e-3)
