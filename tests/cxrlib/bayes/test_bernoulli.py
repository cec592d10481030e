"""Multi-label (Bernoulli) last-layer Laplace against brute force: torch.func Hessians, log-determinants,
a grid scan of the evidence and Monte Carlo sampling from the same Gaussian."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cxrlib.bayes import BernoulliLastLayerLaplace


def problem(n=40, d=4, k=3, seed=0, nan_rate=0.2):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    head = torch.nn.Linear(d, k).double()
    with torch.no_grad():
        head.weight.copy_(torch.randn(k, d, generator=g, dtype=torch.float64))
        head.bias.copy_(torch.randn(k, generator=g, dtype=torch.float64) * 0.5)
    p = torch.sigmoid(head(x).detach())
    y = (torch.rand(n, k, generator=g, dtype=torch.float64) < p).double()
    y[torch.rand(n, k, generator=g) < nan_rate] = float("nan")
    return head, x, y


def brute_force_hessian(head, x, y, lam):
    """``torch.func.hessian`` of Σ_known BCE + λ/2 ‖θ‖² over every class's (weights, bias) at once."""
    k, d = head.weight.shape
    known = ~torch.isnan(y)

    def objective(theta):
        t = theta.reshape(k, d + 1)
        logits = x @ t[:, :d].T + t[:, d]
        bce = F.binary_cross_entropy_with_logits(logits, torch.nan_to_num(y), reduction="none")
        return (bce * known).sum() + 0.5 * (lam[:, None] * t**2).sum()

    theta = torch.cat([head.weight.detach(), head.bias.detach()[:, None]], 1).reshape(-1)
    return torch.func.hessian(objective)(theta).reshape(k, d + 1, k, d + 1)


@pytest.mark.parametrize("hessian", ["full", "diag"])
def test_hessian_equals_the_brute_force_hessian_of_the_bce_and_prior(hessian):
    head, x, y = problem()
    lam = torch.tensor([0.5, 2.0, 7.0], dtype=torch.float64)
    la = BernoulliLastLayerLaplace(head, hessian, prior_precision=lam).fit(x, y)
    brute = brute_force_hessian(head, x, y, lam)
    for k in range(3):
        block = brute[k, :, k, :]
        expected = block if hessian == "full" else block.diagonal()
        assert torch.allclose(la.posterior_precision[k], expected, rtol=1e-6, atol=1e-9)
        for j in range(3):  # classes are independent: no coupling between their parameters
            if j != k:
                assert brute[k, :, j, :].abs().max() < 1e-12
    # unknown labels are left out: the same Hessian from the known rows of each class alone
    for k in range(3):
        rows = ~torch.isnan(y[:, k])
        alone = BernoulliLastLayerLaplace(head, hessian, lam).fit(x[rows], torch.nan_to_num(y[rows]))
        assert torch.allclose(alone.hessian_matrix[k], la.hessian_matrix[k], rtol=1e-10, atol=1e-12)
    assert la.known_counts.tolist() == (~torch.isnan(y)).sum(0).tolist()


def test_evidence_is_the_laplace_formula_and_its_optimum_agrees_with_a_grid_scan():
    head, x, y = problem(n=60, seed=1)
    la = BernoulliLastLayerLaplace(head, "full").fit(x, y)
    lam = torch.tensor([0.3, 1.0, 4.0], dtype=torch.float64)
    theta = torch.cat([head.weight.detach(), head.bias.detach()[:, None]], 1)
    known = ~torch.isnan(y)
    bce = F.binary_cross_entropy_with_logits(head(x).detach(), torch.nan_to_num(y), reduction="none")
    precision = la.hessian_matrix + lam[:, None, None] * torch.eye(5, dtype=torch.float64)
    brute = -(bce * known).sum(0) - 0.5 * lam * (theta**2).sum(1) + 2.5 * torch.log(lam) - 0.5 * torch.logdet(precision)
    assert torch.allclose(la.log_marginal_likelihood(lam), brute, rtol=1e-10)
    best = la.optimize_prior_precision()
    assert la.seconds["marglik"] > 0 and torch.equal(la.prior_precision, best)
    grid = np.logspace(-4, 4, 801)
    scan = torch.stack([la.log_marginal_likelihood(float(g)) for g in grid])  # (G, K)
    for k in range(3):
        assert math.log(best[k]) == pytest.approx(math.log(grid[int(scan[:, k].argmax())]), abs=0.015)
    tied = la.optimize_prior_precision(per_class=False)
    assert len(set(tied.tolist())) == 1
    assert math.log(tied[0]) == pytest.approx(math.log(grid[int(scan.sum(1).argmax())]), abs=0.015)
    diag = BernoulliLastLayerLaplace(head, "diag").fit(x, y)
    assert torch.allclose(
        diag.log_marginal_likelihood(lam),
        -(bce * known).sum(0)
        - 0.5 * lam * (theta**2).sum(1)
        + 2.5 * torch.log(lam)
        - 0.5 * torch.log(diag.hessian_matrix + lam[:, None]).sum(1),
    )


@pytest.mark.parametrize("hessian", ["full", "diag"])
def test_predictives_against_monte_carlo_samples_of_the_same_gaussian(hessian):
    head, x, y = problem(n=30, seed=2, nan_rate=0.0)
    la = BernoulliLastLayerLaplace(head, hessian, prior_precision=0.3).fit(x, y)
    test = torch.randn(25, 4, generator=torch.Generator().manual_seed(5), dtype=torch.float64) * 1.5
    g = torch.Generator().manual_seed(11)
    s = 40_000
    cov = la.posterior_covariance
    theta = torch.cat([head.weight.detach(), head.bias.detach()[:, None]], 1)
    phi = torch.cat([test, torch.ones(25, 1, dtype=torch.float64)], 1)
    samples = []  # weights drawn from each class's posterior, independently of logit_moments
    for k in range(3):
        chol = torch.linalg.cholesky(cov[k] if hessian == "full" else torch.diag(cov[k]))
        w = theta[k] + torch.randn(s, 5, generator=g, dtype=torch.float64) @ chol.T
        samples.append(w @ phi.T)  # (S, N) logits of class k
    logits = torch.stack(samples, -1)  # (S, N, K)
    mean, var = la.logit_moments(test)
    assert torch.allclose(mean, logits.mean(0), atol=4 * (var / s).sqrt().max())
    assert torch.allclose(var, logits.var(0), rtol=0.05)
    # MacKay's probit is exact for the probit link Φ(√(π/8) z): check it with the moments
    c = math.sqrt(math.pi / 8)
    normal = torch.distributions.Normal(0.0, 1.0)
    exact = normal.cdf(c * mean / torch.sqrt(1 + c**2 * var))
    sampled = normal.cdf(c * logits).mean(0)
    assert (exact - sampled).abs().max() < 4 * 0.5 / math.sqrt(s)
    # the predictives: Monte Carlo within its error, probit within MacKay's approximation of the sigmoid
    truth = torch.sigmoid(logits).mean(0)
    error = torch.sigmoid(logits).std(0) / math.sqrt(s)
    mc = la.predict_proba(test, "mc", n_samples=s, seed=3)
    assert ((mc - truth).abs() <= 6 * error).all()  # two independent estimates: about 4.2 standard errors
    probit = la.predict_proba(test)
    assert (probit - truth).abs().max() < 0.02 + 4 * error.max()
    assert torch.allclose(probit, torch.sigmoid(mean / torch.sqrt(1 + math.pi * var / 8)))
    assert ((probit - 0.5).abs() <= (la.map_proba(test) - 0.5).abs() + 1e-12).all()  # less confident than MAP
    assert torch.equal(la.predict_proba(test, "mc", n_samples=100, seed=3), la.predict_proba(test, "mc", 100, 3))


def test_bad_input_gives_clear_value_errors():
    head, x, y = problem()
    la = BernoulliLastLayerLaplace(head)
    with pytest.raises(ValueError, match="call fit"):
        la.predict_proba(x)
    with pytest.raises(ValueError, match="call fit"):
        la.optimize_prior_precision()
    with pytest.raises(ValueError, match="differ in length"):
        la.fit(x, y[:-1])
    with pytest.raises(ValueError, match="takes 4"):
        la.fit(torch.randn(40, 6), y)
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        la.fit(x, y[:, :2])
    with pytest.raises(ValueError, match="0, 1 or NaN"):
        la.fit(x, y * 2)
    with pytest.raises(ValueError, match="no 'kron'"):
        BernoulliLastLayerLaplace(head, "kron")
    with pytest.raises(ValueError, match="unknown Hessian structure"):
        BernoulliLastLayerLaplace(head, "lowrank")
    with pytest.raises(ValueError, match="prior_precision"):
        BernoulliLastLayerLaplace(head, prior_precision=[1.0, 2.0])
    with pytest.raises(ValueError, match="positive"):
        BernoulliLastLayerLaplace(head, prior_precision=-1.0)
    la.fit(x, y)
    with pytest.raises(ValueError, match="bounds"):
        la.optimize_prior_precision(bounds=(1.0, 0.1))
    with pytest.raises(ValueError, match="unknown predictive"):
        la.predict_proba(x, "sampling")
    no_bias = torch.nn.Linear(4, 3, bias=False).double()
    fitted = BernoulliLastLayerLaplace(no_bias).fit(x, y)
    assert fitted.hessian_matrix.shape == (3, 4, 4) and fitted.predict_proba(x).shape == (40, 3)


def test_map_logits_are_the_heads_own_on_the_cpu():
    # the posterior keeps a CPU float64 copy of the head: cached (CPU) features never meet a GPU head
    head, x, _ = problem()
    la = BernoulliLastLayerLaplace(head)
    logits = la.map_logits(x.float())
    assert logits.device.type == "cpu" and logits.dtype == torch.float64
    torch.testing.assert_close(logits, head(x).detach())
    torch.testing.assert_close(la.map_proba(x), torch.sigmoid(logits))
