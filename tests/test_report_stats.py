"""The verdict's statistics on fixed numbers: t-intervals against numpy and scipy's
t quantile, paired differences and their words, the grid's band, the budget flag."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from benchmark.report.band import Z, overall_band, score_sigma, seed_bands
from benchmark.report.stats import NO_INTERVAL, paired_differences, t_interval
from benchmark.report.views import RunView

VALUES = [19.34, 21.02, 17.80, 20.55, 18.91]


def test_t_interval_matches_the_textbook_formula():
    got = t_interval(VALUES)
    x = np.array(VALUES)
    half = sps.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    assert got.mean == pytest.approx(x.mean())
    assert got.sd == pytest.approx(x.std(ddof=1))
    assert (got.low, got.high) == pytest.approx((x.mean() - half, x.mean() + half))
    assert got.n == 5 and got.has_interval


def test_one_seed_has_no_interval_and_says_so():
    got = t_interval([3.0])
    assert got.n == 1 and not got.has_interval and not got.excludes_zero
    assert NO_INTERVAL in got.text()
    assert t_interval([float("nan")]).n == 0


def test_identical_values_give_a_point_interval():
    got = t_interval([2.0, 2.0, 2.0])
    assert (got.low, got.high) == (2.0, 2.0) and got.excludes_zero


def test_paired_differences_and_their_words():
    method = {
        1: {"test_fid": 10.0, "test_elbo": -100.0},
        2: {"test_fid": 11.0, "test_elbo": -99.0},
        3: {"test_fid": 10.5, "test_elbo": -101.0},
        4: {"test_fid": 9.0},
    }
    grid = {
        1: {"test_fid": 12.0, "test_elbo": -100.5},
        2: {"test_fid": 13.1, "test_elbo": -98.0},
        3: {"test_fid": 12.4, "test_elbo": -101.2},
    }
    d = paired_differences(method, grid)
    fid = d["test_fid"]
    assert fid.per_seed == pytest.approx({1: -2.0, 2: -2.1, 3: -1.9})  # seed 4: no grid
    assert fid.interval.excludes_zero and fid.word == "better"  # lower FID is better
    elbo = d["test_elbo"]
    assert elbo.per_seed == pytest.approx({1: 0.5, 2: -1.0, 3: 0.2})
    assert elbo.word == "no difference shown"
    worse = paired_differences(
        {1: {"test_elbo": -110.0}, 2: {"test_elbo": -111.0}},
        {1: {"test_elbo": -100.0}, 2: {"test_elbo": -100.5}},
    )
    assert worse["test_elbo"].word == "worse"  # a lower ELBO is worse
    single = paired_differences({1: {"test_fid": 1.0}}, {1: {"test_fid": 2.0}})
    assert single["test_fid"].word == NO_INTERVAL
    assert "test_silhouette" not in d  # no seed has it


SCORES = {  # seed -> size -> the rule's score
    1: {8: 0.90, 16: 1.00, 32: 0.70, 64: 0.00},
    2: {8: 1.00, 16: 0.95, 32: 0.60, 64: 0.10},
    3: {8: 0.80, 16: 1.00, 32: 0.75, 64: 0.05},
}


def test_score_noise_is_the_pooled_seed_to_seed_sd():
    expected = math.sqrt(
        np.mean([np.var([SCORES[s][k] for s in SCORES], ddof=1) for k in (8, 16, 32, 64)])
    )
    assert score_sigma(SCORES) == pytest.approx(expected)
    assert score_sigma({1: SCORES[1]}) is None


def test_per_seed_band_is_the_sizes_within_the_margin():
    bands = seed_bands(SCORES, {1: 16, 2: 8, 3: 16})
    margin = Z * math.sqrt(2) * score_sigma(SCORES)
    for seed, band in bands.items():
        top = SCORES[seed][band.selected]
        assert band.sizes == tuple(k for k, v in sorted(SCORES[seed].items()) if v >= top - margin)
        assert band.margin == pytest.approx(margin)
    assert 64 not in bands[1].sizes and 16 in bands[2].sizes
    assert seed_bands({1: SCORES[1]}, {1: 16}) == {}  # one seed: no spread, no band


def test_band_over_seeds_uses_paired_intervals():
    band = overall_band(SCORES)
    assert band.selected == 16  # highest mean score
    # 8 vs 16 differ by +0.10, -0.05, +0.20: the interval includes 0; 64 never comes close
    assert 8 in band.sizes and 64 not in band.sizes
    assert band.contains(12) and not band.contains(64)
    assert overall_band({1: SCORES[1]}) is None


def _adaptive(tags: dict[str, str]) -> RunView:
    return RunView("r", "adaptive", "digits", 1, "quick", "FINISHED", 0, tags, {}, {})


def test_a_run_whose_stop_rule_never_fired_is_budget_bound():
    assert _adaptive({}).budget_bound
    assert not _adaptive({"benchmark.stopped_epoch": "96"}).budget_bound
