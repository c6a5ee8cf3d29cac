"""Nested dropout, what `ordered` trains with (benchmark.methods.ordered declares the
method): the prefix law, the masked training step, the cut to a prefix, and the choice
of the prefix by the grid's rule (Rippel, Gelbart, Adams, Learning Ordered
Representations with Nested Dropout, ICML 2014).

Training: for each example a prefix length b is drawn from a geometric law on
{1, 2, ...}, P(b) = p (1 - p)^(b - 1), truncated to [1, n_z] by giving the whole tail to
b = n_z; the sampled code keeps units [0, b) and the rest are set to zero before the
decoder. A unit is thus trained only by the examples whose prefix reaches it, so the
first units carry the most. The KL of the dropped units is dropped too: each example's
loss is the negative ELBO of the b-unit prefix model.

p (our choice; the paper leaves it to the application): the whole code is kept for a
share ``FULL_CODE_SHARE`` = 10% of the examples, (1 - p)^(n_z - 1) = 0.1, so every unit,
the last included, is trained by at least a tenth of the data; for n_z = 64,
p = 0.036 and the mean prefix is about 25 units.

Evaluation: :func:`truncate` cuts a copy of the trained model to its first k units with
the latent surgery of ALD-VAE (benchmark.models.surgery). Its decoder's first layer is linear,
so decoding the k kept units is exactly decoding the full code with units >= k set to
zero; the copy is an ordinary k-unit VAE (its KL counts k units, its prior noise has k
columns), which the one evaluation function scores like any fixed-size model.
"""

from __future__ import annotations

import copy

import torch

from benchmark.models.surgery import remove_latent_dims
from benchmark.models.vaes import VAE, reparameterise
from benchmark.selection import select_latent_dim
from benchmark.training.loop import AfterTraining, TrainResult, ValidationProbe
from benchmark.training.objective import TrainingObjective

# The run's metrics of the selected prefix's validation signals: `selected_val_*`.
SELECTED_PREFIX = "selected_"
# Share of the examples whose prefix is the whole code (our choice, see above).
FULL_CODE_SHARE = 0.1


def geometric_p(latent_dim: int, full_code_share: float = FULL_CODE_SHARE) -> float:
    """The geometric law's p for which a prefix reaches the last of ``latent_dim`` units
    with probability ``full_code_share``: (1 - p)^(latent_dim - 1) = full_code_share."""
    if not 0.0 < full_code_share < 1.0:
        raise ValueError(f"full_code_share={full_code_share} must be in (0, 1)")
    if latent_dim < 1:
        raise ValueError(f"latent_dim={latent_dim} must be >= 1")
    if latent_dim == 1:
        return 1.0
    return 1.0 - full_code_share ** (1.0 / (latent_dim - 1))


def prefix_length_pmf(latent_dim: int, p: float) -> torch.Tensor:
    """P(b = k) for k = 1..latent_dim: geometric, the tail beyond latent_dim at latent_dim."""
    k = torch.arange(1, latent_dim + 1, dtype=torch.float64)
    pmf = p * (1.0 - p) ** (k - 1)
    pmf[-1] = (1.0 - p) ** (latent_dim - 1)
    return pmf


def sample_prefix_lengths(
    n: int,
    latent_dim: int,
    p: float,
    generator: torch.Generator | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    """``n`` prefix lengths in [1, latent_dim] drawn from :func:`prefix_length_pmf`."""
    if p >= 1.0:
        return torch.ones(n, dtype=torch.long, device=device)
    u = torch.rand(n, generator=generator, device=device, dtype=torch.float64)
    # Inverse CDF of the geometric law on {1, 2, ...}: P(b > k) = (1 - p)^k.
    b = 1 + torch.floor(torch.log1p(-u) / torch.log1p(torch.tensor(-p, dtype=torch.float64)))
    return b.clamp(max=latent_dim).long()


def nested_dropout_mask(
    n: int,
    latent_dim: int,
    p: float,
    generator: torch.Generator | None = None,
    device: torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """(n, latent_dim) mask whose row i is b_i ones then zeros (b_i from the geometric
    law)."""
    b = sample_prefix_lengths(n, latent_dim, p, generator, device)
    units = torch.arange(latent_dim, device=b.device)
    return (units.unsqueeze(0) < b.unsqueeze(1)).to(dtype)


class NestedDropoutObjective(TrainingObjective):
    """The training step of `ordered`: the sampled code masked to a random prefix per
    example; validation and evaluation see the unmasked model."""

    name = "nested-dropout"

    def __init__(self, full_code_share: float = FULL_CODE_SHARE) -> None:
        super().__init__()
        geometric_p(2, full_code_share)  # refuse a bad share now, not at the first step
        self.full_code_share = full_code_share

    def forward(self, model: VAE, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(logits, mu, logvar) with the code and the posterior masked to each example's
        prefix."""
        mu, logvar = model.encode(x)
        z = reparameterise(mu, logvar)
        n_z = mu.shape[1]
        p = geometric_p(n_z, self.full_code_share)
        mask = nested_dropout_mask(x.shape[0], n_z, p, device=mu.device, dtype=mu.dtype)
        # mu * 0 = 0 and logvar * 0 = 0 give the dropped units KL(N(0, 1) || N(0, 1)) = 0
        # and no gradient: the plain ELBO loss becomes the prefix model's ELBO.
        return model.decode(z * mask), mu * mask, logvar * mask

    def describe(self) -> str:
        """Name and the share that sets p."""
        return f"{self.name}(full_code_share={self.full_code_share})"


def truncate(model: VAE, k: int) -> VAE:
    """A copy of ``model`` cut to its first ``k`` latent units (an ordinary k-unit VAE);
    the model itself is left as it is."""
    n = model.latent_dim
    if not 1 <= k <= n:
        raise ValueError(f"cannot keep the first {k} of {n} latent units")
    cut = copy.deepcopy(model)
    if k < n:
        remove_latent_dims(cut, None, list(range(k, n)))
    return cut


def prefix_sizes(latent_sizes: list[int], latent_dim: int) -> list[int]:
    """The grid's sizes that a model of ``latent_dim`` units has as prefixes, sorted."""
    return sorted(k for k in set(latent_sizes) if 1 <= k <= latent_dim)


def choose_prefix(latent_sizes: list[int]) -> AfterTraining:
    """The ``after_training`` of `ordered`: every grid size that is a prefix of the
    trained model scored by the validation signals the grid's trials are ranked by, the
    grid's rule applied, the selected prefix returned (with its scores as params and its
    signals as ``selected_val_*`` metrics)."""

    def choose(
        result: TrainResult, probe: ValidationProbe
    ) -> tuple[VAE, dict[str, object], dict[str, float]]:
        model = result.model
        sizes = prefix_sizes(latent_sizes, model.latent_dim)
        if not sizes:
            raise ValueError(
                f"no grid size in {latent_sizes} is a prefix of a {model.latent_dim}-unit model"
            )
        prefixes = {k: truncate(model, k) for k in sizes}
        signals = {}
        for k, prefix in prefixes.items():
            s = probe.measure(prefix)
            signals[k] = {
                "val_recon_loss": s.recon_loss,
                "val_fid": s.fid,
                "val_fid_recon": s.fid_recon,
                "val_silhouette": s.silhouette,
            }
        selection = select_latent_dim(signals)
        params: dict[str, object] = {
            "prefix.sizes": ",".join(map(str, sizes)),
            "prefix.selected_latent_dim": selection.best_latent_dim,
        }
        params |= {f"prefix.score_{k}": round(v, 6) for k, v in selection.scores.items()}
        # the chosen prefix's signals: what the grid's rule judges its model by (the
        # run's own val_* are the whole model's)
        chosen = {f"{SELECTED_PREFIX}{k}": v for k, v in signals[selection.best_latent_dim].items()}
        return prefixes[selection.best_latent_dim], params, chosen

    return choose
