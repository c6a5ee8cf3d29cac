"""`mlflow run` with an isolated environment and no conda: MLflow builds the project's
environment from conda.yaml with uv. And conda.yaml pins what pyproject.toml pins."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from commands import REPO, mlflow_run_command, subprocess_env
from mlflow.tracking import MlflowClient


def _requirement_names(specs: list[str]) -> dict[str, str]:
    out = {}
    for spec in specs:
        m = re.match(r"([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)", spec)
        out[m.group(1).lower().replace("_", "-")] = m.group(3).replace(" ", "")
    return out


def test_conda_yaml_pins_the_same_versions_as_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    conda = yaml.safe_load((REPO / "conda.yaml").read_text())
    (pip,) = [d["pip"] for d in conda["dependencies"] if isinstance(d, dict)]
    ours = _requirement_names(project["dependencies"])
    theirs = _requirement_names([p for p in pip if not p.startswith("-e")])
    missing = set(ours) - set(theirs)
    assert not missing, missing
    for name, spec in ours.items():
        assert theirs[name] == spec, (name, spec, theirs[name])
    python = [d for d in conda["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert python == ["python=3.11"] and project["requires-python"] == ">=3.11,<3.12"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is in the test extra")
def test_mlflow_run_with_env_manager_uv_builds_the_environment_and_trains(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = subprocess_env(uri, MLFLOW_ENV_ROOT=str(tmp_path / "envs"))
    # where pip's own configuration points at local wheels and constraints, uv needs them
    # spelt out (it does not read pip's configuration)
    if os.environ.get("PIP_FIND_LINKS"):
        env.setdefault("UV_FIND_LINKS", os.environ["PIP_FIND_LINKS"])
    if Path("/etc/xdg/pip/constraints.txt").is_file():
        env.setdefault("UV_CONSTRAINT", "/etc/xdg/pip/constraints.txt")
    cmd = mlflow_run_command("adaptive", "uv", {"dataset": "digits", "epochs": "2"})
    cmd[cmd.index("local")] = "uv"
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "using uv" in proc.stderr
    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("uv").experiment_id])
    assert run.info.status == "FINISHED"
    assert len(client.get_metric_history(run.info.run_id, "latent_dim")) == 2
