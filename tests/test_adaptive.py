"""The ALD-VAE decision rule on scripted signal histories: every branch pinned."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmark.config import parse_stop_signals, resolve_config
from benchmark.errors import ConfigError
from benchmark.training.controller import AldController, ControllerConfig, Decision, Signals, slope

FLAT = Signals(recon_loss=100.0, fid=10.0, fid_recon=5.0, silhouette=0.1)


def _run(controller: AldController, signals, start: int = 1) -> dict[int, Decision]:
    """Feed one Signals per epoch (epochs start..), return the decision of each epoch."""
    return {e: controller.observe(e, s) for e, s in enumerate(signals, start=start)}


def _cuts(decisions: dict[int, Decision]) -> list[tuple[int, int, str]]:
    return [(e, d.k, d.phase) for e, d in decisions.items() if d.action == "cut"]


def _sil(values) -> list[Signals]:
    """Signals whose silhouette follows ``values``; the reconstruction loss falls (so the
    stop rule can never fire) and both FIDs are flat."""
    return [
        Signals(FLAT.recon_loss - i, FLAT.fid, FLAT.fid_recon, float(v))
        for i, v in enumerate(values)
    ]


def _rising(n: int, offset: float = 0.0) -> list[Signals]:
    """All four signals strictly rising (the stop pattern)."""
    return [Signals(100.0 + i + offset, 10.0 + i, 5.0 + i, 0.1 + 0.01 * i) for i in range(n)]


def test_defaults_are_the_paper_values():
    cfg = ControllerConfig()
    assert (cfg.initial_latent_dim, cfg.patience, cfg.coarse_step, cfg.fine_step) == (64, 5, 5, 1)
    assert (cfg.switch_window, cfg.slope_window) == (20, 19)
    assert AldController().latent_dim == 64


def test_slope_is_least_squares():
    assert slope([1.0, 3.0, 5.0]) == pytest.approx(2.0)
    assert slope([5.0, 5.0, 5.0, 5.0]) == pytest.approx(0.0)
    assert slope([0.0, 2.0, 1.0, 3.0]) == pytest.approx(np.polyfit(range(4), [0, 2, 1, 3], 1)[0])
    assert slope([3.0, 2.0]) == pytest.approx(-1.0)


@pytest.mark.parametrize("values", [[7.0, 7.0, 7.0], [100.0] * 19, [5.0] * 3])
def test_slope_of_a_constant_series_is_exactly_zero(values):
    assert slope(values) == 0.0


# --- the schedule of coarse cuts ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("patience", "step", "n_z"), [(5, 5, 64), (3, 4, 20), (1, 2, 9), (4, 3, 10)]
)
def test_coarse_cuts_every_patience_epochs_from_epoch_patience(patience, step, n_z):
    cfg = ControllerConfig(n_z, patience, step, 1, switch_window=1000, slope_window=3)
    ctl = AldController(cfg)
    epochs = patience * (n_z // step + 3)
    decisions = _run(ctl, [FLAT] * epochs)
    cuts = _cuts(decisions)
    assert cuts, "no cut at all"
    assert cuts[0][0] == patience  # first cut exactly at epoch == patience, never earlier
    assert all(d.action == "none" for e, d in decisions.items() if e < patience)
    # one coarse cut of `step` every `patience` epochs, while n_z > step
    expected, dim = [], n_z
    for e in range(patience, epochs + 1, patience):
        if dim > step:
            expected.append((e, step, "coarse"))
            dim -= step
    assert cuts == expected
    assert ctl.latent_dim == dim == n_z - step * len(expected)
    assert ctl.latent_dim <= step
    assert ctl.phase == "coarse" and not ctl.stopped


def test_no_decision_at_epoch_zero_or_between_decisions():
    ctl = AldController(ControllerConfig(30, patience=4, coarse_step=2, switch_window=1000))
    d0 = ctl.observe(0, FLAT)
    assert d0.action == "none"
    decisions = _run(ctl, [FLAT] * 12, start=1)
    assert [e for e, d in decisions.items() if d.action == "cut"] == [4, 8, 12]
    assert all(decisions[e].reason == "not a decision epoch" for e in (1, 2, 3, 5, 6, 7))


def test_decisions_count_from_the_last_change():
    # A controller resumed with its last change at epoch 7: the next decision is at 7+3.
    ctl = AldController(
        ControllerConfig(20, patience=3, coarse_step=2, switch_window=1000),
        last_change_epoch=7,
        last_epoch=7,
    )
    decisions = _run(ctl, [FLAT] * 8, start=8)
    assert [e for e, d in decisions.items() if d.action == "cut"] == [10, 13]
    assert decisions[9].action == "none"


def test_no_cut_when_latent_dim_is_not_larger_than_step():
    ctl = AldController(ControllerConfig(5, patience=2, coarse_step=5, switch_window=1000))
    decisions = _run(ctl, [FLAT] * 6)
    assert _cuts(decisions) == []
    assert ctl.latent_dim == 5
    assert "5" in decisions[2].reason
    # one more than the step: one cut, down to 1
    ctl = AldController(ControllerConfig(6, patience=2, coarse_step=5, switch_window=1000))
    assert _cuts(_run(ctl, [FLAT] * 6)) == [(2, 5, "coarse")]
    assert ctl.latent_dim == 1


@pytest.mark.parametrize(("n_z", "cuts", "final"), [(7, [2, 4, 6], 1), (6, [2, 4], 2)])
def test_fine_cuts_use_fine_step_while_latent_dim_exceeds_it(n_z, cuts, final):
    # Fine from the first decision (rising silhouette, window 2); the reconstruction loss
    # falls, so the stop rule never fires.
    ctl = AldController(
        ControllerConfig(
            n_z, patience=2, coarse_step=3, fine_step=2, switch_window=2, slope_window=2
        )
    )
    decisions = _run(ctl, _sil(range(10)))
    assert _cuts(decisions) == [(e, 2, "fine") for e in cuts]
    assert ctl.latent_dim == final
    assert decisions[cuts[-1] + 2].action == "none"
    assert not ctl.stopped


# --- switch to the fine phase ------------------------------------------------------------------


def test_switch_needs_a_full_window_of_silhouette_values():
    cfg = ControllerConfig(
        30, patience=2, coarse_step=3, fine_step=1, switch_window=6, slope_window=1000
    )
    ctl = AldController(cfg)
    decisions = _run(ctl, _sil(np.linspace(0.0, 1.0, 12)))  # rising from the start
    assert _cuts(decisions) == [
        (2, 3, "coarse"),  # 2 values < 6
        (4, 3, "coarse"),  # 4 values < 6
        (6, 1, "fine"),  # 6 values, last 3 > first 3: the switching decision is fine
        (8, 1, "fine"),
        (10, 1, "fine"),
        (12, 1, "fine"),
    ]
    assert ctl.latent_dim == 30 - 3 - 3 - 4


def test_switch_compares_the_halves_of_the_last_window_only():
    cfg = ControllerConfig(
        40, patience=4, coarse_step=5, fine_step=2, switch_window=4, slope_window=1000
    )
    ctl = AldController(cfg)
    # epoch 4: equal halves -> no switch (strictly greater is needed)
    values = [0, 0, 0, 0]
    # epoch 6 (no decision) would fire on [0, 0, 5, 5]; epoch 8: [5, 5, 4, 4] falls, though
    # the whole history [0, 0, 0, 0, 5, 5, 4, 4] would say "rising"
    values += [5, 5, 4, 4]
    # epoch 12: [4, 4, 4.5, 4.5] rises -> switch
    values += [4, 4, 4.5, 4.5]
    decisions = _run(ctl, _sil(values))
    assert _cuts(decisions) == [(4, 5, "coarse"), (8, 5, "coarse"), (12, 2, "fine")]
    assert decisions[6].action == "none" and decisions[6].phase == "coarse"


def test_never_back_to_coarse():
    cfg = ControllerConfig(
        40, patience=2, coarse_step=5, fine_step=1, switch_window=2, slope_window=1000
    )
    ctl = AldController(cfg)
    decisions = _run(ctl, _sil([0, 1] + [10 - i for i in range(10)]))  # then falling
    cuts = _cuts(decisions)
    assert cuts[0] == (2, 1, "fine")
    assert [c[2] for c in cuts] == ["fine"] * 6
    assert all(c[1] == 1 for c in cuts)
    assert ctl.phase == "fine"


# --- the stop rule -----------------------------------------------------------------------------

STOP_CFG = ControllerConfig(
    40, patience=4, coarse_step=5, fine_step=2, switch_window=2, slope_window=3
)
WINDOW = slice(4, 7)  # list positions of epochs 5..7: the 3 evaluations before epoch 8
SIGNALS = ("recon_loss", "fid", "fid_recon", "silhouette")


def _stop_history() -> list[Signals]:
    """Epochs 1..8. Epoch 4: the silhouette jumps (switch to fine); its slope window
    (epochs 1..3) is flat, so it cuts. Epoch 8: the window is epochs 5..7, all rising.
    Epoch 4 (just before the window) and epoch 8 (the current one) contradict the trend,
    so a window that included either would see falling slopes."""
    flat = Signals(50.0, 50.0, 50.0, 0.0)
    before = Signals(1e4, 1e4, 1e4, 100.0)
    current = Signals(-1e4, -1e4, -1e4, -1e4)
    return [flat, flat, flat, before, *_rising(3), current]


def test_stop_exactly_when_all_four_slopes_rise_over_the_window_before_the_current():
    ctl = AldController(STOP_CFG)
    decisions = _run(ctl, _stop_history())
    assert (decisions[4].action, decisions[4].k, decisions[4].phase) == ("cut", 2, "fine")
    assert all(decisions[e].action == "none" for e in (1, 2, 3, 5, 6, 7))
    assert decisions[8].action == "stop" and decisions[8].k == 0
    assert decisions[8].phase == "fine"
    assert ctl.stopped and ctl.latent_dim == 38
    window = _stop_history()[WINDOW]
    for name in SIGNALS:
        expected = slope([getattr(s, name) for s in window])
        assert expected > 0
        assert ctl.last_slopes[name] == pytest.approx(expected)


@pytest.mark.parametrize(
    "kind",
    ["flat", "falling"],
)
@pytest.mark.parametrize("signal", SIGNALS)
def test_no_stop_when_any_one_slope_is_not_positive(signal, kind):
    history = _stop_history()
    for j, i in enumerate(range(WINDOW.start, WINDOW.stop)):
        fields = {n: getattr(history[i], n) for n in SIGNALS}
        fields[signal] = 7.0 if kind == "flat" else 7.0 - j
        history[i] = Signals(**fields)
    ctl = AldController(STOP_CFG)
    decisions = _run(ctl, history)
    assert ctl.last_slopes[signal] == pytest.approx(0.0 if kind == "flat" else -1.0)
    assert all(ctl.last_slopes[n] > 0 for n in SIGNALS if n != signal)
    assert (decisions[8].action, decisions[8].k, decisions[8].phase) == ("cut", 2, "fine")
    assert not ctl.stopped and ctl.latent_dim == 36


@pytest.mark.parametrize("signal", SIGNALS)
def test_a_rule_without_a_signal_stops_although_that_slope_falls(signal):
    """The stop rule's ablation: the signal left out no longer holds the stop back, and
    its slope is still computed."""
    history = _stop_history()
    for j, i in enumerate(range(WINDOW.start, WINDOW.stop)):
        fields = {n: getattr(history[i], n) for n in SIGNALS}
        fields[signal] = 7.0 - j
        history[i] = Signals(**fields)
    others = tuple(n for n in SIGNALS if n != signal)
    ctl = AldController(dataclasses.replace(STOP_CFG, stop_signals=others))
    decisions = _run(ctl, history)
    assert decisions[8].action == "stop" and ctl.latent_dim == 38
    assert ctl.last_slopes[signal] == pytest.approx(-1.0)
    full = AldController(STOP_CFG)  # the published rule on the same history does not stop
    assert _run(full, history)[8].action == "cut"


def test_stop_signals_are_read_from_the_config():
    cfg = resolve_config("quick", {"dataset": "digits", "stop_signals": "fid, recon_loss"})
    assert parse_stop_signals(cfg.stop_signals) == ("fid", "recon_loss")
    for bad, words in (("fid,speed", "expected a comma list of"), ("fid,fid", "duplicates"),
                       ("", "expected a comma list of")):  # fmt: skip
        with pytest.raises(ConfigError, match=words):
            parse_stop_signals(bad)


def test_no_stop_in_the_coarse_phase():
    cfg = ControllerConfig(
        40, patience=3, coarse_step=5, fine_step=2, switch_window=1000, slope_window=2
    )
    ctl = AldController(cfg)
    decisions = _run(ctl, _rising(12))
    assert _cuts(decisions) == [
        (3, 5, "coarse"),
        (6, 5, "coarse"),
        (9, 5, "coarse"),
        (12, 5, "coarse"),
    ]
    assert not ctl.stopped


def test_no_stop_before_slope_window_evaluations_exist():
    cfg = ControllerConfig(
        40, patience=3, coarse_step=5, fine_step=2, switch_window=2, slope_window=6
    )
    ctl = AldController(cfg)
    decisions = _run(ctl, _rising(9))
    # epoch 3: 2 earlier evaluations, epoch 6: 5 < 6 -> cuts; epoch 9: 8 >= 6 -> stop
    assert _cuts(decisions) == [(3, 2, "fine"), (6, 2, "fine")]
    assert decisions[9].action == "stop"


def test_nothing_after_stop():
    ctl = AldController(STOP_CFG)
    _run(ctl, _stop_history())
    assert ctl.stopped
    later = _run(ctl, _rising(20) + _sil([9, 1] * 5), start=9)
    assert all(d.action == "none" for d in later.values())
    assert all(d.reason == "stopped" for d in later.values())
    assert ctl.latent_dim == 38


def test_epochs_must_increase():
    ctl = AldController(STOP_CFG)
    ctl.observe(1, FLAT)
    ctl.observe(2, FLAT)
    with pytest.raises(ValueError):
        ctl.observe(2, FLAT)
    with pytest.raises(ValueError):
        ctl.observe(1, FLAT)
