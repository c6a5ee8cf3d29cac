"""What every selection method declares: its name, its label in the report, how it runs
and how its compute is counted. The modules beside this one each declare one
:class:`Method`; :mod:`benchmark.methods` collects them into the registry.

A method's hooks (its training objective, its size rule) are plain functions of its own
module that import the training code only when they are called: the registry, which
the report imports, loads no torch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """How a method spends its trainings (what the benchmark loop has to run)."""

    # ALD-VAE: one training that shrinks its latent size while it trains.
    SHRINKING = "one shrinking training"
    # One training gives the size and the model that is evaluated.
    ONE_TRAINING = "one training"
    # One training gives the size; a fixed-size training from scratch at that size gives
    # the model that is evaluated. Both count as the method's compute.
    ONE_TRAINING_RETRAIN = "one training + retrain"
    # A rule on the training images gives the size (no VAE trained for it); one
    # fixed-size training at that size gives the model. The rule's time counts too.
    DATA_RULE = "a rule on the images + one training"
    # An Optuna study: one training per trial, the grid's selection rule picks a trial.
    STUDY = "a study of trainings"


class Sampler(StrEnum):
    """How a study's trials get their sizes."""

    # every size of the grid once (Optuna's queue)
    GRID = "grid"
    # Optuna's TPE proposes integer sizes under a trial budget
    TPE = "tpe"


class Pruner(StrEnum):
    """Which Optuna pruner stops a study's trials early (fed each epoch's val_fid)."""

    NONE = "none"
    SUCCESSIVE_HALVING = "successive halving"
    HYPERBAND = "hyperband"


@dataclass(frozen=True)
class SizeChoice:
    """What a data rule (:attr:`Kind.DATA_RULE`) answers: the size and the numbers that
    led to it, logged as the training run's params."""

    size: int
    params: dict[str, object] = field(default_factory=dict)


# The hooks' shapes (the arguments are torch objects; typed loosely here so that this
# module imports no torch):
#   objective(cfg) -> TrainingObjective            the loss of the method's own training
#   size_of_model(model, objective, x_val) -> int  the size read off that trained model
#   after_training(latent_sizes) -> AfterTraining  picks the evaluated model (ordered)
#   size_of_data(train, cfg) -> SizeChoice         the size from the training split
Hook = Callable[..., Any]


@dataclass(frozen=True)
class Method:
    """One way to choose a VAE's latent size.

    ``name`` is the spelling users type (``-P methods=...``) and MLflow records
    (docs/tracking.md); ``label`` is the report's; ``compute`` says in one sentence which
    trainings (and evaluations) the method's compute total adds up; ``source`` is the
    paper or reference it follows; ``order`` is its place in tables and lists;
    ``default`` marks the methods ``benchmark`` runs when ``methods`` is not given.
    A study declares its ``sampler`` and ``pruner``; a one-training rival its hooks
    (see ``Hook``), as its kind needs them.
    """

    name: str
    label: str
    kind: Kind
    compute: str
    source: str
    order: int
    default: bool = False
    sampler: Sampler | None = None
    pruner: Pruner = Pruner.NONE
    objective: Hook | None = None
    size_of_model: Hook | None = None
    after_training: Hook | None = None
    size_of_data: Hook | None = None

    def __post_init__(self) -> None:
        needs = {
            Kind.STUDY: ("sampler",),
            Kind.ONE_TRAINING_RETRAIN: ("size_of_model",),
            Kind.DATA_RULE: ("size_of_data",),
        }.get(self.kind, ())
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise TypeError(f"method {self.name!r} ({self.kind}) must declare {', '.join(missing)}")
        if self.kind is not Kind.STUDY and (
            self.sampler is not None or self.pruner is not Pruner.NONE
        ):
            raise TypeError(f"method {self.name!r} is not a study: no sampler or pruner")

    @property
    def retrains(self) -> bool:
        """Whether the evaluated model is a from-scratch retrain at the chosen size."""
        return self.kind is Kind.ONE_TRAINING_RETRAIN

    @property
    def is_study(self) -> bool:
        """Whether the method is an Optuna study over fixed-size trainings."""
        return self.kind is Kind.STUDY

    @property
    def shrinks(self) -> bool:
        """Whether the method is one training that shrinks its size (ALD-VAE)."""
        return self.kind is Kind.SHRINKING

    @property
    def proposes_sizes(self) -> bool:
        """Whether a study's sampler proposes sizes (no fixed grid to take once each)."""
        return self.sampler is Sampler.TPE
