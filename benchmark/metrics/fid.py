"""Frechet distance between two feature samples (pytorch-fid's implementation)."""

from __future__ import annotations

import warnings

import numpy as np
from pytorch_fid.fid_score import calculate_frechet_distance


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of (N, D) features, in float64."""
    f = np.asarray(features, dtype=np.float64)
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID between two (N, D) feature arrays.

    A FID is only comparable with another computed by the same feature extractor
    on the same sample count: callers record both with the value.
    """
    mu_a, sigma_a = feature_statistics(features_a)
    mu_b, sigma_b = feature_statistics(features_b)
    with warnings.catch_warnings():
        # Dead ReLU features make covariances singular; pytorch-fid then adds a small
        # offset to the diagonal itself, so its warning carries no information here.
        warnings.simplefilter("ignore")
        return float(calculate_frechet_distance(mu_a, sigma_a, mu_b, sigma_b))
