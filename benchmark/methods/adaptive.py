"""ALD-VAE: one training that starts at the initial latent size and removes latent units
while it trains (benchmark.training.controller is the controller,
benchmark.training.loop the loop)."""

from __future__ import annotations

from benchmark.methods.base import Kind, Method

METHOD = Method(
    name="adaptive",
    label="ALD-VAE (adaptive)",
    kind=Kind.SHRINKING,
    compute=(
        "The one shrinking training, its validation signals included; a from-scratch "
        "retrain at the final size is reported separately when retrain=true."
    ),
    source=(
        "Sejnova, Vavrecka, Stepanova, Adaptive Compression of the Latent Space in "
        "Variational Autoencoders, ICANN 2024 (arXiv 2312.06280)"
    ),
    order=0,
    default=True,
)
