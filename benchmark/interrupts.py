"""Ctrl-C and SIGTERM as an exception the runs can end on.

Python turns SIGINT into KeyboardInterrupt and dies silently on SIGTERM (a batch
scheduler's stop, `docker stop`, a Kubernetes eviction), leaving the MLflow run RUNNING.
After :func:`raise_on_signals` both raise :class:`RunInterrupted` in the main thread, so
every run being tracked ends KILLED on the way out (``benchmark.tracking``) and the entry
point exits with one line and the shell's code for the signal (128 + its number).
"""

from __future__ import annotations

import signal
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


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


def _raise(signum: int, _frame: FrameType | None) -> None:
    # the runs end while the exception unwinds: a second Ctrl-C must not cut that short
    # (SIGKILL still stops everything, and the next command reaps what it leaves)
    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise RunInterrupted(signum)


def raise_on_signals() -> None:
    """From now on SIGINT and SIGTERM raise :class:`RunInterrupted` (main thread only)."""
    for sig in SIGNALS:
        signal.signal(sig, _raise)
