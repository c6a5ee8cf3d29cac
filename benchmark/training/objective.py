"""The training step's objective: what one mini-batch's loss is.

The base class is the loss benchmark.training.loop has always used, the negative ELBO with the
standard normal prior (beta = 1), computed by exactly the same operations. A selection
method that trains differently (nested dropout on the latent units, a learned prior
scale; see benchmark/methods/) subclasses it. Only the training steps see an objective:
the validation signals and the final evaluation score the model as an ordinary VAE.

An objective is an ``nn.Module`` so that parameters of its own (a learned prior) move
with ``.to(device)``, are trained by the run's optimizer and are saved in checkpoints.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmark.models.vaes import VAE, negative_elbo

# Prefix of an objective's own tensors (a learned prior) in a checkpoint's model state.
OBJECTIVE_STATE_PREFIX = "objective."


class TrainingObjective(nn.Module):
    """The plain VAE objective; subclasses override :meth:`forward` and/or :meth:`loss`.

    ``name`` identifies the objective in a training's fingerprint (a checkpoint of one
    objective is never resumed under another); the default's name leaves fingerprints
    as they were before objectives existed."""

    name = "elbo"

    def forward(self, model: VAE, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(logits, mu, logvar) of one training forward pass; runs under autocast when
        the training uses mixed precision."""
        logits, mu, logvar, _ = model(x)
        return logits, mu, logvar

    def loss(
        self, logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
    ) -> torch.Tensor:
        """The batch's mean loss from :meth:`forward`'s outputs (given in float32)."""
        return negative_elbo(logits, x, mu, logvar)

    def describe(self) -> str:
        """What the fingerprint records: the name and every setting that changes what is
        trained (subclasses with settings extend it)."""
        return self.name


ELBO = TrainingObjective()


def state_with_objective(
    model: VAE, objective: TrainingObjective | None
) -> dict[str, torch.Tensor]:
    """The model's state dict plus the objective's own tensors under a prefix: a
    checkpoint keeps one tensor dict, and a plain training's stays the model's alone."""
    state = model.state_dict()
    if objective is not None:
        state |= {OBJECTIVE_STATE_PREFIX + k: v for k, v in objective.state_dict().items()}
    return state


def split_objective_state(
    state: dict[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Undo :func:`state_with_objective`: (the model's state, the objective's state)."""
    n = len(OBJECTIVE_STATE_PREFIX)
    own = {k[n:]: v for k, v in state.items() if k.startswith(OBJECTIVE_STATE_PREFIX)}
    return {k: v for k, v in state.items() if not k.startswith(OBJECTIVE_STATE_PREFIX)}, own
