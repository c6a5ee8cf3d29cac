"""Latent-space quality: silhouette, clustering accuracy and active units.

The silhouette and the clustering accuracy are measured under the ground-truth labels.
Data without labels (an ``npz`` file without ``y``) carries :data:`UNLABELLED` in every
label place; for it both are NaN, "not available", never a score under invented labels.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

# Burda et al. (2016): a unit is active when its posterior mean varies by more than this.
ACTIVE_UNIT_THRESHOLD = 0.01
# The label of every image of an unlabelled dataset (real labels are numbered from 0).
UNLABELLED = -1


def has_labels(labels: np.ndarray) -> bool:
    """False when ``labels`` are the placeholders of unlabelled data (or empty)."""
    labels = np.asarray(labels)
    return bool(labels.size) and bool((labels != UNLABELLED).any())


def silhouette(codes: np.ndarray, labels: np.ndarray) -> float:
    """Silhouette score (Euclidean) of latent codes under the ground-truth labels; NaN
    (not available) for unlabelled data."""
    if not has_labels(labels):
        return math.nan
    if len(np.unique(labels)) < 2:
        raise ValueError("the silhouette score needs at least two classes")
    return float(silhouette_score(np.asarray(codes, dtype=np.float64), labels, metric="euclidean"))


def cluster_accuracy(codes: np.ndarray, labels: np.ndarray, seed: int = 0) -> float:
    """KMeans with one cluster per class, clusters matched to classes by the Hungarian
    algorithm; the fraction of points whose matched class is their label. NaN (not
    available) for unlabelled data."""
    labels = np.asarray(labels)
    if not has_labels(labels):
        return math.nan
    classes = np.unique(labels)
    km = KMeans(n_clusters=len(classes), n_init=10, random_state=seed)
    assigned = km.fit_predict(np.asarray(codes, dtype=np.float64))
    # contingency[c, k]: points of class c in cluster k
    contingency = np.zeros((len(classes), len(classes)), dtype=np.int64)
    class_index = {c: i for i, c in enumerate(classes)}
    np.add.at(contingency, (np.vectorize(class_index.get)(labels), assigned), 1)
    rows, cols = linear_sum_assignment(contingency, maximize=True)
    return float(contingency[rows, cols].sum() / len(labels))


def active_units(posterior_means: np.ndarray, threshold: float = ACTIVE_UNIT_THRESHOLD) -> int:
    """Number of latent dimensions whose posterior mean has variance > threshold over the data."""
    var = np.asarray(posterior_means, dtype=np.float64).var(axis=0)
    return int((var > threshold).sum())
