"""What a signal does to a run, measured: an `adaptive` run on digits is stopped by
SIGINT, SIGTERM and SIGKILL after its second epoch, then continued with
``--resume_run_id``; prints one Markdown row per signal (exit code, the run's status
after the signal, the final size after resuming) beside an uninterrupted run's.

    python scripts/signal_check.py [--epochs 10]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

from mlflow.tracking import MlflowClient


def _command(epochs: int, resume: str = "") -> list[str]:
    cmd = [sys.executable, "-m", "pipelines.adaptive", "--dataset", "digits", "--seed", "3"]
    cmd += ["--epochs", str(epochs), "--device", "cpu", "--fid_samples", "100"]
    return cmd + (["--resume_run_id", resume] if resume else [])


def _env(folder: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_EXPERIMENT")}
    env.pop("MLFLOW_RUN_ID", None)
    return env | {
        "MLFLOW_TRACKING_URI": f"sqlite:///{folder}/mlflow.db",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "ALD_BENCHMARK_CHECKPOINTS": f"{folder}/checkpoints",
    }


def _final_size(folder: str) -> int:
    (run,) = MlflowClient(f"sqlite:///{folder}/mlflow.db").search_runs(["0"])
    return int(run.data.metrics["final_latent_dim"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as whole:
        subprocess.run(
            _command(args.epochs), env=_env(whole), cwd=whole, check=True, capture_output=True
        )
        expected = _final_size(whole)
    print("| signal | exit | run status after | resumed final size | uninterrupted |")
    print("|---|---|---|---|---|")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        with tempfile.TemporaryDirectory() as folder:
            client = MlflowClient(f"sqlite:///{folder}/mlflow.db")
            proc = subprocess.Popen(
                _command(args.epochs),
                env=_env(folder),
                cwd=folder,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            run_id = ""
            while proc.poll() is None:
                runs = client.search_runs(["0"]) if os.path.exists(f"{folder}/mlflow.db") else []
                if runs and len(client.get_metric_history(runs[0].info.run_id, "latent_dim")) >= 2:
                    run_id = runs[0].info.run_id
                    break
                time.sleep(0.2)
            proc.send_signal(sig)
            proc.communicate(timeout=120)
            status = client.get_run(run_id).info.status
            subprocess.run(
                _command(args.epochs, run_id),
                env=_env(folder),
                cwd=folder,
                check=True,
                capture_output=True,
            )
            print(
                f"| {signal.Signals(sig).name} | {proc.returncode} | {status} | "
                f"{_final_size(folder)} | {expected} |"
            )


if __name__ == "__main__":
    main()
