"""Page one's numbers and sentences on hand-made runs: sizes against the band, the
budget flag in every sentence that needs it, intervals only with several seeds."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from benchmark.report.collect import RunView, SearchView, Section, SeedResult
from benchmark.report.pages.verdict_page import verdict_page
from benchmark.report.stats import NO_INTERVAL
from benchmark.report.verdict import (
    BUDGET_WORDS,
    method_verdicts,
    parallel_answer_s,
    sentences,
)

# size: (val_recon_loss, val_fid, val_fid_recon, val_silhouette, test_fid)
GRID = {
    4: (130.0, 30.0, 8.0, 0.02, 31.0),
    8: (110.0, 25.0, 3.0, 0.09, 26.0),
    16: (100.0, 24.0, 2.0, 0.08, 25.0),
    32: (101.0, 26.0, 2.5, 0.07, 27.0),
}


def _run(method: str, seed: int, metrics: dict, params=None, tags=None) -> RunView:  # noqa: ANN001
    return RunView(
        f"{method}-{seed}-{sorted(metrics.items())}",
        method,
        "digits",
        seed,
        "quick",
        "FINISHED",
        seed,
        {"benchmark.method": method} | (tags or {}),
        params or {},
        metrics | {"epochs_trained": 10.0, "wall_clock_s": 1.0, "cpu_time_s": 1.0},
    )


def _seed(seed: int, adaptive_size: int, stopped: bool) -> SeedResult:
    shift = 0.5 * seed
    trials = [
        _run(
            "fixed",
            seed,
            {
                "val_recon_loss": rec + shift,
                "val_fid": fid + shift * (size % 3),
                "val_fid_recon": fidr,
                "val_silhouette": sil,
                "test_fid": test_fid + shift,
                "test_recon_loss": rec,
            },
            {"fixed_latent_dim": str(size)},
        )
        for size, (rec, fid, fidr, sil, test_fid) in GRID.items()
    ]
    parent = _run("gridsearch", seed, {"best_latent_dim": 16.0, "sum_trial_wall_clock_s": 4.0})
    adaptive = _run(
        "adaptive",
        seed,
        {
            "final_latent_dim": float(adaptive_size),
            "test_fid": 24.0 + seed,
            "test_recon_loss": 99.0,
        },
        tags={"benchmark.stopped_epoch": "7"} if stopped else {},
    )
    return SeedResult(
        seed, adaptive=adaptive, grid=SearchView("grid", f"s{seed}", [parent], trials)
    )


def _section(seeds: list[SeedResult]) -> Section:
    section = Section("digits", "quick", seeds)
    section.fid_val_samples, section.fid_test_samples = "100", "300"
    return section


def test_budget_bound_seeds_are_counted_and_said():
    section = _section([_seed(1, 12, True), _seed(2, 20, False), _seed(3, 14, True)])
    by = {v.method: v for v in method_verdicts(section)}
    assert by["adaptive"].budget_bound == [2]
    assert by["grid"].budget_bound == []
    text = " ".join(sentences(section, list(by.values())))
    assert "In 1 of 3 seeds (seed 2) the stop rule never fired" in text and BUDGET_WORDS in text
    assert by["adaptive"].band_seeds == 3 and 0 <= by["adaptive"].in_band <= 3
    fig = verdict_page(section)
    assert fig is not None
    plt.close(fig)


def _legend(fig) -> list[str]:  # noqa: ANN001
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().texts]


def test_no_budget_words_when_every_stop_fired():
    section = _section([_seed(1, 12, True), _seed(2, 16, True)])
    text = " ".join(sentences(section, method_verdicts(section)))
    assert BUDGET_WORDS not in text and "fired in every one of the 2 seeds" in text
    fig = verdict_page(section)
    assert BUDGET_WORDS not in _legend(fig)  # the legend names only what happened
    plt.close(fig)
    bound = verdict_page(_section([_seed(1, 12, True), _seed(2, 16, False)]))
    assert BUDGET_WORDS in _legend(bound)
    plt.close(bound)


def test_one_seed_sits_on_its_methods_tick_and_the_rule_fired_once():
    section = _section([_seed(1, 12, True)])
    assert "The stop rule fired." in " ".join(sentences(section, method_verdicts(section)))
    fig = verdict_page(section)
    sizes = fig.axes[0]
    ticks = list(sizes.get_xticks())
    xs = [c.get_offsets()[0][0] for c in sizes.collections if len(c.get_offsets())]
    assert xs and all(x in ticks for x in xs)
    plt.close(fig)


def test_one_seed_has_no_interval_and_no_band():
    section = _section([_seed(1, 12, True)])
    verdicts = {v.method: v for v in method_verdicts(section)}
    assert verdicts["adaptive"].diffs["test_fid"].word == NO_INTERVAL
    assert verdicts["adaptive"].band_seeds == 0
    text = " ".join(sentences(section, list(verdicts.values())))
    assert NO_INTERVAL in text and "no band" in text
    # nothing to count in a band that does not exist, and no retrain that did not run
    assert "0 of 0" not in text and "retrain" not in text


def test_paired_differences_are_per_seed_against_that_seeds_grid():
    section = _section([_seed(1, 12, True), _seed(2, 16, True), _seed(3, 16, True)])
    fid = {v.method: v for v in method_verdicts(section)}["adaptive"].diffs["test_fid"]
    # the grid's model is size 16 (test FID 25 + 0.5 seed), ALD-VAE's 24 + seed
    assert fid.per_seed == pytest.approx({s: (24.0 + s) - (25.0 + 0.5 * s) for s in (1, 2, 3)})


def test_parallel_time_to_answer_is_the_longest_trial():
    seeds = [_seed(1, 12, True), _seed(2, 16, True)]
    seeds[0].grid.trial_for(32).metrics["wall_clock_s"] = 7.5
    seeds[1].adaptive.metrics["wall_clock_s"] = 3.0
    grid, adaptive = parallel_answer_s(_section(seeds))
    assert grid == [7.5, 1.0] and adaptive == [1.0, 3.0]
    assert "in its longest trial, 4 ± 5 s" in " ".join(
        sentences(_section(seeds), method_verdicts(_section(seeds)))
    )
