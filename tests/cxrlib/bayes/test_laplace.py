"""Softmax last-layer Laplace on cached features against laplace-torch's own whole-network fit."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cxrlib.bayes import LastLayerLaplace, nll_loss, penultimate_features, whole_network_laplace
from cxrlib.bayes.backend import laplace_torch

from .conftest import Images

Laplace = laplace_torch().Laplace  # the reference, imported without its TorchScript FutureWarning

pytestmark = pytest.mark.filterwarnings("ignore:By default `link_approx` is `probit`")


@pytest.mark.parametrize("hessian", ["diag", "full", "kron"])
def test_cached_feature_fit_equals_the_whole_network_fit(small_model, hessian):
    train, test = Images(40, seed=1, dtype=torch.float64), Images(12, seed=2, dtype=torch.float64)
    reference = whole_network_laplace(small_model, train, hessian, prior_precision=0.5, batch_size=16)
    feats = penultimate_features(small_model, train, batch_size=16)
    ours = LastLayerLaplace.from_model(small_model, hessian, prior_precision=0.5).fit(
        feats.features, feats.labels, batch_size=16
    )
    if hessian == "kron":
        pairs = [(a, b) for fa, fb in zip(reference.H_facs.kfacs, ours.la.H_facs.kfacs) for a, b in zip(fa, fb)]
        assert len(pairs) == 3  # weight: output and input factors; bias: one factor
    else:
        pairs = [(reference.H, ours.la.H)]
    for a, b in pairs:
        assert a.shape == b.shape and torch.allclose(a, b, rtol=1e-5, atol=1e-8)
    assert ours.log_marginal_likelihood() == pytest.approx(float(reference.log_marginal_likelihood()), rel=1e-5)
    test_feats = penultimate_features(small_model, test).features
    for predictive in ("probit", "mc"):
        torch.manual_seed(7)
        expected = reference(test.x, pred_type="glm", link_approx=predictive, n_samples=50)
        got = ours.predict_proba(test_feats, predictive, n_samples=50, seed=7)
        assert torch.allclose(got, expected, atol=1e-5), predictive
    assert 0 < ours.seconds["fit"] < 60


@pytest.mark.parametrize("hessian", ["diag", "full", "kron"])
def test_prior_precision_by_marginal_likelihood_and_by_grid_search(small_model, hessian):
    train, val = Images(60, seed=3, dtype=torch.float64), Images(30, seed=4, dtype=torch.float64)
    feats, val_feats = penultimate_features(small_model, train), penultimate_features(small_model, val)
    la = LastLayerLaplace.from_model(small_model, hessian).fit(feats.features, feats.labels)
    for value in (0.01, 3.0):  # our evidence is laplace-torch's (the full one from eigenvalues)
        expected = float(la.la.log_marginal_likelihood(torch.tensor([value], dtype=torch.float64)))
        assert la.log_marginal_likelihood(value) == pytest.approx(expected, rel=1e-9)
    la.la.prior_precision = 1.0
    best = float(la.optimize_prior_precision("marglik"))
    assert la.prior_precision.shape == (1,) and la.seconds["marglik"] > 0
    evidence = la.log_marginal_likelihood()
    assert evidence >= la.log_marginal_likelihood(best * 1.1) and evidence >= la.log_marginal_likelihood(best / 1.1)
    adam = LastLayerLaplace.from_model(small_model, hessian).fit(feats.features, feats.labels).la
    adam.optimize_prior_precision(pred_type="glm", method="marglik", n_steps=200, prior_structure="scalar")
    assert evidence >= float(adam.log_marginal_likelihood()) - 1e-6
    grid = np.logspace(-3, 3, 13)
    chosen = float(la.optimize_prior_precision("gridsearch", val_feats.features, val_feats.labels, grid=grid))
    assert la.seconds["gridsearch"] > 0 and set(la.seconds) == {"fit", "marglik", "gridsearch"}
    targets = val_feats.labels.argmax(1)
    losses = []
    for value in grid:  # the same scan by hand, through laplace-torch's predictive
        la.la.prior_precision = float(value)
        losses.append(float(nll_loss(la.la(val_feats.features, link_approx="probit"), targets)))
    assert chosen == pytest.approx(grid[int(np.argmin(losses))], rel=1e-9)
    theirs = LastLayerLaplace.from_model(small_model, hessian).fit(feats.features, feats.labels).la
    # and laplace-torch's grid search with the same loss chooses the same (its grid is float32)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(val_feats.features, targets), batch_size=64)
    theirs.optimize_prior_precision(
        pred_type="glm",
        method="gridsearch",
        val_loader=loader,
        loss=nll_loss,
        log_prior_prec_min=-3,
        log_prior_prec_max=3,
        grid_size=13,
    )
    assert float(theirs.prior_precision) == pytest.approx(chosen, rel=1e-6)
    assert chosen < grid[-1]  # laplace-torch's default metric would pick the top of the grid


@pytest.mark.parametrize("hessian", ["diag", "full", "kron"])
def test_prior_precision_by_cross_validation_is_a_brute_force_kfold_through_laplace_torch(small_model, hessian):
    from sklearn.model_selection import KFold

    train = Images(60, seed=5, dtype=torch.float64)
    feats = penultimate_features(small_model, train)
    x, targets = feats.features, feats.labels.argmax(1)
    grid = np.logspace(-3, 3, 9)
    la = LastLayerLaplace.from_model(small_model, hessian).fit(x, feats.labels)
    chosen = float(la.optimize_prior_precision("cv", grid=grid, folds=4, seed=3))
    assert la.seconds["cv"] > 0 and la.prior_search["fold_loss"].shape == (4, 9)
    total = np.zeros(len(grid))
    for rest, held in KFold(4, shuffle=True, random_state=3).split(np.zeros(len(x))):
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x[rest], targets[rest]), len(rest))
        reference = Laplace(
            copy.deepcopy(small_model.classifier),
            "classification",
            subset_of_weights="last_layer",
            hessian_structure=hessian,
            last_layer_name="",
        )
        reference.fit(loader)
        for g, value in enumerate(grid):
            reference.prior_precision = float(value)
            probs = reference(x[held], pred_type="glm", link_approx="probit")
            total[g] += float(nll_loss(probs, targets[held])) * len(held)
    np.testing.assert_allclose(la.prior_search["loss"], total / len(x), rtol=1e-5)
    assert chosen == pytest.approx(grid[int(np.argmin(total))])
    with pytest.raises(ValueError, match="2 <= folds"):
        la.optimize_prior_precision("cv", grid=grid, folds=1)


def test_measured_laplace_torch_pitfalls_are_handled():
    torch.manual_seed(0)
    head = torch.nn.Linear(5, 3)
    x32, y = torch.randn(30, 5), torch.randint(0, 3, (30,))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x32, y), batch_size=10)
    with pytest.raises(ValueError, match="only has one module"):  # a head-only model needs last_layer_name
        Laplace(copy.deepcopy(head), "classification", subset_of_weights="last_layer", hessian_structure="diag").fit(
            loader
        )
    assert LastLayerLaplace(head, "diag").fit(x32, y).la is not None
    # float64 features into a float32 head raise in laplace-torch; ours casts the head's copy
    loader64 = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x32.double(), y), batch_size=10)
    raw = Laplace(copy.deepcopy(head), "classification", subset_of_weights="last_layer", last_layer_name="")
    with pytest.raises(RuntimeError, match="same dtype"):
        raw.fit(loader64)
    for dtype in (torch.float32, torch.float64):
        la = LastLayerLaplace(head, "full", dtype=dtype).fit(x32.double(), y)
        assert la.predict_proba(x32.double()).dtype == dtype and head.weight.dtype == torch.float32
    # the full Hessian is the exact softmax GGN in float64 (laplace-torch's default backend: ~3e-8 relative)
    x = x32.double()
    la = LastLayerLaplace(head, "full").fit(x, y)
    with torch.no_grad():
        p = la.head(x).softmax(-1)
    lam = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    phi = torch.cat([x, torch.ones(30, 1, dtype=x.dtype)], 1)
    ggn = torch.einsum("nkl,ni,nj->kilj", lam, phi, phi)  # (K, D+1, K, D+1), parameters: weight rows then bias
    order = [k * 6 + i for k in range(3) for i in range(5)] + [k * 6 + 5 for k in range(3)]
    exact = ggn.reshape(18, 18)[order][:, order]
    assert torch.allclose(la.la.H, exact, rtol=1e-12, atol=1e-12)
    # no Bernoulli likelihood: multi-hot labels are refused rather than read as soft labels
    multi_hot = F.one_hot(y, 3).double()
    multi_hot[0, (y[0] + 1) % 3] = 1.0
    with pytest.raises(ValueError, match="BernoulliLastLayerLaplace"):
        LastLayerLaplace(head, "kron").fit(x, multi_hot)


def test_bad_input_gives_clear_value_errors():
    torch.manual_seed(0)
    head = torch.nn.Linear(4, 3)
    x, y = torch.randn(12, 4), torch.randint(0, 3, (12,))
    la = LastLayerLaplace(head, "kron")
    with pytest.raises(ValueError, match="call fit"):
        la.predict_proba(x)
    with pytest.raises(ValueError, match="call fit"):
        la.optimize_prior_precision()
    with pytest.raises(ValueError, match="differ in length"):
        la.fit(x, y[:10])
    with pytest.raises(ValueError, match="takes 4"):
        la.fit(torch.randn(12, 5), y)
    with pytest.raises(ValueError, match="unknown Hessian structure 'block'"):
        LastLayerLaplace(head, "block")
    with pytest.raises(ValueError, match="nn.Linear"):
        LastLayerLaplace(torch.nn.Conv2d(1, 1, 1))
    with pytest.raises(ValueError, match="prior_precision"):
        LastLayerLaplace(head, prior_precision=0.0)
    la.fit(x, y)
    with pytest.raises(ValueError, match="NaN"):
        la.predict_proba(torch.full((2, 4), float("nan")))
    with pytest.raises(ValueError, match="needs val_features"):
        la.optimize_prior_precision("gridsearch")
    with pytest.raises(ValueError, match="positive prior precisions"):
        la.optimize_prior_precision("gridsearch", x, y, grid=[0.1, -1.0])
    with pytest.raises(ValueError, match="bounds"):
        la.optimize_prior_precision(bounds=(1.0, 0.0))
    with pytest.raises(ValueError, match="prior_structure"):
        la.optimize_prior_precision(prior_structure="per-class")
    with pytest.raises(ValueError, match="unknown prior optimisation method"):
        la.optimize_prior_precision("kfold")
    with pytest.raises(ValueError, match="unknown predictive"):
        la.predict_proba(x, "bridge")
