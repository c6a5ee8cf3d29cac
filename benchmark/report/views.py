"""The report's views of MLflow runs: a run, a study's runs, a rival's runs, one seed's
and one section's results, and the mean and spread over seeds. Pure data: filled in by
:mod:`benchmark.report.collect`, read by the pages."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from mlflow.entities import Run

from benchmark.methods import Method

# Training epochs of a run, from the max step of its per-epoch latent_dim (an epoch run
# again after a kill counts once): the noise-free count of what a method trained,
# beside the timings a shared machine blurs. Filled in by collect(), not logged.
EPOCHS_METRIC = "epochs_trained"
# set on an ALD-VAE run when its stop rule fired (benchmark.tracking.training_run)
STOPPED_EPOCH_TAG = "benchmark.stopped_epoch"
# runs that train nothing themselves: a report's, the benchmark job's (older stores tag
# the benchmark job's run `report` too)
NOT_RESULTS = ("report", "benchmark")


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
    def is_result(self) -> bool:
        """Whether this is a run of this project that holds a result (a training, a
        search's parent, a worker), not a report's or the benchmark job's."""
        return bool(self.method) and self.method not in NOT_RESULTS

    @property
    def parent_id(self) -> str | None:
        return self.tags.get("mlflow.parentRunId")

    @property
    def budget_bound(self) -> bool:
        """An ALD-VAE run whose stop rule never fired: its size is where the epoch budget
        ended, not the rule's answer (the loop tags the epoch the rule stopped at)."""
        return self.method == "adaptive" and STOPPED_EPOCH_TAG not in self.tags


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
    """The runs of a one-training rival of one seed (benchmark.jobs.rivals): the run that
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


def mean_sd(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value); NaN values (a metric a run
    could not compute) are left out, and none left gives (nan, nan): "n/a" in print."""
    values = [v for v in values if v == v]
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0
