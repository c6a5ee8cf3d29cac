"""The latent-size selection rule (benchmark.selection) on hand-made numbers."""

from __future__ import annotations

import random

import pytest

from benchmark.selection import SIGNALS, goodness, select_latent_dim

# Direction of each signal as the documented rule states it (not read from the module,
# so that a flipped direction in SIGNALS is caught).
LOWER_IS_BETTER = ("val_recon_loss", "val_fid", "val_fid_recon")
HIGHER_IS_BETTER = ("val_silhouette",)


def _rows(**columns: dict[int, float]) -> dict[int, dict[str, float]]:
    """``{size: {signal: value}}`` from one ``{size: value}`` dict per signal."""
    sizes = next(iter(columns.values())).keys()
    return {size: {name: values[size] for name, values in columns.items()} for size in sizes}


def _constant(sizes, value: float = 1.0) -> dict[int, float]:
    return dict.fromkeys(sizes, value)


def test_signals_are_the_four_validation_signals_with_their_directions():
    assert set(SIGNALS) == set(LOWER_IS_BETTER) | set(HIGHER_IS_BETTER)
    assert all(name.startswith("val_") for name in SIGNALS)


def test_goodness_min_max_normalises_in_both_directions():
    values = {2: 1.0, 4: 3.0, 8: 2.0, 16: 2.5}
    assert goodness(values, "min") == pytest.approx({2: 1.0, 4: 0.0, 8: 0.5, 16: 0.25})
    assert goodness(values, "max") == pytest.approx({2: 0.0, 4: 1.0, 8: 0.5, 16: 0.75})


def test_goodness_is_in_unit_interval_with_one_best_and_one_worst():
    rng = random.Random(3)
    values = {size: rng.uniform(-50, 50) for size in (2, 4, 8, 16, 32, 64)}
    for direction in ("min", "max"):
        g = goodness(values, direction)
        assert all(0.0 <= v <= 1.0 for v in g.values())
        best = min(values, key=values.get) if direction == "min" else max(values, key=values.get)
        worst = max(values, key=values.get) if direction == "min" else min(values, key=values.get)
        assert g[best] == 1.0
        assert g[worst] == 0.0


@pytest.mark.parametrize("signal", [*LOWER_IS_BETTER, *HIGHER_IS_BETTER])
def test_each_signal_is_normalised_in_its_own_direction(signal):
    """Only ``signal`` varies (the others are constant, goodness 1 for every size)."""
    sizes = (4, 8, 16)
    varying = {4: 1.0, 8: 3.0, 16: 2.0}
    columns = {name: _constant(sizes, 7.0) for name in SIGNALS}
    columns[signal] = varying
    sel = select_latent_dim(_rows(**columns))
    if signal in LOWER_IS_BETTER:
        # goodness 4: 1, 8: 0, 16: 0.5; score = (3 + goodness) / 4
        expected = {4: 1.0, 8: 0.75, 16: 0.875}
        best = 4
    else:
        # goodness 4: 0, 8: 1, 16: 0.5
        expected = {4: 0.75, 8: 1.0, 16: 0.875}
        best = 8
    assert sel.scores == pytest.approx(expected)
    assert sel.best_latent_dim == best
    assert sel.best_per_signal[signal] == best


def test_score_is_the_mean_of_four_goodness_values_not_the_best_reconstruction():
    signals = _rows(
        val_recon_loss={4: 10.0, 8: 6.0, 16: 2.0},  # goodness 4: 0, 8: 0.5, 16: 1
        val_fid={4: 30.0, 8: 10.0, 16: 50.0},  # goodness 4: 0.5, 8: 1, 16: 0
        val_fid_recon={4: 5.0, 8: 4.0, 16: 8.0},  # goodness 4: 0.75, 8: 1, 16: 0
        val_silhouette={4: 0.2, 8: 0.3, 16: 0.1},  # goodness 4: 0.5, 8: 1, 16: 0
    )
    sel = select_latent_dim(signals)
    expected = {
        4: (0.0 + 0.5 + 0.75 + 0.5) / 4,  # 0.4375
        8: (0.5 + 1.0 + 1.0 + 1.0) / 4,  # 0.875
        16: (1.0 + 0.0 + 0.0 + 0.0) / 4,  # 0.25
    }
    assert sel.scores == pytest.approx(expected)
    naive = min(signals, key=lambda s: signals[s]["val_recon_loss"])
    assert naive == 16
    assert sel.best_latent_dim == 8 != naive
    assert sel.best_per_signal == {
        "val_recon_loss": 16,
        "val_fid": 8,
        "val_fid_recon": 8,
        "val_silhouette": 8,
    }


def test_selected_size_is_not_the_majority_of_per_signal_winners():
    """Two signals prefer 4 by a hair, two prefer 8 by a lot: the mean picks 8."""
    signals = _rows(
        val_recon_loss={4: 1.00, 8: 1.01, 16: 2.0},  # goodness 4: 1, 8: 0.99, 16: 0
        val_fid={4: 1.00, 8: 1.01, 16: 2.0},  # same
        val_fid_recon={4: 2.0, 8: 1.0, 16: 1.5},  # goodness 4: 0, 8: 1, 16: 0.5
        val_silhouette={4: 0.0, 8: 1.0, 16: 0.5},  # goodness 4: 0, 8: 1, 16: 0.5
    )
    sel = select_latent_dim(signals)
    assert sel.scores[4] == pytest.approx((1 + 1 + 0 + 0) / 4)
    assert sel.scores[8] == pytest.approx((0.99 + 0.99 + 1 + 1) / 4)
    assert sel.scores[16] == pytest.approx((0 + 0 + 0.5 + 0.5) / 4)
    assert sel.best_per_signal["val_recon_loss"] == sel.best_per_signal["val_fid"] == 4
    assert sel.best_latent_dim == 8


def test_tie_goes_to_the_smaller_size_whatever_the_order():
    # 16 and 8 mirror each other on recon and fid; 32 is worse; other signals constant.
    signals = _rows(
        val_recon_loss={16: 1.0, 8: 3.0, 32: 3.0},  # goodness 16: 1, 8: 0, 32: 0
        val_fid={16: 3.0, 8: 1.0, 32: 3.0},  # goodness 16: 0, 8: 1, 32: 0
        val_fid_recon=_constant((16, 8, 32)),
        val_silhouette=_constant((16, 8, 32)),
    )
    sel = select_latent_dim(signals)
    assert sel.scores == pytest.approx({16: 0.75, 8: 0.75, 32: 0.5})
    assert sel.best_latent_dim == 8
    reordered = dict(sorted(signals.items(), reverse=True))
    assert select_latent_dim(reordered).best_latent_dim == 8


def test_best_per_signal_ties_also_go_to_the_smaller_size():
    signals = _rows(
        val_recon_loss={64: 1.0, 32: 1.0, 16: 2.0},
        val_fid={64: 5.0, 32: 4.0, 16: 5.0},
        val_fid_recon={64: 1.0, 32: 2.0, 16: 3.0},
        val_silhouette={64: 0.5, 32: 0.1, 16: 0.5},
    )
    sel = select_latent_dim(signals)
    assert sel.best_per_signal == {
        "val_recon_loss": 32,
        "val_fid": 32,
        "val_fid_recon": 64,
        "val_silhouette": 16,
    }


def test_a_signal_constant_over_sizes_gives_goodness_one_to_all():
    assert goodness({4: 2.5, 8: 2.5, 16: 2.5}, "min") == {4: 1.0, 8: 1.0, 16: 1.0}
    assert goodness({4: 2.5, 8: 2.5}, "max") == {4: 1.0, 8: 1.0}
    signals = _rows(
        val_recon_loss={4: 4.0, 8: 2.0},  # goodness 4: 0, 8: 1
        val_fid=_constant((4, 8), 12.0),
        val_fid_recon=_constant((4, 8), 3.0),
        val_silhouette=_constant((4, 8), 0.4),
    )
    sel = select_latent_dim(signals)
    assert sel.scores == pytest.approx({4: 3 / 4, 8: 4 / 4})
    assert sel.best_latent_dim == 8
    assert sel.best_per_signal["val_fid"] == 4  # every size ties: the smaller one


def test_all_signals_constant_selects_the_smallest_size():
    signals = {size: dict.fromkeys(SIGNALS, 1.5) for size in (32, 8, 16)}
    sel = select_latent_dim(signals)
    assert sel.scores == {32: 1.0, 8: 1.0, 16: 1.0}
    assert sel.best_latent_dim == 8
    assert set(sel.best_per_signal.values()) == {8}


def test_a_single_size_is_selected_with_score_one():
    sel = select_latent_dim(
        {
            12: {
                "val_recon_loss": 80.0,
                "val_fid": 3.0,
                "val_fid_recon": 1.0,
                "val_silhouette": -0.2,
            }
        }
    )
    assert sel.best_latent_dim == 12
    assert sel.scores == {12: 1.0}
    assert sel.best_per_signal == dict.fromkeys(SIGNALS, 12)


def test_extra_test_metrics_do_not_enter_the_rule():
    signals = _rows(
        val_recon_loss={4: 10.0, 8: 6.0, 16: 2.0},
        val_fid={4: 30.0, 8: 10.0, 16: 50.0},
        val_fid_recon={4: 5.0, 8: 4.0, 16: 8.0},
        val_silhouette={4: 0.2, 8: 0.3, 16: 0.1},
    )
    baseline = select_latent_dim(signals)
    # test metrics that would favour 16 on every count
    with_test = {
        size: row
        | {
            "test_recon_loss": 1.0 if size == 16 else 100.0,
            "test_fid": 1.0 if size == 16 else 100.0,
            "test_silhouette": 1.0 if size == 16 else -1.0,
        }
        for size, row in signals.items()
    }
    sel = select_latent_dim(with_test)
    assert sel == baseline
    assert sel.best_latent_dim == 8


def test_empty_input_raises_value_error():
    with pytest.raises(ValueError, match="no completed sizes"):
        select_latent_dim({})


def test_a_signal_not_available_for_any_size_is_left_out():
    # unlabelled data: val_silhouette is NaN for every size; the score is the mean of
    # the other three signals' goodness, not NaN and not a made-up silhouette
    rows = {
        4: {"val_recon_loss": 10.0, "val_fid": 3.0, "val_fid_recon": 2.0},
        8: {"val_recon_loss": 8.0, "val_fid": 5.0, "val_fid_recon": 1.0},
        16: {"val_recon_loss": 7.0, "val_fid": 9.0, "val_fid_recon": 1.5},
    }
    with_nan = {k: v | {"val_silhouette": float("nan")} for k, v in rows.items()}
    three = tuple(s for s in SIGNALS if s != "val_silhouette")
    expected = select_latent_dim(rows, three)
    got = select_latent_dim(with_nan)
    assert got.best_latent_dim == expected.best_latent_dim == 8
    assert got.scores == pytest.approx(expected.scores)
    assert "val_silhouette" not in got.best_per_signal
    with pytest.raises(ValueError, match="none of the signals val_silhouette is available"):
        select_latent_dim(with_nan, ("val_silhouette",))
