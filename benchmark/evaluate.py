"""The ONE final evaluation on the test split that every method goes through.

Same function, same sample counts, same random streams for the adaptive run, every
grid-search trial and every retrain: that is what makes their numbers comparable.
"""

from __future__ import annotations

import torch

from benchmark.data import Split
from benchmark.metrics.clustering import active_units, cluster_accuracy, silhouette
from benchmark.metrics.features import FeatureExtractor
from benchmark.models import MLPVAE
from benchmark.signals import encode_all, fid_terms, loss_terms, posterior_samples, seeded_generator

# Fixed seed for test-time sampling, independent of the run seed: every method's
# model is measured with the same noise.
TEST_SEED = 12345


def evaluate(
    model: MLPVAE,
    test: Split,
    extractor: FeatureExtractor,
    fid_samples: int,
    silhouette_samples: int,
) -> dict[str, float]:
    """The ``test_*`` metrics of CONTRACT.md, plus ``final_latent_dim`` and the FID
    sample count (``test_fid_samples``) that the FID values are only comparable at."""
    model.eval()
    device = test.x.device
    n_fid = min(fid_samples, len(test))
    n_sil = min(silhouette_samples, len(test))
    gen = seeded_generator(TEST_SEED, device)
    recon, kl = loss_terms(model, test.x, gen)
    reference = test.x[:n_fid]
    noise = torch.randn(n_fid, model.latent_dim, generator=gen, device=device)
    fid, fid_rec = fid_terms(model, extractor, reference, extractor.features(reference), noise, gen)
    codes = posterior_samples(model, test.x[:n_sil], gen).cpu().numpy()
    labels = test.y.cpu().numpy()
    means, _ = encode_all(model, test.x)
    means = means.cpu().numpy()
    return {
        "test_recon_loss": float(recon.mean()),
        "test_elbo": float(-(recon + kl).mean()),
        "test_fid": fid,
        "test_fid_recon": fid_rec,
        "test_silhouette": silhouette(codes, labels[:n_sil]),
        "test_cluster_acc": cluster_accuracy(means, labels),
        "test_active_units": float(active_units(means)),
        "test_fid_samples": float(n_fid),
        "final_latent_dim": float(model.latent_dim),
    }
