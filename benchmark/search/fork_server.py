"""How this machine's worker processes start: forked from multiprocessing's fork server,
which has already imported what a worker runs (torch, MLflow, Optuna, scikit-learn:
seconds, ``scripts/bench_worker_startup.py``), so that a worker process begins its first
trial a fraction of a second after it is asked for.

The entry points that start worker processes start the server first thing
(:func:`warm_up`), so that its imports overlap their own; the first :func:`start` starts
it otherwise. The server only imports: it runs no torch operation (no intra-op thread
pool to break by a fork) and never touches a GPU (each worker opens its own); the one
thread its imports leave is OpenBLAS's pool, which OpenBLAS shuts down around a fork
(Python 3.12, which the project does not support, would warn at each fork). A forked
worker takes the environment, working directory, stdout and stderr
of the process that asks for it, as a spawned one would (not those the server was
started with: a test may have changed them since). This module imports nothing heavy,
so that an entry point can use it before its own imports."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing import forkserver
from multiprocessing.process import BaseProcess
from typing import Any

# What the server imports once for every worker it forks (what a worker's main uses).
PRELOAD = ["benchmark.search.worker", "benchmark.tracking.training_run"]


@contextlib.contextmanager
def ignoring_ctrl_c() -> Iterator[None]:
    """SIGINT ignored in this process while the block runs (the main thread only can
    change it; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def warm_up() -> None:
    """Start the fork server, unless it runs; returns at once (its imports go on in the
    background).

    The server starts with SIGINT ignored, and every process it forks starts as the
    server was: a Ctrl-C reaches the whole process group, and a worker installs its own
    handlers first thing (``worker.run_worker``); this process, which gets the same
    Ctrl-C, stops the workers with SIGTERM. Call it from the main thread (elsewhere the
    workers would start with Python's default Ctrl-C handling)."""
    forkserver.set_forkserver_preload(PRELOAD)
    with ignoring_ctrl_c():
        forkserver.ensure_running()


class _Stdio:
    """This process's stdout and stderr (file descriptors 1 and 2), handed to a forked
    worker through the fork server (multiprocessing's ``DupFd``, which the server sends
    along with the process)."""

    def __init__(self, fds: dict[int, Any] | None = None) -> None:
        self.fds = fds or {}

    def __reduce__(self) -> tuple:
        from multiprocessing import reduction

        fds = {}
        for fd in (1, 2):
            with contextlib.suppress(OSError):  # closed here: the worker keeps its own
                os.fstat(fd)
                fds[fd] = reduction.DupFd(fd)
        return (_Stdio, (fds,))

    def attach(self) -> None:
        """In the worker: write where the process that started it writes."""
        for target, dup in self.fds.items():
            fd = dup.detach()
            os.dup2(fd, target)
            os.close(fd)


@dataclass
class _Parent:
    """What a worker takes from the process that asks for it."""

    environ: dict[str, str]
    cwd: str
    stdio: _Stdio


def _worker_main(parent: _Parent, target: Callable[..., None], args: tuple) -> None:
    os.environ.clear()
    os.environ.update(parent.environ)
    os.chdir(parent.cwd)
    parent.stdio.attach()
    target(*args)


def start(
    target: Callable[..., None], arg_sets: list[tuple], name: str = "worker"
) -> list[BaseProcess]:
    """One process ``<name>-<i>`` per tuple of ``arg_sets``, running ``target(*args)``
    with its own tuple, forked from the fork server (started first if it is not
    running: the first start then waits for its imports). ``target`` and the arguments
    must pickle."""
    if not arg_sets:
        return []
    warm_up()
    ctx = multiprocessing.get_context("forkserver")
    parent = _Parent(dict(os.environ), os.getcwd(), _Stdio())
    procs = [
        ctx.Process(target=_worker_main, args=(parent, target, args), name=f"{name}-{i}")
        for i, args in enumerate(arg_sets)
    ]
    for p in procs:
        p.start()
    return procs
