"""The Optuna storage of a study: its URL (given, or read from the environment), the
warning for a password on a command line, and the RDB storage with heartbeats."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import optuna

from benchmark.errors import BenchmarkError, ConfigError
from benchmark.search.spec import ENV_STORAGE_PREFIX, MAX_RETRY, SearchSpec
from benchmark.system.masking import mask_secrets, mask_url


def resolve_storage_url(storage: str) -> str:
    """The database URL of ``storage``: itself, or for ``env:NAME`` the value of the
    environment variable NAME (read in each process, so a secret stays out of argv)."""
    if not storage.startswith(ENV_STORAGE_PREFIX):
        return storage
    name = storage[len(ENV_STORAGE_PREFIX) :]
    value = os.environ.get(name, "")
    if not name or not value:
        raise ConfigError(
            f"storage={storage!r} names the environment variable {name!r}, which is not set; "
            "export it with the database URL, e.g. postgresql://user@host/db"
        )
    return value


class PasswordInParameterError(ConfigError):
    """A password written into a parameter: refused, since `mlflow run` logs every
    parameter before the project starts; the entry point deletes that run's record."""

    discard_run = True


def refuse_password(storage: str) -> None:
    """Refuse a storage URL that carries a password, with one line naming the safe ways."""
    if mask_url(storage) != storage:
        raise PasswordInParameterError(
            f"storage {mask_url(storage)!r} holds a password, which `mlflow run` would keep "
            "as a run parameter: pass it with PGPASSWORD or ~/.pgpass, or the whole URL "
            "with storage=env:NAME (docs/scaling.md)"
        )


def _sqlite_immediate_transactions(engine) -> None:
    """SQLAlchemy's pysqlite recipe: let SQLAlchemy emit BEGIN, and make it IMMEDIATE,
    so a read-then-write (Optuna's WAITING -> RUNNING) cannot interleave."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):  # noqa: ANN001
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection):  # noqa: ANN001
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextlib.contextmanager
def _creation_lock(url: str) -> Iterator[None]:
    """An exclusive lock around opening a SQLite storage file: Optuna creates a new
    file's tables in whichever process (or thread) opens it first, and two that open it
    at once race through the same CREATE TABLEs ("table ... already exists", "UNIQUE
    constraint failed: alembic_version"). Other databases create theirs transactionally."""
    if not url.startswith("sqlite:///"):
        yield
        return
    path = Path(url[len("sqlite:///") :].split("?")[0]).resolve()
    key = hashlib.sha1(str(path).encode()).hexdigest()[:16]
    # in the temporary folder: no file left beside the user's database
    lock = Path(tempfile.gettempdir()) / f"ald-vae-benchmark-optuna-{key}.lock"
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_storage(spec: SearchSpec) -> optuna.storages.RDBStorage:
    """The study's RDB storage with heartbeats and stale-trial retries.

    A malformed or unreachable URL raises :class:`BenchmarkError` with one line."""
    url = resolve_storage_url(spec.storage)
    scheme = urlsplit(url).scheme
    if "://" not in url or not scheme:
        raise ConfigError(
            f"storage {mask_url(url)!r} is not a database URL; expected e.g. "
            "sqlite:///optuna-studies.db or postgresql://user@host/db"
        )
    if scheme.startswith("sqlite"):
        database = url.split("://", 1)[1].lstrip("/")
        if database in ("", ":memory:"):
            raise ConfigError(
                f"storage {url!r} is an in-memory database, which worker processes cannot "
                "share; give a file, e.g. sqlite:///optuna-studies.db"
            )
    engine_kwargs = {"connect_args": {"timeout": 60}} if scheme.startswith("sqlite") else {}
    try:
        with _creation_lock(url), warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=spec.heartbeat_interval,
                grace_period=spec.grace_period,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                    max_retry=MAX_RETRY
                ),
            )
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises many kinds; all mean "no"
        reason = mask_secrets(" ".join(str(exc).split()).replace(url, mask_url(url)))[:300]
        raise BenchmarkError(
            f"cannot open Optuna storage {mask_url(url)!r}: {type(exc).__name__}: {reason}"
        ) from None
    if scheme.startswith("sqlite"):
        _sqlite_immediate_transactions(storage.engine)
    return storage
