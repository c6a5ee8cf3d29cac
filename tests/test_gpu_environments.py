"""The GPU environments install NVML, and the GPU check's setup and budget hold on a
machine without a GPU: conda.yaml and scripts/gpu_check.sh bring nvidia-ml-py (the
`gpu` extra; docker/Dockerfile.cuda is checked in tests/test_docker_files.py), the dry
run needs no NVML, a missing module is named, and a budget too small for a step records
it as not run instead of skipping it in silence."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "gpu_check.sh"


def _gpu_extra() -> list[str]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    return pyproject["project"]["optional-dependencies"]["gpu"]


def test_conda_yaml_installs_the_gpu_extras_nvml():
    """`mlflow run .` with conda gets NVML at the gpu extra's pin: without it no CUDA
    run logs gpu_time_s."""
    conda = yaml.safe_load((REPO / "conda.yaml").read_text())
    (pip,) = [d["pip"] for d in conda["dependencies"] if isinstance(d, dict)]
    (nvml,) = [d for d in _gpu_extra() if d.startswith("nvidia-ml-py")]
    assert nvml in pip


def test_the_gpu_check_installs_the_test_and_gpu_extras():
    """The setup step's install (a command, not a comment) has the gpu extra, and on a
    GPU the import check asks for pynvml, so a machine without it is set up."""
    commands = [
        line.strip()
        for line in SCRIPT.read_text().splitlines()
        if not line.lstrip().startswith("#")
    ]
    # the commands that install (the messages that name an install are not)
    installs = [line for line in commands if line.startswith('"$PY" -m pip install')]
    assert installs and all('-e ".[test,gpu]"' in line for line in installs), installs
    assert any(re.search(r"not_importable pynvml", line) for line in commands)


def _shadow(folder: Path, *modules: str) -> dict[str, str]:
    """An environment whose Python fails to import ``modules`` (packages on PYTHONPATH
    that raise ImportError), with TMPDIR in ``folder`` to see what the script leaves."""
    shadow = folder / "shadow"
    for name in modules:
        (shadow / name).mkdir(parents=True)
        (shadow / name / "__init__.py").write_text(f"raise ImportError('no {name} here')\n")
    tmp = folder / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("ALD_BENCHMARK_CACHE", "OUT")}
    return env | {
        "PYTHONPATH": str(shadow),
        "PYTHON": sys.executable,
        "TMPDIR": str(tmp),
        "SKIP_SETUP": "1",
        "OUT": str(folder / "out"),
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }


def _check(env: dict[str, str], **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT)],
        env=env | extra,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_module_that_does_not_import_is_named_and_nothing_is_left(tmp_path):
    """SKIP_SETUP=1 with a module missing stops at step 1 naming that module (it blamed
    PYTHONPATH), and the temporary data and cache folders are removed on that exit."""
    env = _shadow(tmp_path, "sklearn")
    proc = _check(env, DRY_RUN="1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "cannot import: sklearn (ImportError: no sklearn here)" in proc.stderr
    assert "PYTHONPATH" not in proc.stderr
    assert list((tmp_path / "tmp").iterdir()) == []


def test_the_dry_run_needs_no_nvml_and_records_steps_the_budget_leaves_out(tmp_path):
    """Without pynvml the dry run goes past its setup (it stopped there); a budget too
    small for steps 2-6 records each as "not run: budget" in the results file, the
    check exits 3 (incomplete, not failed), and its temporary folders are gone."""
    env = _shadow(tmp_path, "pynvml")
    proc = _check(env, DRY_RUN="1", GPU_CHECK_BUDGET_S="1")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    results = (tmp_path / "out" / "gpu_check.md").read_text()
    assert re.search(r"\| 1\. setup \| passed \(without NVML\) \|", results), results
    for step in range(2, 7):
        assert re.search(rf"\| {step}\. [^|]+ \| not run: budget \(", results), results
    assert list((tmp_path / "tmp").iterdir()) == []
