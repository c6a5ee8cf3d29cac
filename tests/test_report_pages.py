"""The report's pages and numbers on hand-made runs (no training, no tracking store):
integers printed as integers, the compute ratio of means with its per-seed range, the
noise warning, the compute measure and its refusal, n/a for metrics a dataset without
labels cannot have, every seed's decisions on the story page, the adaptive point on the
grid page, error bars inside the compute page, and the label band of old image grids."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from benchmark.report.collect import ReportError, RunView, SearchView, Section, SeedResult
from benchmark.report.compute import check_measure
from benchmark.report.headline import headline_pages
from benchmark.report.numbers import compute_ratio, fmt, noisy, number
from benchmark.report.pages.compute_page import Bar, bar_limits, compute_bars, compute_page
from benchmark.report.pages.grid_page import grid_page, ticks, x_range
from benchmark.report.pages.story import SeedStory, decisions, story_figure
from benchmark.report.pdf import provenance_pages, whiten_label_band
from benchmark.report.rules import rule_outcomes
from benchmark.report.summary import method_rows, noise_warnings, verdict
from pipelines import report as report_pipeline
from pipelines.cli import EXIT_BAD_INPUT, run_entry_point

# size: (val_recon_loss, val_fid, val_fid_recon, val_silhouette)
GRID = {4: (130.0, 20.0, 8.0, 0.08), 8: (110.0, 25.0, 3.0, 0.09), 16: (100.0, 24.0, 2.0, 0.05)}
LABEL_METRICS = ("val_silhouette", "test_silhouette", "test_cluster_acc")


def _run(method: str, seed: int, metrics: dict[str, float], params=None) -> RunView:
    return RunView(
        f"{method}-{seed}-{len(metrics)}-{sorted(params or {})}",
        method,
        "digits",
        seed,
        "quick",
        "FINISHED",
        seed,
        {"benchmark.hardware": "test cpu"},
        params or {"search.n_workers": "1"},
        metrics,
    )


def _quality(base: float) -> dict[str, float]:
    return {
        "test_recon_loss": base,
        "test_elbo": base + 5,
        "test_fid": base / 5,
        "test_fid_recon": base / 10,
        "test_silhouette": 0.1,
        "test_cluster_acc": 0.5,
        "test_active_units": 12.0,
    }


def _seed(seed: int, adaptive_s: float, grid_s: float, labels: bool = True) -> SeedResult:
    """One seed: an adaptive run of ``adaptive_s`` seconds (CPU: half of it) ending at
    size 12, a grid over GRID whose trials took ``grid_s`` seconds in all."""
    trials = []
    for size, (rec, fid, fidr, sil) in GRID.items():
        metrics = {
            "val_recon_loss": rec,
            "val_fid": fid,
            "val_fid_recon": fidr,
            "val_silhouette": sil,
            "wall_clock_s": grid_s / len(GRID),
            "cpu_time_s": grid_s / len(GRID) / 2,
        } | _quality(rec - 1)
        trials.append(_run("fixed", seed, metrics, {"fixed_latent_dim": str(size)}))
    parent = _run(
        "gridsearch",
        seed,
        {"best_latent_dim": 16.0, "sum_trial_wall_clock_s": grid_s, "wall_clock_s": grid_s + 7},
    )
    adaptive = _run(
        "adaptive",
        seed,
        {
            "val_recon_loss": 102.0,
            "val_fid": 22.0,
            "val_fid_recon": 2.2,
            "val_silhouette": 0.06,
            "final_latent_dim": 12.0,
            "wall_clock_s": adaptive_s,
            "cpu_time_s": adaptive_s / 2,
        }
        | _quality(101.0),
    )
    result = SeedResult(seed, adaptive=adaptive, grid=SearchView("grid", "s", [parent], trials))
    if not labels:
        for run in [adaptive, *trials]:
            for key in LABEL_METRICS:
                run.metrics.pop(key, None)
    return result


def _section(seeds: list[SeedResult]) -> Section:
    section = Section("digits", "quick", seeds, fid_backend="domain")
    section.fid_val_samples, section.fid_test_samples = "100", "300"
    section.val_fid_floor, section.test_fid_floor = 0.5, 0.4
    return section


def _texts(fig: Figure) -> str:
    """Every string drawn on a figure: figure texts, axes texts and table cells."""
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [t.get_text() for t in ax.texts]
        for table in ax.tables:
            out += [c.get_text().get_text() for c in table.get_celld().values()]
    return "\n".join(out)


def test_integers_print_as_integers_and_missing_values_as_na():
    assert number(27.0, 1, integer=True) == "27"
    assert number(13.5, 1, integer=True) == "13.5"
    assert number(27.0, 2) == "27.00"  # a measured quantity keeps its decimals
    assert fmt((16.0, 0.0), 1, n=2, integer=True) == "16 ± 0"
    assert fmt((13.5, 3.5), 1, n=2, integer=True) == "13.5 ± 3.5"
    assert fmt((math.nan, math.nan), 3) == "n/a"
    assert fmt(None) == "-"


def test_compute_ratio_is_the_ratio_of_the_means_with_the_per_seed_range():
    # seeds: grid 30 s / adaptive 10 s (3.0) and 40 s / 20 s (2.0); the mean of those
    # ratios (2.5) would disagree with the table's means, 35 / 15
    ratio = compute_ratio([30.0, 40.0], [10.0, 20.0], [(30.0, 10.0), (40.0, 20.0)])
    assert ratio.value == pytest.approx(35.0 / 15.0)
    assert (ratio.low, ratio.high, ratio.n) == (2.0, 3.0, 2)
    assert ratio.text() == "2.33 (2.00-3.00)"
    assert compute_ratio([1.0], [], []) is None


def test_rows_use_the_tables_means_and_warn_on_noisy_timings():
    section = _section([_seed(1, 10.0, 30.0), _seed(2, 20.0, 40.0)])
    rows = {r.method: r for r in method_rows(section)}
    assert rows["grid"].compute_vs_adaptive.value == pytest.approx(
        rows["grid"].compute_s[0] / rows["adaptive"].compute_s[0]
    )
    assert not noise_warnings(list(rows.values()))
    assert noisy((10.0, 6.0)) and not noisy((10.0, 4.0))
    noisy_section = _section([_seed(1, 5.0, 30.0), _seed(2, 40.0, 40.0)])
    warnings = noise_warnings(method_rows(noisy_section))
    assert any("ALD-VAE" in w and "noise-dominated" in w for w in warnings)
    (fig,) = headline_pages(noisy_section, method_rows(noisy_section), "exp")
    assert "Timings noise-dominated" in _texts(fig)


def test_headline_prints_integer_sizes_and_the_verdict_right_below_the_table():
    section = _section([_seed(1, 10.0, 30.0)])
    rows = method_rows(section)
    (fig,) = headline_pages(section, rows, "exp")
    text = _texts(fig)
    assert "ended at 12;" in text and "selected 16 " in text
    assert "12.0" not in text and "16.0" not in text
    (table_ax,) = [ax for ax in fig.axes if ax.tables]
    table_bottom = table_ax.get_position().y0
    first_line = max(t.get_position()[1] for t in fig.texts if t.get_text().startswith("Latent"))
    assert 0 < table_bottom - first_line < 0.08


def test_compute_measure_cpu_time_and_its_refusal():
    section = _section([_seed(1, 10.0, 30.0)])
    check_measure([section], "cpu_time")
    rows = {r.method: r for r in method_rows(section, "cpu_time")}
    assert rows["adaptive"].compute_s == (5.0, 0.0)
    assert rows["grid"].compute_s == pytest.approx((15.0, 0.0))
    assert "CPU time" in _texts(compute_page(section, list(rows.values())))
    del section.seeds[0].grid.trials[1].metrics["cpu_time_s"]  # a run from before
    with pytest.raises(ReportError, match="1 of 4 runs lack the metric cpu_time_s") as err:
        check_measure([section], "cpu_time")
    assert len(str(err.value).splitlines()) == 1
    with pytest.raises(ReportError, match="gpu_time_s"):
        check_measure([section], "gpu_time")
    check_measure([section], "wall_clock")  # old runs still report in wall-clock


def test_report_refuses_an_unknown_compute_measure_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    code = run_entry_point(report_pipeline.main, ["--experiment", "x", "--compute", "joules"])
    err = capsys.readouterr().err.strip()
    assert code == EXIT_BAD_INPUT
    assert len(err.splitlines()) == 1
    assert "compute='joules'" in err and "wall_clock, cpu_time, gpu_time" in err


def test_runs_without_labels_print_na_and_rules_skip_silhouette():
    section = _section([_seed(1, 10.0, 30.0, labels=False)])
    rows = method_rows(section)
    by = {r.method: r for r in rows}
    assert math.isnan(by["adaptive"].test["test_silhouette"][0])
    assert "silhouette n/a vs n/a" in " ".join(verdict(section, rows))
    (fig,) = headline_pages(section, rows, "exp")
    text = _texts(fig)
    assert "n/a" in text
    outcomes = {o.rule: o for o in rule_outcomes(section)}
    assert "silhouette only" not in outcomes
    main = outcomes["all four signals (this project's rule)"]
    assert main.skipped == ("val_silhouette",) and main.adaptive_ranks
    assert grid_page(section) is not None


def test_story_page_marks_every_seeds_decisions():
    stories = [
        SeedStory(1, [(0, 64), (3, 40), (6, 30)], [2, 5], 6, 8),
        SeedStory(2, [(0, 64), (4, 48), (7, 20)], [3, 6, 9], 7, 10),
    ]
    for story in stories:
        story.signals = {"val_fid": [(e, 10.0 - e) for e in range(11)]}
    fig = story_figure(_section([]), stories)
    top = fig.axes[0]
    marks = {line.get_gid(): list(line.get_xdata()) for line in top.lines if line.get_gid()}
    for story in stories:
        assert marks[f"cuts seed {story.seed}"] == story.cuts
        assert marks[f"switch seed {story.seed}"] == [story.switch]
        assert marks[f"stop seed {story.seed}"] == [story.stop]
    legend = [t.get_text() for t in top.get_legend().get_texts()]
    assert {"seed 1", "seed 2", "cut after this epoch", "stop"} <= set(legend)


def test_story_legend_shows_only_what_happened():
    stories = [SeedStory(3, [(0, 64), (3, 40)], [2], 5, None)]  # the stop never fired
    stories[0].signals = {"val_fid": [(e, 10.0 - e) for e in range(6)]}
    fig = story_figure(_section([]), stories)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "stop" not in legend and "switch to fine steps" in legend
    assert "seed 3 (no stop: epoch budget ran out)" in legend
    plt.close(fig)


def test_decisions_read_from_the_history_artifact():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "epoch": [1, 2, 3, 4],
            "phase": ["coarse", "coarse", "fine", "fine"],
            "decision": ["none", "cut", "cut", "stop"],
        }
    )
    assert decisions(frame) == ([2, 3], 3, 4)
    assert decisions(None) == ([], None, None)


def test_grid_page_shows_the_adaptive_model_as_a_point_inside_the_axis():
    seed = _seed(1, 10.0, 30.0)
    seed.adaptive.metrics["final_latent_dim"] = 30.0  # past the grid's last size
    fig = grid_page(_section([seed]))
    stars = [
        (ax, line) for ax in fig.axes for line in ax.lines if line.get_gid() == "adaptive val_fid"
    ]
    ((ax, star),) = stars
    assert list(star.get_xdata()) == [30] and list(star.get_ydata()) == [22.0]
    low, high = ax.get_xlim()
    assert low < 4 and high > 30
    assert 30 in [int(t) for t in ax.get_xticks()]
    assert x_range([4, 16], [30])[1] > 30
    assert ticks([4, 8, 16], [17]) == [4, 8, 16]  # too close to 16 to print apart


def test_compute_page_holds_every_error_bar_and_labels_clear_of_them():
    bars = [Bar("a", 10.0, 8.0), Bar("b", 30.0, 25.0), Bar("c", 5.0, math.nan)]
    xmax, label_x = bar_limits(bars)
    assert xmax > 55.0
    for bar, x in zip(bars, label_x, strict=True):
        assert x > bar.end
    section = _section([_seed(1, 10.0, 30.0), _seed(2, 20.0, 40.0)])
    rows = method_rows(section)
    labels = [b.label for b in compute_bars(section, rows)]
    assert "grid search, as its 1 worker ran it" in labels
    fig = compute_page(section, rows)
    ax = fig.axes[0]
    assert ax.get_xlim()[1] >= max(b.end for b in compute_bars(section, rows))
    assert "start-up" in _texts(fig)


def test_red_label_band_of_old_grids_turns_white():
    image = np.full((6, 4, 3), 0.5, dtype=np.float32)  # grey tiles
    image[:2] = (1.0, 0.0, 0.0)  # the red band
    image[0, 1] = (0.0, 0.0, 0.0)  # a label pixel
    image[1, 2] = (0.4, 0.0, 0.0)  # an anti-aliased label edge
    out = whiten_label_band(image)
    assert (out[0, 0] == 1.0).all() and (out[0, 1] == 0.0).all()
    assert out[1, 2] == pytest.approx([0.4, 0.4, 0.4])
    assert (out[2:] == image[2:]).all()
    assert (whiten_label_band(image[2:]) == image[2:]).all()  # no band: unchanged


def test_counts_print_as_counts_in_labels_and_provenance():
    section = _section([_seed(1, 10.0, 30.0)])
    grid = section.seeds[0].grid
    # MLflow hands a count logged by older runs back as "3.0"
    extractor = {"fid.extractor_dead_units": "3.0", "fid.extractor_val_acc": "0.98"}
    section.seeds[0].adaptive.params |= extractor  # provenance reads the adaptive run
    text = _texts(provenance_pages(section, "exp")[0])
    assert "dead feature units 3" in text and "units 3.0" not in text
    grid.parents[0].params["search.n_workers"] = "2"
    labels = [b.label for b in compute_bars(section, method_rows(section))]
    assert "grid search, as its 2 workers ran it" in labels
