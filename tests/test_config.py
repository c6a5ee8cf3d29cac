"""Presets, overrides and one-line ConfigErrors of benchmark.config."""

from __future__ import annotations

import dataclasses
from importlib import resources

import pytest
import yaml

from benchmark.config import (
    DATASETS,
    DEVICES,
    FID_BACKENDS,
    PRUNE_ORDERS,
    RunConfig,
    available_presets,
    load_preset,
    parse_int_list,
    resolve_config,
)
from benchmark.errors import BenchmarkError, ConfigError


def _error(preset: str = "quick", **overrides) -> str:
    with pytest.raises(ConfigError) as info:
        resolve_config(preset, overrides)
    message = str(info.value)
    assert message, "a ConfigError must say what is wrong"
    assert "\n" not in message and "\r" not in message, f"not one line: {message!r}"
    return message


# --- presets -------------------------------------------------------------------------------


def test_both_presets_are_shipped():
    assert {"quick", "paper"} <= set(available_presets())


@pytest.mark.parametrize("preset", ["quick", "paper"])
def test_preset_values_are_applied(preset):
    raw = yaml.safe_load((resources.files("benchmark.presets") / f"{preset}.yaml").read_text())
    cfg = resolve_config(preset)
    assert cfg.preset == preset
    assert raw, "preset file is empty"
    for key, value in raw.items():
        assert getattr(cfg, key) == value, key


def test_paper_preset_is_the_published_schedule():
    # docs/method.md: n_z 64, 200 epochs, Adam amsgrad lr 1e-3, batch 64, patience 5,
    # coarse 5, fine 1, switch window 20, slopes over 19 evaluations, FID on 100 images,
    # silhouette on 1,000.
    cfg = resolve_config("paper")
    assert (cfg.initial_latent_dim, cfg.epochs, cfg.batch_size) == (64, 200, 64)
    assert cfg.amsgrad is True and cfg.lr == pytest.approx(1e-3)
    assert (cfg.patience, cfg.coarse_step, cfg.fine_step) == (5, 5, 1)
    assert (cfg.switch_window, cfg.slope_window) == (20, 19)
    assert (cfg.fid_samples, cfg.silhouette_samples) == (100, 1000)
    assert cfg.posterior == "logvar" and cfg.prune_order == "last"


def test_quick_preset_differs_from_paper():
    quick, paper = resolve_config("quick"), resolve_config("paper")
    assert quick.epochs < paper.epochs
    # quick's FID sample count is measured (docs/methods.md, "Choosing fid_samples"); paper's is
    # the published one
    assert (quick.fid_samples, paper.fid_samples) == (500, 100)
    assert quick.patience < paper.patience
    # the windows scale with the decision interval: each covers as many decisions
    assert quick.switch_window * paper.patience == paper.switch_window * quick.patience
    for cfg in (quick, paper):
        assert cfg.slope_window == cfg.switch_window - 1  # the evaluations before this one


def test_load_preset_returns_only_known_keys():
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    for name in available_presets():
        assert set(load_preset(name)) <= fields


# --- overrides -----------------------------------------------------------------------------


def test_explicit_overrides_win_and_are_coerced():
    cfg = resolve_config(
        "paper",
        {
            "epochs": "7",
            "lr": "0.01",
            "adaptive": "false",
            "latent_sizes": "2, 3,5",
            "patience": 2,
            "prune_order": "kl",
            "dataset": "digits",
        },
    )
    assert cfg.epochs == 7 and isinstance(cfg.epochs, int)
    assert cfg.lr == pytest.approx(0.01) and isinstance(cfg.lr, float)
    assert cfg.adaptive is False
    assert cfg.latent_sizes == [2, 3, 5]
    assert cfg.patience == 2
    assert cfg.prune_order == "kl"
    assert cfg.dataset == "digits"
    # untouched values still come from the preset
    assert cfg.switch_window == load_preset("paper")["switch_window"]


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_empty_override_means_preset_value(blank):
    preset = load_preset("quick")
    cfg = resolve_config(
        "quick", {"epochs": blank, "patience": blank, "latent_sizes": blank, "lr": blank}
    )
    assert cfg.epochs == preset["epochs"]
    assert cfg.patience == preset["patience"]
    assert cfg.latent_sizes == preset["latent_sizes"]
    assert cfg.lr == pytest.approx(preset["lr"])


def test_empty_override_of_a_key_not_in_the_preset_keeps_the_default():
    assert resolve_config("quick", {"dataset": ""}).dataset == RunConfig().dataset


def test_integer_written_as_float_is_accepted_but_fraction_is_not():
    assert resolve_config("quick", {"epochs": "3.0"}).epochs == 3
    message = _error(epochs="2.5")
    assert "epochs" in message


def test_bad_boolean_names_allowed_values():
    message = _error(adaptive="maybe")
    assert "true" in message and "false" in message


def test_to_params_is_flat_strings():
    params = resolve_config("quick", {"latent_sizes": "4,8"}).to_params()
    assert params["latent_sizes"] == "4,8"
    assert all(isinstance(v, str) for v in params.values())
    assert set(params) == {f.name for f in dataclasses.fields(RunConfig)}


# --- one-line errors naming the allowed values ----------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("dataset", "cifar10", DATASETS),
        ("prune_order", "random", PRUNE_ORDERS),
        ("device", "tpu", DEVICES),
        ("fid_backend", "kid", FID_BACKENDS),
    ],
)
def test_unknown_choice_names_allowed_values(key, value, allowed):
    message = _error(**{key: value})
    assert value in message
    for name in allowed:
        assert name in message, f"{name!r} missing from {message!r}"


def test_unknown_preset_names_allowed_presets():
    message = _error(preset="nonexistent")
    assert "nonexistent" in message
    for name in available_presets():
        assert name in message


def test_unknown_parameter_names_allowed_parameters():
    message = _error(latent_dims="8")
    assert "latent_dims" in message
    for name in ("epochs", "initial_latent_dim", "prune_order", "fid_backend"):
        assert name in message


def test_preset_cannot_be_overridden_as_a_parameter():
    with pytest.raises(ConfigError) as info:
        resolve_config("quick", {"preset": "paper"})
    assert "'preset'" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("epochs", [0, -3, "0"])
def test_non_positive_epochs_rejected(epochs):
    assert "epochs" in _error(epochs=epochs)


def test_one_epoch_is_enough():
    assert resolve_config("quick", {"epochs": 1}).epochs == 1


@pytest.mark.parametrize("size", [1, 0, -5])
def test_initial_latent_dim_below_two_rejected(size):
    assert "initial_latent_dim" in _error(initial_latent_dim=size)


def test_initial_latent_dim_two_accepted():
    assert resolve_config("quick", {"initial_latent_dim": 2}).initial_latent_dim == 2


@pytest.mark.parametrize("text", ["4,,x", "0,4", "4,4", "4,8,", "a", "", "-4,8"])
def test_malformed_latent_sizes_rejected(text):
    with pytest.raises(ConfigError) as info:
        parse_int_list(text)
    assert "\n" not in str(info.value)
    if text.strip():  # an empty override means "preset"; only check the parser
        assert "latent_sizes" in _error(latent_sizes=text)


def test_parse_int_list_valid():
    assert parse_int_list(" 4, 8 ,16") == [4, 8, 16]


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_missing_data_dir_rejected_for_file_backed_datasets(tmp_path, dataset):
    missing = tmp_path / "nowhere"
    message = _error(dataset=dataset, data_dir=str(missing))
    assert str(missing) in message
    assert "data_dir" in _error(dataset=dataset)  # not set at all


def test_data_dir_that_is_a_file_is_rejected(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    _error(dataset="mnist", data_dir=str(a_file))


def test_existing_data_dir_accepted(tmp_path):
    cfg = resolve_config("quick", {"dataset": "mnist", "data_dir": str(tmp_path)})
    assert cfg.data_dir == str(tmp_path)


@pytest.mark.parametrize(
    "overrides",
    [
        {"switch_window": 7},
        {"switch_window": 0},
        {"slope_window": 1},
        {"patience": 0},
        {"coarse_step": 0},
        {"lr": 0},
        {"lr": "nan"},
        {"val_fraction": 0.5},
        {"fid_samples": 1},
        {"batch_size": 0},
        {"posterior": "gaussian"},
    ],
)
def test_out_of_range_values_rejected(overrides):
    _error(**overrides)


def test_config_error_is_a_benchmark_error():
    assert issubclass(ConfigError, BenchmarkError)


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_seed_outside_numpy_range_rejected(seed):
    _error(seed=seed, dataset="digits")
