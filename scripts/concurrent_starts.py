"""How many of N `mlflow run` started at the same moment finish, per kind of store.

    python scripts/concurrent_starts.py            # 4 runs per case, every case
    python scripts/concurrent_starts.py --runs 4 --cases fresh-sqlite,server

Each run is `mlflow run . -e adaptive --env-manager local` on `digits` for 2 epochs. A
run counts as finished when it is FINISHED with every epoch's `latent_dim` step. Cases:
``fresh-sqlite`` (a new SQLite file), ``sqlite-new-experiment`` (an initialised SQLite
store, the experiment named by ``--experiment-name`` new), ``sqlite-experiment-first``
(the same after ``mlflow experiments create``), ``server`` (a local ``mlflow server``
on a new SQLite backend, a new experiment), ``server-experiment-first``. Prints a
Markdown table; the failures' last lines go to stderr.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 2
CASES = (
    "fresh-sqlite",
    "sqlite-new-experiment",
    "sqlite-experiment-first",
    "server",
    "server-experiment-first",
)


def _env(uri: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env |= {"MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true"}
    return env


def _mlflow(*args: str) -> list[str]:
    return [sys.executable, "-m", "mlflow", *args]


def _start_server(backend: str, work: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (work / "server.log").open("w")
    cmd = _mlflow("server", "--backend-store-uri", backend, "--artifacts-destination",
                  str(work / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
                  "--workers", "1")  # fmt: skip
    proc = subprocess.Popen(cmd, env=_env(backend), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=5):
                return proc, uri
        except OSError:
            time.sleep(1)
    raise RuntimeError("mlflow server did not start")


def _finished(uri: str, experiment: str) -> int:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return 0
    done = 0
    for run in client.search_runs([exp.experiment_id]):
        steps = {m.step for m in client.get_metric_history(run.info.run_id, "latent_dim")}
        done += run.info.status == "FINISHED" and steps == set(range(1, EPOCHS + 1))
    return done


def run_case(case: str, n: int, work: Path) -> tuple[int, float]:
    """Start ``n`` runs at once in ``case``; (how many finished, seconds to the last exit)."""
    work.mkdir(parents=True)
    backend = f"sqlite:///{work / 'mlflow.db'}"
    server = None
    uri = backend
    experiment = "concurrent"
    if case.startswith("server"):
        server, uri = _start_server(backend, work)
    elif case != "fresh-sqlite":  # an initialised store: its tables exist
        subprocess.run(_mlflow("experiments", "search"), env=_env(uri), check=True,
                       capture_output=True)  # fmt: skip
    if case.endswith("experiment-first"):
        subprocess.run(_mlflow("experiments", "create", "-n", experiment), env=_env(uri),
                       check=True, capture_output=True)  # fmt: skip
    cmd = _mlflow("run", str(ROOT), "-e", "adaptive", "--env-manager", "local",
                  "--experiment-name", experiment, "-P", "dataset=digits",
                  "-P", f"epochs={EPOCHS}", "-P", "device=cpu")  # fmt: skip
    start = time.monotonic()
    try:
        procs = [
            subprocess.Popen(
                cmd,
                cwd=work,
                env=_env(uri),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for _ in range(n)
        ]
        for p in procs:
            _, err = p.communicate(timeout=900)
            if p.returncode != 0:
                last = [line for line in err.splitlines() if line.strip()][-1:]
                print(f"{case}: exit {p.returncode}: {last}", file=sys.stderr)
        took = time.monotonic() - start
        return _finished(uri, experiment), took
    finally:
        if server is not None:
            os.killpg(server.pid, 15)
            server.wait(timeout=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        print(f"unknown case {unknown[0]!r}; allowed: {', '.join(CASES)}", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            print(f"{case}: {args.runs} runs at once ...", file=sys.stderr, flush=True)
            done, took = run_case(case, args.runs, Path(tmp) / case)
            rows.append(f"| {case} | {done} of {args.runs} | {took:.0f} s |")
    print("| store | finished | time to the last exit |\n| --- | --- | --- |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
