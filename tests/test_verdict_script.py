"""scripts/verdict.py end to end on a tiny protocol: a step is run, exported, and
skipped when the same command runs again (the verdict continues from what it holds)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from commands import REPO, subprocess_env

TINY = [
    "--dataset", "digits", "--preset", "quick", "--phases", "core", "--seeds", "1",
    "--methods", "grid", "--set", "epochs=1", "--set", "latent_sizes=2,4", "--no-report",
    "--tag", "tiny", "--workers", "2",
]  # fmt: skip


@pytest.mark.slow
def test_verdict_runs_a_step_exports_it_and_skips_it_the_second_time(tmp_path):
    cmd = [sys.executable, str(REPO / "scripts" / "verdict.py"), *TINY]
    cmd += ["--work", str(tmp_path / "work"), "--results", str(tmp_path / "results")]
    env = subprocess_env(f"sqlite:///{tmp_path / 'unused.db'}")
    env.pop("MLFLOW_TRACKING_URI")  # the verdict's own store, under --work
    first = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    export = tmp_path / "results" / "verdict-digits-quick-tiny" / "seed1.jsonl"
    rows = [json.loads(line) for line in export.read_text().splitlines()]
    studies = {r["tags"].get("benchmark.study_name") for r in rows} - {None}
    assert studies == {"digits-quick-seed1-grid"}  # the verdict's stable name
    sizes = sorted(
        int(r["params"]["fixed_latent_dim"]) for r in rows if "fixed_latent_dim" in r["params"]
    )
    assert sizes == [2, 4]
    second = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "seed 1: grid done (digits-quick-seed1-grid)" in second.stdout
    assert export.read_text().count("\n") == len(rows)  # nothing trained or added again
