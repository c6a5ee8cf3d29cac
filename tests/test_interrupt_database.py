"""A signal that comes while the main thread is inside a database call is delivered
once the call has returned: raised between a cursor's execute and its fetch, its
exception would keep the SQLite file locked for as long as it unwinds, and the stop's
own commits (the trial told FAIL, the run ended KILLED) would wait out the busy
timeout (CI saw a Ctrl-C take 66 s instead of seconds)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from benchmark.search.storage import _sqlite_immediate_transactions
from benchmark.system import interrupts
from benchmark.system.interrupts import RunInterrupted

ROWS = 2000


@pytest.fixture
def handlers():
    """raise_on_signals() for one test; pytest's handlers and the module state after."""
    saved = {sig: signal.getsignal(sig) for sig in interrupts.HANDLED_SIGNALS}
    interrupts.raise_on_signals()
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)
    interrupts._state["signum"] = None


def _engine(path) -> sa.Engine:  # noqa: ANN001
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 1})
    _sqlite_immediate_transactions(engine)  # the studies' engine, as open_storage makes it
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES " + ",".join(f"({i})" for i in range(ROWS)))
    return engine


def _signal_after_select(engine: sa.Engine, sig: signal.Signals) -> None:
    """Send ``sig`` to this process once, right after the next SELECT's execute and
    before its rows are fetched (the handler runs at once, inside SQLAlchemy)."""
    armed = {"on": True}

    @event.listens_for(engine, "after_cursor_execute")
    def _after(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        if armed["on"] and statement.startswith("SELECT"):
            armed["on"] = False
            signal.raise_signal(sig)


def _write_from_another_connection(path) -> float:  # noqa: ANN001
    """Seconds one insert and commit take on a second connection (timeout 1 s)."""
    started = time.monotonic()
    other = sqlite3.connect(path, timeout=1)
    try:
        other.execute("INSERT INTO t VALUES (-1)")
        other.commit()
    finally:
        other.close()
    return time.monotonic() - started


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_a_query_waits_for_the_query_and_leaves_no_lock(sig, handlers, tmp_path):
    path = tmp_path / "studies.db"
    engine = _engine(path)
    _signal_after_select(engine, sig)
    rows = None
    with pytest.raises(RunInterrupted) as stopped:
        with Session(engine) as session:
            rows = session.execute(sa.text("SELECT x FROM t")).all()
        assert interrupts.interrupted()  # seen at once, raised after the call
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the signal comes again from a timer
            time.sleep(0.01)
    # while the exception (and its traceback) still lives, the file takes a write
    assert _write_from_another_connection(path) < 0.5
    assert rows is not None and len(rows) == ROWS  # the query ran to its end
    assert stopped.value.signum == sig


def test_a_signal_outside_a_database_call_is_raised_at_once(handlers):
    started = time.monotonic()
    with pytest.raises(RunInterrupted):
        signal.raise_signal(signal.SIGINT)
        time.sleep(2)
    assert time.monotonic() - started < 1


def test_database_frames_are_recognised():
    import sys

    assert not interrupts.in_database_call(sys._getframe())
    namespace = {"__name__": "sqlalchemy.engine.fake"}
    exec("import sys\ndef f():\n    return sys._getframe()\n", namespace)  # noqa: S102
    assert interrupts.in_database_call(namespace["f"]())


SWALLOWED = """
import gc, signal, sys, weakref
from benchmark.system import interrupts

interrupts.raise_on_signals()

class Thing:
    pass

thing = Thing()
# The signal comes while the garbage collector runs a weakref's callback: Python
# cannot raise from there, so the handler's exception is swallowed.
ref = weakref.ref(thing, lambda _ref: signal.raise_signal(signal.SIG{name}))
del thing
gc.collect()
print("still here", flush=True)
try:
    interrupts.check()
except interrupts.RunInterrupted as stop:
    print("raised again:", stop, flush=True)
    sys.exit(stop.exit_code)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_signal_swallowed_by_a_callback_prints_nothing_and_is_raised_again(sig):
    proc = subprocess.run(
        [sys.executable, "-c", SWALLOWED.format(name=sig.name[3:])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Exception ignored" not in proc.stderr, proc.stderr
    assert "still here" in proc.stdout
    assert f"raised again: interrupted by {sig.name}" in proc.stdout
    assert proc.returncode == 128 + sig
