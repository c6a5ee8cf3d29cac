"""The ARD prior of `ard` (benchmark.methods.ard declares the method): the learned
per-dimension prior, its KL, and the relevance that gives the size.

Prior: p(z) = N(0, diag(alpha)), alpha = exp(log_alpha) learned per dimension by the
same optimizer as the network, starting at alpha = 1 (the standard prior): gradient-based
type-II maximum likelihood, where ARD-VAE sets its prior from the encoded data in closed
form every few iterations. For a fixed encoder the KL (:func:`ard_kl_per_dim`, closed
form) is smallest at alpha_j = E_x[mu_j^2 + sigma_j^2], so the prior variance follows
the spread of the codes.

Relevance (our choice, measured on digits): a learned prior variance has no absolute
scale (the decoder's first layer can absorb any rescaling of a dimension, and the KL is
unchanged when alpha follows), so a dimension's prior variance is read against its own
posterior noise. A dimension the decoder ignores has q(z|x) = p(z): its prior variance
collapses onto the mean posterior variance, alpha_j = E_x[sigma_j^2]. The relevance of
dimension j is the share of its prior variance that the posterior noise does not
account for, 1 - E_x[sigma_j^2] / alpha_j (about Var_x(mu_j) / alpha_j, 0 when collapsed),
and j is relevant when that share exceeds ``RELEVANCE_SHARE`` = 0.05.

What we tried and left out: a Gamma hyperprior on the precisions (Tipping 2001's ARD)
counted once per training set did not move an unused dimension's alpha in 60 digits
epochs (an unused dimension's KL is 0 for every alpha); counted per example it shrank
every dimension alike, used ones included, since the decoder absorbs the scale
(ARD-VAE regularises its decoder's weights against that). Either way an absolute
threshold on alpha selected nothing meaningful; the relative one above does not depend
on the scale.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmark.models.vaes import VAE, recon_loss_per_image
from benchmark.training.objective import TrainingObjective
from benchmark.training.outputs import encode_all

# A dimension is relevant when more than this share of its learned prior variance is
# not posterior noise (our choice; 0 = collapsed, see the module docstring).
RELEVANCE_SHARE = 0.05


def ard_kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor, log_alpha: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, exp(log_alpha))) per image and dimension, (N, n_z)."""
    return 0.5 * (log_alpha - logvar + (logvar.exp() + mu.pow(2)) * torch.exp(-log_alpha) - 1.0)


class ArdObjective(TrainingObjective):
    """The negative ELBO with the learned prior N(0, diag(alpha)); ``log_alpha`` (one per
    latent dimension) starts at 0 (alpha = 1, the standard prior) and is trained with the
    model."""

    name = "ard"

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim={latent_dim} must be >= 1")
        self.log_alpha = nn.Parameter(torch.zeros(latent_dim))

    def loss(
        self, logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
    ) -> torch.Tensor:
        """Mean over the batch of recon + KL to the learned prior."""
        if mu.shape[1] != self.log_alpha.numel():
            raise ValueError(
                f"the model has {mu.shape[1]} latent units, the ARD prior {self.log_alpha.numel()}"
            )
        kl = ard_kl_per_dim(mu, logvar, self.log_alpha.float()).sum(dim=1)
        return (recon_loss_per_image(logits, x) + kl).mean()

    def prior_variances(self) -> torch.Tensor:
        """The learned alpha per dimension (detached, on the CPU)."""
        return self.log_alpha.detach().exp().cpu()

    def describe(self) -> str:
        """Name and size: what the fingerprint records."""
        return f"{self.name}(latent_dim={self.log_alpha.numel()})"


def relevance(prior_variances: torch.Tensor, posterior_variances: torch.Tensor) -> torch.Tensor:
    """Per dimension, the share of the prior variance alpha_j that the mean posterior
    variance E_x[sigma_j^2] does not account for: 1 - E_x[sigma_j^2] / alpha_j."""
    if prior_variances.shape != posterior_variances.shape:
        raise ValueError(
            f"{prior_variances.numel()} prior variances for "
            f"{posterior_variances.numel()} posterior variances"
        )
    return 1.0 - posterior_variances / prior_variances


def relevant_dims(
    prior_variances: torch.Tensor,
    posterior_variances: torch.Tensor,
    threshold: float = RELEVANCE_SHARE,
) -> list[int]:
    """Indices of the dimensions whose :func:`relevance` exceeds ``threshold``."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold={threshold} must be in (0, 1)")
    share = relevance(prior_variances, posterior_variances)
    return [int(j) for j in torch.nonzero(share > threshold).flatten()]


def ard_size(
    model: VAE,
    objective: ArdObjective,
    x_val: torch.Tensor,
    threshold: float = RELEVANCE_SHARE,
) -> int:
    """The latent size `ard` selects for a model trained with ``objective``: the number of
    relevant dimensions on the images ``x_val`` (the validation split), at least 1."""
    model.eval()
    _, logvar = encode_all(model, x_val)
    posterior = logvar.exp().mean(dim=0).cpu()
    return max(1, len(relevant_dims(objective.prior_variances(), posterior, threshold)))
