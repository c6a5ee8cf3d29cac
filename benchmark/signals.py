"""Model outputs that the validation signals and the test evaluation share:
reconstruction loss, generated images, reconstructions, latent codes, FID terms.
"""

from __future__ import annotations

import numpy as np
import torch

from benchmark.metrics.features import FeatureExtractor
from benchmark.metrics.fid import frechet_distance
from benchmark.models import MLPVAE, kl_per_dim, recon_loss_per_image, reparameterise

EVAL_BATCH = 1024


@torch.no_grad()
def encode_all(model: MLPVAE, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means and log-variances of all images, batched."""
    parts = [model.encode(x[i : i + EVAL_BATCH]) for i in range(0, x.shape[0], EVAL_BATCH)]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


@torch.no_grad()
def loss_terms(
    model: MLPVAE, x: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image reconstruction loss (one posterior sample) and KL to the prior."""
    recon, kl = [], []
    for i in range(0, x.shape[0], EVAL_BATCH):
        xb = x[i : i + EVAL_BATCH]
        mu, logvar = model.encode(xb)
        z = reparameterise(mu, logvar, generator)
        recon.append(recon_loss_per_image(model.decode(z), xb))
        kl.append(kl_per_dim(mu, logvar).sum(dim=1))
    return torch.cat(recon), torch.cat(kl)


@torch.no_grad()
def posterior_samples(model: MLPVAE, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One sample z ~ q(z|x) per image."""
    mu, logvar = encode_all(model, x)
    return reparameterise(mu, logvar, generator)


@torch.no_grad()
def generate(model: MLPVAE, noise: torch.Tensor) -> torch.Tensor:
    """Images decoded from prior noise; only the first n_z columns of ``noise`` are used,
    so one fixed noise tensor serves every latent size of a run."""
    return torch.sigmoid(model.decode(noise[:, : model.latent_dim]))


@torch.no_grad()
def reconstruct(model: MLPVAE, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Reconstructions (Bernoulli means) of x from one posterior sample each."""
    return torch.sigmoid(model.decode(posterior_samples(model, x, generator)))


def fid_terms(
    model: MLPVAE,
    extractor: FeatureExtractor,
    reference_images: torch.Tensor,
    reference_features: np.ndarray,
    noise: torch.Tensor,
    generator: torch.Generator,
) -> tuple[float, float]:
    """(FID of prior samples, FID of reconstructions) against the reference features."""
    fid_gen = frechet_distance(extractor.features(generate(model, noise)), reference_features)
    recon = reconstruct(model, reference_images, generator)
    fid_rec = frechet_distance(extractor.features(recon), reference_features)
    return fid_gen, fid_rec


def seeded_generator(seed: int, device: torch.device) -> torch.Generator:
    """A torch generator on ``device``, so evaluation noise never touches the training RNG."""
    return torch.Generator(device=device).manual_seed(seed)


# Prior samples in a grid of clips: each is a tall frame strip, so fewer of them.
CLIP_GRID_SAMPLES = 16


def clips_as_strips(x: torch.Tensor) -> torch.Tensor:
    """Clips (N, C, T, H, W) as images (N, C, T * H, W), frames top to bottom; images
    (N, C, H, W) pass unchanged."""
    if x.dim() != 5:
        return x
    n, c, t, h, w = x.shape
    return x.reshape(n, c, t * h, w)


@torch.no_grad()
def image_grids(
    model: MLPVAE, x: torch.Tensor, n: int = 16, n_samples: int = 64, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """(originals stacked over their reconstructions, prior samples) for image grids.

    Clips come back as frame strips (:func:`clips_as_strips`), at most
    ``CLIP_GRID_SAMPLES`` prior samples, so a grid stays a picture of sensible size."""
    model.eval()
    gen = seeded_generator(seed, x.device)
    originals = x[:n]
    recon = reconstruct(model, originals, gen)
    if x.dim() == 5:
        n_samples = min(n_samples, CLIP_GRID_SAMPLES)
    noise = torch.randn(n_samples, model.latent_dim, generator=gen, device=x.device)
    pairs = clips_as_strips(torch.cat([originals, recon]))
    return pairs, clips_as_strips(generate(model, noise))
