"""The mechanisms of the one-training methods, on models with known internals: the
active-unit count (active-units), nested-dropout masks, their prefix-length law and
truncation to a prefix (ordered), the KL to a learned prior and the relevance count
(ard)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from benchmark.methods.active_units import active_units_size
from benchmark.methods.mechanisms.ard_prior import (
    RELEVANCE_SHARE,
    ArdObjective,
    ard_kl_per_dim,
    ard_size,
    relevance,
    relevant_dims,
)
from benchmark.methods.mechanisms.nested_dropout import (
    FULL_CODE_SHARE,
    NestedDropoutObjective,
    geometric_p,
    nested_dropout_mask,
    prefix_length_pmf,
    prefix_sizes,
    sample_prefix_lengths,
    truncate,
)
from benchmark.models.vaes import build_model, kl_per_dim, reparameterise

# ---------------------------------------------------------------- known internals


def _transparent_model(mean_scales: list[float], posterior_vars: list[float] | None = None):
    """A real MLP VAE on 4-pixel images whose encoder passes non-negative pixels through
    unchanged, so that mu_j = scale_j * x_j and exp(logvar_j) = posterior_vars[j]."""
    n = len(mean_scales)
    model = build_model((1, 2, 2), n, hidden_dim=4)
    with torch.no_grad():
        for layer in (model.encoder[0], model.encoder[2]):
            layer.weight.copy_(torch.eye(4))
            layer.bias.zero_()
        model.fc_mu.weight.zero_()
        model.fc_mu.bias.zero_()
        for j, s in enumerate(mean_scales):
            model.fc_mu.weight[j, j] = s
        model.fc_scale.weight.zero_()
        logvars = torch.log(torch.tensor(posterior_vars or [1.0] * n))
        model.fc_scale.bias.copy_(logvars)
    return model


def _balanced_pixels(n: int = 400) -> torch.Tensor:
    """n images whose 4 pixels are each 0 for half the images and 1 for the other half
    (every pixel's variance over the images is exactly 0.25), in independent patterns."""
    i = torch.arange(n)
    cols = [(i // 2**k) % 2 for k in range(4)]
    return torch.stack(cols, dim=1).float().reshape(n, 1, 2, 2)


# ---------------------------------------------------------------- active-units


def test_active_units_count_the_units_whose_mean_varies_over_the_data():
    # posterior-mean variances 0.25 * s^2: 0.25, 0.0225, 0.0025, 0 (Burda: > 0.01)
    model = _transparent_model([1.0, 0.3, 0.1, 0.0])
    x = _balanced_pixels()
    mu, _ = model.encode(x)
    assert torch.allclose(mu.var(dim=0, unbiased=False), torch.tensor([0.25, 0.0225, 0.0025, 0]))
    assert active_units_size(model, x) == 2
    assert active_units_size(model, x, threshold=0.002) == 3
    assert active_units_size(model, x, threshold=0.03) == 1


def test_active_units_size_is_at_least_one():
    model = _transparent_model([0.01, 0.0, 0.0, 0.0])
    assert active_units_size(model, _balanced_pixels()) == 1
    assert active_units_size(_transparent_model([1.0, 1, 1, 1]), _balanced_pixels(), 0.3) == 1


# ---------------------------------------------------------------- ordered


def test_geometric_p_keeps_the_whole_code_for_the_chosen_share():
    for n in (2, 8, 64):
        p = geometric_p(n)
        assert 0 < p < 1
        assert prefix_length_pmf(n, p)[-1].item() == pytest.approx(FULL_CODE_SHARE)
    assert geometric_p(1) == 1.0
    with pytest.raises(ValueError):
        geometric_p(8, 1.5)


@pytest.mark.parametrize("n, latent_dim", [(7, 1), (50, 5), (300, 64)])
def test_every_mask_row_is_a_prefix_of_ones(n, latent_dim):
    gen = torch.Generator().manual_seed(n)
    mask = nested_dropout_mask(n, latent_dim, geometric_p(latent_dim), generator=gen)
    assert mask.shape == (n, latent_dim)
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert (mask[:, 0] == 1).all()  # a prefix holds at least one unit
    # 1...1 0...0: never a 1 after a 0
    assert (mask[:, 1:] <= mask[:, :-1]).all()
    lengths = mask.sum(dim=1)
    expected = (mask.cumprod(dim=1)).sum(dim=1)
    assert torch.equal(lengths, expected)


def test_prefix_lengths_follow_the_truncated_geometric_law():
    n, latent_dim, p = 200_000, 12, 0.2
    gen = torch.Generator().manual_seed(11)
    b = sample_prefix_lengths(n, latent_dim, p, generator=gen)
    assert b.min() >= 1 and b.max() <= latent_dim
    pmf = prefix_length_pmf(latent_dim, p)
    assert pmf.sum().item() == pytest.approx(1.0)
    assert pmf[0].item() == pytest.approx(p)
    assert pmf[3].item() == pytest.approx(p * (1 - p) ** 3)
    freq = torch.bincount(b, minlength=latent_dim + 1)[1:].double() / n
    # five binomial standard errors per length: a wrong law (p off by 10%) is far outside
    tolerance = 5 * torch.sqrt(pmf * (1 - pmf) / n)
    assert (freq - pmf).abs().le(tolerance).all(), (freq, pmf)
    wrong = prefix_length_pmf(latent_dim, 0.22)
    assert not (freq - wrong).abs().le(tolerance).all()


def test_truncation_equals_decoding_with_the_later_units_zeroed():
    torch.manual_seed(3)
    model = build_model((1, 8, 8), 10, hidden_dim=16).eval()
    x = torch.rand(32, 1, 8, 8)
    z = torch.randn(32, 10)
    for k in (1, 4, 10):
        cut = truncate(model, k)
        assert cut.latent_dim == k and cut.fc_mu.out_features == k
        zeroed = z.clone()
        zeroed[:, k:] = 0
        with torch.no_grad():
            assert torch.allclose(cut.decode(z[:, :k]), model.decode(zeroed), atol=1e-6)
            mu, logvar = model.encode(x)
            cut_mu, cut_logvar = cut.encode(x)
        # equal up to the summation order of a narrower matrix product
        assert torch.allclose(cut_mu, mu[:, :k], atol=1e-6)
        assert torch.allclose(cut_logvar, logvar[:, :k], atol=1e-6)
    assert model.latent_dim == 10  # the trained model itself is left whole
    with pytest.raises(ValueError):
        truncate(model, 11)
    assert prefix_sizes([64, 4, 16, 8, 4], 16) == [4, 8, 16]


def test_the_nested_dropout_step_decodes_a_prefix_and_drops_the_rest_of_the_kl():
    torch.manual_seed(5)
    model = build_model((1, 8, 8), 8, hidden_dim=16)
    x = torch.rand(64, 1, 8, 8).round()
    objective = NestedDropoutObjective()
    torch.manual_seed(9)
    logits, mu_m, logvar_m = objective(model, x)
    # the same draws by hand: the posterior sample, then the mask
    torch.manual_seed(9)
    mu, logvar = model.encode(x)
    z = reparameterise(mu, logvar)
    mask = nested_dropout_mask(64, 8, geometric_p(8))
    assert 0 < mask.sum() < mask.numel()
    assert torch.allclose(logits, model.decode(z * mask))
    # the loss's KL is the prefix model's: the dropped units' terms are exactly zero
    kl = kl_per_dim(mu_m, logvar_m)
    assert torch.equal(kl[mask == 0], torch.zeros_like(kl[mask == 0]))
    assert torch.allclose(kl, kl_per_dim(mu, logvar) * mask)
    # and the dropped units get no gradient from it
    objective.loss(logits, x, mu_m, logvar_m).backward()
    unused = mask.sum(dim=0) == 0
    if unused.any():
        assert (model.fc_mu.weight.grad[unused] == 0).all()


# ---------------------------------------------------------------- ard


def test_ard_kl_equals_the_closed_form_of_torch_distributions():
    gen = torch.Generator().manual_seed(2)
    mu = torch.randn(50, 6, generator=gen) * 2
    logvar = torch.randn(50, 6, generator=gen)
    log_alpha = torch.randn(6, generator=gen)
    ours = ard_kl_per_dim(mu, logvar, log_alpha)
    reference = kl_divergence(
        Normal(mu, torch.exp(0.5 * logvar)),
        Normal(torch.zeros(6), torch.exp(0.5 * log_alpha)),
    )
    assert torch.allclose(ours, reference, atol=1e-5)
    # with alpha = 1 it is the standard VAE's KL
    assert torch.allclose(ard_kl_per_dim(mu, logvar, torch.zeros(6)), kl_per_dim(mu, logvar))


def test_gradient_flows_to_log_alpha_as_type_two_maximum_likelihood():
    torch.manual_seed(4)
    model = build_model((1, 8, 8), 5, hidden_dim=16)
    objective = ArdObjective(5)
    x = torch.rand(40, 1, 8, 8).round()
    logits, mu, logvar = objective(model, x)
    objective.loss(logits, x, mu, logvar).backward()
    grad = objective.log_alpha.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    # d KL / d log_alpha = 0.5 * (1 - E[mu^2 + sigma^2] / alpha), batch-averaged
    second = (mu.detach() ** 2 + logvar.detach().exp()).mean(dim=0)
    assert torch.allclose(grad, 0.5 * (1 - second), atol=1e-5)
    with pytest.raises(ValueError):
        ArdObjective(4).loss(logits, x, mu, logvar)


def test_relevance_reads_each_prior_variance_against_its_posterior_noise():
    prior = torch.tensor([1.0, 2.0, 0.5, 4.0, 0.01])
    posterior = torch.tensor([1.0, 1.0, 0.49, 3.0, 0.001])
    assert torch.allclose(relevance(prior, posterior), torch.tensor([0, 0.5, 0.02, 0.25, 0.9]))
    assert relevant_dims(prior, posterior) == [1, 3, 4]
    assert relevant_dims(prior, posterior, threshold=0.3) == [1, 4]
    assert relevant_dims(prior, posterior, threshold=0.01) == [1, 2, 3, 4]
    # a rescaled dimension (alpha and sigma^2 times c) keeps its relevance
    assert relevant_dims(prior * 100, posterior * 100) == [1, 3, 4]
    with pytest.raises(ValueError):
        relevant_dims(prior, posterior[:3])
    with pytest.raises(ValueError):
        relevant_dims(prior, posterior, threshold=0.0)


def test_ard_size_counts_the_relevant_dimensions_of_a_model():
    posterior = [0.5, 0.5, 0.99, 0.2]
    model = _transparent_model([1.0, 0.0, 1.0, 1.0], posterior)
    objective = ArdObjective(4)
    with torch.no_grad():
        objective.log_alpha.copy_(torch.log(torch.tensor([1.0, 0.5, 1.0, 0.21])))
    # shares: 0.5, 0 (collapsed onto its posterior), 0.01, 0.048: one above 0.05
    assert RELEVANCE_SHARE == 0.05
    assert ard_size(model, objective, _balanced_pixels()) == 1
    assert ard_size(model, objective, _balanced_pixels(), threshold=0.04) == 2
    assert ard_size(model, objective, _balanced_pixels(), threshold=0.005) == 3
    with torch.no_grad():
        objective.log_alpha.copy_(torch.log(torch.tensor(posterior)))
    assert ard_size(model, objective, _balanced_pixels()) == 1  # all collapsed: at least 1
    assert math.isclose(float(objective.prior_variances()[0]), 0.5, rel_tol=1e-6)
