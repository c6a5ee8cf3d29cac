"""Feature extractors for FID, behind one interface, chosen by name.

- ``domain`` (default; :mod:`benchmark.metrics.domain`): a small CNN classifier trained
  once on the dataset's training split and cached; its penultimate layer gives the
  features. It needs labels: for unlabelled data it is refused (use ``inception``).
- ``inception`` (:mod:`benchmark.metrics.inception`): pytorch-fid's InceptionV3 pool
  features, the paper's choice.

Every extractor has ``quality()`` (:class:`FeatureExtractor`). This module keeps the
names other modules import from it; patch a backend's own module in tests.
"""

from __future__ import annotations

import torch

from benchmark.errors import BenchmarkError
from benchmark.metrics.clustering import has_labels
from benchmark.metrics.domain import (
    DEAD_UNIT_SPREAD,
    DOMAIN_FEATURE_DIM,
    DomainCNN,
    DomainFeatures,
    domain_cache_path,
    domain_channels,
    domain_first_stride,
    domain_schedule,
    random_shift,
    stratified_subsample,
    train_domain_classifier,
)
from benchmark.metrics.extractor import FeatureExtractor, frames_as_channels
from benchmark.metrics.inception import (
    INCEPTION_WEIGHTS_FILE,
    InceptionFeatures,
    inception_weights_path,
)
from benchmark.system.cache import CACHE_ENV, cache_dir

__all__ = [
    "CACHE_ENV",
    "DEAD_UNIT_SPREAD",
    "DOMAIN_FEATURE_DIM",
    "INCEPTION_WEIGHTS_FILE",
    "DomainCNN",
    "DomainFeatures",
    "FeatureExtractor",
    "InceptionFeatures",
    "cache_dir",
    "domain_cache_path",
    "domain_channels",
    "domain_first_stride",
    "domain_schedule",
    "frames_as_channels",
    "inception_weights_path",
    "make_feature_extractor",
    "random_shift",
    "stratified_subsample",
    "train_domain_classifier",
]


def make_feature_extractor(
    backend: str,
    dataset: str,
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    n_classes: int,
    val_x: torch.Tensor | None = None,
    val_y: torch.Tensor | None = None,
) -> FeatureExtractor:
    """The feature extractor named ``backend`` (``domain`` or ``inception``). The domain
    classifier is trained on (train_x, train_y), or loaded from the cache, and its
    ``quality()`` measured on (val_x, val_y) when given."""
    if backend == "domain":
        if not has_labels(train_y.cpu().numpy()):
            raise BenchmarkError(
                "fid_backend=domain trains a classifier on the labels and these images have "
                "none; pass fid_backend=inception"
            )
        return DomainFeatures.for_dataset(dataset, train_x, train_y, n_classes, val_x, val_y)
    if backend == "inception":
        return InceptionFeatures(train_x.device)
    raise BenchmarkError(f"unknown fid_backend {backend!r}; allowed: domain, inception")
