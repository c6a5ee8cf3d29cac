"""The report's reading of noise and rules, on hand-made runs: the grid's choice under
each single-signal rule, the adaptive model's rank, and the sizes the FID floor cannot
separate."""

from __future__ import annotations

import pytest

from benchmark.report.collect import RunView, SearchView, Section, SeedResult
from benchmark.report.rules import RULES, fid_ties, floor_sentences, rule_outcomes
from benchmark.selection import select_latent_dim

# size: (val_recon_loss, val_fid, val_fid_recon, val_silhouette, test_fid)
GRID = {
    4: (130.0, 20.0, 8.0, 0.08, 21.0),
    8: (110.0, 25.0, 3.0, 0.09, 26.0),
    16: (100.0, 24.0, 2.0, 0.05, 25.5),
    32: (101.0, 30.0, 2.5, 0.01, 31.0),
}


def _run(method: str, metrics: dict[str, float], params: dict[str, str] | None = None):
    return RunView(
        f"{method}-{len(metrics)}-{sorted(metrics.items())}",
        method,
        "digits",
        1,
        "quick",
        "FINISHED",
        1,
        {},
        params or {},
        metrics,
    )


def _section(val_floor: float | None = 5.0, adaptive_size: int = 12) -> Section:
    trials = []
    for size, (rec, fid, fidr, sil, test_fid) in GRID.items():
        metrics = {
            "val_recon_loss": rec,
            "val_fid": fid,
            "val_fid_recon": fidr,
            "val_silhouette": sil,
            "test_fid": test_fid,
            "test_recon_loss": rec - 1,
        }
        trials.append(_run("fixed", metrics, {"fixed_latent_dim": str(size)}))
    parent = _run("gridsearch", {"best_latent_dim": 16.0, "sum_trial_wall_clock_s": 1.0})
    grid = SearchView("grid", "study", [parent], trials)
    adaptive = _run(
        "adaptive",
        {
            "val_recon_loss": 102.0,
            "val_fid": 22.0,
            "val_fid_recon": 2.2,
            "val_silhouette": 0.06,
            "final_latent_dim": float(adaptive_size),
        },
    )
    section = Section("digits", "quick", [SeedResult(1, adaptive=adaptive, grid=grid)])
    section.val_fid_floor = val_floor
    section.test_fid_floor = 1.0
    section.fid_val_samples, section.fid_test_samples = "100", "300"
    return section


def test_each_single_signal_rule_picks_that_signals_best_size():
    outcomes = {o.rule: o for o in rule_outcomes(_section())}
    assert set(outcomes) == set(RULES)
    assert outcomes["reconstruction loss only"].choices == [16]
    assert outcomes["FID of samples only"].choices == [4]
    assert outcomes["FID of reconstructions only"].choices == [16]
    assert outcomes["silhouette only"].choices == [8]
    combined = select_latent_dim(
        {s: dict(zip(RULE_KEYS, v[:4], strict=True)) for s, v in GRID.items()}
    )
    assert outcomes["all four signals (this project's rule)"].choices == [combined.best_latent_dim]
    # the chosen model's test metrics are reported, not the rule's favourite signal
    assert outcomes["FID of samples only"].test_fid == (21.0, 0.0)
    assert outcomes["silhouette only"].test_recon_loss == (109.0, 0.0)


RULE_KEYS = ("val_recon_loss", "val_fid", "val_fid_recon", "val_silhouette")


def test_adaptive_rank_under_each_rule():
    outcomes = {o.rule: o for o in rule_outcomes(_section())}
    # adaptive: FID of samples 22 beats every size but 4 (20): rank 2 of 5
    assert outcomes["FID of samples only"].adaptive_ranks == [(2, 5)]
    # silhouette 0.06: behind 8 (0.09) and 4 (0.08): rank 3 of 5
    assert outcomes["silhouette only"].adaptive_ranks == [(3, 5)]


@pytest.mark.parametrize(
    ("floor", "tied"),
    [(5.0, [8, 16]), (4.5, [16]), (6.1, [4, 8, 16]), (0.1, []), (50.0, [4, 8, 16, 32])],
)
def test_sizes_within_the_floor_on_both_fid_signals(floor, tied):
    """Best val_fid is 20 (size 4), best val_fid_recon is 2.0 (size 16): a size is tied
    when both of its FIDs are within the floor of those bests."""
    ties = fid_ties(_section(val_floor=floor))
    assert [t.sizes for t in ties] == [tied]


def test_adaptive_size_inside_or_outside_the_tied_range():
    inside = fid_ties(_section(val_floor=50.0, adaptive_size=12))[0]
    assert (inside.low, inside.high, inside.adaptive_within) == (4, 32, True)
    outside = fid_ties(_section(val_floor=6.1, adaptive_size=30))[0]
    assert (outside.low, outside.high, outside.adaptive_within) == (4, 16, False)
    none = fid_ties(_section(val_floor=0.1))[0]
    assert none.adaptive_within is None and "no grid size" in " ".join(
        floor_sentences(_section(val_floor=0.1), None, None)
    )


def test_floor_sentences_say_when_a_gap_is_noise():
    section = _section()
    within = " ".join(floor_sentences(section, 25.0, 25.5))
    assert "0.50" in within and "within the test floor (1.00)" in within
    beyond = " ".join(floor_sentences(section, 25.0, 30.0))
    assert "larger than the test floor" in beyond
    section.test_fid_floor = None
    assert "not logged" in floor_sentences(section, 1.0, 2.0)[0]
