"""What each signal sent through `mlflow run` leaves behind, and whether it resumes.

    python scripts/signal_table.py                       # every case, digits, 8 epochs
    python scripts/signal_table.py --epochs 8 --stop-after 2 --out /tmp/signals

Per case, in a fresh folder with its own SQLite store: start `mlflow run . -e adaptive
--env-manager local` on `digits` in its own process group (as a terminal starts a
command line), wait until the run has logged ``--stop-after`` epochs, send the signal to
the whole group (what Ctrl-C in a terminal, or a scheduler stopping a job, sends) or to
the entry point's process alone (`kill -INT PID`), wait for the CLI to exit and for the
run's status to settle (the entry point leaves a guard that puts KILLED back after
MLflow's CLI overwrites it FAILED, seconds later), then run the same command with
``-P resume_run_id=<run>`` and read the run again. Prints a Markdown table: the stopped
run's final status, its epochs then, the resumed run's final status, its epochs (every
epoch's step present) and its final latent size.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the end-to-end tests' command lines and environment
from commands import mlflow_run_command, subprocess_env  # noqa: E402

# (signal, to the whole process group?)
CASES = (
    (signal.SIGINT, True),
    (signal.SIGINT, False),
    (signal.SIGTERM, True),
    (signal.SIGTERM, False),
)
# How long the stopped run's status may take to settle: the guard waits for MLflow's CLI
# to exit, imports MLflow and writes (about 12 s measured on a loaded 2-core machine).
SETTLE_S = 90.0


def _entry_point(cli_pid: int) -> int:
    """The pid of the entry point `mlflow run` started (``python -m pipelines.adaptive``)."""
    import psutil

    for child in psutil.Process(cli_pid).children(recursive=True):
        try:
            if "pipelines.adaptive" in " ".join(child.cmdline()):
                return child.pid
        except psutil.Error:
            continue
    raise RuntimeError("the entry point's process was not found")


def _epochs(client, run_id: str) -> list[int]:  # noqa: ANN001 - an MlflowClient
    return sorted({m.step for m in client.get_metric_history(run_id, "latent_dim")})


def _wait_for_epochs(client, cli: subprocess.Popen, n: int) -> str:  # noqa: ANN001
    """The run's id once it has logged ``n`` epochs (the default experiment's only run)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and cli.poll() is None:
        runs = client.search_runs(["0"])
        if runs and len(_epochs(client, runs[0].info.run_id)) >= n:
            return runs[0].info.run_id
        time.sleep(0.2)
    raise RuntimeError(f"no run reached epoch {n}: {cli.communicate()[1][-2000:]}")


def _settled(client, run_id: str) -> str:  # noqa: ANN001
    """The run's status once it is not FAILED (the CLI's overwrite undone) or after SETTLE_S."""
    deadline = time.monotonic() + SETTLE_S
    status = client.get_run(run_id).info.status
    while status in ("FAILED", "RUNNING") and time.monotonic() < deadline:
        time.sleep(0.5)
        status = client.get_run(run_id).info.status
    return status


def measure(
    sig: signal.Signals, to_group: bool, work: Path, params: dict[str, str], stop_after: int
) -> dict[str, str]:
    """One case, in the fresh folder ``work``: the row of the table."""
    from mlflow.tracking import MlflowClient

    work.mkdir(parents=True)
    uri = f"sqlite:///{work / 'mlflow.db'}"
    env = subprocess_env(uri)
    client = MlflowClient(uri)
    command = mlflow_run_command("adaptive", "Default", params)
    cli = subprocess.Popen(command, env=env, cwd=work, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    run_id = _wait_for_epochs(client, cli, stop_after)
    if to_group:
        os.killpg(cli.pid, sig)
    else:
        os.kill(_entry_point(cli.pid), sig)
    cli.communicate(timeout=300)
    stopped = _settled(client, run_id)
    stopped_epochs = len(_epochs(client, run_id))
    command = mlflow_run_command("adaptive", "Default", params | {"resume_run_id": run_id})
    again = subprocess.run(command, env=env, cwd=work, capture_output=True, text=True,
                           timeout=1200)  # fmt: skip
    resumed = client.get_run(run_id)
    epochs = _epochs(client, run_id)
    every = epochs == list(range(1, int(params["epochs"]) + 1))
    size = resumed.data.metrics.get("final_latent_dim")
    return {
        "signal": sig.name,
        "sent to": ("process group" + (" (Ctrl-C)" if sig == signal.SIGINT else ""))
        if to_group
        else "entry point alone",
        "stopped run": f"{stopped} (CLI exit {cli.returncode})",
        "epochs at stop": str(stopped_epochs),
        "resumed run": f"{resumed.info.status} (exit {again.returncode})",
        "epochs": f"{len(epochs)}/{params['epochs']}" + ("" if every else " (steps missing)"),
        "final latent size": "none" if size is None else str(int(size)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--stop-after", type=int, default=2, help="epochs logged before the signal")
    parser.add_argument("--seed", default="3")
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for the stores (default: a temporary one)"
    )
    args = parser.parse_args()
    params = {"dataset": "digits", "epochs": str(args.epochs), "seed": args.seed,
              "device": "cpu", "fid_samples": "100"}  # fmt: skip
    out = args.out or Path(tempfile.mkdtemp(prefix="signal_table_"))
    # checkpoints and the domain extractor's cache of every case in the same scratch folder
    os.environ.setdefault("ALD_BENCHMARK_CHECKPOINTS", str(out / "checkpoints"))
    rows = []
    for i, (sig, to_group) in enumerate(CASES):
        rows.append(measure(sig, to_group, out / f"case{i}", params, args.stop_after))
        print(f"measured {rows[-1]['signal']} to the {rows[-1]['sent to']}", file=sys.stderr)
    header = list(rows[0])
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row[h] for h in header) + " |")


if __name__ == "__main__":
    main()
