"""TPE: an Optuna study whose Tree-structured Parzen Estimator sampler proposes integer
latent sizes in [2, initial size] under a trial budget, ranked by the grid's rule.

The study lives in benchmark/search/ (``make_sampler``): its budget is the ``tpe_trials``
parameter of ``benchmark`` (default: as many trials as the grid has sizes), the first
third of it random start-up trials. TPE may propose a size twice; each proposal is a
trial, trained and counted. Its trials run in one local worker (the exactly-once
protocol hands out the sizes of a grid, and TPE's are not known in advance); a worker
joining from another machine reads the budget from the study (``n_trials``) and stops
when it is spent.
"""

from __future__ import annotations

from benchmark.methods.base import Kind, Method, Sampler

METHOD = Method(
    name="tpe",
    label="TPE search",
    kind=Kind.STUDY,
    sampler=Sampler.TPE,
    compute="Every trial's training and evaluation, summed over the trial budget.",
    source=(
        "Bergstra, Bardenet, Bengio, Kegl, Algorithms for Hyper-Parameter Optimization, "
        "NeurIPS 2011; Optuna's TPESampler"
    ),
    order=3,
)

# The smallest size TPE may propose (the space: integers in [2, initial size]).
MIN_LATENT_DIM = 2
# Share of the budget spent on random start-up trials before TPE's model proposes (our
# choice: Optuna's default of 10 would leave a grid-sized budget entirely random).
STARTUP_SHARE = 3


def startup_trials(budget: int) -> int:
    """Random trials before TPE models the results: a third of ``budget``, at least 1."""
    return max(1, budget // STARTUP_SHARE)
