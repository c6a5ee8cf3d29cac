"""TPE: an Optuna study whose Tree-structured Parzen Estimator sampler proposes integer
latent sizes in [2, initial size] under a trial budget, ranked by the grid's rule.

Registry entry only: the sampler and its budget are wired in benchmark/search/ by the
search's owner; nothing here runs a study.
"""

from __future__ import annotations

from benchmark.methods.base import Kind, Method

METHOD = Method(
    name="tpe",
    label="TPE search",
    kind=Kind.STUDY,
    compute="Every trial's training and evaluation, summed over the trial budget.",
    source=(
        "Bergstra, Bardenet, Bengio, Kegl, Algorithms for Hyper-Parameter Optimization, "
        "NeurIPS 2011; Optuna's TPESampler"
    ),
    order=3,
)
