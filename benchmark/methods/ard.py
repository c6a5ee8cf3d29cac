"""`ard`: a VAE whose prior has a learned variance per latent dimension (automatic
relevance determination, after ARD-VAE: Saha, Joshi, Whitaker, A Statistical Formulation
to Find the Relevant Latent Dimensions of Variational Autoencoders, 2025,
arXiv 2501.10901); its size is the number of relevant dimensions, and a fixed-size VAE
retrained from scratch at that size is the model that is evaluated.

The prior, its KL and the relevance rule are in
:mod:`benchmark.methods.mechanisms.ard_prior`, which the hooks below import when the
method runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmark.methods.base import Kind, Method

if TYPE_CHECKING:
    import torch

    from benchmark.config import RunConfig
    from benchmark.methods.mechanisms.ard_prior import ArdObjective
    from benchmark.models.vaes import VAE


def _objective(cfg: RunConfig) -> ArdObjective:
    """The learned prior at the initial size: the loss of the size-choosing training."""
    from benchmark.methods.mechanisms.ard_prior import ArdObjective

    return ArdObjective(cfg.initial_latent_dim)


def _size_of_model(model: VAE, objective: ArdObjective, x_val: torch.Tensor) -> int:
    """The relevant dimensions on the validation split."""
    from benchmark.methods.mechanisms.ard_prior import ard_size

    return ard_size(model, objective, x_val)


METHOD = Method(
    name="ard",
    label="ARD prior",
    kind=Kind.ONE_TRAINING_RETRAIN,
    compute=(
        "The one training with the learned prior at the initial size, plus the "
        "from-scratch retrain at the number of relevant dimensions."
    ),
    source=(
        "Saha, Joshi, Whitaker, ARD-VAE: A Statistical Formulation to Find the Relevant "
        "Latent Dimensions of Variational Autoencoders, 2025 (arXiv 2501.10901)"
    ),
    order=7,
    objective=_objective,
    size_of_model=_size_of_model,
)
