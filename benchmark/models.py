"""The VAE: the published MNIST MLP, with a latent layer that can shrink in place.

A model declares which of its parameters are indexed by the latent dimension
(:meth:`MLPVAE.latent_parameters`); :mod:`benchmark.surgery` uses that to cut
dimensions without knowing the architecture.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

# Floor on the posterior scale of the softmax head, as in the published code's eta.
SOFTMAX_SCALE_FLOOR = 1e-6


@dataclass
class ModelConfig:
    """What is needed to rebuild a model (and its state dict) later."""

    image_shape: tuple[int, int, int]
    latent_dim: int
    hidden_dim: int = 400
    posterior: str = "logvar"  # "logvar" (default) or "softmax" (published form)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["image_shape"] = list(self.image_shape)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        data = dict(data)
        data["image_shape"] = tuple(data["image_shape"])
        return cls(**data)


class MLPVAE(nn.Module):
    """Encoder D-h-h with mean and scale heads to n_z; decoder n_z-h-h-D on logits.

    For 28x28 MNIST with h = 400 this is the published architecture
    (784-400-400 / n_z-400-400-784); D follows the input, so 8x8 digits work too.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        d_in = math.prod(config.image_shape)
        h = config.hidden_dim
        self.encoder = nn.Sequential(nn.Linear(d_in, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU())
        self.fc_mu = nn.Linear(h, config.latent_dim)
        self.fc_scale = nn.Linear(h, config.latent_dim)
        self.decoder_in = nn.Linear(config.latent_dim, h)
        self.decoder = nn.Sequential(nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, d_in))

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def latent_parameters(self) -> list[tuple[nn.Module, str, int]]:
        """(module, attribute, axis) of every tensor with one slice per latent dimension."""
        return [
            (self.fc_mu, "weight", 0),
            (self.fc_mu, "bias", 0),
            (self.fc_scale, "weight", 0),
            (self.fc_scale, "bias", 0),
            (self.decoder_in, "weight", 1),
        ]

    def set_latent_dim(self, latent_dim: int) -> None:
        """Record a new latent size after surgery (module shape attributes included)."""
        self.config.latent_dim = latent_dim
        self.fc_mu.out_features = latent_dim
        self.fc_scale.out_features = latent_dim
        self.decoder_in.in_features = latent_dim

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance, each (N, n_z)."""
        e = self.encoder(x.flatten(1))
        mu = self.fc_mu(e)
        raw = self.fc_scale(e)
        if self.config.posterior == "softmax":
            # Published form: scales are a softmax over the latent dimensions.
            scale = F.softmax(raw, dim=-1) + SOFTMAX_SCALE_FLOOR
            return mu, 2.0 * torch.log(scale)
        return mu, raw

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits with the input's image shape."""
        out = self.decoder(self.decoder_in(z))
        return out.view(z.shape[0], *self.config.image_shape)

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (logits, mu, logvar, z) with one reparameterised sample z."""
        mu, logvar = self.encode(x)
        z = reparameterise(mu, logvar, generator)
        return self.decode(z), mu, logvar, z


def reparameterise(
    mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """z = mu + sigma * eps with eps ~ N(0, I)."""
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


def recon_loss_per_image(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Bernoulli negative log-likelihood: BCE summed over pixels, one value per image."""
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return bce.flatten(1).sum(dim=1)


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) for each image and latent dimension, (N, n_z)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def negative_elbo(
    logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, beta: float = 1.0
) -> torch.Tensor:
    """Mean over the batch of recon + beta * KL (the training loss, beta = 1 as published)."""
    return (recon_loss_per_image(logits, x) + beta * kl_per_dim(mu, logvar).sum(dim=1)).mean()


def build_model(
    image_shape: tuple[int, int, int],
    latent_dim: int,
    hidden_dim: int = 400,
    posterior: str = "logvar",
) -> MLPVAE:
    """The model for a dataset's image shape."""
    return MLPVAE(ModelConfig(tuple(image_shape), latent_dim, hidden_dim, posterior))


def model_from_config(config: ModelConfig) -> MLPVAE:
    """Rebuild an (untrained) model from its saved :class:`ModelConfig`."""
    return MLPVAE(ModelConfig.from_dict(config.to_dict()))
