"""The status a stopped run keeps under `mlflow run`.

MLflow's CLI (3.x) sets the run it created for an entry point FAILED when the command
exits non-zero, even when the project already ended that run: its check of whether the
run is still running compares the stored status (a string, ``"KILLED"``) with integer
codes, so it always finds it running (``mlflow.projects._maybe_set_run_terminated``).
A run the project ended KILLED after Ctrl-C or SIGTERM would so end FAILED.

So, after a stop by a signal, the entry point leaves a small guard behind: a process
of its own session (a signal to the terminal's process group does not reach it) that
waits for the CLI to exit, then puts back KILLED and the project's end time on the run
if the CLI overwrote them. Nothing else is touched: a run that someone else ended
otherwise (a later resume, a user's edit) keeps what they wrote.

The same guard purges a run that the project refused because a parameter held a
password (``benchmark.tracking.runs.discard_run``): the CLI reads the run again after
the entry point's exit, so it may vanish only once the CLI is gone.

    python -m benchmark.tracking.cli_status RUN_ID CLI_PID END_TIME_MS
    python -m benchmark.tracking.cli_status purge RUN_ID CLI_PID
"""

from __future__ import annotations

import os
import subprocess
import sys

# How long the guard waits for the CLI to exit (it exits right after its write).
WAIT_S = 120.0
# The tag the project writes on a run a signal stopped (benchmark.tracking.tags).
INTERRUPTED_PREFIX = "interrupted by "


def mlflow_cli_pid() -> int | None:
    """The pid of the `mlflow run` process this entry point runs under, if any: the
    nearest ancestor whose command line is MLflow's CLI."""
    import psutil

    process = psutil.Process().parent()
    while process is not None and process.pid > 1:
        try:
            line = process.cmdline()
        except psutil.Error:
            return None
        # `mlflow run ...` or `python -m mlflow run ...`
        if any(os.path.basename(a).startswith("mlflow") for a in line[:3]) and "run" in line:
            return process.pid
        process = process.parent()
    return None


def leave_guard(run_id: str) -> bool:
    """Start the guard for ``run_id`` (the run `mlflow run` created, ended KILLED by
    this process) when this entry point runs under `mlflow run`; whether one was
    started."""
    from mlflow.tracking import MlflowClient

    cli = mlflow_cli_pid()
    if cli is None:
        return False
    info = MlflowClient().get_run(run_id).info
    if info.status != "KILLED" or info.end_time is None:
        return False
    _start_guard([run_id, str(cli), str(info.end_time)])
    return True


def leave_purge_guard(run_id: str) -> bool:
    """Start the guard that purges ``run_id`` once `mlflow run` has exited, when this
    entry point runs under it; whether one was started (else purge at once)."""
    cli = mlflow_cli_pid()
    if cli is None:
        return False
    _start_guard(["purge", run_id, str(cli)])
    return True


def _start_guard(args: list[str]) -> None:
    subprocess.Popen(
        [sys.executable, "-m", __name__, *args],
        start_new_session=True,  # out of the terminal's process group
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )


def restore_killed(run_id: str, end_time_ms: int) -> bool:
    """Put KILLED and ``end_time_ms`` back on ``run_id`` if it is FAILED with the
    project's tag of a stop by a signal; whether it did."""
    from mlflow.tracking import MlflowClient

    from benchmark.tracking.tags import FAILURE_TAG

    client = MlflowClient()
    run = client.get_run(run_id)
    reason = run.data.tags.get(FAILURE_TAG, "")
    if run.info.status != "FAILED" or not reason.startswith(INTERRUPTED_PREFIX):
        return False
    client.set_terminated(run_id, "KILLED", end_time=end_time_ms)
    return True


def _wait_for_exit(pid: int) -> bool:
    """Whether process ``pid`` is gone (at once, or within :data:`WAIT_S`)."""
    import psutil

    try:
        psutil.Process(pid).wait(timeout=WAIT_S)
    except psutil.NoSuchProcess:
        pass
    except psutil.TimeoutExpired:
        return False
    return True


def main(argv: list[str]) -> int:
    """The guard: wait for the CLI's exit, then :func:`restore_killed`, or with
    ``purge`` first, purge the run (``benchmark.tracking.purge.purge_run``)."""
    if argv[0] == "purge":
        run_id, cli = argv[1], int(argv[2])
        if not _wait_for_exit(cli):
            return 1
        from benchmark.tracking.purge import purge_run

        purge_run(run_id)
        return 0
    run_id, cli, end_time = argv[0], int(argv[1]), int(argv[2])
    if not _wait_for_exit(cli):
        return 1
    restore_killed(run_id, end_time)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
