"""The ONE final evaluation on the test split that every method goes through.

Same function, same samples, same random streams for the adaptive run, every
grid-search trial and every retrain: that is what makes their numbers comparable.
Every sample is seeded and class-stratified (splits can be ordered by class); the
reconstruction loss, ELBO, cluster accuracy and active units use the whole split.
For data without labels (an ``npz`` file without ``y``) the silhouette and the cluster
accuracy are NaN, "not available" (:mod:`benchmark.metrics.clustering`), and logged so:
every run carries the same metric names.
"""

from __future__ import annotations

import torch

from benchmark.data import Split
from benchmark.data.sampling import stratified_sample
from benchmark.metrics.clustering import active_units, cluster_accuracy, silhouette
from benchmark.metrics.features import FeatureExtractor
from benchmark.models.vaes import MLPVAE
from benchmark.training.outputs import (
    FidReference,
    encode_all,
    fid_reference,
    fid_terms,
    loss_terms,
    posterior_samples,
    seeded_generator,
)

# Fixed seed for test-time sampling, independent of the run seed: every method's
# model is measured with the same images and the same noise.
TEST_SEED = 12345


def make_test_reference(
    extractor: FeatureExtractor, test: Split, fid_samples: int, spare: Split
) -> FidReference:
    """The test split's FID reference (stratified, seeded by ``TEST_SEED``) and its floor;
    ``spare`` (the validation split) supplies the floor's second sample when the test
    split holds fewer than ``2 * fid_samples`` images."""
    return fid_reference(extractor, test, fid_samples, TEST_SEED, spare)


def evaluate(
    model: MLPVAE,
    test: Split,
    extractor: FeatureExtractor,
    reference: FidReference,
    silhouette_samples: int,
) -> dict[str, float]:
    """The ``test_*`` metrics of docs/tracking.md, plus ``final_latent_dim``, the FID sample
    count (``test_fid_samples``) that the FID values are only comparable at, and the
    real-vs-real FID at that count (``test_fid_floor``)."""
    model.eval()
    device = test.x.device
    gen = seeded_generator(TEST_SEED, device)
    recon, kl = loss_terms(model, test.x, gen)
    noise = torch.randn(reference.n, model.latent_dim, generator=gen, device=device)
    fid, fid_rec = fid_terms(model, extractor, reference, noise, gen)
    sil = torch.as_tensor(stratified_sample(test.y, silhouette_samples, TEST_SEED), device=device)
    codes = posterior_samples(model, test.x[sil], gen).cpu().numpy()
    labels = test.y.cpu().numpy()
    means, _ = encode_all(model, test.x)
    means = means.cpu().numpy()
    return {
        "test_recon_loss": float(recon.mean()),
        "test_elbo": float(-(recon + kl).mean()),
        "test_fid": fid,
        "test_fid_recon": fid_rec,
        "test_silhouette": silhouette(codes, labels[sil.cpu().numpy()]),
        "test_cluster_acc": cluster_accuracy(means, labels),
        "test_active_units": float(active_units(means)),
        "test_fid_samples": float(reference.n),
        "test_fid_floor": reference.floor,
        "final_latent_dim": float(model.latent_dim),
    }
