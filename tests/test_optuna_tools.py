"""Optuna's own tools on a study of this project: `optuna studies` prints short rows
that say what the trial value is and which size the project selected, and
optuna-dashboard (the `dashboard` extra) serves the study."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import create_trial

from benchmark.search.attrs import SELECTED_ATTR, VALUE_NOTE, VALUE_NOTE_ATTR
from benchmark.search.spec import PARAM, SearchSpec
from benchmark.search.study import create_or_resume_study, record_parent, record_selection

# the limit: a row of `optuna studies` a terminal can show
MAX_ROW_CHARS = 200


def _searched_study(tmp_path: Path, make_cfg) -> tuple[optuna.Study, SearchSpec]:
    """A study as a finished search leaves it: parent recorded, two
    trials (val_fid lowest at 2) and the project's selection (4)."""
    spec = SearchSpec(
        latent_sizes=[2, 4],
        storage=f"sqlite:///{tmp_path / 'optuna.db'}",
        study_name="digits-quick-seed1-grid",
    ).validate()
    cfg = make_cfg(epochs=2)
    study = create_or_resume_study(spec, cfg)
    record_parent(study, cfg, spec, "a" * 32, "1", "sqlite:///mlflow.db")
    for size, fid in ((2, 1.0), (4, 2.0)):
        study.add_trial(
            create_trial(
                params={PARAM: size},
                distributions={PARAM: CategoricalDistribution([2, 4])},
                value=fid,
            )
        )
    record_selection(study, 4)
    return study, spec


def test_optuna_studies_rows_are_short_and_say_what_best_is(tmp_path, make_cfg):
    study, spec = _searched_study(tmp_path, make_cfg)
    assert study.best_trial.params[PARAM] == 2  # Optuna's best: the lowest val_fid
    assert study.user_attrs == {VALUE_NOTE_ATTR: VALUE_NOTE, SELECTED_ATTR: 4}
    optuna_cli = Path(sys.executable).with_name("optuna")
    out = subprocess.run(
        [str(optuna_cli), "studies", "--storage", spec.storage],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line for line in out.splitlines() if line.strip()]
    assert any(spec.study_name in row for row in rows), out
    assert max(len(row) for row in rows) < MAX_ROW_CHARS, out
    assert "selected_latent_dim': 4" in out and "val_fid" in out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str, deadline: float, proc: subprocess.Popen) -> dict:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(f"optuna-dashboard exited: {proc.stderr.read()}") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_optuna_dashboard_serves_the_study(tmp_path, make_cfg):
    dashboard = shutil.which("optuna-dashboard", path=str(Path(sys.executable).parent))
    if dashboard is None:
        pytest.fail('optuna-dashboard is missing: pip install -e ".[test]" (or ".[dashboard]")')
    study, spec = _searched_study(tmp_path, make_cfg)
    port = _free_port()
    proc = subprocess.Popen(
        [dashboard, spec.storage, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        listing = _get_json(f"http://127.0.0.1:{port}/api/studies", deadline, proc)
        (summary,) = listing["study_summaries"]
        assert summary["study_name"] == spec.study_name
        detail = _get_json(
            f"http://127.0.0.1:{port}/api/studies/{summary['study_id']}", deadline, proc
        )
        assert len(detail["trials"]) == 2
        assert detail["objective_names"] == ["val_fid"]
        shown = {a["key"]: a["value"] for a in detail["user_attrs"]}
        assert shown[SELECTED_ATTR] == "4"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
