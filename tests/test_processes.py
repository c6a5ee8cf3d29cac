"""Worker processes fork from a server that has imported what they run: what they take
from the process that asks for them, and the entry points that start that server
before their own imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from benchmark.search import fork_server as processes
from pipelines import cli, gridsearch
from pipelines import worker as worker_entry


def _report(path: str, message: str) -> None:
    """A worker's main for the test: what it got from the process that started it."""
    with open(path, "w") as f:
        json.dump({"env": os.environ.get("PROCESSES_TEST_VALUE"), "cwd": os.getcwd()}, f)
    print(message, flush=True)
    os.write(2, b"to stderr\n")


def test_a_worker_takes_the_environment_cwd_and_output_of_who_starts_it(tmp_path, monkeypatch):
    """Not those the fork server was started with: the server started first (before
    this test changed all three) and keeps them."""
    processes.warm_up()
    monkeypatch.setenv("PROCESSES_TEST_VALUE", "set after the server started")
    monkeypatch.chdir(tmp_path)
    out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
    saved = os.dup(1), os.dup(2)
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            (proc,) = processes.start(_report, [(str(tmp_path / "seen"), "hello")], "t")
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
    proc.join(120)
    assert proc.exitcode == 0
    assert proc.name == "t-0"
    seen = json.loads((tmp_path / "seen").read_text())
    assert seen == {"env": "set after the server started", "cwd": str(tmp_path)}
    assert out_path.read_text() == "hello\n"
    assert err_path.read_text() == "to stderr\n"


@pytest.mark.parametrize(
    ("module", "argv", "processes_from", "started"),
    [
        (gridsearch, ["--n_workers", "2"], 2, True),
        (gridsearch, ["--n_workers", "1"], 2, False),  # the one worker trains in-process
        (gridsearch, [], 2, False),
        (gridsearch, ["--n_workers", "2", "--coordinate_only", "true"], 2, False),
        (gridsearch, ["--n_workers", "two"], 2, False),  # main says what is wrong
        (gridsearch, ["--n_wrkers", "2"], 2, False),
        (worker_entry, ["--study_name", "s"], 1, True),  # its workers are all processes
    ],
)
def test_entry_points_start_the_server_only_when_they_will_fork_workers(
    monkeypatch, module, argv, processes_from, started
):
    calls = []
    monkeypatch.setattr(processes, "warm_up", lambda: calls.append(1))
    cli.start_worker_server_early(argv, module.PARAMETERS, processes_from)
    assert calls == ([1] if started else [])


@pytest.mark.parametrize("entry", ["gridsearch", "benchmark", "worker"])
def test_entry_points_import_nothing_heavy_before_the_server_starts(entry):
    """Run as a program, an entry point starts the server before importing torch (which
    its ``main`` imports): otherwise the server's imports would not overlap its own."""
    code = (
        f"import sys, pipelines.{entry}\n"
        "heavy = [m for m in ('torch', 'mlflow', 'optuna', 'sklearn') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == ""


def test_run_as_a_program_gridsearch_starts_the_server_before_importing_torch(tmp_path):
    """``python -m pipelines.gridsearch --n_workers 2``: the server is asked for before
    torch is imported, and before ``main`` runs (both stand-ins end the program)."""
    code = (
        "import sys\n"
        "from multiprocessing import forkserver\n"
        "import pipelines.cli\n"
        "def server():\n"
        "    print('server asked for', 'after' if 'torch' in sys.modules else 'before',"
        " 'torch', flush=True)\n"
        "    sys.exit(0)\n"
        "def entry(*args, **kwargs):\n"
        "    print('main reached first', flush=True)\n"
        "    sys.exit(0)\n"
        "forkserver.ensure_running = server\n"
        "pipelines.cli.run_entry_point = entry\n"
        "sys.argv = ['gridsearch', '--n_workers', '2']\n"
        "import runpy\n"
        "runpy.run_module('pipelines.gridsearch', run_name='__main__')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert out.stdout.strip() == "server asked for before torch", out.stderr[-2000:]
