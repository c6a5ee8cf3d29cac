"""The tracking store a process logs to: its URI checked, a new SQLite store opened under
a lock, passwords kept out of what MLflow prints, and MLflow's own chatter trimmed."""

from __future__ import annotations

import logging
import os

import mlflow
import torch

from benchmark.errors import BenchmarkError
from benchmark.system.masking import mask_secrets, mask_url
from benchmark.tracking.store_lock import open_store_once

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
    """Refuse, with one line, a tracking URI whose scheme MLflow has no store for (before
    any work; a store that cannot be reached is reported when the first run starts)."""
    uri = mlflow.get_tracking_uri()
    scheme = uri.split(":", 1)[0].split("+", 1)[0] if "://" in uri or ":" in uri[:12] else ""
    if scheme not in TRACKING_SCHEMES:
        raise TrackingStoreError(
            f"tracking URI {mask_url(uri)!r} has no MLflow store; allowed: a folder, "
            f"{', '.join(s + '://...' for s in TRACKING_SCHEMES if s)}"
        )


def use_tracking_uri(uri: str) -> None:
    """Point this process at a tracking store (a search worker uses its parent's)."""
    mlflow.set_tracking_uri(uri)


def tracking_uri() -> str:
    """The tracking store of this process."""
    return mlflow.get_tracking_uri()


def env_run_id() -> str | None:
    """The run that ``mlflow run`` created for this entry point, if any."""
    return os.environ.get("MLFLOW_RUN_ID") or None
