"""The tracking store a process logs to: its URI checked, a new SQLite store opened under
a lock, passwords kept out of what MLflow prints, and MLflow's own chatter trimmed."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from pathlib import Path

import mlflow
import torch

from benchmark.errors import BenchmarkError
from benchmark.system.masking import mask_secrets, mask_url
from benchmark.tracking.store_lock import open_store_once, sqlite_file

# Tracking URI schemes MLflow has a store for ("": a local folder).
TRACKING_SCHEMES = (
    "",
    "file",
    "sqlite",
    "postgresql",
    "mysql",
    "mssql",
    "http",
    "https",
    "databricks",
)
# MLflow's system-metrics monitor says this once per run on a machine without a GPU; a
# small benchmark printed it 44 times out of 83 lines.
# Seconds a tracking server has to answer the one probe before any work.
SERVER_PROBE_TIMEOUT_S = 10.0
SYSTEM_METRICS_LOGGER = "mlflow.system_metrics.system_metrics_monitor"
GPU_SKIP_MESSAGE = "Skip logging GPU metrics"


class TrackingStoreError(BenchmarkError):
    """The tracking store cannot be used (an unknown scheme, a server that is down)."""


def quiet_secret_tracking_uri() -> None:
    """Stop MLflow from printing run URLs (``View run ... at: URI/...``) when the
    tracking URI carries a password; the setting reaches worker processes too."""
    uri = mlflow.get_tracking_uri()
    if mask_secrets(uri) != uri:
        os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"


class _NoGpuSkipNotice(logging.Filter):
    """Drops MLflow's "Skip logging GPU metrics" notice (and nothing else)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(GPU_SKIP_MESSAGE)


_GPU_NOTICE_FILTER = _NoGpuSkipNotice()


def quiet_gpu_metrics_notice() -> None:
    """On a machine without a GPU, mute MLflow's per-run notice that it skips GPU
    metrics; CPU and memory system metrics are logged as before. Where there is a GPU
    the notice stays: there it means NVML (``nvidia-ml-py``) is missing."""
    if torch.cuda.is_available():
        return
    logger = logging.getLogger(SYSTEM_METRICS_LOGGER)
    if _GPU_NOTICE_FILTER not in logger.filters:
        logger.addFilter(_GPU_NOTICE_FILTER)


def ready_store() -> None:
    """What every run does first: no password printed, no GPU notice on a CPU machine,
    and a new SQLite store opened under a lock (``benchmark.tracking.store_lock``), so that runs
    started together on it all start."""
    quiet_secret_tracking_uri()
    quiet_gpu_metrics_notice()
    uri = mlflow.get_tracking_uri()
    try:
        open_store_once(uri)
    except Exception as exc:  # noqa: BLE001 - whatever the store's driver raises
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TrackingStoreError(
            f"cannot use the tracking store {mask_url(uri)}: {first}"
        ) from None


def check_tracking_uri() -> None:
    """Refuse, with one line, a tracking URI whose scheme MLflow has no store for, and a
    tracking server that does not answer (before any work; a database store that cannot
    be opened is reported when the first run starts)."""
    uri = mlflow.get_tracking_uri()
    scheme = uri.split(":", 1)[0].split("+", 1)[0] if "://" in uri or ":" in uri[:12] else ""
    if scheme not in TRACKING_SCHEMES:
        raise TrackingStoreError(
            f"tracking URI {mask_url(uri)!r} has no MLflow store; allowed: a folder, "
            f"{', '.join(s + '://...' for s in TRACKING_SCHEMES if s)}"
        )
    if scheme in ("http", "https"):
        probe_server(uri)
    path = sqlite_file(uri)
    if path is not None:
        check_sqlite_file(uri, path)


def check_sqlite_file(uri: str, path: Path) -> None:
    """One line, at once, for a SQLite store that cannot be opened (a folder that cannot
    be created or written, a file that is not a database), where MLflow's engine retries
    for about 100 s first. Creates nothing: a new store's file is made by the first run,
    so bad input refused after this check leaves no store behind."""
    try:
        if path.is_dir():
            raise OSError(f"{path} is a folder, not a database file")
        if not path.exists():
            check_creatable(path)
            return
        with contextlib.closing(
            sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, timeout=2)
        ) as db:
            db.execute("PRAGMA schema_version").fetchone()
            try:
                db.execute("BEGIN IMMEDIATE")  # a write lock: fails on a read-only file
                db.rollback()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc):  # locked: another process writes to it
                    raise
    except (OSError, sqlite3.Error) as exc:
        raise TrackingStoreError(
            f"cannot use the tracking store {mask_url(uri)}: {exc}; "
            "use a writable folder, or another MLFLOW_TRACKING_URI"
        ) from None


def check_creatable(path: Path) -> None:
    """Raise OSError unless ``path`` could be created: its nearest existing ancestor must
    be a folder this process may write into (MLflow creates the folders below it)."""
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OSError(f"{ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OSError(f"{ancestor} is not writable")


def probe_server(uri: str, timeout_s: float = SERVER_PROBE_TIMEOUT_S) -> None:
    """One request to the server's ``/health``, without MLflow's retries: a server that
    is down or unreachable is one line within ``timeout_s`` seconds, where MLflow's
    client retries for minutes first (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``,
    ``MLFLOW_HTTP_REQUEST_TIMEOUT``). Any HTTP answer counts as reachable: what it
    means (authentication, a path) is MLflow's to say on the first real call."""
    import requests

    try:
        requests.get(f"{uri.rstrip('/')}/health", timeout=timeout_s)
    except requests.RequestException as exc:
        why = (
            f"no answer within {timeout_s:g} s"
            if isinstance(exc, requests.Timeout)
            else "connection refused or host unreachable"
        )
        raise TrackingStoreError(
            f"cannot reach the tracking server {mask_url(uri)} ({why}); start it, or point "
            "MLFLOW_TRACKING_URI at a store that exists"
        ) from None


def use_tracking_uri(uri: str) -> None:
    """Point this process at a tracking store (a search worker uses its parent's)."""
    mlflow.set_tracking_uri(uri)


def tracking_uri() -> str:
    """The tracking store of this process."""
    return mlflow.get_tracking_uri()


def env_run_id() -> str | None:
    """The run that ``mlflow run`` created for this entry point, if any."""
    return os.environ.get("MLFLOW_RUN_ID") or None
