"""`active-units`: one fixed-size training at the initial latent size; its size is the
number of active units, and a fixed-size VAE retrained from scratch at that size is the
model that is evaluated (Burda, Grosse, Salakhutdinov, Importance Weighted Autoencoders,
ICLR 2016, arXiv 1509.00519: a unit u is active when Cov_x(E_q[u|x]) > 0.01).

The count is the one the test evaluation logs as ``test_active_units``
(benchmark.metrics' ``active_units``), here on the validation split: the size is chosen
without seeing the test images.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmark.methods.base import Kind, Method

if TYPE_CHECKING:
    import torch

    from benchmark.models.vaes import VAE


def active_units_size(model: VAE, x_val: torch.Tensor, threshold: float | None = None) -> int:
    """The number of latent units whose posterior mean varies over ``x_val`` by more than
    ``threshold`` (variance; default the test evaluation's, Burda et al.'s 0.01), at
    least 1: the size `active-units` selects."""
    # imported here: the registry, which the report imports, loads no torch
    from benchmark.metrics import active_units
    from benchmark.metrics.clustering import ACTIVE_UNIT_THRESHOLD
    from benchmark.training.outputs import encode_all

    model.eval()
    means, _ = encode_all(model, x_val)
    share = ACTIVE_UNIT_THRESHOLD if threshold is None else threshold
    return max(1, active_units(means.cpu().numpy(), share))


def _size_of_model(model: VAE, _objective: object, x_val: torch.Tensor) -> int:
    return active_units_size(model, x_val)


METHOD = Method(
    name="active-units",
    label="active units",
    kind=Kind.ONE_TRAINING_RETRAIN,
    compute=(
        "The one fixed-size training at the initial size, plus the from-scratch retrain at "
        "the number of active units."
    ),
    source=(
        "Burda, Grosse, Salakhutdinov, Importance Weighted Autoencoders, ICLR 2016 "
        "(arXiv 1509.00519), the active-unit criterion"
    ),
    order=5,
    size_of_model=_size_of_model,
)
