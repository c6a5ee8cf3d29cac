"""The controller and the training loop decide exactly when the published trainer does.

``published_rule`` below is written from docs/method.md alone (it does not call the
controller): epochs counted from 0 (Lightning's ``current_epoch``), a decision after
epoch ``e`` when ``e > 0 and (e - last_change) % patience == 0``, the switch over the
last ``window`` silhouette values, the stop over the ``slope_window`` evaluations before
the current one (slopes from ``np.polyfit``), no cut unless n_z > step, nothing after a
stop, and no decision after the last epoch of the budget (no training would follow it).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import benchmark.training.loop as train_module
from benchmark.training.controller import AldController, ControllerConfig, Signals
from benchmark.training.loop import train

N_HISTORIES = 60
CPU = torch.device("cpu")


def published_rule(history: list[Signals], cfg: ControllerConfig, epochs: int) -> dict:
    """Events of the published schedule on a history of ``epochs`` evaluations."""
    n_z, phase, last_change, stopped = cfg.initial_latent_dim, "coarse", 0, False
    cuts, switch, stop = [], None, None
    for e in range(epochs - 1):  # current_epoch 0 .. epochs-2
        if stopped or not (e > 0 and (e - last_change) % cfg.patience == 0):
            continue
        seen = history[: e + 1]
        sil = [s.silhouette for s in seen]
        w = cfg.switch_window
        if (
            phase == "coarse"
            and len(sil) >= w
            and np.mean(sil[-w // 2 :]) > np.mean(sil[-w : -w // 2])
        ):
            phase, switch = "fine", e
        step = cfg.fine_step if phase == "fine" else cfg.coarse_step
        if phase == "fine":
            window = seen[-cfg.slope_window - 1 : -1]
            if len(window) == cfg.slope_window:
                xs = np.arange(cfg.slope_window)
                slopes = [
                    np.polyfit(xs, [getattr(s, name) for s in window], 1)[0]
                    for name in ("silhouette", "fid", "fid_recon", "recon_loss")
                ]
                if all(v > 0 for v in slopes):
                    stopped, stop = True, e
                    continue
        if n_z > step:
            n_z -= step
            last_change = e
            cuts.append((e, n_z))
    return {"cuts": cuts, "switch": switch, "stop": stop, "final": n_z}


def random_history(seed: int, epochs: int) -> list[Signals]:
    """Random walks whose drift changes sign in random segments, so that switches and
    stops both happen across seeds."""
    rng = np.random.default_rng(seed)

    def walk(scale: float) -> np.ndarray:
        drift = np.repeat(rng.normal(0, 1, epochs // 8 + 1), 8)[:epochs]
        return np.cumsum(drift + rng.normal(0, 1.5, epochs)) * scale

    sil, fid, fid_rec, recon = walk(0.01), walk(1.0), walk(0.5), walk(0.3)
    return [
        Signals(100 + recon[i], 30 + fid[i], 5 + fid_rec[i], 0.1 + sil[i]) for i in range(epochs)
    ]


def random_config(seed: int) -> ControllerConfig:
    rng = np.random.default_rng(10_000 + seed)
    patience = int(rng.integers(1, 6))
    window = int(rng.choice([2, 4, 6, 8, 20]))
    return ControllerConfig(
        initial_latent_dim=int(rng.integers(8, 65)),
        patience=patience,
        coarse_step=int(rng.integers(2, 6)),
        fine_step=1,
        switch_window=window,
        slope_window=int(rng.integers(2, 20)),
    )


def controller_events(history: list[Signals], cfg: ControllerConfig, epochs: int) -> dict:
    """The controller fed as the training loop feeds it (0-based epochs, no last one)."""
    ctl = AldController(cfg)
    cuts, switch, stop = [], None, None
    for e in range(epochs - 1):
        before = ctl.phase
        d = ctl.observe(e, history[e])
        if before == "coarse" and ctl.phase == "fine":
            switch = e
        if d.action == "cut":
            cuts.append((e, ctl.latent_dim))
        elif d.action == "stop":
            stop = e
    return {"cuts": cuts, "switch": switch, "stop": stop, "final": ctl.latent_dim}


def test_controller_matches_the_published_rule_on_random_histories():
    outcomes = []
    for seed in range(N_HISTORIES):
        cfg, epochs = random_config(seed), 120
        history = random_history(seed, epochs)
        expected = published_rule(history, cfg, epochs)
        assert controller_events(history, cfg, epochs) == expected, f"seed {seed}"
        outcomes.append(expected)
    # the histories exercise every branch: switches, stops, and runs without either
    assert sum(o["switch"] is not None for o in outcomes) >= 10
    assert sum(o["stop"] is not None for o in outcomes) >= 5
    assert sum(o["stop"] is None for o in outcomes) >= 5


def test_first_decision_after_patience_plus_one_evaluations():
    cfg = ControllerConfig(20, patience=5, coarse_step=5, switch_window=1000)
    flat = [Signals(100.0, 10.0, 5.0, 0.1)] * 20
    assert [c[0] for c in published_rule(flat, cfg, 20)["cuts"]] == [5, 10, 15]


class ScriptedProbe:
    """Stands in for the validation probe: returns a scripted history, epoch by epoch."""

    def __init__(self, history: list[Signals]) -> None:
        self.history = list(history)
        self.calls = 0
        self.fid_floor = 0.0
        self.n_fid = 0

    def measure(self, model, latent_ids=None) -> Signals:  # noqa: ANN001 - any model
        signals = self.history[self.calls]
        self.calls += 1
        return signals


LOOP_SEEDS = (1, 4, 8, 15)


def loop_config(make_cfg, epochs: int):  # noqa: ANN001, ANN201 - the conftest factory
    """The digits config of the scripted-history loop tests (ControllerConfig(16, 3, 2,
    1, 4, 3) in controller terms); tests/test_checkpoint.py uses it too."""
    return make_cfg(
        epochs=epochs,
        patience=3,
        coarse_step=2,
        fine_step=1,
        switch_window=4,
        slope_window=3,
        hidden_dim=8,
        initial_latent_dim=16,
    )


@pytest.mark.parametrize("seed", LOOP_SEEDS)
def test_training_loop_decides_at_the_published_epochs(seed, make_cfg, digits_data):
    """Through ``train()``: the loop's epoch numbering reaches the controller as the
    published trainer's ``current_epoch``; every cut, the switch, the stop and the final
    size equal the independent rule's."""
    epochs = 30
    cfg = loop_config(make_cfg, epochs)
    ctl_cfg = ControllerConfig(16, 3, 2, 1, 4, 3)
    history = random_history(seed, epochs)
    expected = published_rule(history, ctl_cfg, epochs)
    result = train(
        cfg,
        digits_data,
        extractor=None,
        device=CPU,
        adaptive=True,
        progress=False,
        probe=ScriptedProbe(history),
    )
    records = result.history
    # record epochs are 1-based (MLflow steps): published current_epoch = epoch - 1
    cuts = [
        (r.epoch - 1, r.latent_dim - len(r.removed_dims.split()))
        for r in records
        if r.decision == "cut"
    ]
    assert cuts == expected["cuts"]
    phases = [r.phase for r in records]
    switch = next((r.epoch - 1 for r in records if r.phase == "fine"), None)
    assert switch == expected["switch"], phases
    stop = next((r.epoch - 1 for r in records if r.decision == "stop"), None)
    assert stop == expected["stop"]
    assert result.final_latent_dim == expected["final"]
    assert result.stopped_epoch == (None if expected["stop"] is None else expected["stop"] + 1)


def test_training_loop_seeds_cover_every_branch():
    """The scripted seeds above cut, switch late, never switch and stop (else the loop
    test proves little)."""
    epochs = 30
    ctl_cfg = ControllerConfig(16, 3, 2, 1, 4, 3)
    events = [published_rule(random_history(s, epochs), ctl_cfg, epochs) for s in LOOP_SEEDS]
    assert all(e["cuts"] for e in events)
    assert any(e["switch"] is None for e in events)
    assert any(e["switch"] is not None and e["switch"] > 3 for e in events)
    assert any(e["stop"] is not None for e in events)


def test_loop_module_passes_zero_based_epochs(monkeypatch, make_cfg, digits_data):
    """The first epoch the controller sees is 0."""
    seen: list[int] = []
    real = AldController.observe

    def spy(self, epoch, signals):  # noqa: ANN001
        seen.append(epoch)
        return real(self, epoch, signals)

    monkeypatch.setattr(train_module.AldController, "observe", spy)
    cfg = make_cfg(epochs=4, patience=2, coarse_step=2, hidden_dim=8)
    history = random_history(0, 4)
    train(cfg, digits_data, None, CPU, adaptive=True, progress=False, probe=ScriptedProbe(history))
    assert seen == [0, 1, 2]
