"""The study's lifecycle: created or resumed (refused when it was made for other sizes or
another training), loaded alike in every process, and told by the parent run what a
worker on another machine needs to join it."""

from __future__ import annotations

import warnings
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial

from benchmark.config import RunConfig
from benchmark.errors import BenchmarkError
from benchmark.methods import Pruner, method
from benchmark.methods import tpe as tpe_method
from benchmark.search.attrs import (
    SELECTED_ATTR,
    VALUE_NOTE,
    VALUE_NOTE_ATTR,
    attrs_by_name,
    set_study_attr,
)
from benchmark.search.spec import (
    HALVING_MIN_RESOURCE_DIVISOR,
    HALVING_REDUCTION_FACTOR,
    SearchSpec,
)
from benchmark.search.storage import open_storage
from benchmark.system.masking import mask_url
from benchmark.training.fingerprint import settings_fingerprint

# The trial value: each trial's final validation FID of prior samples (what the halving
# pruner ranks at each rung), named so in Optuna's CLI and dashboard.
PARAM_VALUE = "val_fid"


class QueuedGridSampler(optuna.samplers.BaseSampler):
    """The sampler of a grid search, whose sizes are on the study's queue: every trial a
    worker claims takes the size it was queued with (or the one its stale trial had), so
    there is nothing to propose. A trial that would need a proposal fails instead of
    training a size twice."""

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        raise RuntimeError(
            f"trial {trial.number} has no queued {param_name}: a grid search's trials take "
            "their sizes from the study's queue"
        )


def make_sampler(spec: SearchSpec, seed: int) -> optuna.samplers.BaseSampler:
    """TPE over integer sizes for a sampled search; else none that proposes (the grid's
    sizes are queued, :func:`benchmark.search.trials.queue_sizes`)."""
    if spec.sampled:
        return optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=tpe_method.startup_trials(spec.trial_budget)
        )
    return QueuedGridSampler()


def make_pruner(spec: SearchSpec, epochs: int) -> optuna.pruners.BasePruner:
    """The pruner the search's method declares: successive halving or Hyperband, fed each
    epoch's ``val_fid`` (same first rung and reduction factor), or none."""
    min_resource = max(1, epochs // HALVING_MIN_RESOURCE_DIVISOR)
    pruner = method(spec.search).pruner
    if pruner is Pruner.SUCCESSIVE_HALVING:
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=min_resource, reduction_factor=HALVING_REDUCTION_FACTOR
        )
    if pruner is Pruner.HYPERBAND:
        return optuna.pruners.HyperbandPruner(
            min_resource=min_resource,
            max_resource=max(min_resource, epochs),
            reduction_factor=HALVING_REDUCTION_FACTOR,
        )
    return optuna.pruners.NopPruner()


def load_study(spec: SearchSpec, cfg: RunConfig, storage=None) -> optuna.Study:
    """The study as a worker sees it (same sampler and pruner in every process)."""
    return optuna.load_study(
        study_name=spec.study_name,
        storage=storage or open_storage(spec),
        sampler=make_sampler(spec, cfg.seed),
        pruner=make_pruner(spec, cfg.epochs),
    )


def study_user_attrs(storage: optuna.storages.BaseStorage, name: str) -> dict | None:
    """What the project recorded in study ``name`` (:mod:`.attrs`), or None when the
    storage has no such study."""
    return attrs_by_name(storage, name)


def create_or_resume_study(spec: SearchSpec, cfg: RunConfig) -> optuna.Study:
    """Create the study, or load it when it exists with the same search space and config.

    A study that exists with other sizes, another search or another training config
    raises :class:`BenchmarkError` and is left untouched."""
    storage = open_storage(spec)
    wanted = {
        "latent_sizes": list(spec.latent_sizes),
        "search": spec.search,
        "config_fingerprint": settings_fingerprint(cfg),
    }
    if spec.sampled:  # a resume must not change the budget either
        wanted["n_trials"] = spec.trial_budget
    attrs = study_user_attrs(storage, spec.study_name)
    if attrs is not None:
        for key, value in wanted.items():
            if attrs.get(key) != value:
                raise BenchmarkError(
                    f"study {spec.study_name!r} exists with {key}={attrs.get(key)!r}, not "
                    f"{value!r}; rerun with the same parameters or pass another study_name"
                )
        return load_study(spec, cfg, storage)
    study = optuna.create_study(
        study_name=spec.study_name,
        storage=storage,
        sampler=make_sampler(spec, cfg.seed),
        pruner=make_pruner(spec, cfg.epochs),
        direction="minimize",
    )
    try:
        for key, value in (wanted | {"dataset": cfg.dataset, "preset": cfg.preset}).items():
            set_study_attr(study, key, value)
        # what Optuna's "value" and "best" mean here, where its CLI and dashboard show it
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([PARAM_VALUE])
        study.set_user_attr(VALUE_NOTE_ATTR, VALUE_NOTE)
    except BaseException:
        # never leave a study without the attributes that a resume checks
        optuna.delete_study(study_name=spec.study_name, storage=storage)
        raise
    return study


def record_parent(
    study: optuna.Study,
    cfg: RunConfig,
    spec: SearchSpec,
    run_id: str,
    experiment_id: str,
    tracking_uri: str,
) -> None:
    """Record in the study (system attributes, :mod:`.attrs`) what a worker on another
    machine needs to join the search:
    the resolved training config, the parent run and its experiment, and the heartbeat
    settings (every process must judge staleness alike). The latest parent wins, so a
    resumed search re-points its workers; the run id is written last because a joining
    worker takes it as the sign that the rest is there."""
    values = {
        "config": cfg.to_dict(),
        "parent_experiment_id": experiment_id,
        # for the error message of a worker that logs elsewhere; never the password
        "tracking_uri": mask_url(tracking_uri),
        "heartbeat_interval": spec.heartbeat_interval,
        "grace_period": spec.grace_period,
        "parent_run_id": run_id,
    }
    for key, value in values.items():
        set_study_attr(study, key, value)


def record_selection(study: optuna.Study, latent_dim: int) -> None:
    """Show the project's selection beside Optuna's best (the lowest ``val_fid``): the
    study user attribute ``selected_latent_dim``."""
    study.set_user_attr(SELECTED_ATTR, latent_dim)
