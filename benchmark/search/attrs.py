"""Where a study keeps what this project records in it.

Optuna's CLI (``optuna studies``) and optuna-dashboard print a study's *user* attributes
in full, so those hold only what a person reads there: the project's selection
(``selected_latent_dim``) and what the trial value is (:data:`VALUE_NOTE`). What the
processes of a search need from one another (the search space, the config and its
fingerprint, the parent run, heartbeat settings, workers' beats) are *system*
attributes under the prefix ``benchmark:``, through Optuna's storage API.

Studies made by earlier versions kept all of it as user attributes; reading merges
both, the system attributes winning, so that such a study still resumes and joins."""

from __future__ import annotations

from typing import Any

import optuna

PREFIX = "benchmark:"
# The study user attribute that says what Optuna's trial value and "best" are: the
# pruner and Optuna need one scalar per trial, the project selects on four signals.
VALUE_NOTE_ATTR = "value"
VALUE_NOTE = "val_fid; Optuna's best = lowest val_fid, not the selection"
SELECTED_ATTR = "selected_latent_dim"


def _merged(user: dict[str, Any], system: dict[str, Any]) -> dict[str, Any]:
    ours = {k[len(PREFIX) :]: v for k, v in system.items() if k.startswith(PREFIX)}
    return dict(user) | ours


def stored_attrs(storage: optuna.storages.BaseStorage, study_id: int) -> dict[str, Any]:
    """What the project recorded in study ``study_id`` (without the prefix)."""
    return _merged(storage.get_study_user_attrs(study_id), storage.get_study_system_attrs(study_id))


def study_attrs(study: optuna.Study) -> dict[str, Any]:
    """What the project recorded in ``study`` (one read of each attribute table)."""
    return stored_attrs(study._storage, study._study_id)


def set_study_attr(study: optuna.Study, key: str, value: Any) -> None:
    """Record ``key`` for the processes of the search (a system attribute)."""
    study._storage.set_study_system_attr(study._study_id, PREFIX + key, value)


def attrs_by_name(storage: optuna.storages.BaseStorage, name: str) -> dict[str, Any] | None:
    """What the project recorded in study ``name``, or None when the storage has no such
    study (one study's rows only: the storage may hold many studies with many trials)."""
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return None
    return stored_attrs(storage, study_id)
