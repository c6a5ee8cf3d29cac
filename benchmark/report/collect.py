"""Reading an experiment's runs back into report sections, from the MLflow tracking
store (its API only) or from an exported results folder (:mod:`benchmark.report.source`).

Nothing here imports the training code: the report sees exactly what a user sees in
the MLflow UI. Runs are grouped into one section per (dataset, preset); inside a
section, runs whose FIDs are not comparable (another feature extractor or sample
count) are refused.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from benchmark.methods import METHODS, Method
from benchmark.methods import grid as grid_method
from benchmark.methods import halving as halving_method
from benchmark.report.source import ReportError, RunSource, TrackingSource
from benchmark.report.views import (
    EPOCHS_METRIC,
    RivalView,
    RunView,
    SearchView,
    Section,
    SeedResult,
    mean_sd,
)
from benchmark.selection import SIGNALS

TEST_METRICS = (
    "test_recon_loss",
    "test_elbo",
    "test_fid",
    "test_fid_recon",
    "test_silhouette",
    "test_cluster_acc",
    "test_active_units",
)
VAL_SIGNALS = tuple(SIGNALS)  # the validation signals a selection reads
RETRAIN_ROLE = "retrain"
# what benchmark.jobs.rivals tags: the method's registry name, and the run that chose a size
SELECTION_METHOD_TAG = "benchmark.selection_method"
SELECTION_ROLE = "selection"
# Study methods with an attribute of their own on SeedResult (the report's first two)
NAMED_SEARCHES = (grid_method.METHOD.name, halving_method.METHOD.name)
# A search parent without a benchmark.search tag (from before searches had one) is a grid
UNTAGGED_SEARCH = grid_method.METHOD.name
# RunView, SearchView, RivalView, SeedResult, Section and mean_sd live in .views and are
# imported from here as before
__all__ = [
    "EPOCHS_METRIC",
    "NAMED_SEARCHES",
    "RETRAIN_ROLE",
    "SELECTION_METHOD_TAG",
    "SELECTION_ROLE",
    "TEST_METRICS",
    "VAL_SIGNALS",
    "ReportError",
    "RivalView",
    "RunSource",
    "RunView",
    "SearchView",
    "SeedResult",
    "Section",
    "TrackingSource",
    "collect",
    "count_epochs",
    "mean_sd",
]


def count_epochs(runs: list[RunView], source: RunSource) -> list[RunView]:
    """Give every training run without an ``epochs_trained`` metric the count of epochs
    its history holds (the last step of ``latent_dim``); returns ``runs``."""
    for r in runs:
        if r.method in ("adaptive", "fixed") and EPOCHS_METRIC not in r.metrics:
            steps = [step for step, _ in source.metric_history(r.run_id, "latent_dim")]
            r.metrics[EPOCHS_METRIC] = float(max(steps, default=0))
    return runs


def _latest(runs: list[RunView]) -> RunView | None:
    return max(runs, key=lambda r: r.start_time) if runs else None


def _search_view(kind: str, parents: list[RunView], fixed: list[RunView]) -> SearchView | None:
    """The latest study of this kind among the parents, with its trial runs."""
    done = [p for p in parents if p.status == "FINISHED" and "best_latent_dim" in p.metrics]
    if not done:
        return None
    study = _latest(done).tags.get("benchmark.study_name", "")
    same = [p for p in done if p.tags.get("benchmark.study_name", "") == study]
    stopped = [
        p
        for p in parents
        if p.status != "FINISHED" and study and p.tags.get("benchmark.study_name") == study
    ]
    # trials hang under whichever invocation of the study trained them, and one that was
    # stopped (its run ended KILLED or FAILED, so not among `same`) still holds the
    # trials it finished: the study's tag on every trial run finds those too
    ids = {p.run_id for p in same + stopped}
    trials = [
        f
        for f in fixed
        if f.parent_id in ids or (study and f.tags.get("benchmark.study_name") == study)
    ]
    return SearchView(kind, study, same, trials, stopped)


def _rival_of(run: RunView) -> Method | None:
    """The one-training rival (neither ALD-VAE nor a study) that made ``run``, if any."""
    m = METHODS.get(run.tags.get(SELECTION_METHOD_TAG, ""))
    if m is None or m.is_study or run.method != "fixed":
        return None
    return m if m.retrains or run.tags.get("benchmark.role") is None else None


def _rival_views(runs: list[RunView]) -> dict[str, RivalView]:
    """Per rival method of one seed, its latest complete set of runs (the size-choosing
    run and its retrain, or the one run), in registry order."""
    views = {}
    for name, m in METHODS.items():
        own = [r for r in runs if _rival_of(r) is m]
        if not m.retrains:
            latest = _latest(own)
            if latest is not None:
                views[name] = RivalView(m, [latest])
            continue
        pairs = [
            (first, retrain)
            for first in own
            if first.tags.get("benchmark.role") == SELECTION_ROLE
            for retrain in own
            if retrain.tags.get("benchmark.role") == RETRAIN_ROLE
            and retrain.tags.get("benchmark.retrain_of") == first.run_id
        ]
        if pairs:
            first, retrain = max(pairs, key=lambda p: p[1].start_time)
            views[name] = RivalView(m, [first, retrain])
    return views


def _check_comparable(section: Section, runs: list[RunView]) -> None:
    """Refuse to put runs with different FID extractors or sample counts side by side."""
    for label, values in (
        ("FID backends", {r.tags.get("benchmark.fid_backend", "?") for r in runs}),
        ("validation FID sample counts", {r.params.get("fid.val_samples", "?") for r in runs}),
        (
            "test FID sample counts",
            {
                str(int(r.metrics["test_fid_samples"]))
                for r in runs
                if "test_fid_samples" in r.metrics
            },
        ),
    ):
        if len(values) > 1:
            raise ReportError(
                f"refusing to compare {section.dataset}/{section.preset} runs with different "
                f"{label} ({', '.join(sorted(values))}): a FID is only comparable with the same "
                "feature extractor and sample count; put them in separate experiments"
            )
    any_run = runs[0]
    section.fid_backend = any_run.tags.get("benchmark.fid_backend", "?")
    section.fid_val_samples = any_run.params.get("fid.val_samples", "?")
    tests = [r for r in runs if "test_fid_samples" in r.metrics]
    section.fid_test_samples = str(int(tests[0].metrics["test_fid_samples"])) if tests else "?"
    for key in ("val_fid_floor", "test_fid_floor"):
        values = [r.metrics[key] for r in runs if key in r.metrics]
        setattr(section, key, statistics.fmean(values) if values else None)


def collect(experiment: str | RunSource, client=None) -> list[Section]:  # noqa: ANN001
    """Sections of the experiment named ``experiment`` in the tracking store (through
    ``client``, an MlflowClient), or of a :class:`RunSource` (an exported folder).

    Raises :class:`ReportError` for a missing experiment, an experiment with no runs of
    this project, and sections that mix incomparable FIDs."""
    source = TrackingSource(experiment, client) if isinstance(experiment, str) else experiment
    name = experiment if isinstance(experiment, str) else source.label
    runs = [r for r in source.runs() if r.is_result]
    if not runs:
        raise ReportError(
            f"experiment {name!r} has no runs of this project (no benchmark.method tag); "
            "run `mlflow run . -e benchmark` or `-e adaptive` into it first"
        )
    count_epochs(runs, source)
    groups: dict[tuple[str, str], list[RunView]] = defaultdict(list)
    for r in runs:
        groups[(r.dataset, r.preset)].append(r)
    sections = []
    for (dataset, preset), members in sorted(groups.items()):
        section = Section(dataset, preset)
        finished = [r for r in members if r.status == "FINISHED"]
        by_method: dict[str, list[RunView]] = defaultdict(list)
        for r in finished:
            by_method[r.method].append(r)
        retrains = [f for f in by_method["fixed"] if f.tags.get("benchmark.role") == RETRAIN_ROLE]
        rival_runs = [f for f in by_method["fixed"] if _rival_of(f) is not None]
        seeds = sorted(
            {r.seed for r in finished if r.method in ("adaptive", "gridsearch")}
            | {r.seed for r in rival_runs}
        )
        for seed in seeds:
            result = SeedResult(seed)
            result.adaptive = _latest([r for r in by_method["adaptive"] if r.seed == seed])
            # a search's stopped invocations and its pruned (KILLED) trials count too
            parents = [r for r in members if r.method == "gridsearch" and r.seed == seed]
            fixed = [r for r in members if r.method == "fixed" and r.seed == seed]
            for kind in (m.name for m in METHODS.values() if m.is_study):
                view = _search_view(
                    kind,
                    [p for p in parents if p.tags.get("benchmark.search", UNTAGGED_SEARCH) == kind],
                    fixed,
                )
                if kind in NAMED_SEARCHES:
                    setattr(result, kind, view)
                if view is not None:
                    result.searches[kind] = view
            result.rivals = _rival_views([r for r in rival_runs if r.seed == seed])
            if result.adaptive is not None:
                result.retrain = _latest(
                    [
                        f
                        for f in retrains
                        if f.seed == seed
                        and f.tags.get("benchmark.retrain_of") == result.adaptive.run_id
                    ]
                )
            section.seeds.append(result)
        comparable = [
            r
            for s in section.seeds
            for r in [s.adaptive, s.retrain]
            + [t for v in s.searches.values() for t in v.trials if t.status == "FINISHED"]
            + [r for v in s.rivals.values() for r in v.runs]
            if r is not None
        ]
        if not comparable:
            continue
        _check_comparable(section, comparable)
        if not any(s.adaptive for s in section.seeds):
            section.missing.append("no finished adaptive run (`mlflow run . -e adaptive`)")
        if not any(s.grid for s in section.seeds):
            section.missing.append("no finished grid search (`mlflow run . -e gridsearch`)")
        sections.append(section)
    if not sections:
        raise ReportError(f"experiment {name!r} has no finished runs of this project")
    return sections
