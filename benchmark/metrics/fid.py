"""Frechet distance between two feature samples, exact and without a DxD matrix square root.

The value is the one pytorch-fid's `calculate_frechet_distance` computes from the sample
means and `np.cov` covariances of the same features, but the trace term is taken from the
singular values of a small matrix instead of `scipy.linalg.sqrtm` of a DxD product (about
8 s for D = 2048, and inexact when the covariances are singular, as they are whenever a
sample has fewer rows than features).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of (N, D) features, in float64."""
    f = np.asarray(features, dtype=np.float64)
    return f.mean(axis=0), np.cov(f, rowvar=False)


def _checked(features: np.ndarray, name: str) -> np.ndarray:
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (N, D) array, got shape {f.shape}")
    if f.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 samples for a covariance, got {f.shape[0]}")
    if not np.isfinite(f).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return f


def _row_factor(centred: np.ndarray) -> np.ndarray:
    """A matrix F with F.T @ F == centred.T @ centred and at most D rows.

    With fewer rows than columns the centred features are returned as they are. Otherwise
    the R of a QR decomposition (centred = Q R, Q with orthonormal columns, R of shape
    (D, D)): R.T @ R = R.T Q.T Q R = centred.T @ centred.
    """
    n, d = centred.shape
    if n <= d:
        return centred
    return np.linalg.qr(centred, mode="r")


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID between two (N, D) feature arrays, computed in float64.

    FID = |mu_a - mu_b|^2 + tr(Sigma_a) + tr(Sigma_b) - 2 tr sqrt(Sigma_a Sigma_b), with
    the unbiased (N - 1) covariances, as in pytorch-fid.

    A FID is only comparable with another computed by the same feature extractor
    on the same sample count: callers record both with the value.
    """
    a = _checked(features_a, "features_a")
    b = _checked(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    n, m = a.shape[0], b.shape[0]
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    a = a - mu_a
    b = b - mu_b
    mu_diff = mu_a - mu_b

    # Why the trace term is a nuclear norm. With A (n x d) and B (m x d) the centred
    # features, Sigma_a = A^T A / (n-1) and Sigma_b = B^T B / (m-1). Let c = sqrt((n-1)(m-1))
    # and M = A B^T / c (n x m). Then
    #     Sigma_a Sigma_b = A^T (A B^T B) / c^2 = X Y   with X = A^T, Y = A B^T B / c^2,
    # and for any X (d x n), Y (n x d) the products X Y and Y X have the same nonzero
    # eigenvalues (with multiplicity). Here Y X = A B^T B A^T / c^2 = M M^T, symmetric
    # positive semi-definite, whose eigenvalues are the squared singular values s_i^2 of M.
    # So the eigenvalues of Sigma_a Sigma_b are the s_i^2 and zeros. The trace term
    # tr sqrt(Sigma_a Sigma_b) is the sum of the square roots of those eigenvalues (it is
    # tr sqrt(Sigma_a^(1/2) Sigma_b Sigma_a^(1/2)), which has the same eigenvalues, and
    # equals the trace of sqrtm(Sigma_a Sigma_b) whenever that square root exists), hence
    #     tr sqrt(Sigma_a Sigma_b) = sum_i s_i = ||A B^T||_* / c   (the nuclear norm).
    # When a sample has more rows than d, its centred features are first replaced by the
    # (d x d) R of their QR decomposition: A = Q R with Q having orthonormal columns, so
    # A B^T = Q_a (R_a R_b^T) Q_b^T has the singular values of R_a R_b^T. The SVD is then
    # of a min(n, d) x min(m, d) matrix, never of anything larger than d x d, and no
    # matrix square root is taken (sqrtm of a singular product is inexact: its zero
    # eigenvalues come back as rounding noise of size sqrt(eps) each).
    scale = np.sqrt((n - 1) * (m - 1))
    cross = _row_factor(a) @ _row_factor(b).T
    try:
        singular_values = np.linalg.svd(cross, compute_uv=False)
    except np.linalg.LinAlgError:  # gesdd did not converge: the slower, sturdier gesvd
        singular_values = scipy.linalg.svd(cross, compute_uv=False, lapack_driver="gesvd")
    tr_sqrt = float(singular_values.sum()) / scale
    tr_a = float(np.einsum("ij,ij->", a, a)) / (n - 1)
    tr_b = float(np.einsum("ij,ij->", b, b)) / (m - 1)
    value = float(mu_diff @ mu_diff) + tr_a + tr_b - 2.0 * tr_sqrt

    # FID is a squared distance, so it is never negative in exact arithmetic. By von
    # Neumann's trace inequality ||A B^T||_* <= ||A||_F ||B||_F, so 2 tr_sqrt <= tr_a + tr_b
    # up to rounding, and a negative value can only be rounding around a true value of 0
    # (e.g. identical sets, where pytorch-fid also gives ~0). Anything more negative than
    # rounding can explain is a bug, not a distance.
    tolerance = 1e-9 * (tr_a + tr_b) + 1e-12
    if value < -tolerance:
        raise ArithmeticError(f"negative Frechet distance {value!r}")
    return max(value, 0.0)
