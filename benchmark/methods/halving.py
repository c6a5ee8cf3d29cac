"""Successive halving over the grid's sizes: an Optuna study whose pruner stops the worse
trials early (benchmark.search)."""

from __future__ import annotations

from benchmark.methods.base import Kind, Method, Pruner, Sampler

METHOD = Method(
    name="halving",
    label="successive halving",
    kind=Kind.STUDY,
    sampler=Sampler.GRID,
    pruner=Pruner.SUCCESSIVE_HALVING,
    compute="Every trial's epochs up to where it was pruned, plus the evaluations, summed.",
    source=(
        "Jamieson and Talwalkar, Non-stochastic Best Arm Identification and Hyperparameter "
        "Optimization, AISTATS 2016; Optuna's SuccessiveHalvingPruner"
    ),
    order=2,
)
