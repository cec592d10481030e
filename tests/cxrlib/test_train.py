import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

import cxrlib.train as train_module
from cxrlib.losses import WeightedBCELoss
from cxrlib.models import build_model
from cxrlib.train import (
    CheckpointMismatchError,
    TrainConfig,
    fit,
    freeze,
    load_checkpoint,
    predict,
    resolve_device,
    unfreeze,
)


class Toy(Dataset):
    """Bright square ⇒ class 0; noise otherwise. Learnable in a few steps."""

    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.y = torch.randint(0, 2, (n, 2), generator=g).float()
        self.x = torch.rand(n, 1, 32, 32, generator=g) * 0.3
        self.x[self.y[:, 0] == 1, :, 8:20, 8:20] += 0.7

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"image": self.x[i], "labels": self.y[i], "index": torch.tensor(i)}


def cfg(**kw):
    return TrainConfig(**{"epochs": 3, "lr": 3e-3, "batch_size": 16, "progress": False, **kw})


def test_fit_learns_and_is_reproducible():
    def run():
        torch.manual_seed(0)
        m = build_model("small-cnn", 2)
        res = fit(m, Toy(96, 0), Toy(48, 1), WeightedBCELoss(), cfg(seed=5))
        return m, res

    m1, r1 = run()
    m2, r2 = run()
    assert list(r1.history["val_loss"]) == list(r2.history["val_loss"])
    pred = predict(m1, Toy(48, 2))
    from cxrlib.metrics import auroc

    assert auroc(pred.probs[:, 0], pred.labels[:, 0]) > 0.9
    assert r1.history["train_loss"].iloc[-1] < r1.history["train_loss"].iloc[0]
    assert resolve_device("auto").type in ("cpu", "cuda")


def test_checkpoint_resume_continues_where_it_stopped(tmp_path):
    torch.manual_seed(0)
    m = build_model("small-cnn", 2)
    fit(m, Toy(64, 0), Toy(32, 1), WeightedBCELoss(), cfg(epochs=2, checkpoint_dir=str(tmp_path)))
    state = load_checkpoint(tmp_path / "last.pt")  # weights_only=True
    assert state["epoch"] == 1 and (tmp_path / "best.pt").exists()
    assert not list(tmp_path.glob("*.tmp"))
    m2 = build_model("small-cnn", 2)
    res = fit(m2, Toy(64, 0), Toy(32, 1), WeightedBCELoss(), cfg(epochs=4, checkpoint_dir=str(tmp_path)))
    assert list(res.history["epoch"]) == [1, 2, 3, 4]
    # an uninterrupted 4-epoch run gives the same history
    torch.manual_seed(0)
    m3 = build_model("small-cnn", 2)
    full = fit(m3, Toy(64, 0), Toy(32, 1), WeightedBCELoss(), cfg(epochs=4))
    assert np.allclose(res.history["val_loss"], full.history["val_loss"], rtol=1e-5)


def test_plateau_stop_rule_and_freezing():
    torch.manual_seed(0)
    m = build_model("small-cnn", 2)
    # a constant validation loss never improves: with patience 0 the LR drops after epochs 2 and 3,
    # and PYLON's rule stops training at the second reduction
    res = fit(
        m,
        Toy(32, 0),
        Toy(16, 1),
        WeightedBCELoss(),
        cfg(epochs=10, plateau_patience=0),
        val_loss_fn=lambda out, batch: torch.tensor(1.0),
    )
    assert res.stopped == "lr reduced 2x" and len(res.history) == 3
    assert res.history["lr"].tolist() == pytest.approx([3e-3, 3e-3, 3e-3 * 0.2])  # lr each epoch trained with
    names = freeze(m, "encoder")
    assert names and all(not p.requires_grad for n, p in m.named_parameters() if n.startswith("encoder"))
    before = m.encoder[0].weight.clone()
    fit(m, Toy(32, 0), None, WeightedBCELoss(), cfg(epochs=1))
    assert torch.equal(before, m.encoder[0].weight)
    with pytest.raises(ValueError, match="no parameter starts with"):
        freeze(m, "decoder")


def test_empty_dataset_and_nan_loss_errors():
    m = build_model("small-cnn", 2)
    with pytest.raises(ValueError, match="empty dataset"):
        fit(m, Toy(0, 0), None, WeightedBCELoss(), cfg())
    with pytest.raises(FloatingPointError, match="loss is nan"):
        fit(m, Toy(16, 0), None, lambda out, batch: out.logits.sum() * float("nan"), cfg())


class NoisyToy(Toy):
    """Toy with numpy- and python-random augmentation, so a resume that loses either state diverges."""

    def __getitem__(self, i):
        import random

        item = super().__getitem__(i)
        jitter = float(np.random.normal(0, 0.05)) + random.uniform(-0.02, 0.02)
        return {**item, "image": item["image"] + jitter}


def _dropout_model():
    torch.manual_seed(0)
    return build_model("small-cnn", 2, dropout=0.5)


def _resumed_vs_uninterrupted(tmp_path):
    fit(_dropout_model(), NoisyToy(64, 0), Toy(32, 1), WeightedBCELoss(), cfg(epochs=2, checkpoint_dir=str(tmp_path)))
    resumed_model = _dropout_model()
    resumed = fit(
        resumed_model, NoisyToy(64, 0), Toy(32, 1), WeightedBCELoss(), cfg(epochs=4, checkpoint_dir=str(tmp_path))
    )
    full_model = _dropout_model()
    full = fit(full_model, NoisyToy(64, 0), Toy(32, 1), WeightedBCELoss(), cfg(epochs=4))
    return resumed, full


def test_resume_restores_every_random_state(tmp_path):
    resumed, full = _resumed_vs_uninterrupted(tmp_path / "a")
    assert list(resumed.history["epoch"]) == [1, 2, 3, 4]
    assert resumed.history["train_loss"].tolist() == full.history["train_loss"].tolist()
    assert resumed.history["val_loss"].tolist() == full.history["val_loss"].tolist()


@pytest.mark.parametrize("lost", ["python", "numpy", "torch"])
def test_the_resume_test_fails_when_a_random_state_is_lost(tmp_path, monkeypatch, lost):
    original = train_module.set_rng_states

    def forgetful(states, device=None):
        original({**states, lost: train_module.rng_states()[lost]}, device)

    monkeypatch.setattr(train_module, "set_rng_states", forgetful)
    resumed, full = _resumed_vs_uninterrupted(tmp_path / lost)
    assert resumed.history["train_loss"].tolist()[2:] != full.history["train_loss"].tolist()[2:]


def test_resuming_a_run_that_stopped_early_trains_no_extra_epoch(tmp_path):
    never_better = {"val_loss_fn": lambda out, batch: torch.tensor(1.0)}
    torch.manual_seed(0)
    first = fit(
        build_model("small-cnn", 2),
        Toy(32, 0),
        Toy(16, 1),
        WeightedBCELoss(),
        cfg(epochs=10, plateau_patience=0, checkpoint_dir=str(tmp_path)),
        **never_better,
    )
    assert first.stopped == "lr reduced 2x" and len(first.history) == 3
    again = fit(
        build_model("small-cnn", 2),
        Toy(32, 0),
        Toy(16, 1),
        WeightedBCELoss(),
        cfg(epochs=10, plateau_patience=0, checkpoint_dir=str(tmp_path)),
        **never_better,
    )
    assert again.stopped == "lr reduced 2x" and len(again.history) == 3


def test_resuming_with_another_configuration_is_refused(tmp_path):
    fit(build_model("small-cnn", 2), Toy(32, 0), None, WeightedBCELoss(), cfg(epochs=1, checkpoint_dir=str(tmp_path)))
    with pytest.raises(CheckpointMismatchError, match="another configuration"):
        fit(
            build_model("small-cnn", 2),
            Toy(32, 0),
            None,
            WeightedBCELoss(),
            cfg(epochs=2, lr=1e-2, checkpoint_dir=str(tmp_path)),
        )
    # more epochs alone is a legitimate extension
    res = fit(
        build_model("small-cnn", 2), Toy(32, 0), None, WeightedBCELoss(), cfg(epochs=2, checkpoint_dir=str(tmp_path))
    )
    assert list(res.history["epoch"]) == [1, 2]


@pytest.mark.parametrize("statistics", [True, False])
def test_freeze_also_freezes_batchnorm_statistics_unless_asked(statistics):
    torch.manual_seed(0)
    m = build_model("small-cnn", 2)
    bn = m.encoder[1]
    assert isinstance(bn, torch.nn.BatchNorm2d)
    freeze(m, "encoder", batchnorm_statistics=statistics)
    before = bn.running_mean.clone()
    fit(m, NoisyToy(32, 0), None, WeightedBCELoss(), cfg(epochs=1))
    assert torch.equal(before, bn.running_mean) is statistics
    unfreeze(m)
    fit(m, NoisyToy(32, 0), None, WeightedBCELoss(), cfg(epochs=1))
    assert not torch.equal(before, bn.running_mean)


def test_two_stage_continues_from_the_best_first_stage_weights(tmp_path):
    from cxrlib.train import fit_two_stage

    torch.manual_seed(0)
    m = build_model("small-cnn", 2)
    seen = {}

    def second_loss(out, batch):
        if "state" not in seen:  # the first step of stage 2: the weights fit left after stage 1
            seen["state"] = {k: v.detach().clone() for k, v in m.named_parameters()}  # (BN buffers move in forward)
        return WeightedBCELoss()(out, batch) * 2.0

    def between(model, result):
        seen["between"] = ({k: v.detach().clone() for k, v in model.named_parameters()}, len(result.history))

    first, second = fit_two_stage(
        m,
        Toy(64, 0),
        Toy(32, 1),
        WeightedBCELoss(),
        second_loss,
        cfg(epochs=2, checkpoint_dir=str(tmp_path)),
        cfg(epochs=1, checkpoint_dir=str(tmp_path)),
        between=between,
    )
    best = load_checkpoint(tmp_path / "stage1" / "best.pt")["model"]
    assert seen["state"] and all(torch.equal(v, best[k]) for k, v in seen["state"].items())
    between_state, between_epochs = seen["between"]  # the hook saw the stage-one model, before stage two
    assert between_epochs == 2 and all(torch.equal(v, best[k]) for k, v in between_state.items())
    assert len(first.history) == 2 and len(second.history) == 1
    assert (tmp_path / "stage2" / "last.pt").exists()


def test_on_epoch_end_is_called_after_each_epoch_and_its_changes_are_checkpointed(tmp_path):
    calls = []

    def halve(epoch, opt, row):
        calls.append((epoch, row["epoch"], "val_loss" in row))
        for group in opt.param_groups:
            group["lr"] /= 2

    torch.manual_seed(0)
    m = build_model("small-cnn", 2)
    fit(m, Toy(32, 0), Toy(16, 1), WeightedBCELoss(), cfg(epochs=2, checkpoint_dir=str(tmp_path)), on_epoch_end=halve)
    assert calls == [(1, 1, True), (2, 2, True)]
    assert load_checkpoint(tmp_path / "last.pt")["optimizer"]["param_groups"][0]["lr"] == pytest.approx(3e-3 / 4)
    res = fit(
        m, Toy(32, 0), Toy(16, 1), WeightedBCELoss(), cfg(epochs=3, checkpoint_dir=str(tmp_path)), on_epoch_end=halve
    )
    assert calls[2:] == [(3, 3, True)] and res.history["lr"].iloc[-1] == pytest.approx(3e-3 / 4)


class OneHotToy(Dataset):
    """Three classes, one per image: a bright square in the top-left, the bottom-right, or none."""

    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.k = torch.randint(0, 3, (n,), generator=g)
        self.x = torch.rand(n, 1, 32, 32, generator=g) * 0.3
        self.x[self.k == 0, :, 2:14, 2:14] += 0.7
        self.x[self.k == 1, :, 18:30, 18:30] += 0.7

    def __len__(self):
        return len(self.k)

    def __getitem__(self, i):
        return {
            "image": self.x[i],
            "labels": torch.nn.functional.one_hot(self.k[i], 3).float(),
            "index": torch.tensor(i),
        }


def test_fit_trains_a_softmax_classifier_and_reports_accuracy_only_for_single_label_tasks():
    from cxrlib.losses import SoftmaxCrossEntropyLoss
    from cxrlib.train import is_single_label

    torch.manual_seed(0)
    m = build_model("vilter-cnn", 3)
    res = fit(m, OneHotToy(96, 0), OneHotToy(48, 1), SoftmaxCrossEntropyLoss(), cfg(epochs=4, lr=3e-3))
    assert {"val_loss", "val_auroc", "val_accuracy"} <= set(res.history.columns)
    assert res.history["val_accuracy"].iloc[-1] > 0.8
    pred = predict(m, OneHotToy(48, 2))
    assert (pred.logits.argmax(1) == pred.labels.argmax(1)).mean() > 0.8
    multi = fit(build_model("small-cnn", 2), Toy(32, 0), Toy(16, 1), WeightedBCELoss(), cfg(epochs=1))
    assert "val_accuracy" not in multi.history.columns and "val_auroc" in multi.history.columns
    assert is_single_label(torch.eye(3)) and not is_single_label(torch.tensor([[1.0, 1.0], [0.0, 1.0]]))
    assert not is_single_label(torch.tensor([[float("nan"), 1.0]])) and not is_single_label(torch.ones(4, 1))


def test_compile_is_opt_in_and_trains_as_the_eager_network():
    # TrainConfig(compile=True) wraps the network in torch.compile (measured on a GPU by make gpu-check);
    # it must train the same numbers, and it does not change what a checkpoint resumes
    from cxrlib.checkpoint import config_hash

    assert TrainConfig().compile is False
    assert config_hash(cfg(compile=True)) == config_hash(cfg())
    runs = []
    for compiled in (False, True):
        torch.manual_seed(0)
        model = build_model("small-cnn", 2)
        runs.append(fit(model, Toy(16, 0), Toy(8, 1), WeightedBCELoss(), cfg(epochs=1, compile=compiled)))
    eager, compiled = runs
    np.testing.assert_allclose(compiled.history["train_loss"], eager.history["train_loss"], rtol=1e-4)
    np.testing.assert_allclose(compiled.history["val_loss"], eager.history["val_loss"], rtol=1e-4)
