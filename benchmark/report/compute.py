"""Which measure of compute the report uses: wall-clock (the default; every run has it),
CPU time (process and children; runs from before it was logged lack it) or GPU time
(CUDA runs only). Time to answer stays elapsed wall-clock whatever the measure: it is
what a user waits for."""

from __future__ import annotations

from benchmark.errors import ConfigError
from benchmark.report.collect import ReportError, RunView, SearchView, Section

# measure -> the run metric that holds it
MEASURES: dict[str, str] = {
    "wall_clock": "wall_clock_s",
    "cpu_time": "cpu_time_s",
    "gpu_time": "gpu_time_s",
}
DEFAULT_MEASURE = "wall_clock"
# how captions and axes name each measure
MEASURE_WORDS: dict[str, str] = {
    "wall_clock": "wall-clock",
    "cpu_time": "CPU time (process and children)",
    "gpu_time": "GPU time",
}


def check_measure_name(measure: str) -> str:
    """The measure itself, or one line naming the allowed values."""
    if measure not in MEASURES:
        raise ConfigError(f"compute={measure!r} is not a measure; allowed: {', '.join(MEASURES)}")
    return measure


def run_value(run: RunView, measure: str) -> float:
    """The measure of one training run (adaptive, trial or retrain), plus the time of
    the rule on the images that chose its size where one did (``size_rule_*``)."""
    metric = MEASURES[measure]
    return run.metrics[metric] + run.metrics.get(f"size_rule_{metric}", 0.0)


def search_value(view: SearchView, measure: str) -> float:
    """What a search cost one machine in ``measure``: its parent's sum over trials when
    the parent logged one (``sum_trial_wall_clock_s`` always is), else the sum over its
    finished trial runs."""
    summed = f"sum_trial_{MEASURES[measure]}"
    if summed in view.latest.metrics:
        return view.latest.metrics[summed]
    return sum(run_value(t, measure) for t in view.trials if t.status == "FINISHED")


def _measured_runs(section: Section, measure: str) -> list[RunView]:
    """The runs whose ``measure`` the report reads for this section."""
    runs: list[RunView] = []
    for s in section.seeds:
        runs += [r for r in (s.adaptive, s.retrain) if r is not None]
        for view in (s.grid, s.halving):
            if view is not None and f"sum_trial_{MEASURES[measure]}" not in view.latest.metrics:
                runs += [t for t in view.trials if t.status == "FINISHED"]
    return runs


def check_measure(sections: list[Section], measure: str) -> None:
    """Refuse, with one line, a measure that some of the reported runs did not log (a
    report must not sum CPU time of some runs with nothing for others)."""
    check_measure_name(measure)
    metric = MEASURES[measure]
    runs = [r for section in sections for r in _measured_runs(section, measure)]
    lacking = [r for r in runs if metric not in r.metrics]
    if lacking:
        why = (
            "runs without CUDA log no GPU time"
            if measure == "gpu_time"
            else "runs from before it was logged"
        )
        raise ReportError(
            f"compute={measure}: {len(lacking)} of {len(runs)} runs lack the metric {metric} "
            f"({why}, e.g. run {lacking[0].run_id}); use compute=wall_clock"
        )
