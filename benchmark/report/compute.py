"""Which measure of compute the report uses: wall-clock (the default; every run has it),
CPU time (process and children; runs from before it was logged lack it) or GPU time
(CUDA runs only). Time to answer stays elapsed wall-clock whatever the measure: it is
what a user waits for."""

from __future__ import annotations

from benchmark.errors import ConfigError
from benchmark.report.collect import ReportError, RunView, SearchView, Section, SeedResult

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
# What benchmark.tracking.usage tags on a CUDA run (its constant is not imported: that
# module loads torch, which the report never does); a value starting with
# DEVICE_WIDE means gpu_time_s is the whole device's busy time, not the run's own
GPU_TIME_TAG = "benchmark.gpu_time"
DEVICE_WIDE = "device-wide"


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
        # every study, not only the first report's two (a TPE search summed over trials
        # that lack the metric would fail with a KeyError instead of this one line)
        for view in _studies(s):
            if f"sum_trial_{MEASURES[measure]}" not in view.latest.metrics:
                runs += _summed_trials(view)
        runs += [r for rival in s.rivals.values() for r in rival.runs]
    return runs


def _studies(seed: SeedResult) -> list[SearchView]:
    """Every study of one seed (grid and halving are also attributes of older views)."""
    views = list(seed.searches.values())
    return views + [v for v in (seed.grid, seed.halving) if v is not None and v not in views]


def _summed_trials(view: SearchView) -> list[RunView]:
    """The trial runs whose measure :func:`search_value` sums for a search."""
    return [t for t in view.trials if t.status == "FINISHED"]


def _inflated_gpu_time(section: Section) -> str | None:
    """Why a search's summed GPU time would count kernels several times, or None: its
    trials' ``gpu_time_s`` is the device-wide figure (NVML could not tell processes
    apart) while more than one worker trained trials at once, so each trial's figure
    holds the other workers' kernels too (up to n_workers times the truth)."""
    for s in section.seeds:
        for view in _studies(s):
            workers = max(int(p.params.get("search.n_workers", "1")) for p in view.parents)
            wide = [
                t
                for t in _summed_trials(view)
                if t.tags.get(GPU_TIME_TAG, "").startswith(DEVICE_WIDE)
            ]
            if wide and workers > 1:
                return (
                    f"{len(wide)} trials of {view.search} (seed {s.seed}) carry a device-wide "
                    f"gpu_time_s (tag {GPU_TIME_TAG}) and ran with {workers} workers, so each "
                    f"counts the others' kernels too (up to {workers}x, e.g. run "
                    f"{wide[0].run_id})"
                )
    return None


def check_measure(sections: list[Section], measure: str) -> None:
    """Refuse, with one line, a measure that some of the reported runs did not log (a
    report must not sum CPU time of some runs with nothing for others), and GPU time
    that a search's concurrent trials each measured for the whole device."""
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
    if measure == "gpu_time":
        for section in sections:
            inflated = _inflated_gpu_time(section)
            if inflated:
                raise ReportError(
                    f"compute=gpu_time: {inflated}; use compute=wall_clock or cpu_time, or "
                    "rerun where NVML reports per-process utilisation (docs/gpu.md)"
                )
