"""The one-training rivals of ALD-VAE as tracked runs, run by their kind and hooks in the
registry (benchmark.methods.base): a training that picks a size, then a from-scratch
retrain at it (`active-units`, `ard`); one training whose evaluated model the method
picks (`ordered`); a rule on the training images, then one training at its size. How
each chooses its size is in its module under benchmark/methods/; this module runs them
through the same :func:`~benchmark.tracking.training_run.run_training` (data, loop, test
evaluation, tracking) as every other method, and adds up what each cost.

No method name is written here: a new rival is its module and nothing else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from benchmark import tracking
from benchmark.config import RunConfig
from benchmark.methods import Kind, Method, SizeChoice
from benchmark.tracking.tags import SELECTION_METHOD_TAG
from benchmark.tracking.training_run import (
    Prepared,
    RunHooks,
    RunOutcome,
    RunPlacement,
    TrainingSpec,
    process_cpu_s,
    run_training,
)
from benchmark.training.objective import TrainingObjective

# The role of each run in its method (the method itself: SELECTION_METHOD_TAG).
ROLE_TAG = "benchmark.role"
RETRAIN_OF_TAG = "benchmark.retrain_of"
# The run that chooses the size of a method that then retrains (its compute counts).
SELECTION_ROLE = "selection"
# A data rule's own time, logged on its training run and counted in the method's compute.
SIZE_RULE_METRICS = ("size_rule_wall_clock_s", "size_rule_cpu_time_s")
# Same spelling as the report's RETRAIN_ROLE (the report never imports this module).
RETRAIN_ROLE = "retrain"


@dataclass
class MethodOutcome:
    """One method's result for one seed: the size it chose, the test metrics of the model
    it hands over, what it cost (every training and evaluation it needed, summed), and
    its runs (the evaluated one last)."""

    method: Method
    latent_dim: int
    test_metrics: dict[str, float]
    wall_clock_s: float
    cpu_time_s: float
    run_ids: list[str] = field(default_factory=list)

    @classmethod
    def of_runs(cls, method: Method, runs: list[RunOutcome]) -> MethodOutcome:
        """The outcome of a method whose runs are ``runs`` (the last one is evaluated)."""
        last = runs[-1]
        return cls(
            method,
            int(last.test_metrics["final_latent_dim"]),
            last.test_metrics,
            sum(r.wall_clock_s for r in runs),
            sum(r.cpu_time_s for r in runs),
            [r.run_id for r in runs],
        )

    def plus(self, wall_clock_s: float, cpu_time_s: float) -> MethodOutcome:
        """This outcome with a cost spent outside its runs' trainings added."""
        self.wall_clock_s += wall_clock_s
        self.cpu_time_s += cpu_time_s
        return self


def method_tags(method: Method, **extra: str) -> dict[str, str]:
    """The tags of a run that ``method`` creates (the report groups runs by them)."""
    return {SELECTION_METHOD_TAG: method.name} | extra


def retrain_run(
    cfg: RunConfig, prepared: Prepared, method: Method, size: int, of_run: str
) -> RunOutcome:
    """A from-scratch fixed-size training at ``size``: the model a size-choosing method
    hands over, named ``retrain seed=1 latent_dim=N``."""
    return run_training(
        cfg,
        prepared,
        TrainingSpec.fixed(size),
        RunPlacement(
            run_name=f"retrain seed={cfg.seed} latent_dim={size}",
            extra_tags=method_tags(method, **{ROLE_TAG: RETRAIN_ROLE, RETRAIN_OF_TAG: of_run}),
            nested=True,
        ),
    )


def _objective(method: Method, cfg: RunConfig) -> TrainingObjective | None:
    return method.objective(cfg) if method.objective is not None else None


def _selection_run(
    cfg: RunConfig,
    prepared: Prepared,
    method: Method,
    objective: TrainingObjective | None = None,
) -> RunOutcome:
    """The method's own training at the initial size, named ``<method> seed=1``."""
    return run_training(
        cfg,
        prepared,
        TrainingSpec.fixed(cfg.initial_latent_dim, objective=objective),
        RunPlacement(
            run_name=f"{method.name} seed={cfg.seed}",
            extra_tags=method_tags(method, **{ROLE_TAG: SELECTION_ROLE}),
            nested=True,
        ),
    )


def _retrain_at_model_size(method: Method, cfg: RunConfig, prepared: Prepared) -> MethodOutcome:
    """A training at the initial size (with the method's objective, if any), the size
    its hook reads off that model on the validation split, then the retrain there."""
    objective = _objective(method, cfg)
    first = _selection_run(cfg, prepared, method, objective)
    size = method.size_of_model(first.result.model, objective, prepared.data.val.x)
    second = retrain_run(cfg, prepared, method, int(size), first.run_id)
    return MethodOutcome.of_runs(method, [first, second])


def _one_training(method: Method, cfg: RunConfig, prepared: Prepared) -> MethodOutcome:
    """One training at the initial size; the method's hook picks the evaluated model
    (``ordered``: a prefix at one of the grid's sizes), in the same run."""
    after = method.after_training(list(cfg.latent_sizes)) if method.after_training else None
    outcome = run_training(
        cfg,
        prepared,
        TrainingSpec.fixed(
            cfg.initial_latent_dim, objective=_objective(method, cfg), after_training=after
        ),
        RunPlacement(
            run_name=f"{method.name} seed={cfg.seed}", extra_tags=method_tags(method), nested=True
        ),
    )
    return MethodOutcome.of_runs(method, [outcome])


def _train_at_data_size(method: Method, cfg: RunConfig, prepared: Prepared) -> MethodOutcome:
    """The method's rule on the training images gives the size (its time measured), then
    one fixed-size training there, named ``<method> seed=1 latent_dim=N``; the rule's
    params and time are logged on that run, and its time counts in the method's compute."""
    start, cpu_start = time.perf_counter(), process_cpu_s()
    choice: SizeChoice = method.size_of_data(prepared.data.train, cfg)
    wall, cpu = time.perf_counter() - start, process_cpu_s() - cpu_start
    size = int(choice.size)
    if size < 1:
        raise ValueError(f"{method.name} chose latent size {size}; a size must be >= 1")

    def log_rule(_run_id: str) -> None:
        tracking.log_params({f"{method.name}.{k}": v for k, v in choice.params.items()})
        tracking.log_metrics(dict(zip(SIZE_RULE_METRICS, (wall, cpu), strict=True)))

    run = run_training(
        cfg,
        prepared,
        TrainingSpec.fixed(size),
        RunPlacement(
            run_name=f"{method.name} seed={cfg.seed} latent_dim={size}",
            extra_tags=method_tags(method),
            nested=True,
        ),
        RunHooks(on_start=log_rule),
    )
    return MethodOutcome.of_runs(method, [run]).plus(wall, cpu)


# How each kind of one-training rival runs (a study or ALD-VAE is not a rival).
_RUNNERS = {
    Kind.ONE_TRAINING_RETRAIN: _retrain_at_model_size,
    Kind.ONE_TRAINING: _one_training,
    Kind.DATA_RULE: _train_at_data_size,
}


def is_rival(method: Method) -> bool:
    """Whether ``method`` is a one-training rival this module runs."""
    return method.kind in _RUNNERS


def run_rival(method: Method, cfg: RunConfig, prepared: Prepared) -> MethodOutcome:
    """Run a one-training rival for one seed by its kind, its runs nested under the
    active run."""
    runner = _RUNNERS.get(method.kind)
    if runner is None:
        raise ValueError(f"{method.name} is not a one-training rival")
    return runner(method, cfg, prepared)
