"""The one fingerprint (benchmark.training.fingerprint): a checkpoint's and a study's
hash the same settings, so a change refuses both a resume and a join, or neither."""

from __future__ import annotations

import pytest

from benchmark.training.fingerprint import (
    NOT_TRAINING,
    settings_fingerprint,
    training_fingerprint,
    training_settings,
)
from benchmark.training.objective import TrainingObjective


class _Other(TrainingObjective):
    name = "other"


# (a change that alters what is trained?) -> both fingerprints follow it
CHANGES = [
    ({"epochs": 4}, True),
    ({"lr": 0.01}, True),
    ({"seed": 2}, True),
    ({"fid_backend": "inception"}, True),
    ({"hidden_dim": 48}, True),
    ({"device": "auto"}, False),
    ({"latent_sizes": "2,4"}, False),
    ({"data_dir": "/elsewhere"}, False),
    ({"baseline_latent_dim": 8}, False),
]


@pytest.mark.parametrize(("change", "trains_otherwise"), CHANGES)
def test_a_checkpoint_and_a_study_agree_on_what_changes_a_training(
    make_cfg, change, trains_otherwise
):
    base, changed = make_cfg(epochs=3), make_cfg(**({"epochs": 3} | change))
    for fingerprint in (
        settings_fingerprint,
        lambda c: training_fingerprint(c, False, 8),
        lambda c: training_fingerprint(c, True, None),
    ):
        assert (fingerprint(changed) != fingerprint(base)) is trains_otherwise, change


def test_the_training_fingerprint_adds_the_size_the_shrinking_and_the_objective(make_cfg):
    cfg = make_cfg(epochs=3)
    fixed = training_fingerprint(cfg, False, 8)
    assert len(fixed) == 16 and len(settings_fingerprint(cfg)) == 12
    assert training_fingerprint(cfg, False, 4) != fixed
    assert training_fingerprint(cfg, True, 8) != fixed
    # an adaptive training has no fixed size: the one it is given does not matter
    assert training_fingerprint(cfg, True, 8) == training_fingerprint(cfg, True, 4)
    assert training_fingerprint(cfg, False, 8, TrainingObjective()) == fixed
    assert training_fingerprint(cfg, False, 8, _Other()) != fixed
    # the study's settings are the training's, without its size and its shrinking
    assert not set(NOT_TRAINING) & set(training_settings(cfg))
    assert settings_fingerprint(make_cfg(epochs=3, adaptive=False)) == settings_fingerprint(cfg)
