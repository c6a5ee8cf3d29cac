"""The one-training rivals of ALD-VAE as tracked runs: `active-units`, `ard` (a training
that picks a size, then a from-scratch retrain at it) and `ordered` (one nested-dropout
training whose prefixes are scored at the grid's sizes). How each chooses its size is in
its module under benchmark/methods/; this module runs them through the same
:func:`~benchmark.tracking.training_run.run_training` (data, loop, test evaluation, tracking) as
every other method, and adds up what each cost.

Methods are told apart by their registry entries (``METHOD`` objects), never by a name
written here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmark.config import RunConfig
from benchmark.methods import Method
from benchmark.methods import active_units as active_units_method
from benchmark.methods import ard as ard_method
from benchmark.methods import ordered as ordered_method
from benchmark.models.vaes import MLPVAE
from benchmark.selection import select_latent_dim
from benchmark.tracking.tags import SELECTION_METHOD_TAG
from benchmark.tracking.training_run import AfterTraining, Prepared, RunOutcome, run_training
from benchmark.training.loop import TrainResult, ValidationProbe
from benchmark.training.objective import TrainingObjective

# The role of each run in its method (the method itself: SELECTION_METHOD_TAG).
ROLE_TAG = "benchmark.role"
RETRAIN_OF_TAG = "benchmark.retrain_of"
# The run that chooses the size of a method that then retrains (its compute counts).
SELECTION_ROLE = "selection"
# `ordered`'s run: the selected prefix's validation signals as `selected_val_*` metrics.
SELECTED_PREFIX = "selected_"
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
        "fixed",
        latent_dim=size,
        nested=True,
        run_name=f"retrain seed={cfg.seed} latent_dim={size}",
        extra_tags=method_tags(method, **{ROLE_TAG: RETRAIN_ROLE, RETRAIN_OF_TAG: of_run}),
    )


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
        "fixed",
        latent_dim=cfg.initial_latent_dim,
        nested=True,
        run_name=f"{method.name} seed={cfg.seed}",
        extra_tags=method_tags(method, **{ROLE_TAG: SELECTION_ROLE}),
        objective=objective,
    )


def run_active_units(cfg: RunConfig, prepared: Prepared) -> MethodOutcome:
    """`active-units`: a fixed training at the initial size, its active units on the
    validation split as the size, then the retrain at that size."""
    method = active_units_method.METHOD
    first = _selection_run(cfg, prepared, method)
    size = active_units_method.active_units_size(first.result.model, prepared.data.val.x)
    second = retrain_run(cfg, prepared, method, size, first.run_id)
    return MethodOutcome.of_runs(method, [first, second])


def run_ard(cfg: RunConfig, prepared: Prepared) -> MethodOutcome:
    """`ard`: a training with the learned per-dimension prior at the initial size, its
    relevant dimensions on the validation split as the size, then the retrain."""
    method = ard_method.METHOD
    objective = ard_method.ArdObjective(cfg.initial_latent_dim)
    first = _selection_run(cfg, prepared, method, objective)
    size = ard_method.ard_size(first.result.model, objective, prepared.data.val.x)
    second = retrain_run(cfg, prepared, method, size, first.run_id)
    return MethodOutcome.of_runs(method, [first, second])


def choose_prefix(latent_sizes: list[int]) -> AfterTraining:
    """The ``after_training`` of `ordered`: every grid size that is a prefix of the
    trained model scored by the validation signals the grid's trials are ranked by, the
    grid's rule applied, the selected prefix returned (with its scores as params and its
    signals as ``selected_val_*`` metrics)."""

    def choose(
        result: TrainResult, probe: ValidationProbe
    ) -> tuple[MLPVAE, dict[str, object], dict[str, float]]:
        model = result.model
        sizes = ordered_method.prefix_sizes(latent_sizes, model.latent_dim)
        if not sizes:
            raise ValueError(
                f"no grid size in {latent_sizes} is a prefix of a {model.latent_dim}-unit model"
            )
        prefixes = {k: ordered_method.truncate(model, k) for k in sizes}
        signals = {}
        for k, prefix in prefixes.items():
            s = probe.measure(prefix)
            signals[k] = {
                "val_recon_loss": s.recon_loss,
                "val_fid": s.fid,
                "val_fid_recon": s.fid_recon,
                "val_silhouette": s.silhouette,
            }
        selection = select_latent_dim(signals)
        params: dict[str, object] = {
            "prefix.sizes": ",".join(map(str, sizes)),
            "prefix.selected_latent_dim": selection.best_latent_dim,
        }
        params |= {f"prefix.score_{k}": round(v, 6) for k, v in selection.scores.items()}
        # the chosen prefix's signals: what the grid's rule judges its model by (the
        # run's own val_* are the whole model's)
        chosen = {f"{SELECTED_PREFIX}{k}": v for k, v in signals[selection.best_latent_dim].items()}
        return prefixes[selection.best_latent_dim], params, chosen

    return choose


def run_ordered(cfg: RunConfig, prepared: Prepared) -> MethodOutcome:
    """`ordered`: one nested-dropout training at the initial size; the prefix the grid's
    rule selects is evaluated on the test split, in the same run."""
    method = ordered_method.METHOD
    outcome = run_training(
        cfg,
        prepared,
        "fixed",
        latent_dim=cfg.initial_latent_dim,
        nested=True,
        run_name=f"{method.name} seed={cfg.seed}",
        extra_tags=method_tags(method),
        objective=ordered_method.NestedDropoutObjective(),
        after_training=choose_prefix(list(cfg.latent_sizes)),
    )
    return MethodOutcome.of_runs(method, [outcome])


# The rivals by their registry entry.
RIVALS = {
    active_units_method.METHOD: run_active_units,
    ard_method.METHOD: run_ard,
    ordered_method.METHOD: run_ordered,
}


def run_rival(method: Method, cfg: RunConfig, prepared: Prepared) -> MethodOutcome:
    """Run one of :data:`RIVALS` for one seed, its runs nested under the active run."""
    try:
        runner = RIVALS[method]
    except KeyError:
        raise ValueError(f"{method.name} is not a one-training rival") from None
    return runner(cfg, prepared)
