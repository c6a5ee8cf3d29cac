"""Hyperband over the grid's sizes: an Optuna study with the HyperbandPruner.

The pruner (benchmark/search/study.py's ``make_pruner``) gets successive halving's first
rung (epochs // 8) and reduction factor (3), the whole schedule as its largest budget,
and each epoch's validation FID of prior samples, as the halving search does.
"""

from __future__ import annotations

from benchmark.methods.base import Kind, Method, Pruner, Sampler

METHOD = Method(
    name="hyperband",
    label="Hyperband",
    kind=Kind.STUDY,
    sampler=Sampler.GRID,
    pruner=Pruner.HYPERBAND,
    compute="Every trial's epochs up to where it was pruned, plus the evaluations, summed.",
    source=(
        "Li, Jamieson, DeSalvo, Rostamizadeh, Talwalkar, Hyperband: A Novel Bandit-Based "
        "Approach to Hyperparameter Optimization, JMLR 2018; Optuna's HyperbandPruner"
    ),
    order=4,
)
