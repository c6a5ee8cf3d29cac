"""The report's comparison of every selection method, on hand-made runs (no training, no
tracking store): one headline row per method with its total compute, the rival's runs
found by their tags, the rank of each method's model under the grid's rule, the
sentence naming the cheapest method in the top three, and the compute-against-quality
page; a section of only the first report's methods reads as before."""

from __future__ import annotations

import dataclasses

from matplotlib.figure import Figure

from benchmark.methods import active_units, halving, hyperband, ordered, tpe
from benchmark.report.collect import RunView, SearchView, Section, SeedResult, _rival_views
from benchmark.report.headline import headline_pages
from benchmark.report.pages.compute_page import compute_bars
from benchmark.report.pages.pareto_page import grid_curve, methods_page
from benchmark.report.summary import METHOD_LABELS, method_rows, verdict
from benchmark.tracking.tags import SELECTION_METHOD_TAG

# size: (val_recon_loss, val_fid, val_fid_recon, val_silhouette)
GRID = {4: (130.0, 20.0, 8.0, 0.08), 8: (110.0, 25.0, 3.0, 0.09), 16: (100.0, 24.0, 2.0, 0.05)}
BEST = (90.0, 10.0, 1.0, 0.2)  # better than every grid size on every signal
WORST = (200.0, 90.0, 30.0, 0.01)  # worse than every grid size


def _run(method: str, metrics: dict[str, float], tags=None, params=None, start=1) -> RunView:
    return RunView(
        f"{method}-{len(metrics)}-{sorted((tags or {}).items())}-{start}",
        method,
        "digits",
        1,
        "quick",
        "FINISHED",
        start,
        {"benchmark.hardware": "test cpu"} | (tags or {}),
        params or {"search.n_workers": "1"},
        metrics,
    )


def _signals(values: tuple[float, float, float, float], prefix: str = "") -> dict[str, float]:
    names = ("val_recon_loss", "val_fid", "val_fid_recon", "val_silhouette")
    return {prefix + n: v for n, v in zip(names, values, strict=True)}


def _tested(size: int, wall: float, fid: float) -> dict[str, float]:
    return {
        "final_latent_dim": float(size),
        "wall_clock_s": wall,
        "cpu_time_s": wall / 2,
        "test_fid": fid,
        "test_recon_loss": 100.0,
    }


def _grid() -> SearchView:
    trials = [
        _run(
            "fixed", _signals(v) | _tested(size, 10.0, v[1]), params={"fixed_latent_dim": str(size)}
        )
        for size, v in GRID.items()
    ]
    parent = _run(
        "gridsearch",
        {"best_latent_dim": 16.0, "sum_trial_wall_clock_s": 30.0, "wall_clock_s": 33.0},
    )
    return SearchView("grid", "s", [parent], trials)


def _section(with_rivals: bool) -> Section:
    seed = SeedResult(1, adaptive=_run("adaptive", _signals(GRID[8]) | _tested(8, 12.0, 20.0)))
    seed.grid = _grid()
    seed.searches = {"grid": seed.grid}
    if with_rivals:
        # ordered: cheap, its prefix the best candidate (its own val_* are the whole model's)
        tags = {SELECTION_METHOD_TAG: ordered.METHOD.name}
        run = _run(
            "fixed", _signals(WORST) | _signals(BEST, "selected_") | _tested(4, 5.0, 15.0), tags
        )
        # active-units: cheaper still, but its retrain is the worst candidate
        au = {SELECTION_METHOD_TAG: active_units.METHOD.name}
        first = _run(
            "fixed",
            _signals(GRID[4]) | _tested(16, 1.0, 30.0),
            au | {"benchmark.role": "selection"},
        )
        retrain = _run(
            "fixed",
            _signals(WORST) | _tested(3, 1.5, 40.0),
            au | {"benchmark.role": "retrain", "benchmark.retrain_of": first.run_id},
            start=2,
        )
        seed.rivals = _rival_views([run, first, retrain])
    return Section("digits", "quick", [seed])


def test_rivals_are_found_by_their_tags_with_every_run_they_needed():
    (seed,) = _section(True).seeds
    assert list(seed.rivals) == [active_units.METHOD.name, ordered.METHOD.name]
    assert [len(v.runs) for v in seed.rivals.values()] == [2, 1]
    assert seed.rivals[active_units.METHOD.name].evaluated.metrics["final_latent_dim"] == 3.0


def test_one_headline_row_per_method_with_its_total_compute():
    rows = {r.method: r for r in method_rows(_section(True))}
    assert list(rows) == ["adaptive", "grid", active_units.METHOD.name, ordered.METHOD.name]
    # both runs of a method that retrains count
    assert rows[active_units.METHOD.name].compute_s == (2.5, 0.0)
    assert rows[active_units.METHOD.name].latent_dim == (3.0, 0.0)
    assert rows[ordered.METHOD.name].compute_s == (5.0, 0.0)
    assert rows[ordered.METHOD.name].test["test_fid"] == (15.0, 0.0)
    assert rows[ordered.METHOD.name].label == ordered.METHOD.label


def test_the_cheapest_method_the_grids_rule_ranks_in_its_top_three_is_named():
    section = _section(True)
    lines = verdict(section, method_rows(section))
    (cheapest,) = [line for line in lines if line.startswith("Cheapest method")]
    # active units is cheaper but ranks last (4 of 4); ordered's prefix ranks first
    assert METHOD_LABELS[ordered.METHOD.name] in cheapest and "5.0 s" in cheapest
    (ranks,) = [line for line in lines if line.startswith("Rank of each")]
    assert f"{METHOD_LABELS[active_units.METHOD.name]} 4" in ranks
    assert f"{METHOD_LABELS[ordered.METHOD.name]} 1" in ranks


def test_the_methods_page_and_sentences_only_with_methods_beyond_the_first_report():
    old = _section(False)
    rows = method_rows(old)
    assert methods_page(old, rows) is None
    assert not [line for line in verdict(old, rows) if "Cheapest" in line or "Rank of" in line]
    new = _section(True)
    assert isinstance(methods_page(new, method_rows(new)), Figure)
    assert grid_curve(new, "test_fid", "wall_clock") == [
        (4, 10.0, 20.0),
        (8, 10.0, 25.0),
        (16, 10.0, 24.0),
    ]
    assert tpe.METHOD.name in METHOD_LABELS


def test_a_search_run_again_after_a_stop_keeps_the_trials_of_its_stopped_invocations():
    # the verdict's halving search was stopped and run again: its COMPLETE size trained
    # under an invocation whose run ended KILLED, the finishing invocation pruned the rest
    from benchmark.report.collect import _search_view

    study = {"benchmark.study_name": "s-halving"}
    stopped = _run("gridsearch", {}, tags=study, start=1)
    stopped.status = "KILLED"
    done = _run("gridsearch", {"best_latent_dim": 64.0}, tags=study, start=2)

    def trial(size: int, parent: RunView, start: int) -> RunView:
        tags = study | {"mlflow.parentRunId": parent.run_id}
        return _run(
            "fixed", {"test_fid": float(size)}, tags, {"fixed_latent_dim": str(size)}, start
        )

    elsewhere = _run("fixed", {}, {"benchmark.study_name": "other"}, {"fixed_latent_dim": "8"}, 9)
    fixed = [trial(64, stopped, 3), trial(4, done, 4), elsewhere]
    view = _search_view("halving", [stopped, done], fixed)
    assert view is not None and view.parents == [done]
    assert sorted(int(t.params["fixed_latent_dim"]) for t in view.trials) == [4, 64]


def test_the_compute_page_has_bars_for_every_study_that_ran():
    section = _section(False)
    (seed,) = section.seeds
    tpe_view = _grid()
    tpe_view.search = tpe.METHOD.name
    seed.searches[tpe.METHOD.name] = tpe_view
    labels = [b.label for b in compute_bars(section, method_rows(section))]
    assert f"{tpe.METHOD.label}, its trials as one machine runs them" in labels
    assert f"{tpe.METHOD.label}, as its 1 worker ran it" in labels
    assert "grid search, its trials as one machine runs them" in labels


def test_the_first_page_never_runs_off_its_foot_with_many_methods():
    section = _section(True)
    (seed,) = section.seeds
    for name in (halving.METHOD.name, tpe.METHOD.name, hyperband.METHOD.name):
        view = _grid()
        view.search = name
        seed.searches[name] = view
    section.seeds.append(dataclasses.replace(seed, seed=2))  # two seeds: two-line rows
    rows = method_rows(section)
    assert len(rows) == 7
    pages = headline_pages(section, rows, "exp")
    assert len(pages) == 2  # the sentences moved to a page of their own
    for fig in pages:
        fig.canvas.draw()
        lowest = min(t.get_window_extent().y0 for t in fig.texts)
        assert lowest >= 0, "text below the foot of the page"
    # a short section keeps everything on one page
    assert len(headline_pages(_section(False), method_rows(_section(False)), "exp")) == 1
