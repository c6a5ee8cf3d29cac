"""What a training returns: one record per epoch and the result of the whole training
(benchmark.training.loop fills them; tracking and the search read them)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from benchmark.models.vaes import MLPVAE


@dataclass
class EpochRecord:
    """One epoch: what was trained (at ``latent_dim``), measured and decided."""

    epoch: int
    latent_dim: int
    train_loss: float
    val_recon_loss: float
    val_fid: float
    val_fid_recon: float
    val_silhouette: float
    epoch_time_s: float
    train_epoch_time_s: float
    val_time_s: float
    phase: str = "fixed"
    decision: str = "none"
    removed_dims: str = ""

    def metrics(self) -> dict[str, float]:
        """The numeric per-epoch metrics (MLflow step = epoch)."""
        skip = {"epoch", "phase", "decision", "removed_dims"}
        return {k: float(v) for k, v in asdict(self).items() if k not in skip}


@dataclass
class TrainResult:
    """The trained model and how it got there."""

    model: MLPVAE
    history: list[EpochRecord] = field(default_factory=list)
    train_time_s: float = 0.0
    stopped_epoch: int | None = None

    @property
    def final_latent_dim(self) -> int:
        return self.model.latent_dim
