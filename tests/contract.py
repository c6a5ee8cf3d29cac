"""Metric names users see, as docs/tracking.md fixes them: written out here, not
imported from the library, so that a name changed in the library fails the tests. Not a
test module."""

from __future__ import annotations

# the test-split evaluation of a run's final model
TEST_METRICS = (
    "test_recon_loss",
    "test_elbo",
    "test_fid",
    "test_fid_recon",
    "test_silhouette",
    "test_cluster_acc",
    "test_active_units",
)
# the noise floors of the FIDs (real vs real at the same sample count)
FLOOR_METRICS = ("val_fid_floor", "test_fid_floor")
# the domain extractor's quality, as params
EXTRACTOR_PARAMS = ("fid.extractor_val_acc", "fid.extractor_dead_units")
# final metrics of every training run
FINAL_METRICS = (
    *TEST_METRICS,
    *FLOOR_METRICS,
    "final_latent_dim",
    "train_time_s",
    "wall_clock_s",
)
# per-epoch metrics (step = epoch) of every training run
EPOCH_METRICS = (
    "train_loss",
    "val_recon_loss",
    "val_fid",
    "val_fid_recon",
    "val_silhouette",
    "latent_dim",
    "epoch_time_s",
)
