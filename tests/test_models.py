"""The MLP VAE: architecture, posterior heads, the loss."""

from __future__ import annotations

import math

import pytest
import torch
from numerics import assert_same_outputs
from torch import nn

from benchmark.models.vaes import (
    SOFTMAX_SCALE_FLOOR,
    ModelConfig,
    build_model,
    kl_per_dim,
    model_from_config,
    negative_elbo,
    recon_loss_per_image,
    reparameterise,
)


def _linear_shapes(module: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, nn.Linear)]


def test_published_mnist_architecture():
    model = build_model((1, 28, 28), latent_dim=20, hidden_dim=400)
    # encoder 784-400-400, heads 400 -> n_z
    assert _linear_shapes(model.encoder) == [(784, 400), (400, 400)]
    assert (model.fc_mu.in_features, model.fc_mu.out_features) == (400, 20)
    assert (model.fc_scale.in_features, model.fc_scale.out_features) == (400, 20)
    # decoder n_z-400-400-784
    assert (model.decoder_in.in_features, model.decoder_in.out_features) == (20, 400)
    assert _linear_shapes(model.decoder) == [(400, 400), (400, 784)]
    assert model.fc_mu.weight.shape == (20, 400)
    assert model.decoder_in.weight.shape == (400, 20)


@pytest.mark.parametrize(("shape", "pixels"), [((1, 28, 28), 784), ((1, 8, 8), 64)])
def test_forward_shapes(shape, pixels):
    torch.manual_seed(0)
    model = build_model(shape, latent_dim=6, hidden_dim=32)
    x = torch.rand(5, *shape)
    logits, mu, logvar, z = model(x)
    assert logits.shape == (5, *shape)
    assert mu.shape == logvar.shape == z.shape == (5, 6)
    assert model.encoder[0].in_features == pixels
    assert model.decoder[-1].out_features == pixels
    assert model.decode(torch.zeros(3, 6)).shape == (3, *shape)
    assert model.latent_dim == 6


def test_logvar_head_is_the_raw_scale_output():
    torch.manual_seed(0)
    model = build_model((1, 8, 8), latent_dim=4, hidden_dim=16, posterior="logvar")
    x = torch.rand(7, 1, 8, 8)
    mu, logvar = model.encode(x)
    hidden = model.encoder(x.flatten(1))
    assert_same_outputs(mu, model.fc_mu(hidden))
    assert_same_outputs(logvar, model.fc_scale(hidden))


def test_softmax_head_scales_sum_to_about_one():
    torch.manual_seed(0)
    n_z = 5
    model = build_model((1, 8, 8), latent_dim=n_z, hidden_dim=16, posterior="softmax")
    x = torch.rand(7, 1, 8, 8)
    mu, logvar = model.encode(x)
    scale = torch.exp(0.5 * logvar)
    assert torch.allclose(scale.sum(dim=1), torch.full((7,), 1 + n_z * SOFTMAX_SCALE_FLOOR))
    expected = torch.softmax(model.fc_scale(model.encoder(x.flatten(1))), dim=-1)
    assert torch.allclose(scale, expected + SOFTMAX_SCALE_FLOOR, atol=1e-6)
    assert torch.all(scale > 0)


def test_negative_elbo_matches_closed_form():
    torch.manual_seed(0)
    model = build_model((1, 8, 8), latent_dim=3, hidden_dim=16)
    x = torch.rand(4, 1, 8, 8)
    logits, mu, logvar, _ = model(x)
    loss = negative_elbo(logits, x, mu, logvar)
    assert loss.dim() == 0 and torch.isfinite(loss)
    p = torch.sigmoid(logits.double())
    xd = x.double()
    bce = -(xd * torch.log(p) + (1 - xd) * torch.log1p(-p)).flatten(1).sum(1)
    q = torch.distributions.Normal(mu.double(), torch.exp(0.5 * logvar.double()))
    prior = torch.distributions.Normal(torch.zeros_like(q.loc), torch.ones_like(q.scale))
    kl = torch.distributions.kl_divergence(q, prior).sum(1)
    assert float(loss) == pytest.approx(float((bce + kl).mean()), rel=1e-4)
    assert torch.allclose(recon_loss_per_image(logits, x).double(), bce, rtol=1e-4)
    assert torch.allclose(kl_per_dim(mu, logvar).double().sum(1), kl, rtol=1e-4, atol=1e-5)
    # beta weights the KL term
    beta2 = negative_elbo(logits, x, mu, logvar, beta=2.0)
    assert float(beta2) == pytest.approx(float((bce + 2 * kl).mean()), rel=1e-4)


def test_kl_is_zero_at_the_prior_and_positive_elsewhere():
    mu = torch.zeros(2, 3)
    logvar = torch.zeros(2, 3)
    assert torch.allclose(kl_per_dim(mu, logvar), torch.zeros(2, 3))
    assert torch.all(kl_per_dim(mu + 0.5, logvar) > 0)
    assert torch.all(kl_per_dim(mu, logvar - 1) > 0)


def test_softmax_posterior_loss_is_finite():
    torch.manual_seed(0)
    model = build_model((1, 28, 28), latent_dim=8, hidden_dim=32, posterior="softmax")
    x = torch.rand(3, 1, 28, 28)
    logits, mu, logvar, _ = model(x)
    assert torch.isfinite(negative_elbo(logits, x, mu, logvar))


def test_reparameterise_uses_the_generator():
    mu = torch.tensor([[1.0, -2.0]]).repeat(10_000, 1)
    logvar = torch.log(torch.tensor([[4.0, 0.25]])).repeat(10_000, 1)
    a = reparameterise(mu, logvar, torch.Generator().manual_seed(3))
    b = reparameterise(mu, logvar, torch.Generator().manual_seed(3))
    c = reparameterise(mu, logvar, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.allclose(a.mean(0), torch.tensor([1.0, -2.0]), atol=0.06)
    assert torch.allclose(a.std(0), torch.tensor([2.0, 0.5]), rtol=0.05)


def test_model_config_round_trip():
    model = build_model((1, 8, 8), latent_dim=5, hidden_dim=12, posterior="softmax")
    data = model.config.to_dict()
    assert data == {
        "image_shape": [1, 8, 8],
        "latent_dim": 5,
        "hidden_dim": 12,
        "posterior": "softmax",
        "architecture": "mlp",
    }
    assert ModelConfig.from_dict(data) == model.config
    rebuilt = model_from_config(model.config)
    assert rebuilt.config is not model.config
    rebuilt.load_state_dict(model.state_dict())
    x = torch.rand(2, 1, 8, 8)
    assert_same_outputs(rebuilt.encode(x)[0], model.encode(x)[0])


def test_parameter_count_of_published_model():
    model = build_model((1, 28, 28), latent_dim=10, hidden_dim=400)
    h, d, z = 400, 784, 10
    expected = (d * h + h) + (h * h + h) + 2 * (h * z + z) + (z * h + h) + (h * h + h) + (h * d + d)
    assert sum(p.numel() for p in model.parameters()) == expected
    assert math.prod(model.config.image_shape) == d


def test_config_saved_before_architectures_existed_loads_as_mlp():
    # model_config.json of runs logged before the `architecture` field
    old = {"image_shape": [1, 8, 8], "latent_dim": 5, "hidden_dim": 12, "posterior": "logvar"}
    config = ModelConfig.from_dict(old)
    assert config.architecture == "mlp"
    model = model_from_config(config)
    assert type(model).__name__ == "MLPVAE"
    # the state dict keys are those of the original MLP, so old weights load
    assert sorted(model.state_dict()) == sorted(
        [
            "encoder.0.weight",
            "encoder.0.bias",
            "encoder.2.weight",
            "encoder.2.bias",
            "fc_mu.weight",
            "fc_mu.bias",
            "fc_scale.weight",
            "fc_scale.bias",
            "decoder_in.weight",
            "decoder_in.bias",
            "decoder.1.weight",
            "decoder.1.bias",
            "decoder.3.weight",
            "decoder.3.bias",
        ]
    )
