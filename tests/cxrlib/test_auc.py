import libauc.losses
import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

import cxrlib.auc as auc_module
from cxrlib.auc import (
    PESG,
    AUCMarginLoss,
    AUCMarginObjectiveLoss,
    auc_finetune,
    auc_margin_objective,
    class_imratio,
    pesg_optimizer,
    pesg_regularizer_schedule,
)
from cxrlib.metrics import per_class_auroc
from cxrlib.models import ModelOutput, build_model
from cxrlib.train import TrainConfig


def _batch(n=24, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, k, generator=g) * 2
    labels = (torch.rand(n, k, generator=g) < 0.4).float()
    labels[0], labels[1] = 1.0, 0.0  # every class has both
    return logits, labels


def _set_aux(loss, a, b, alpha):
    with torch.no_grad():
        for t, v in ((loss.a, a), (loss.b, b), (loss.alpha, alpha)):
            t.copy_(torch.as_tensor(v, dtype=torch.float32))


AUX = ([0.7, 0.6, 0.8], [0.2, 0.3, 0.1], [0.5, 0.4, 0.3])
IMRATIO = [0.3, 0.4, 0.25]


def test_loss_equals_libauc_multilabel_on_known_labels():
    logits, labels = _batch()
    ours = AUCMarginLoss(IMRATIO, device="cpu")
    ref = libauc.losses.MultiLabelAUCMLoss(imratio=list(IMRATIO), num_labels=3, device="cpu")
    _set_aux(ours, *AUX)
    _set_aux(ref, *AUX)
    value = ours(ModelOutput(logits, None), {"labels": labels})
    assert torch.allclose(value, ref(torch.sigmoid(logits), labels, auto=False))
    assert ref.p == IMRATIO  # auto=False: LibAUC kept (and did not overwrite) the training imratio


def test_other_margins_follow_libaucs_single_label_formula():
    """MultiLabelAUCMLoss v1 drops the margin; the value is corrected to AUCMLoss's, class by class."""
    logits, labels = _batch(seed=1)
    ours = AUCMarginLoss(IMRATIO, margin=0.6, device="cpu")
    _set_aux(ours, *AUX)
    per_class = []
    for k in range(3):
        ref = libauc.losses.AUCMLoss(margin=0.6, imratio=IMRATIO[k], device="cpu")
        _set_aux(ref, AUX[0][k], AUX[1][k], AUX[2][k])
        per_class.append(ref(torch.sigmoid(logits[:, k]), labels[:, k], auto=False))
    assert torch.allclose(ours(ModelOutput(logits, None), {"labels": labels}), torch.stack(per_class).mean())


def test_unknown_labels_drop_out_of_their_class_term():
    logits, labels = _batch(seed=2)
    labels[2:9, 0] = float("nan")
    labels[5:12, 2] = float("nan")
    ours = AUCMarginLoss(IMRATIO, device="cpu")
    _set_aux(ours, *AUX)
    value = ours(ModelOutput(logits, None), {"labels": labels})
    terms = []
    for k in range(3):
        known = ~torch.isnan(labels[:, k])
        ref = libauc.losses.MultiLabelAUCMLoss(imratio=[IMRATIO[k]], num_labels=1, device="cpu")
        _set_aux(ref, [AUX[0][k]], [AUX[1][k]], [AUX[2][k]])
        terms.append(ref(torch.sigmoid(logits[known, k : k + 1]), labels[known, k : k + 1], auto=False))
    assert torch.allclose(value, torch.stack(terms).mean())
    # neither a positive nor a negative: the logits of unknown labels do not matter
    moved = logits.clone()
    moved[torch.isnan(labels)] = 30.0
    assert torch.allclose(ours(ModelOutput(moved, None), {"labels": labels}), value)
    # a class without any known label in the batch is left out of the mean
    labels[:, 1] = float("nan")
    two = ours(ModelOutput(logits, None), {"labels": labels})
    assert torch.allclose(two, torch.stack([terms[0], terms[2]]).mean())
    # no known label at all: zero, still differentiable
    z = logits.clone().requires_grad_(True)
    empty = ours(ModelOutput(z, None), {"labels": torch.full_like(labels, float("nan"))})
    empty.backward()
    assert float(empty.detach()) == 0.0 and (z.grad == 0).all()


def test_state_stays_on_the_given_device_even_when_cuda_exists(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # LibAUC's default would now be CUDA
    loss = AUCMarginLoss(IMRATIO, device="cpu")
    assert {t.device.type for t in (loss.a, loss.b, loss.alpha)} == {"cpu"}
    opt = pesg_optimizer(loss)([torch.nn.Parameter(torch.zeros(3))])
    assert opt.device.type == "cpu" and {t.device.type for t in opt.model_ref + opt.model_acc} == {"cpu"}


def test_default_device_is_fits_and_a_mismatch_is_named():
    loss = AUCMarginLoss(IMRATIO)  # "auto", as TrainConfig
    assert loss.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    cpu = AUCMarginLoss(IMRATIO, device="cpu")
    with pytest.raises(ValueError, match="keeps a, b, alpha on cpu"):
        cpu(ModelOutput(torch.zeros(4, 3, device="meta"), None), {"labels": torch.zeros(4, 3, device="meta")})
    with pytest.raises(ValueError, match="differs from the loss"):
        pesg_optimizer(cpu, device="meta")


def test_libaucs_single_label_losses_fail_on_multilabel_targets():
    """Why only MultiLabelAUCMLoss is used: the measured failures of LibAUC 2.0.1."""
    p, y = torch.rand(8, 5), (torch.rand(8, 5) < 0.5).float()
    with pytest.raises(RuntimeError, match="more than one value is ambiguous"):
        libauc.losses.AUCMLoss(device="cpu")(p, y)
    with pytest.raises(RuntimeError, match="must match the size"):
        libauc.losses.FocalLoss()(p, y)


def test_imratio_from_training_labels_and_its_errors():
    y = np.array([[1, 0, 1], [0, 0, np.nan], [0, 1, 0], [np.nan, 1, 0]])
    assert np.allclose(class_imratio(y), [1 / 3, 2 / 4, 1 / 3])
    loss = AUCMarginLoss.from_labels(torch.tensor(y), device="cpu")
    assert np.allclose(loss.imratio, [1 / 3, 1 / 2, 1 / 3])
    y[:, 1] = [0, 0, 0, np.nan]
    with pytest.raises(ValueError, match=r"'Cardiomegaly' \(no positive\)"):
        class_imratio(y, ["Atelectasis", "Cardiomegaly", "Edema"])
    y[:, 1] = 1
    with pytest.raises(ValueError, match="no negative"):
        class_imratio(y)
    with pytest.raises(ValueError, match="0, 1 or NaN"):
        class_imratio(np.array([[2.0], [0.0]]))
    with pytest.raises(ValueError, match="strictly between 0 and 1.*'b'"):
        AUCMarginLoss([0.2, 0.0], device="cpu", classes=["a", "b"])
    with pytest.raises(ValueError, match=r"\(B, 3\)"):
        AUCMarginLoss(IMRATIO, device="cpu")(ModelOutput(torch.zeros(4, 2), None), {"labels": torch.zeros(4, 2)})


def test_validation_objective_is_the_saddle_point_of_the_loss():
    logits, labels = _batch(seed=4)
    labels[3:7, 1] = float("nan")
    value = auc_margin_objective(logits, labels, IMRATIO)
    s = torch.sigmoid(logits)
    for k in range(3):
        known = ~torch.isnan(labels[:, k])
        sk, yk, p = s[known, k], labels[known, k], IMRATIO[k]
        a, b = sk[yk == 1].mean(), sk[yk == 0].mean()
        c = p * (1 - p) + (p * sk[yk == 0].sum() - (1 - p) * sk[yk == 1].sum()) / len(sk)
        alpha = c.clamp_min(0) / (p * (1 - p))
        one = AUCMarginLoss([p], device="cpu")
        _set_aux(one, [a], [b], [alpha])
        at_saddle = one(ModelOutput(logits[known, k : k + 1], None), {"labels": labels[known, k : k + 1]})
        mine = auc_margin_objective(logits[known, k : k + 1], labels[known, k : k + 1], [p])
        assert torch.allclose(mine, at_saddle, atol=1e-6)
        _set_aux(one, [a + 0.05], [b], [alpha])  # a minimum in a ...
        assert one(ModelOutput(logits[known, k : k + 1], None), {"labels": labels[known, k : k + 1]}) > mine
        _set_aux(one, [a], [b], [alpha + 0.1])  # ... a maximum in alpha
        assert one(ModelOutput(logits[known, k : k + 1], None), {"labels": labels[known, k : k + 1]}) < mine
    assert value.shape == ()


def _separable(n=256, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    y = ((x @ torch.randn(d, 2, generator=g) + 0.3 * torch.randn(n, 2, generator=g)) > 0.7).float()
    return x, y


def _train_linear(linear, loss, opt, x, y, steps: int = 60) -> tuple[float, float]:
    """Mean AUROC of ``linear`` on ``(x, y)`` before and after ``steps`` mini-batch steps of ``opt`` on ``loss``."""
    before = per_class_auroc(linear(x).detach(), y)["mean"]
    for step in range(steps):
        rows = torch.randint(0, len(x), (32,), generator=torch.Generator().manual_seed(step))
        value = loss(ModelOutput(linear(x[rows]), None), {"labels": y[rows]})
        opt.zero_grad()
        value.backward()
        opt.step()
    return before, per_class_auroc(linear(x).detach(), y)["mean"]


def test_a_few_pesg_steps_raise_auroc():
    torch.manual_seed(0)
    x, y = _separable()
    linear = torch.nn.Linear(8, 2)
    loss = AUCMarginLoss.from_labels(y, device="cpu")
    opt = pesg_optimizer(loss, lr=0.1)(linear.parameters())
    assert isinstance(opt, PESG) and len(opt.param_groups[0]["params"]) == 4  # weight, bias, a, b
    before, after = _train_linear(linear, loss, opt, x, y)
    assert after > max(before + 0.15, 0.85)
    assert (loss.alpha >= 0).all() and (loss.a > loss.b).all()


def test_the_saddle_point_objective_trains_with_adam_alone():
    """The source's reading of DeepAUC: Adam on the network, a, b, α at their optimum for each batch."""
    torch.manual_seed(0)
    x, y = _separable()
    loss = AUCMarginObjectiveLoss.from_labels(y)
    logits, labels = _batch()
    three = AUCMarginObjectiveLoss(IMRATIO, margin=0.5)
    value = three(ModelOutput(logits, None), {"labels": labels})
    assert torch.equal(value, auc_margin_objective(logits, labels, IMRATIO, 0.5))
    linear = torch.nn.Linear(8, 2)
    before, after = _train_linear(linear, loss, torch.optim.Adam(linear.parameters(), lr=0.05), x, y)
    assert after > max(before + 0.15, 0.85)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        AUCMarginObjectiveLoss([0.2, 0.0])


def test_pesg_checkpoint_restores_the_auxiliary_variables_and_the_schedule_decays():
    x, y = _separable()
    loss = AUCMarginLoss.from_labels(y, device="cpu")
    linear = torch.nn.Linear(8, 2)
    opt = pesg_optimizer(loss)(linear.parameters())
    for _ in range(3):
        value = loss(ModelOutput(linear(x[:64]), None), {"labels": y[:64]})
        opt.zero_grad()
        value.backward()
        opt.step()
    saved = [t.detach().clone() for t in (loss.a, loss.b, loss.alpha)]
    state = opt.state_dict()
    torch.save(state, buf := __import__("io").BytesIO())
    fresh_loss = AUCMarginLoss.from_labels(y, device="cpu")
    fresh = pesg_optimizer(fresh_loss)(torch.nn.Linear(8, 2).parameters())
    buf.seek(0)
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    for live, old in zip((fresh_loss.a, fresh_loss.b, fresh_loss.alpha), saved):
        assert torch.equal(live, old)
    schedule = pesg_regularizer_schedule(decay_epochs=[2], decay_factor=10)
    schedule(1, opt, {})
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1) and opt.T == 3
    schedule(2, opt, {})
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01) and opt.T == 0
    with pytest.raises(TypeError, match="PESG"):
        schedule(2, torch.optim.SGD(linear.parameters(), lr=0.1), {})


class Toy(Dataset):
    def __init__(self, n, seed, negatives_only=False):
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.randint(0, 2, (n, 2), generator=g).float()
        if negatives_only:
            self.labels[:, 1] = 0
        self.labels[:3, 1] = float("nan")
        self.x = torch.rand(n, 1, 32, 32, generator=g) * 0.3
        self.x[self.labels[:, 0] == 1, :, 8:20, 8:20] += 0.7
        self.x[self.labels[:, 1] == 1, :, 20:28, 20:28] += 0.5
        self.classes = ["square", "corner"]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"image": self.x[i], "labels": self.labels[i], "index": torch.tensor(i)}


def test_auc_finetune_runs_libaucs_recipe_through_fit(tmp_path):
    torch.manual_seed(0)
    model = build_model("small-cnn", 2)
    cfg = TrainConfig(epochs=1, lr=3e-3, batch_size=16, progress=False, device="cpu", checkpoint_dir=str(tmp_path))
    first, second = auc_finetune(
        model, Toy(64, 0), Toy(32, 1), cfg, TrainConfig(epochs=2, batch_size=16, progress=False, device="cpu")
    )
    assert len(first.history) == 1 and (tmp_path / "stage1" / "last.pt").exists()
    assert list(second.history["lr"]) == pytest.approx([0.1, 0.01])  # PESG's lr, / 10 after each epoch
    assert np.isfinite(second.history["val_loss"]).all() and np.isfinite(second.history["val_auroc"]).all()


def test_auc_finetune_refuses_a_class_without_positive_before_training(monkeypatch):
    monkeypatch.setattr(auc_module, "fit", lambda *a, **k: pytest.fail("trained on garbage"))
    with pytest.raises(ValueError, match=r"'corner' \(no positive\)"):
        auc_finetune(build_model("small-cnn", 2), Toy(32, 0, negatives_only=True), None)
    with pytest.raises(TypeError, match="classifier"):
        auc_finetune(torch.nn.Identity(), Toy(32, 0), None)


def test_a_resumed_fine_tuning_equals_an_uninterrupted_one(tmp_path):
    """LibAUC's own PESG loses a, b and alpha on resume (its train loss then jumps); ours keeps them."""

    def run(folder, epochs):
        torch.manual_seed(0)
        model = build_model("small-cnn", 2)
        first = TrainConfig(epochs=1, lr=3e-3, batch_size=16, progress=False, device="cpu", checkpoint_dir=folder)
        second = TrainConfig(epochs=epochs, batch_size=16, progress=False, device="cpu", checkpoint_dir=folder)
        return auc_finetune(model, Toy(48, 0), Toy(16, 1), first, second, decay_epochs=[1])[1].history

    run(str(tmp_path / "a"), 1)
    resumed = run(str(tmp_path / "a"), 2)
    full = run(str(tmp_path / "b"), 2)
    assert np.allclose(resumed["train_loss"], full["train_loss"], rtol=1e-5)
    assert np.allclose(resumed["val_loss"], full["val_loss"], rtol=1e-5)
