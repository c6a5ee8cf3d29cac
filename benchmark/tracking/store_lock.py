"""The first opening of a new SQLite tracking store, one process at a time.

MLflow creates a new SQLite store's tables (Alembic migrations) in whichever process
opens it first; processes that open the same new file at once race through those
migrations and crash ("duplicate column name", "Online migration expected to match one
row"): 4 of 4 plain ``mlflow.start_run()`` processes started together failed here. An
exclusive lock around each process's first opening of the store serialises the
migrations; later openings find the tables and wait for nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import tempfile
from pathlib import Path

from mlflow.tracking import MlflowClient

SQLITE_PREFIX = "sqlite:///"
_opened: set[str] = set()


def sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` tracking URI (None for other stores and for
    an in-memory database)."""
    if not uri.startswith(SQLITE_PREFIX) or ":memory:" in uri:
        return None
    return Path(uri[len(SQLITE_PREFIX) :].split("?")[0]).resolve()


def open_store_once(uri: str) -> None:
    """Open the tracking store at ``uri`` once per process (creating its tables if it is
    new), under an exclusive lock when it is a SQLite file. Raises what MLflow raises for
    a store it cannot use."""
    if uri in _opened:
        return
    path = sqlite_file(uri)
    if path is None:
        MlflowClient(uri).search_experiments(max_results=1)
        _opened.add(uri)
        return
    # the lock lives in the temporary folder: no file left beside the user's database
    key = hashlib.sha1(str(path).encode()).hexdigest()[:16]
    lock = Path(tempfile.gettempdir()) / f"ald-vae-benchmark-store-{key}.lock"
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            MlflowClient(uri).search_experiments(max_results=1)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    _opened.add(uri)
