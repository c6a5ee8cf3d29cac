"""The ALD-VAE decision rule as a pure object: fed each epoch's validation signals,
it answers cut k / stop / nothing. No torch, no MLflow: testable on scripted histories.

Rule (docs/method.md, defaults of the published configs):
- a decision every ``patience`` epochs counted from the last change of n_z, with
  epochs numbered from 0 as in the published trainer (Lightning's ``current_epoch``):
  after epoch ``e`` when ``e > 0`` and ``(e - last_change) % patience == 0``, so the
  first decision comes after ``patience + 1`` evaluations and the next ones
  ``patience`` evaluations after the last change. The training loop numbers its
  epochs from 1 (MLflow steps) and passes ``epoch - 1`` here;
- coarse phase: a decision removes ``coarse_step`` dimensions;
- switch to the fine phase (``fine_step``, never back) at a decision, once at least
  ``switch_window`` silhouette values exist, when the mean of the last half of the
  window is greater than the mean of the half before it; the decision that switches
  is already a fine-phase decision;
- at each fine-phase decision, fit a least-squares line to each signal over the
  ``slope_window`` evaluations before the current one; stop when the silhouette,
  both FID and the reconstruction-loss slopes are all > 0 (``stop_signals``: the
  signals that must rise, all four by default; fewer only for the rule's ablation).
  A stopping decision removes nothing, and after it n_z is frozen;
- a cut is only made while n_z is larger than the step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Signals:
    """The four validation signals of one epoch."""

    recon_loss: float
    fid: float
    fid_recon: float
    silhouette: float


@dataclass(frozen=True)
class ControllerConfig:
    """Every number of the rule (paper defaults)."""

    initial_latent_dim: int = 64
    patience: int = 5
    coarse_step: int = 5
    fine_step: int = 1
    switch_window: int = 20
    slope_window: int = 19
    # The signals whose slopes must all be > 0 to stop (paper: all four; fewer for the
    # stop rule's ablation). Every slope is still computed and reported.
    stop_signals: tuple[str, ...] = ("silhouette", "fid", "fid_recon", "recon_loss")


@dataclass(frozen=True)
class Decision:
    """What to do after an epoch: ``action`` is "none", "cut" or "stop"; ``k`` dims to cut."""

    action: str = "none"
    k: int = 0
    phase: str = "coarse"
    reason: str = ""


def slope(values: list[float] | np.ndarray) -> float:
    """Least-squares slope of values against their index (exactly 0 for a constant series,
    where a general polynomial fit returns rounding noise of either sign)."""
    y = np.asarray(values, dtype=float)
    x = np.arange(len(y), dtype=float)
    xc = x - x.mean()
    return float((xc * (y - y.mean())).sum() / (xc**2).sum())


@dataclass
class AldController:
    """Stateful ALD-VAE controller; call :meth:`observe` once per epoch, in order."""

    config: ControllerConfig = field(default_factory=ControllerConfig)
    latent_dim: int = 0
    phase: str = "coarse"
    stopped: bool = False
    last_change_epoch: int = 0
    last_epoch: int = 0
    history: list[Signals] = field(default_factory=list)
    last_slopes: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.latent_dim == 0:
            self.latent_dim = self.config.initial_latent_dim

    @property
    def step(self) -> int:
        return self.config.fine_step if self.phase == "fine" else self.config.coarse_step

    def _is_decision_epoch(self, epoch: int) -> bool:
        since = epoch - self.last_change_epoch
        return since > 0 and since % self.config.patience == 0

    def _silhouette_improving(self) -> bool:
        w = self.config.switch_window
        if len(self.history) < w:
            return False
        sil = [s.silhouette for s in self.history[-w:]]
        half = w // 2
        return float(np.mean(sil[half:])) > float(np.mean(sil[:half]))

    def _all_slopes_rising(self) -> bool:
        w = self.config.slope_window
        # the window is the w evaluations before the current one (published code)
        window = self.history[-(w + 1) : -1]
        if len(window) < w:
            return False
        self.last_slopes = {
            "silhouette": slope([s.silhouette for s in window]),
            "fid": slope([s.fid for s in window]),
            "fid_recon": slope([s.fid_recon for s in window]),
            "recon_loss": slope([s.recon_loss for s in window]),
        }
        return all(self.last_slopes[name] > 0 for name in self.config.stop_signals)

    def observe(self, epoch: int, signals: Signals) -> Decision:
        """Record epoch ``epoch`` (0-based like Lightning's ``current_epoch``, strictly
        increasing) and decide."""
        if self.history and epoch <= self.last_epoch:
            raise ValueError(f"epoch {epoch} observed after epoch {self.last_epoch}")
        self.last_epoch = epoch
        self.history.append(signals)
        if self.stopped:
            return Decision("none", 0, self.phase, "stopped")
        if not self._is_decision_epoch(epoch):
            return Decision("none", 0, self.phase, "not a decision epoch")
        if self.phase == "coarse" and self._silhouette_improving():
            self.phase = "fine"
        if self.phase == "fine" and self._all_slopes_rising():
            self.stopped = True
            rising = "all four" if len(self.config.stop_signals) == 4 else "the rule's"
            return Decision("stop", 0, self.phase, f"{rising} slopes rising")
        if self.latent_dim <= self.step:
            return Decision("none", 0, self.phase, f"n_z {self.latent_dim} <= step {self.step}")
        k = self.step
        self.latent_dim -= k
        self.last_change_epoch = epoch
        return Decision("cut", k, self.phase, f"{self.phase} step")
