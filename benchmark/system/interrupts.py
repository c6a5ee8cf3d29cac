"""Ctrl-C and SIGTERM as an exception the runs can end on.

Python turns SIGINT into KeyboardInterrupt and dies silently on SIGTERM (a batch
scheduler's stop, `docker stop`, a Kubernetes eviction), leaving the MLflow run RUNNING.
After :func:`raise_on_signals` both raise :class:`RunInterrupted` in the main thread, so
every run being tracked ends KILLED on the way out (``benchmark.tracking``) and the entry
point exits with one line and the shell's code for the signal (128 + its number).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(KeyboardInterrupt):
    """A stop asked for by a signal. A KeyboardInterrupt, so that no ``except
    Exception`` (Optuna's ``catch``, a worker's retry loop) takes it for a failed trial
    and goes on, and Optuna records the trial it stops as FAIL (to be trained again)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        super().__init__(f"interrupted by {self.signal_name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


_state: dict[str, int | None] = {"signum": None}


def _ignore(_signum: int, _frame: FrameType | None) -> None:
    """A second signal while the first one's runs end: nothing (SIGKILL still stops
    everything, and the next command reaps what it leaves). A Python no-op rather than
    SIG_IGN, which makes Python report a signal "ignored due to race condition"."""


# Modules that talk to a database. A signal's exception must not land inside them: one
# raised between a cursor's execute and its fetch leaves the SQLite statement open, and
# while the exception (whose traceback holds the cursor) unwinds, that open read keeps a
# SHARED lock on the file, so every commit of the stop itself (the trial told FAIL, the
# run ended KILLED) waits out the busy timeout (60 s for the studies) and then fails.
DATABASE_MODULES = ("sqlalchemy", "sqlite3", "optuna.storages", "mlflow.store", "alembic")
# How soon a signal that came during a database call is delivered again.
RETRY_S = 0.05


def in_database_call(frame: FrameType | None) -> bool:
    """Whether ``frame`` or one of its callers runs code of :data:`DATABASE_MODULES`."""
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if any(name == m or name.startswith(m + ".") for m in DATABASE_MODULES):
            return True
        frame = frame.f_back
    return False


def _deliver_again(signum: int) -> None:
    """Send ``signum`` to this process again in :data:`RETRY_S`, from a timer thread (a
    signal handler runs only in the main thread, at its next Python instruction)."""
    timer = threading.Timer(RETRY_S, os.kill, (os.getpid(), signum))
    timer.daemon = True
    timer.start()


def _raise(signum: int, frame: FrameType | None) -> None:
    _state["signum"] = signum  # check() and interrupted() see it from now on
    if in_database_call(frame):  # finish the call first (see DATABASE_MODULES)
        _deliver_again(signum)
        return
    for sig in HANDLED_SIGNALS:
        signal.signal(sig, _ignore)
    raise RunInterrupted(signum)


def interrupted() -> bool:
    """Whether a signal has stopped this process."""
    return _state["signum"] is not None


def check() -> None:
    """Raise :class:`RunInterrupted` again if a signal came: the handler's own exception
    can land in code that swallows it (a garbage collector's callback), so long loops
    call this, once per step."""
    if _state["signum"] is not None:
        raise RunInterrupted(_state["signum"])


def mute_when_interrupted(logger_name: str) -> None:
    """Drop the records of logger ``logger_name`` (and its children) once a signal has
    stopped this process: Optuna, for one, logs each trial the stop ends as a failure,
    with a traceback, where the user asked for a stop and gets one line."""
    handlers = logging.getLogger(logger_name).handlers
    for handler in handlers:
        if not any(isinstance(f, _MuteWhenInterrupted) for f in handler.filters):
            handler.addFilter(_MuteWhenInterrupted())


class _MuteWhenInterrupted(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not interrupted()


def _quiet_when_stopping(previous):  # noqa: ANN001, ANN202
    """An unraisable-exception hook that says nothing of a :class:`RunInterrupted`.

    A signal's exception raised inside a callback Python cannot raise from (a weakref's
    or a finalizer's, run by the garbage collector) is swallowed and printed as
    "Exception ignored in ..." with a traceback, where the user asked for a stop and
    gets one line. The stop is not lost: the handler recorded it, and :func:`check`
    raises it again at the next step. Every other exception still reaches ``previous``.
    """

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        if isinstance(unraisable.exc_value, RunInterrupted):
            return
        previous(unraisable)

    hook.quiet_when_stopping = True  # type: ignore[attr-defined]
    return hook


def raise_on_signals() -> None:
    """From now on SIGINT and SIGTERM raise :class:`RunInterrupted` (main thread only),
    and one swallowed by a garbage collector's callback prints nothing."""
    for sig in HANDLED_SIGNALS:
        signal.signal(sig, _raise)
    if not getattr(sys.unraisablehook, "quiet_when_stopping", False):
        sys.unraisablehook = _quiet_when_stopping(sys.unraisablehook)
