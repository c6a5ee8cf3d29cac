"""What every selection method declares: its name, its label in the report, how it runs
and how its compute is counted. The modules beside this one each declare one
:class:`Method`; :mod:`benchmark.methods` collects them into the registry."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """How a method spends its trainings (what the benchmark loop has to run)."""

    # One training gives the size and the model that is evaluated.
    ONE_TRAINING = "one training"
    # One training gives the size; a fixed-size training from scratch at that size gives
    # the model that is evaluated. Both count as the method's compute.
    ONE_TRAINING_RETRAIN = "one training + retrain"
    # An Optuna study: one training per trial, the grid's selection rule picks a trial.
    STUDY = "a study of trainings"


@dataclass(frozen=True)
class Method:
    """One way to choose a VAE's latent size.

    ``name`` is the spelling users type (``-P methods=...``) and MLflow records
    (docs/tracking.md); ``label`` is the report's; ``compute`` says in one sentence which
    trainings (and evaluations) the method's compute total adds up; ``source`` is the
    paper or reference it follows; ``order`` is its place in tables and lists;
    ``default`` marks the methods ``benchmark`` runs when ``methods`` is not given.
    """

    name: str
    label: str
    kind: Kind
    compute: str
    source: str
    order: int
    default: bool = False

    @property
    def retrains(self) -> bool:
        """Whether the evaluated model is a from-scratch retrain at the chosen size."""
        return self.kind is Kind.ONE_TRAINING_RETRAIN

    @property
    def is_study(self) -> bool:
        """Whether the method is an Optuna study over fixed-size trainings."""
        return self.kind is Kind.STUDY
