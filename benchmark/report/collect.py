"""Reading an experiment's runs back from MLflow (its API only) into report sections.

Nothing here imports the training code: the report sees exactly what a user sees in
the MLflow UI. Runs are grouped into one section per (dataset, preset); inside a
section, runs whose FIDs are not comparable (another feature extractor or sample
count) are refused.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from benchmark.errors import BenchmarkError
from benchmark.methods import METHODS, Method
from benchmark.methods import grid as grid_method
from benchmark.methods import halving as halving_method
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
# Training epochs of a run, from the max step of its per-epoch latent_dim (an epoch run
# again after a kill counts once): the noise-free count of what a method trained,
# beside the timings a shared machine blurs. Filled in by collect(), not logged.
EPOCHS_METRIC = "epochs_trained"
VAL_SIGNALS = tuple(SIGNALS)  # the validation signals a selection reads
RETRAIN_ROLE = "retrain"
# what benchmark.rivals tags: the method's registry name, and the run that chose a size
SELECTION_METHOD_TAG = "benchmark.selection_method"
SELECTION_ROLE = "selection"
# Study methods with an attribute of their own on SeedResult (the report's first two)
NAMED_SEARCHES = (grid_method.METHOD.name, halving_method.METHOD.name)
# artifact downloads are many and small: no progress bars in the report's output
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


class ReportError(BenchmarkError):
    """The experiment cannot be reported (missing, empty, or mixing incomparable runs)."""


@dataclass
class RunView:
    """The parts of an MLflow run a report uses."""

    run_id: str
    method: str
    dataset: str
    seed: int
    preset: str
    status: str
    start_time: int
    tags: dict[str, str]
    params: dict[str, str]
    metrics: dict[str, float]
    # epoch ms; None while RUNNING
    end_time: int | None = None

    @classmethod
    def of(cls, run: Run) -> RunView:
        tags = run.data.tags
        return cls(
            run.info.run_id,
            tags.get("benchmark.method", ""),
            tags.get("benchmark.dataset", ""),
            int(tags.get("benchmark.seed", "0") or 0),
            tags.get("benchmark.preset", ""),
            run.info.status,
            run.info.start_time or 0,
            dict(tags),
            dict(run.data.params),
            dict(run.data.metrics),
            run.info.end_time,
        )

    @property
    def parent_id(self) -> str | None:
        return self.tags.get("mlflow.parentRunId")


@dataclass
class SearchView:
    """One study's parent runs (a first run and its resumes that finished), its trial
    runs of every status (a pruned trial's run ends KILLED), and the invocations that
    were stopped before they finished (``stopped``)."""

    search: str
    study_name: str
    parents: list[RunView]
    trials: list[RunView]
    stopped: list[RunView] = field(default_factory=list)

    @property
    def latest(self) -> RunView:
        return max(self.parents, key=lambda r: r.start_time)

    @property
    def best_latent_dim(self) -> int:
        return int(self.latest.metrics["best_latent_dim"])

    @property
    def time_to_answer_s(self) -> float:
        """Elapsed time of every invocation of the search (its workers in parallel),
        stopped invocations included: the length of the union of the finished
        invocations' measured spans, the stopped ones' runs and the trials these ran
        (a stopped parent can end before the trial its worker went on training). A trial
        resumed in place by a later invocation counts only until that one starts, so the
        idle time between invocations is not counted."""
        if not self.stopped:  # the measured elapsed times, exactly
            return sum(p.metrics.get("wall_clock_s", 0.0) for p in self.parents)
        spans = [
            (p.start_time, p.start_time + p.metrics.get("wall_clock_s", 0.0) * 1000)
            for p in self.parents
        ]
        starts = sorted(p.start_time for p in self.parents + self.stopped)
        for p in self.stopped:
            later = [s for s in starts if s > p.start_time]
            cut = later[0] if later else None
            own = [p] + [t for t in self.trials if t.parent_id == p.run_id]
            for r in own:
                if r.end_time is None:
                    continue
                end = r.end_time if cut is None else min(r.end_time, max(cut, r.start_time))
                spans.append((r.start_time, end))
        return _union_ms(spans) / 1000

    def epochs_trained(self) -> float:
        """Training epochs of all its trials, pruned and stopped ones included."""
        return sum(t.metrics.get(EPOCHS_METRIC, 0.0) for t in self.trials)

    @property
    def compute_s(self) -> float:
        """What the search cost one machine: the sum of all its trials' wall-clock."""
        return self.latest.metrics["sum_trial_wall_clock_s"]

    @property
    def n_workers(self) -> int:
        return int(self.latest.params.get("search.n_workers", "1"))

    def trial_for(self, size: int) -> RunView | None:
        """The finished trial run of one size (the latest, if a size ran twice)."""
        runs = [
            t
            for t in self.trials
            if t.status == "FINISHED" and int(t.params.get("fixed_latent_dim", -1)) == size
        ]
        return max(runs, key=lambda r: r.start_time) if runs else None

    def sizes(self) -> list[int]:
        return sorted(
            {int(t.params["fixed_latent_dim"]) for t in self.trials if t.status == "FINISHED"}
        )


@dataclass
class RivalView:
    """The runs of a one-training rival of one seed (benchmark.rivals): the run that
    chose the size and, for a method that retrains, the retrain; the last is evaluated."""

    method: Method
    runs: list[RunView]

    @property
    def evaluated(self) -> RunView:
        return self.runs[-1]


@dataclass
class SeedResult:
    """All methods run on one seed of one section: ALD-VAE, its retrain, every study by
    its method's name (``grid`` and ``halving`` also as attributes), and the rivals."""

    seed: int
    adaptive: RunView | None = None
    grid: SearchView | None = None
    halving: SearchView | None = None
    retrain: RunView | None = None
    searches: dict[str, SearchView] = field(default_factory=dict)
    rivals: dict[str, RivalView] = field(default_factory=dict)


@dataclass
class Section:
    """The comparable runs of one dataset and preset."""

    dataset: str
    preset: str
    seeds: list[SeedResult] = field(default_factory=list)
    fid_backend: str = ""
    fid_val_samples: str = ""
    fid_test_samples: str = ""
    # real-vs-real FID at the validation / test sample count (mean over the runs that
    # logged one; None for runs from before floors were logged)
    val_fid_floor: float | None = None
    test_fid_floor: float | None = None
    missing: list[str] = field(default_factory=list)


def _union_ms(spans: list[tuple[float, float]]) -> float:
    """Total length of the union of [start, end] spans."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def _all_runs(client: MlflowClient, experiment_id: str) -> list[RunView]:
    runs: list[RunView] = []
    token = None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        runs += [RunView.of(r) for r in page]
        token = page.token
        if not token:
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


def collect(experiment: str, client: MlflowClient | None = None) -> list[Section]:
    """Sections of the experiment named ``experiment``.

    Raises :class:`ReportError` for a missing experiment, an experiment with no runs of
    this project, and sections that mix incomparable FIDs."""
    client = client or MlflowClient()
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        known = ", ".join(sorted(e.name for e in client.search_experiments()))
        raise ReportError(f"experiment {experiment!r} does not exist; known: {known or 'none'}")
    runs = [r for r in _all_runs(client, exp.experiment_id) if r.method and r.method != "report"]
    if not runs:
        raise ReportError(
            f"experiment {experiment!r} has no runs of this project (no benchmark.method tag); "
            "run `mlflow run . -e benchmark` or `-e adaptive` into it first"
        )
    for r in runs:
        if r.method in ("adaptive", "fixed") and EPOCHS_METRIC not in r.metrics:
            steps = [m.step for m in client.get_metric_history(r.run_id, "latent_dim")]
            r.metrics[EPOCHS_METRIC] = float(max(steps, default=0))
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
                    [p for p in parents if p.tags.get("benchmark.search", "grid") == kind],
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
        raise ReportError(f"experiment {experiment!r} has no finished runs of this project")
    return sections


def metric_history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float]]:
    """(step, value) pairs of one metric, by step."""
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def history_frame(run_id: str) -> pd.DataFrame | None:
    """The run's ``history.csv`` artifact (phases and decisions per epoch), if any."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path="history.csv", dst_path=tmp
            )
        except Exception:  # noqa: BLE001 - a run logged without the artifact
            return None
        return pd.read_csv(path)


def download_image(run_id: str, name: str, folder: Path) -> Path | None:
    """Download ``images/<name>`` of a run into ``folder``."""
    try:
        return Path(
            mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=f"images/{name}", dst_path=str(folder / run_id)
            )
        )
    except Exception:  # noqa: BLE001 - a run logged without images
        return None


def mean_sd(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value); NaN values (a metric a run
    could not compute) are left out, and none left gives (nan, nan): "n/a" in print."""
    values = [v for v in values if v == v]
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0
