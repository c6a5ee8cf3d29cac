"""Hyperband over the grid's sizes: an Optuna study with the HyperbandPruner.

Registry entry only: the pruner is wired in benchmark/search/ by the search's owner;
nothing here runs a study.
"""

from __future__ import annotations

from benchmark.methods.base import Kind, Method

METHOD = Method(
    name="hyperband",
    label="Hyperband",
    kind=Kind.STUDY,
    compute="Every trial's epochs up to where it was pruned, plus the evaluations, summed.",
    source=(
        "Li, Jamieson, DeSalvo, Rostamizadeh, Talwalkar, Hyperband: A Novel Bandit-Based "
        "Approach to Hyperparameter Optimization, JMLR 2018; Optuna's HyperbandPruner"
    ),
    order=4,
)
