import pytest
import torch

from cxrlib.models import build_model
from cxrlib.train import TrainConfig, fit_two_phase, freeze, train_mode, transfer_weights, unfreeze


def test_freeze_encoder_freezes_exactly_the_encoder():
    model = build_model("pylon", 2, encoder="resnet18")
    names = freeze(model, "encoder.")
    encoder = {f"encoder.{n}" for n, _ in model.encoder.named_parameters()}
    assert set(names) == encoder
    for name, p in model.named_parameters():
        assert p.requires_grad is (name not in encoder)
    train_mode(model)
    assert all(not m.training for m in model.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert all(m.training for m in model.decoder.modules() if isinstance(m, torch.nn.BatchNorm2d))
    unfreeze(model)
    assert all(p.requires_grad for p in model.parameters())


class _Data(torch.utils.data.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return {
            "image": torch.rand(1, 64, 64, generator=g),
            "labels": torch.tensor([float(i % 2), 0.0]),
            "index": torch.tensor(i),
        }


def test_two_phase_transfer_moves_only_the_decoder_first(monkeypatch):
    import cxrlib.train as train

    torch.manual_seed(0)
    model = build_model("pylon", 2, encoder="resnet18")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    seen = []
    real_fit = train.fit

    def spy(model, *args, **kwargs):
        seen.append({n for n, p in model.named_parameters() if p.requires_grad})
        result = real_fit(model, *args, **kwargs)
        if len(seen) == 1:  # after phase one: the encoder as it was, the decoder moved
            moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
            assert not any(n.startswith("encoder.") for n in moved)
            assert any(n.startswith("decoder.") for n in moved)
        return result

    monkeypatch.setattr(train, "fit", spy)
    loss = lambda out, batch: torch.nn.functional.binary_cross_entropy_with_logits(out.logits, batch["labels"])
    config = TrainConfig(epochs=1, batch_size=4, lr=1e-3, device="cpu", progress=False)
    first, second = fit_two_phase(model, _Data(), _Data(), loss, config)
    assert not any(n.startswith("encoder.") for n in seen[0])
    assert any(n.startswith("decoder.") for n in seen[0])
    assert seen[1] == {n for n, _ in model.named_parameters()}
    assert all(p.requires_grad for p in model.parameters())


def test_transfer_weights_copies_all_but_the_head():
    torch.manual_seed(0)
    source = build_model("pylon", 3, encoder="resnet18")
    torch.manual_seed(1)
    target = build_model("pylon", 5, encoder="resnet18")  # other classes: the head cannot be copied
    head_before = target.classifier.weight.detach().clone()
    copied = transfer_weights(target, source.state_dict())
    assert copied and not any(n.startswith("classifier.") for n in copied)
    state, own = source.state_dict(), target.state_dict()
    assert all(torch.equal(own[n], state[n]) for n in copied)
    assert set(own) - set(copied) == {"classifier.weight", "classifier.bias"}
    assert torch.equal(target.classifier.weight, head_before)


def test_transfer_weights_names_what_does_not_fit():
    source = build_model("gmp", 3, encoder="resnet18").state_dict()
    with pytest.raises(ValueError, match="missing .*decoder"):
        transfer_weights(build_model("pylon", 3, encoder="resnet18"), source)
    deeper = build_model("pylon", 3, encoder="resnet34").state_dict()  # same widths, more blocks
    with pytest.raises(ValueError, match="not in this model: .*encoder.layer"):
        transfer_weights(build_model("pylon", 3, encoder="resnet18"), deeper)
    bad = build_model("pylon", 3, encoder="resnet18").state_dict()
    name = next(k for k in bad if k.startswith("decoder.") and k.endswith("weight"))
    bad[name] = torch.zeros(1)
    with pytest.raises(ValueError, match="shape differs"):
        transfer_weights(build_model("pylon", 3, encoder="resnet18"), bad)
