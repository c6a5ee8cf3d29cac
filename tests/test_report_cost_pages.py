"""The report's cost pages on hand-made runs (no training, no tracking store): durations
in the unit a reader thinks in, every registered method on the compute chart with
epochs as its primary cost and no text colliding or off the page, the Pareto front of
the cost-vs-quality page computed on fixed numbers and drawn, and GPU time refused
where concurrent trials each measured the whole device."""

from __future__ import annotations

import math
from itertools import combinations

import matplotlib.pyplot as plt
import pytest
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.text import Text

from benchmark.methods import METHODS
from benchmark.report.collect import ReportError, RunView, SearchView, Section, SeedResult
from benchmark.report.compute import check_measure
from benchmark.report.numbers import duration
from benchmark.report.pages.compute_page import compute_bars, compute_page
from benchmark.report.pages.pareto_page import FRONT_GID, methods_page, pareto_front
from benchmark.report.summary import METHOD_LABELS, method_rows
from benchmark.report.views import RivalView

SEEDS = (1, 2, 3)
EPOCHS = 100  # every training below runs this many epochs, unless pruned
GRID_TRIAL_S = 1500.0  # four grid trials of 25 min: 1.7 h summed
# (size, epochs, test FID) of each study's trials, and the size it selects
STUDIES = {
    "grid": ([(4, 100, 25.0), (8, 100, 14.0), (16, 100, 11.0), (32, 100, 13.0)], 16, 4),
    "halving": ([(4, 50, 25.0), (8, 50, 14.0), (16, 100, 11.0), (32, 100, 13.0)], 16, 1),
    "tpe": ([(8, 100, 14.0), (16, 100, 11.0), (32, 100, 13.0)], 16, 1),
    "hyperband": ([(4, 100, 25.0), (8, 100, 14.0), (16, 100, 11.0), (32, 100, 13.0)], 8, 2),
}
# a rival's test FID and how many runs (of EPOCHS each) it needed
RIVALS = {"active-units": (16.0, 2), "ard": (12.0, 2), "ordered": (30.0, 1)}
RIVALS |= {"pca": (26.0, 1), "twonn": (20.0, 1)}
# the FID panel's front, by these numbers (mean epochs, mean FID - the seeds' offset):
# ALD-VAE and TwoNN (100, 20) tie, the retrain and ARD (200, 12) tie, halving and TPE
# (300, 11) tie; ordered, PCA, active units, Hyperband and the grid are dominated
FID_FRONT = {"adaptive", "twonn", "retrain", "ard", "halving", "tpe"}


# per seed, a factor on every wall-clock: a shared machine's noise (sd above half the mean)
NOISE = {1: 0.2, 2: 1.0, 3: 2.6}


def _run(method: str, seed: int, metrics: dict[str, float], tags=None, params=None) -> RunView:
    return RunView(
        f"{method}-{seed}-{sorted((tags or {}).items())}-{sorted(metrics.items())}",
        method,
        "digits",
        seed,
        "quick",
        "FINISHED",
        seed,
        {"benchmark.hardware": "test cpu"} | (tags or {}),
        params or {},
        metrics,
    )


def _trained(seed: int, epochs: float, wall: float, fid: float, size: int) -> dict[str, float]:
    """A training's metrics; every seed's FID ``seed/2`` above the method's number."""
    return {
        "epochs_trained": float(epochs),
        "wall_clock_s": wall,
        "cpu_time_s": wall / 2,
        "gpu_time_s": wall / 4,
        "final_latent_dim": float(size),
        "test_fid": fid + seed / 2,
        "test_recon_loss": fid + 80 + seed / 2,
    }


def _study(kind: str, seed: int, gpu_tag: str | None = None) -> SearchView:
    sizes, best, workers = STUDIES[kind]
    wall = GRID_TRIAL_S if kind == "grid" else 100.0 + 20 * seed
    tags = {"benchmark.gpu_time": gpu_tag} if gpu_tag else {}
    trials = [
        _run(
            "fixed",
            seed,
            _trained(seed, ep, wall, fid, size),
            tags,
            {"fixed_latent_dim": str(size)},
        )
        for size, ep, fid in sizes
    ]
    total = wall * len(sizes)
    parent = _run(
        "gridsearch",
        seed,
        {"best_latent_dim": float(best), "sum_trial_wall_clock_s": total, "wall_clock_s": total},
        params={"search.n_workers": str(workers)},
    )
    return SearchView(kind, f"s-{kind}-{seed}", [parent], trials)


def _seed(seed: int) -> SeedResult:
    adaptive = _run("adaptive", seed, _trained(seed, EPOCHS, 300.0 + 60 * seed, 20.0, 12))
    retrain = _run(
        "fixed", seed, _trained(seed, EPOCHS, 280.0, 12.0, 12), params={"fixed_latent_dim": "12"}
    )
    result = SeedResult(seed, adaptive=adaptive, retrain=retrain)
    for kind in STUDIES:
        result.searches[kind] = _study(kind, seed)
    result.grid, result.halving = result.searches["grid"], result.searches["halving"]
    for name, (fid, n_runs) in RIVALS.items():
        runs = [_run(name, seed, _trained(seed, EPOCHS, 200.0 + i, fid, 10)) for i in range(n_runs)]
        result.rivals[name] = RivalView(METHODS[name], runs)
    return result


def _section(noise: bool = False) -> Section:
    """Every registered method and ALD-VAE's retrain, on three seeds; with ``noise``
    every timing noise-dominated."""
    section = Section("digits", "quick", [_seed(s) for s in SEEDS], fid_backend="domain")
    if noise:
        for s in section.seeds:
            runs = [s.adaptive, s.retrain] + [r for v in s.rivals.values() for r in v.runs]
            runs += [r for v in s.searches.values() for r in v.trials + v.parents]
            for run in runs:
                for key in ("wall_clock_s", "sum_trial_wall_clock_s"):
                    if key in run.metrics:
                        run.metrics[key] *= NOISE[s.seed]
    return section


def _texts(fig: Figure) -> list[Text]:
    """Every text the figure draws (titles, labels, ticks, legends): visible, not empty,
    and for a tick label, its tick inside the axis' view (the others are not drawn)."""
    hidden = set()
    for ax in fig.axes:
        for axis, (low, high) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            low, high = min(low, high), max(low, high)
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not low <= tick.get_loc() <= high:
                    hidden |= {id(tick.label1), id(tick.label2)}
    return [
        t
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and id(t) not in hidden
    ]


def _inside_page(fig: Figure) -> None:
    fig.canvas.draw()
    page = fig.bbox
    for t in _texts(fig):
        box = t.get_window_extent()
        assert box.x0 >= page.x0 - 1 and box.x1 <= page.x1 + 1, t.get_text()
        assert box.y0 >= page.y0 - 1 and box.y1 <= page.y1 + 1, t.get_text()


def test_durations_print_in_the_unit_a_reader_thinks_in():
    assert duration(42.0) == "42 s"
    assert duration(4.25) == "4.2 s"
    assert duration(184.3, 37.8) == "3.1 ± 0.6 min"
    assert duration(720.0) == "12 min"
    assert duration(8640.0) == "2.4 h"
    assert duration(1534.0, 56.8) == "26 ± 1 min"
    assert duration(59.9) == "1.0 min"  # never "60 s"
    assert duration(math.nan) == "n/a"


def test_the_compute_chart_shows_every_method_with_epochs_first():
    section = _section()
    rows = method_rows(section)
    assert [r.method for r in rows] == [*METHODS, "retrain"]
    fig = compute_page(section, rows)
    names = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels()]
    missing = [r.method for r in rows if not any(METHOD_LABELS[r.method] in n for n in names)]
    assert missing == []
    assert {b.method for b in compute_bars(section, rows)} == {r.method for r in rows}
    (epochs_ax,) = [ax for ax in fig.axes if "epochs" in ax.get_xlabel()]
    # workers counted in words, one line per method
    assert "grid search (4 workers)" in names and "successive halving (1 worker)" in names
    assert not [n for n in names if "\n" in n or "(s)" in n]
    # the bars are the epochs of every run the answer needed
    widths = [p.get_width() for p in epochs_ax.patches]
    assert widths == pytest.approx([r.epochs[0] for r in rows])
    assert widths[names.index("grid search (4 workers)")] == 400
    # the grid's 1.7 h of trials print in hours, the adaptive run's minutes in minutes
    values = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "1.7 h" in values and "7.0 ± 1.0 min" in values
    plt.close(fig)


def test_no_text_of_the_cost_pages_collides_or_runs_off_the_page():
    section = _section(noise=True)  # a warning for every method: the most text
    rows = method_rows(section)
    for fig in (compute_page(section, rows), methods_page(section, rows)):
        _inside_page(fig)
        for ax in fig.axes:
            ticks = [t.get_window_extent() for t in ax.get_yticklabels() if t.get_text()]
            for a, b in combinations(ticks, 2):
                assert not a.overlaps(b), "two method labels collide"
            axis = ax.get_window_extent()
            for t in ax.texts:  # value labels and n_z labels stay inside their axis
                box = t.get_window_extent()
                assert axis.x0 <= box.x0 and box.x1 <= axis.x1, t.get_text()
        plt.close(fig)


def test_the_pareto_front_on_fixed_numbers():
    points = {
        "cheap": (100.0, 20.0),
        "worse at the same cost": (100.0, 25.0),
        "better": (200.0, 15.0),
        "tie": (200.0, 15.0),  # equal to "better": neither dominates the other
        "dominated on both": (300.0, 18.0),
        "best and dearest": (400.0, 10.0),
        "no value": (math.nan, 1.0),
    }
    assert pareto_front(points) == ["cheap", "better", "tie", "best and dearest"]
    assert pareto_front({}) == []
    assert pareto_front({"alone": (5.0, 5.0)}) == ["alone"]


def test_the_methods_page_draws_means_seeds_and_names_the_front():
    section = _section()
    rows = method_rows(section)
    fig = methods_page(section, rows)
    fid_ax, recon_ax = fig.axes
    assert "epochs" in fid_ax.get_xlabel()
    for ax, metric in ((fid_ax, "test_fid"), (recon_ax, "test_recon_loss")):
        means = {r.method: (r.epochs[0], r.test[metric][0]) for r in rows}
        assert set(pareto_front(means)) == FID_FRONT  # recon is FID + 80 here
        (front,) = [line for line in ax.lines if line.get_gid() == FRONT_GID]
        # a step line through the front's means: their qualities are its levels
        assert set(front.get_ydata()) == {means[m][1] for m in FID_FRONT}
        # one mean ± sd per method, with error bars on both axes
        bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
        assert len(bars) == len(rows)
        assert all(c.has_xerr and c.has_yerr for c in bars)
        # every seed as a faint point
        faint = [c for c in ax.collections if c.get_alpha() == 0.25]
        assert sum(len(c.get_offsets()) for c in faint) == len(rows) * len(SEEDS)
    text = " ".join(t.get_text() for t in fig.texts).replace("\n", " ")
    assert "read by eye" not in text
    named = text.split("on test FID, ")[1].split(";")[0]
    for method in rows:
        assert (METHOD_LABELS[method.method] in named) == (method.method in FID_FRONT)
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "grid search: 1.7 h" in legend  # time beside the epochs, in hours
    plt.close(fig)


def _gpu_section(tag: str, workers: int) -> Section:
    seed = SeedResult(1, adaptive=_run("adaptive", 1, _trained(1, EPOCHS, 300.0, 20.0, 12)))
    seed.grid = _study("grid", 1, gpu_tag=tag)
    seed.grid.parents[0].params["search.n_workers"] = str(workers)
    seed.searches = {"grid": seed.grid}
    return Section("digits", "quick", [seed])


def test_gpu_time_of_concurrent_trials_measured_device_wide_is_refused():
    wide = "device-wide: NVML keeps no per-process samples on this device; other ..."
    with pytest.raises(ReportError, match="device-wide") as err:
        check_measure([_gpu_section(wide, 4)], "gpu_time")
    assert len(str(err.value).splitlines()) == 1
    assert "4 workers" in str(err.value) and "compute=wall_clock" in str(err.value)
    # one worker: the device held one trial at a time; per-process figures: no overlap
    check_measure([_gpu_section(wide, 1)], "gpu_time")
    check_measure([_gpu_section("per process: this process's kernels", 4)], "gpu_time")
    check_measure([_gpu_section(wide, 4)], "wall_clock")


def test_a_rival_without_the_measure_is_refused_in_one_line():
    section = _section()
    del section.seeds[0].rivals["ordered"].runs[0].metrics["cpu_time_s"]
    with pytest.raises(ReportError, match="lack the metric cpu_time_s"):
        check_measure([section], "cpu_time")
