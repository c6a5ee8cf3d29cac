"""The project's Frechet distance against pytorch-fid's `calculate_frechet_distance`.

The reference is pytorch-fid's routine on the `np.cov` statistics (float64) of the very
same features, so every test here fails if the low-rank computation drifts from it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from pytorch_fid.fid_score import calculate_frechet_distance

from benchmark.metrics import frechet_distance

REL = 1e-6


def reference_fid(a: np.ndarray, b: np.ndarray) -> float:
    """pytorch-fid's value from the float64 mean and np.cov covariance of each sample."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    with warnings.catch_warnings():
        # Singular covariances make scipy's sqrtm warn; the value is what we compare.
        warnings.simplefilter("ignore")
        return float(
            calculate_frechet_distance(
                a.mean(axis=0), np.cov(a, rowvar=False), b.mean(axis=0), np.cov(b, rowvar=False)
            )
        )


def relu_features(n: int, d: int, seed: int, shift: float = 0.0) -> np.ndarray:
    """Non-negative, correlated features with some always-dead units, like pooled ReLU ones."""
    rng = np.random.default_rng(seed)
    mix = np.random.default_rng(1000 + d).normal(size=(d, d)) / np.sqrt(d)
    z = rng.normal(size=(n, d)) @ mix + rng.normal(scale=0.3, size=(n, d))
    return np.maximum(z + 0.2 + shift, 0.0)


def total_variance(a: np.ndarray) -> float:
    return float(np.trace(np.atleast_2d(np.cov(a, rowvar=False))))


@pytest.mark.parametrize(
    ("n", "m", "d"),
    [
        (20, 30, 64),  # both below d: the SVD is of a 20 x 30 matrix
        (64, 64, 64),  # n = m = d
        (63, 64, 64),  # n - 1 = rank bound just below d
        (300, 250, 64),  # both above d: QR-reduced to 64 x 64
        (30, 300, 64),  # one below, one above
        (64, 200, 64),  # one equal, one above
    ],
)
def test_matches_pytorch_fid(n, m, d):
    a = relu_features(n, d, seed=1)
    b = relu_features(m, d, seed=2, shift=0.3)
    expected = reference_fid(a, b)
    assert expected > 1.0  # a real distance, so a relative tolerance means something
    assert frechet_distance(a, b) == pytest.approx(expected, rel=REL)
    assert frechet_distance(b, a) == pytest.approx(expected, rel=REL)


@pytest.mark.slow
def test_matches_pytorch_fid_at_inception_width():
    # The case that matters in practice: 100 samples of 2048-d Inception-like features.
    # pytorch-fid's sqrtm takes ~10-100 s here, so this is the one d = 2048 comparison
    # (marked slow so that `-m 'not slow'` skips it).
    a = relu_features(100, 2048, seed=3)
    b = relu_features(100, 2048, seed=4, shift=0.1)
    assert frechet_distance(a, b) == pytest.approx(reference_fid(a, b), rel=REL)


def test_float32_input_is_computed_in_float64():
    a = relu_features(40, 64, seed=5).astype(np.float32)
    b = relu_features(50, 64, seed=6, shift=0.2).astype(np.float32)
    assert frechet_distance(a, b) == pytest.approx(reference_fid(a, b), rel=REL)


# --- rank-deficient samples --------------------------------------------------------------------


@pytest.mark.parametrize(("n", "m"), [(30, 40), (300, 200)])
def test_many_dead_columns(n, m):
    # Most units never fire (all-zero columns), and not the same ones in both sets, so both
    # covariances are singular even when n > d.
    d = 64
    a = relu_features(n, d, seed=7)
    b = relu_features(m, d, seed=8, shift=0.2)
    a[:, :40] = 0.0
    b[:, 20:50] = 0.0
    expected = reference_fid(a, b)
    assert expected > 1.0
    assert frechet_distance(a, b) == pytest.approx(expected, rel=REL)


def test_constant_nonzero_columns():
    # Zero variance but a nonzero mean: only the mean term sees these columns.
    d = 64
    a = relu_features(200, d, seed=9)
    b = relu_features(150, d, seed=10)
    a[:, :10] = 0.7
    b[:, :10] = 1.9
    assert frechet_distance(a, b) == pytest.approx(reference_fid(a, b), rel=REL)


@pytest.mark.parametrize("n", [40, 90, 400])
def test_duplicated_rows(n):
    # n rows drawn from 25 distinct ones: rank <= 24 whether n is below or above d = 64.
    rng = np.random.default_rng(11)
    distinct = relu_features(25, 64, seed=12)
    a = distinct[rng.integers(0, 25, size=n)]
    b = relu_features(70, 64, seed=13, shift=0.1)
    expected = reference_fid(a, b)
    assert expected > 1.0
    assert frechet_distance(a, b) == pytest.approx(expected, rel=REL)


# --- identical samples --------------------------------------------------------------------------


@pytest.mark.parametrize("n", [20, 64, 300])
@pytest.mark.parametrize("duplicated", [False, True])
def test_identical_sets_give_zero(n, duplicated):
    # The true value is exactly 0, so a relative tolerance is meaningless and an absolute
    # one, scaled by the size of the terms that cancel (tr Sigma_a + tr Sigma_b), is used.
    # pytorch-fid itself does not return 0 here: scipy's sqrtm of the singular product
    # returns its zero eigenvalues as rounding noise of order sqrt(machine eps), and the
    # sum of those can leave a residue of ~1e-7..1e-4 of either sign. The project's value
    # only carries ordinary float64 rounding (and is clamped at 0), so it gets the
    # tighter bound; it must also agree with the reference at pytorch-fid's own accuracy.
    a = relu_features(n, 64, seed=14)
    if duplicated:
        a = np.concatenate([a, a[: n // 2]])
    scale = 2 * total_variance(a)
    value = frechet_distance(a, a.copy())
    assert value >= 0.0
    assert value == pytest.approx(0.0, abs=1e-9 * scale)
    assert value == pytest.approx(reference_fid(a, a.copy()), abs=1e-5 * scale)


def test_not_clamped_away_from_zero():
    # The clamp at 0 must only absorb rounding: a small but real distance survives. Equal
    # covariances and a mean shift of 1e-3 in each of the 64 units: FID = 64e-6 exactly.
    # pytorch-fid's sqrtm residue (see above) is ~1e-6 relative to that here, so it is only
    # a loose check; the closed form is the tight one.
    a = relu_features(30, 64, seed=15)
    b = a + 1e-3
    value = frechet_distance(a, b)
    assert value == pytest.approx(64e-6, rel=1e-6)
    assert value == pytest.approx(reference_fid(a, b), abs=1e-5 * 2 * total_variance(a))


# --- input checks -------------------------------------------------------------------------------


def test_rejects_mismatched_or_degenerate_input():
    a = relu_features(10, 8, seed=16)
    with pytest.raises(ValueError, match="dimensions differ"):
        frechet_distance(a, a[:, :7])
    with pytest.raises(ValueError, match="at least 2 samples"):
        frechet_distance(a[:1], a)
    with pytest.raises(ValueError, match="2-D"):
        frechet_distance(a[0], a)
    bad = a.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(bad, a)
