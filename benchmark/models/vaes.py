"""The VAEs: the published MNIST MLP, the published convolutional model for 64x64 RGB
images and a 3D-convolutional model for SPRITES clips, each with a latent layer that can
shrink in place.

Every architecture has the same latent interface: a feature body, two heads ``fc_mu``
and ``fc_scale`` (hidden -> n_z) and a first decoder layer ``decoder_in`` (n_z -> hidden).
A model declares which of its parameters are indexed by the latent dimension
(:meth:`VAE.latent_parameters`); :mod:`benchmark.models.surgery` uses that to cut dimensions
without knowing the architecture. :func:`build_model` picks the architecture from the
data's shape.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

# Floor on the posterior scale of the softmax head, as in the published code's eta.
SOFTMAX_SCALE_FLOOR = 1e-6
# Published convolutional model for 64x64 images: four stride-2 convolutions of 32
# channels with kernel 4 (64 -> 32 -> 16 -> 8 -> 4), mirrored by transposed convolutions.
CONV_CHANNELS = 32
CONV_KERNEL = 4
CONV_LAYERS = 4
IMAGE_SIDE = 64
# The convolutional model takes any square colour side that halves CONV_LAYERS times to
# whole pixels (the user's own images, image_size 16, 32, 48, ...); 64 is the published.
CONV_SIDE_MULTIPLE = 2**CONV_LAYERS
# SPRITES clips: 8 frames. The first two 3D convolutions also halve time (8 -> 4 -> 2),
# the last two only space: a third of the cost of keeping all 8 frames to the end.
CLIP_FRAMES = 8
CLIP_TIME_STRIDES = (2, 2, 1, 1)


@dataclass
class ModelConfig:
    """What is needed to rebuild a model (and its state dict) later.

    ``image_shape`` is (C, H, W) for images and (C, T, H, W) for clips. Configs saved
    before ``architecture`` existed load as ``"mlp"``, the only model there was."""

    image_shape: tuple[int, ...]
    latent_dim: int
    hidden_dim: int = 400
    posterior: str = "logvar"  # "logvar" (default) or "softmax" (published form)
    architecture: str = "mlp"  # "mlp", "conv" or "conv3d" (see architecture_for_shape)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["image_shape"] = list(self.image_shape)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        data = dict(data)
        data["image_shape"] = tuple(data["image_shape"])
        return cls(**data)


class VAE(nn.Module):
    """The shared part of every architecture: posterior heads, reparameterised forward,
    latent surgery interface. Subclasses build ``encoder`` (input -> (N, hidden)) and
    ``decoder`` ((N, hidden) -> logits) and may override :meth:`_features`."""

    def __init__(self, config: ModelConfig, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.config = config
        h = config.hidden_dim
        # Registration order (encoder, heads, decoder_in, decoder) is the state dict's.
        self.encoder = encoder
        self.fc_mu = nn.Linear(h, config.latent_dim)
        self.fc_scale = nn.Linear(h, config.latent_dim)
        self.decoder_in = nn.Linear(config.latent_dim, h)
        self.decoder = decoder

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

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance, each (N, n_z)."""
        e = self._features(x)
        mu = self.fc_mu(e)
        raw = self.fc_scale(e)
        if self.config.posterior == "softmax":
            # Published form: scales are a softmax over the latent dimensions.
            scale = F.softmax(raw, dim=-1) + SOFTMAX_SCALE_FLOOR
            return mu, 2.0 * torch.log(scale)
        return mu, raw

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits with the input's shape."""
        out = self.decoder(self.decoder_in(z))
        return out.reshape(z.shape[0], *self.config.image_shape)

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (logits, mu, logvar, z) with one reparameterised sample z."""
        mu, logvar = self.encode(x)
        z = reparameterise(mu, logvar, generator)
        return self.decode(z), mu, logvar, z


class MLPVAE(VAE):
    """Encoder D-h-h with mean and scale heads to n_z; decoder n_z-h-h-D on logits.

    For 28x28 MNIST with h = 400 this is the published architecture
    (784-400-400 / n_z-400-400-784); D follows the input, so 8x8 digits work too.
    """

    def __init__(self, config: ModelConfig) -> None:
        d_in = math.prod(config.image_shape)
        h = config.hidden_dim
        encoder = nn.Sequential(nn.Linear(d_in, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU())
        decoder = nn.Sequential(nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, d_in))
        super().__init__(config, encoder, decoder)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.flatten(1))


def _linear_stack(d_in: int, h: int) -> list[nn.Module]:
    """Flattened conv features -> h -> h (the published 256-unit layers)."""
    return [nn.Flatten(), nn.Linear(d_in, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU()]


class ConvVAE(VAE):
    """The published model for 64x64 images: four convolutions (32 channels, kernel 4,
    stride 2) to 32x4x4, then linear layers of ``hidden_dim`` (256 as published) to the
    heads; the decoder mirrors it (n_z-h-h-512, four transposed convolutions). Other
    square sides that are multiples of 16 end at 32 x side/16 x side/16."""

    def __init__(self, config: ModelConfig) -> None:
        c_in = config.image_shape[0]
        h = config.hidden_dim
        c = CONV_CHANNELS
        side = int(config.image_shape[-1]) // 2**CONV_LAYERS
        flat = c * side * side
        enc: list[nn.Module] = []
        for i in range(CONV_LAYERS):
            enc += [nn.Conv2d(c_in if i == 0 else c, c, CONV_KERNEL, 2, 1), nn.ReLU()]
        encoder = nn.Sequential(*enc, *_linear_stack(flat, h))
        dec: list[nn.Module] = [nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, flat)]
        dec += [nn.ReLU(), nn.Unflatten(1, (c, side, side))]
        for i in range(CONV_LAYERS):
            last = i == CONV_LAYERS - 1
            dec.append(nn.ConvTranspose2d(c, c_in if last else c, CONV_KERNEL, 2, 1))
            if not last:
                dec.append(nn.ReLU())
        super().__init__(config, encoder, nn.Sequential(*dec))


class Conv3dVAE(VAE):
    """3D-convolutional model for clips (C, 8, 64, 64): four 3D convolutions of 32
    channels, kernel 4 in space (stride 2) and in time where time is halved (the first
    two; the last two use kernel 3, stride 1 in time), to 32x2x4x4; then linear layers of
    ``hidden_dim`` to the heads; the decoder mirrors it with transposed 3D convolutions."""

    def __init__(self, config: ModelConfig) -> None:
        c_in, frames = config.image_shape[0], config.image_shape[1]
        h = config.hidden_dim
        c = CONV_CHANNELS
        layers = []
        for stride_t in CLIP_TIME_STRIDES:
            # kernel 4 / padding 1 halves a length; kernel 3 / padding 1 keeps it
            k_t = CONV_KERNEL if stride_t == 2 else 3
            layers.append(((k_t, CONV_KERNEL, CONV_KERNEL), (stride_t, 2, 2), (1, 1, 1)))
        t_out = frames // math.prod(CLIP_TIME_STRIDES)
        side = IMAGE_SIDE // 2 ** len(layers)
        flat = c * t_out * side * side
        enc: list[nn.Module] = []
        for i, (k, s, p) in enumerate(layers):
            enc += [nn.Conv3d(c_in if i == 0 else c, c, k, s, p), nn.ReLU()]
        encoder = nn.Sequential(*enc, *_linear_stack(flat, h))
        dec: list[nn.Module] = [nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, flat)]
        dec += [nn.ReLU(), nn.Unflatten(1, (c, t_out, side, side))]
        for i, (k, s, p) in enumerate(reversed(layers)):
            last = i == len(layers) - 1
            dec.append(nn.ConvTranspose3d(c, c_in if last else c, k, s, p))
            if not last:
                dec.append(nn.ReLU())
        super().__init__(config, encoder, nn.Sequential(*dec))


MODEL_CLASSES: dict[str, type[VAE]] = {"mlp": MLPVAE, "conv": ConvVAE, "conv3d": Conv3dVAE}


def architecture_for_shape(image_shape: tuple[int, ...]) -> str:
    """The architecture a data shape gets: grayscale images (1, H, W) the MLP (MNIST,
    FashionMNIST, 8x8 digits); (C, 64, 64) images the convolutional model (EuroSAT), as
    do other square sides that are multiples of 16 (the user's colour images);
    (C, 8, 64, 64) clips the 3D-convolutional one (SPRITES)."""
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 3 and shape[0] == 1:
        return "mlp"
    if len(shape) == 3 and shape[1] == shape[2] and shape[1] % CONV_SIDE_MULTIPLE == 0:
        return "conv"
    if len(shape) == 4 and shape[1:] == (CLIP_FRAMES, IMAGE_SIDE, IMAGE_SIDE):
        return "conv3d"
    raise ValueError(
        f"no architecture for data of shape {shape}; expected (1, H, W) grayscale images, "
        f"(C, S, S) images with S a multiple of {CONV_SIDE_MULTIPLE} (published: "
        f"{IMAGE_SIDE}) or (C, {CLIP_FRAMES}, {IMAGE_SIDE}, "
        f"{IMAGE_SIDE}) clips"
    )


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
    image_shape: tuple[int, ...],
    latent_dim: int,
    hidden_dim: int = 400,
    posterior: str = "logvar",
) -> VAE:
    """The model for a dataset's image (or clip) shape; see :func:`architecture_for_shape`."""
    shape = tuple(int(s) for s in image_shape)
    arch = architecture_for_shape(shape)
    return MODEL_CLASSES[arch](ModelConfig(shape, latent_dim, hidden_dim, posterior, arch))


def model_from_config(config: ModelConfig) -> VAE:
    """Rebuild an (untrained) model from its saved :class:`ModelConfig`."""
    if config.architecture not in MODEL_CLASSES:
        raise ValueError(
            f"unknown architecture {config.architecture!r}; allowed: {', '.join(MODEL_CLASSES)}"
        )
    return MODEL_CLASSES[config.architecture](ModelConfig.from_dict(config.to_dict()))
