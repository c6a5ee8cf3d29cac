"""Model outputs that the validation signals and the test evaluation share:
reconstruction loss, generated images, reconstructions, latent codes, FID terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from benchmark.data import Split
from benchmark.data.sampling import one_per_class, stratified_order, stratified_sample
from benchmark.metrics.features import FeatureExtractor
from benchmark.metrics.fid import frechet_distance
from benchmark.models.vaes import MLPVAE, kl_per_dim, recon_loss_per_image, reparameterise

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
    """Images decoded from prior noise (N, n_z): one column per latent dimension."""
    return torch.sigmoid(model.decode(noise))


@torch.no_grad()
def reconstruct(model: MLPVAE, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Reconstructions (Bernoulli means) of x from one posterior sample each."""
    return torch.sigmoid(model.decode(posterior_samples(model, x, generator)))


@dataclass
class FidReference:
    """The real images a split's FIDs compare with, their features, and the FID floor:
    the FID between them and a disjoint real sample of the same size and class mix
    (what a perfect generator would score at this sample count with this extractor)."""

    images: torch.Tensor
    features: np.ndarray
    floor: float

    @property
    def n(self) -> int:
        return int(self.images.shape[0])


def fid_reference(
    extractor: FeatureExtractor, split: Split, n: int, seed: int, spare: Split
) -> FidReference:
    """A seeded, class-stratified reference of ``n`` images of ``split`` and its floor.

    The floor's second sample is the next stratified block of ``split`` when the split
    holds ``2 n`` images, else a stratified sample of ``spare`` (another split of real
    images that the extractor was not trained on)."""
    order = stratified_order(split.y, seed)
    n = min(n, len(split))
    images = split.x[torch.as_tensor(order[:n], device=split.x.device)]
    features = extractor.features(images)
    if 2 * n <= len(split):
        partner = split.x[torch.as_tensor(order[n : 2 * n], device=split.x.device)]
    else:
        pick = stratified_sample(spare.y, n, seed)
        partner = spare.x[torch.as_tensor(pick, device=spare.x.device)]
    floor = frechet_distance(extractor.features(partner), features)
    return FidReference(images, features, floor)


def fid_terms(
    model: MLPVAE,
    extractor: FeatureExtractor,
    reference: FidReference,
    noise: torch.Tensor,
    generator: torch.Generator,
) -> tuple[float, float]:
    """(FID of prior samples, FID of reconstructions) against the reference."""
    fid_gen = frechet_distance(extractor.features(generate(model, noise)), reference.features)
    recon = reconstruct(model, reference.images, generator)
    fid_rec = frechet_distance(extractor.features(recon), reference.features)
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


# Test images per class in the reconstruction grid (two rows of originals and their
# reconstructions, one column per class).
GRID_PER_CLASS = 2


@dataclass
class ImageGrids:
    """What the image artifacts show: ``pairs`` holds, row by row, one original of every
    class then the reconstructions of that row (``columns`` images per row, the class of
    column c is ``labels[c]``); ``samples`` are decoded prior samples."""

    pairs: torch.Tensor
    samples: torch.Tensor
    columns: int
    labels: list[int]


@torch.no_grad()
def image_grids(
    model: MLPVAE,
    split: Split,
    per_class: int = GRID_PER_CLASS,
    n_samples: int = 64,
    seed: int = 0,
) -> ImageGrids:
    """The same labelled, class-balanced test images for every model of a dataset
    (chosen by ``seed`` and the labels only), their reconstructions and prior samples.

    Clips come back as frame strips (:func:`clips_as_strips`), at most
    ``CLIP_GRID_SAMPLES`` prior samples, so a grid stays a picture of sensible size."""
    model.eval()
    gen = seeded_generator(seed, split.x.device)
    idx, classes = one_per_class(split.y, per_class, seed)
    columns = len(np.unique(classes))
    originals = split.x[torch.as_tensor(idx, device=split.x.device)]
    recon = reconstruct(model, originals, gen)
    rows = []
    for r in range(0, len(idx), columns):
        rows += [originals[r : r + columns], recon[r : r + columns]]
    n_samples = min(n_samples, CLIP_GRID_SAMPLES) if split.x.dim() == 5 else n_samples
    noise = torch.randn(n_samples, model.latent_dim, generator=gen, device=split.x.device)
    return ImageGrids(
        clips_as_strips(torch.cat(rows)),
        clips_as_strips(generate(model, noise)),
        columns,
        [int(c) for c in classes[:columns]],
    )
