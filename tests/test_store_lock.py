"""A new SQLite tracking store opened by several processes at once (benchmark.tracking.store_lock):
every run starts and ends, where MLflow alone crashes in its migrations."""

from __future__ import annotations

import subprocess
import sys
import time

from commands import REPO, subprocess_env
from mlflow.tracking import MlflowClient

from benchmark.tracking.store_lock import sqlite_file

# Each child waits for the same moment, then starts a tracked run on the new store.
CHILD = """
import sys, time
import torch
from benchmark import tracking
from benchmark.config import resolve_config
start = float(sys.argv[1])
cfg = resolve_config("quick", {"dataset": "digits", "seed": sys.argv[2]})
time.sleep(max(0.0, start - time.time()))
with tracking.tracked_run(cfg, "adaptive", torch.device("cpu")):
    tracking.log_metrics({"x": 1.0})
"""


def test_four_runs_start_together_on_a_new_sqlite_store(tmp_path):
    uri = f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}"
    (tmp_path / "new").mkdir()
    start = time.time() + 8  # after every child has imported torch and MLflow
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(start), str(seed)],
            env=subprocess_env(uri, PYTHONPATH=str(REPO)),
            cwd=tmp_path,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in range(4)
    ]
    errors = [child.communicate(timeout=300)[1] for child in children]
    for child, err in zip(children, errors, strict=True):
        assert child.returncode == 0, err[-2000:]
    runs = MlflowClient(uri).search_runs(["0"])
    assert len(runs) == 4
    assert {r.info.status for r in runs} == {"FINISHED"}


def test_only_sqlite_files_are_locked(tmp_path):
    assert sqlite_file(f"sqlite:///{tmp_path}/m.db") == (tmp_path / "m.db").resolve()
    assert sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("postgresql://u@h/db") is None
    assert sqlite_file("http://127.0.0.1:5000") is None
