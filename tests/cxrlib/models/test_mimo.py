import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from cxrlib.losses import WeightedBCELoss
from cxrlib.models import MIMO, MapModel, MIMOLoss, ModelOutput, build_mimo, build_model, mimo_permutations
from cxrlib.models.mimo import ensemble_logits
from cxrlib.saliency import compute_saliency, saliency_maps
from cxrlib.train import TrainConfig, fit, predict


def _model(members=3, classes=2, **kw):
    torch.manual_seed(0)
    return build_mimo("small-cnn", classes, members=members, **kw)


def test_shapes_and_the_map_model_contract():
    model = _model().eval()
    x = torch.rand(4, 1, 32, 32)
    out = model.forward_with_features(x)
    assert out.logits.shape == (4, 2) and out.features.shape == (4, 128, 2, 2)
    assert isinstance(model, MapModel) and model.num_classes == 2
    assert model.classifier.out_features == 6 and model.base.encoder[0].in_channels == 3
    assert torch.allclose(model.head(out.features), out.logits) and torch.allclose(model(x), out.logits)
    assert model.member_forward(torch.rand(4, 3, 32, 32)).logits.shape == (4, 3, 2)
    assert model.train().forward_with_features(x).logits.shape == (4, 3, 2)


def test_evaluation_averages_the_members_probabilities_on_the_repeated_image():
    model = _model().eval()
    x = torch.rand(5, 1, 32, 32)
    members = model.member_forward(x.repeat(1, 3, 1, 1)).logits  # (B, M, K)
    assert torch.allclose(torch.sigmoid(model(x)), torch.sigmoid(members).mean(1), atol=1e-6)
    huge = torch.tensor([[[80.0, -80.0], [-90.0, 85.0], [100.0, -100.0]]])
    p = torch.sigmoid(ensemble_logits(huge))
    assert torch.isfinite(ensemble_logits(huge)).all() and torch.allclose(p, torch.tensor([[2 / 3, 1 / 3]]))


def test_members_see_independent_permutations_and_repetition_shares_rows():
    perms = mimo_permutations(16, 3, generator=torch.Generator().manual_seed(0))
    assert perms.shape == (3, 16) and torch.equal(perms[0], torch.arange(16))
    assert all(torch.equal(p.sort().values, torch.arange(16)) for p in perms)  # each member sees each image once
    assert not torch.equal(perms[1], perms[2]) and not torch.equal(perms[1], perms[0])
    rep = mimo_permutations(16, 3, repetition=0.25, generator=torch.Generator().manual_seed(1))
    assert (rep[:, 12:] == torch.arange(12, 16)).all()  # the last ρ·B rows show one image to all members
    assert not torch.equal(rep[1, :12], rep[2, :12])
    with pytest.raises(ValueError, match="repetition"):
        mimo_permutations(8, 2, repetition=1.5)


def test_training_forward_pairs_shuffled_images_and_returns_member_logits_in_batch_order():
    model = _model(input_repetition=0.25).train()
    x = torch.rand(8, 1, 32, 32)
    torch.manual_seed(5)
    logits = model(x)
    torch.manual_seed(5)
    perms = mimo_permutations(8, 3, 0.25)
    assert not torch.equal(perms[1], perms[2])
    member = model.member_forward(torch.cat([x[p] for p in perms], 1)).logits  # row r: member m on x[perms[m, r]]
    for m in range(3):
        for r in range(8):
            assert torch.allclose(logits[perms[m, r], m], member[r, m], atol=1e-6)


def _direct_gradcam(model, x, method="gradcam"):
    """Each member's Grad-CAM by autograd on the repeated input, ReLU'd, averaged over members."""
    features = model.base.features(x.repeat(1, model.members, 1, 1)).detach().requires_grad_(True)
    logits = model.member_head(features)
    maps = torch.zeros(len(x), model.members, model.num_classes, *features.shape[-2:])
    for m in range(model.members):
        for c in range(model.num_classes):
            (grad,) = torch.autograd.grad(logits[:, m, c].sum(), features, retain_graph=True)
            weights = grad.mean((2, 3), keepdim=True) if method == "gradcam" else grad
            maps[:, m, c] = (weights * features).sum(1)
    return maps.clamp_min(0).mean(1)


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_gradcam_is_the_members_mean_map_and_matches_autograd(pooling):
    model = _model(pooling=pooling).eval()
    x = torch.rand(3, 1, 64, 64)
    logits, maps = compute_saliency(model, x, "gradcam")
    assert maps.shape == (3, 2, 4, 4) and torch.allclose(logits, model(x))
    assert torch.allclose(maps, _direct_gradcam(model, x), atol=1e-6)
    hires = compute_saliency(model, x, "hirescam")[1]
    assert torch.allclose(hires, _direct_gradcam(model, x, "hirescam"), atol=1e-6)
    features = model.base.features(x.repeat(1, 3, 1, 1)).requires_grad_(True)
    forced = saliency_maps(model, features, None, "gradcam", closed_form=False)
    assert torch.allclose(forced, _direct_gradcam(model, x), atol=1e-6)
    cam = saliency_maps(model, features, None, "cam")
    weight = model.classifier.weight.view(3, 2, -1)
    assert torch.allclose(cam, torch.einsum("mkc,bchw->bmkhw", weight, features).clamp_min(0).mean(1), atol=1e-5)


class Toy(Dataset):
    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.y = torch.randint(0, 2, (n, 2), generator=g).float()
        self.y[0, 1] = float("nan")
        self.x = torch.rand(n, 1, 16, 16, generator=g) * 0.3
        self.x[self.y[:, 0] == 1, :, 2:10, 2:10] += 0.7

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"image": self.x[i], "labels": self.y[i], "index": torch.tensor(i)}


def test_a_tiny_run_through_fit_predict_and_saliency():
    model = _model(members=2)
    cfg = TrainConfig(epochs=2, lr=3e-3, batch_size=16, progress=False, device="cpu")
    result = fit(model, Toy(48, 0), Toy(16, 1), MIMOLoss(WeightedBCELoss()), cfg)
    h = result.history
    assert {"train_member_0", "train_member_1"} <= set(h.columns)
    assert np.allclose(h["train_loss"], (h["train_member_0"] + h["train_member_1"]) / 2)
    assert np.isfinite(h["val_loss"]).all() and np.isfinite(h["val_auroc"]).all()
    pred = predict(model, Toy(16, 2), device="cpu", saliency="gradcam")
    assert pred.logits.shape == (16, 2) and pred.maps.shape == (16, 2, 1, 1)


def test_mimo_loss_is_the_mean_of_member_losses_and_bad_input_is_named():
    logits = torch.randn(6, 3, 2)
    labels = torch.randint(0, 2, (6, 2)).float()
    out = MIMOLoss(WeightedBCELoss())(ModelOutput(logits, None), {"labels": labels})
    members = [WeightedBCELoss()(ModelOutput(logits[:, m], None), {"labels": labels}) for m in range(3)]
    assert torch.allclose(out["loss"], torch.stack(members).mean())
    ensemble = MIMOLoss(WeightedBCELoss())(ModelOutput(logits[:, 0], None), {"labels": labels})
    assert torch.allclose(ensemble, members[0])
    with pytest.raises(ValueError, match=r"\(B, M, K\)"):
        MIMOLoss(WeightedBCELoss())(ModelOutput(torch.zeros(2, 2, 2, 2), None), {"labels": labels})
    with pytest.raises(ValueError, match="one per member"):
        MIMO(build_model("small-cnn", 6), members=3)
    with pytest.raises(ValueError, match="not a multiple"):
        MIMO(build_model("small-cnn", 5, in_chans=3), members=3)
    with pytest.raises(ValueError, match="grayscale"):
        _model()(torch.rand(2, 3, 32, 32))
