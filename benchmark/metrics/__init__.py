"""Metrics: reconstruction, FID through pluggable feature extractors, clustering quality.

Nothing here knows about MLflow, Optuna or the controller.
"""

from benchmark.metrics.clustering import active_units, cluster_accuracy, silhouette
from benchmark.metrics.features import FeatureExtractor, make_feature_extractor
from benchmark.metrics.fid import frechet_distance

__all__ = [
    "FeatureExtractor",
    "active_units",
    "cluster_accuracy",
    "frechet_distance",
    "make_feature_extractor",
    "silhouette",
]
