"""Latent surgery: remove latent dimensions in place, keeping the optimizer whole.

The published code replaces the cut layers with new ones that its optimizer never
sees, so they stop training. Here each cut parameter is replaced by a new
``nn.Parameter`` holding the kept slice, put in the old one's place in the optimizer's
parameter groups, and given the old one's state (Adam's moments, AMSGrad's max) sliced
the same way, so the kept rows and columns keep training with their history.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmark.models.vaes import MLPVAE, kl_per_dim


def dims_to_remove(
    order: str, k: int, latent_dim: int, mean_kl: torch.Tensor | None = None
) -> list[int]:
    """Indices of the k dimensions to cut.

    ``last``: the highest indices (the paper). ``kl``: the k dimensions with the
    lowest mean KL to the prior (the least informative ones); needs ``mean_kl``.
    """
    if not 0 < k < latent_dim:
        raise ValueError(f"cannot remove {k} of {latent_dim} latent dimensions")
    if order == "last":
        return list(range(latent_dim - k, latent_dim))
    if order == "kl":
        if mean_kl is None or mean_kl.numel() != latent_dim:
            raise ValueError("order 'kl' needs the mean KL of every latent dimension")
        # one copy to the host for all dimensions (not one sync per dimension on CUDA);
        # stable sort: ties go to the higher index, as in `last`
        values = mean_kl.detach().cpu().tolist()
        ranked = sorted(range(latent_dim), key=lambda j: (values[j], -j))
        return sorted(ranked[:k])
    raise ValueError(f"unknown prune order {order!r}; allowed: last, kl")


@torch.no_grad()
def mean_kl_per_dim(model: MLPVAE, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Average KL to the prior of each latent dimension over the images x."""
    total = torch.zeros(model.latent_dim, device=x.device)
    for start in range(0, x.shape[0], batch_size):
        mu, logvar = model.encode(x[start : start + batch_size])
        total += kl_per_dim(mu, logvar).sum(dim=0)
    return total / x.shape[0]


def _slice_tensor(t: torch.Tensor, axis: int, keep: torch.Tensor) -> torch.Tensor:
    return t.index_select(axis, keep.to(t.device)).contiguous()


def _swap_in_optimizer(
    optimizer: torch.optim.Optimizer,
    old: nn.Parameter,
    new: nn.Parameter,
    axis: int,
    keep: torch.Tensor,
    n: int,
) -> None:
    """Put ``new`` where ``old`` was in the optimizer, with the kept slice of its state."""
    for group in optimizer.param_groups:
        group["params"] = [new if p is old else p for p in group["params"]]
    state = optimizer.state.pop(old, None)
    if state is None:
        return
    for key, value in list(state.items()):
        # Scalars such as Adam's step count are shared by all rows: keep them.
        if torch.is_tensor(value) and value.dim() > axis and value.shape[axis] == n:
            state[key] = _slice_tensor(value, axis, keep)
    optimizer.state[new] = state


@torch.no_grad()
def remove_latent_dims(
    model: MLPVAE, optimizer: torch.optim.Optimizer | None, remove: list[int]
) -> list[int]:
    """Cut the latent dimensions ``remove`` from the model (and the optimizer state).

    Returns the kept indices (in the old numbering), in order.
    """
    n = model.latent_dim
    drop = set(remove)
    if not drop or len(drop) >= n or min(drop) < 0 or max(drop) >= n:
        raise ValueError(f"cannot remove {sorted(drop)} from {n} latent dimensions")
    kept = [j for j in range(n) if j not in drop]
    keep = torch.tensor(kept, dtype=torch.long)
    for module, attr, axis in model.latent_parameters():
        old: nn.Parameter = getattr(module, attr)
        # A new Parameter rather than `old.data = ...`: autograd caches each parameter's
        # shape, so a graph built before the cut would break the next backward.
        new = nn.Parameter(_slice_tensor(old.detach(), axis, keep), requires_grad=old.requires_grad)
        setattr(module, attr, new)
        if optimizer is not None:
            _swap_in_optimizer(optimizer, old, new, axis, keep, n)
    model.set_latent_dim(len(kept))
    return kept
