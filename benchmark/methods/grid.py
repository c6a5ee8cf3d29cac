"""Grid search: an Optuna study with one fixed-size training per latent size of the grid
(benchmark.search), the paper's baseline."""

from __future__ import annotations

from benchmark.methods.base import Kind, Method, Sampler

METHOD = Method(
    name="grid",
    label="grid search",
    kind=Kind.STUDY,
    sampler=Sampler.GRID,
    compute="Every trial's training and evaluation, summed over the grid's sizes.",
    source="the baseline of Sejnova et al. 2024 (one fixed-size training per size)",
    order=1,
    default=True,
)
