"""The only package that talks to MLflow: runs, names, tags, params, metrics, artifacts,
models, and the runs whose process vanished.

Naming follows docs/tracking.md. Callers use ``from benchmark import tracking`` and
``tracking.X``; the modules, each importing only those above it:

- ``tags``: the tags and run names this project writes; ending a run by its id
- ``store``: the tracking URI and store, and muting MLflow's chatter
- ``artifacts``: what the active run logs (params, metrics, tables, images, the model)
- ``liveness``: process and heartbeat of RUNNING runs; vanished ones ended FAILED
- ``usage``: machine load at a run's start and end; GPU-busy seconds on CUDA
- ``runs``: starting, naming, resuming and ending runs
"""

from benchmark.tracking.artifacts import (
    MODEL_CONFIG_FILE,
    last_logged_epoch,
    load_model,
    log_epoch,
    log_figure,
    log_file,
    log_history,
    log_image_grids,
    log_json,
    log_metrics,
    log_model,
    log_params,
    log_table,
    set_tags,
)
from benchmark.tracking.liveness import (
    HEARTBEAT_S,
    LIVENESS_FILE,
    VANISHED_AFTER_S,
    Liveness,
    RunHeartbeat,
    entry_run_liveness,
    read_liveness,
    reap_quietly,
    reap_vanished_runs,
    write_liveness,
)
from benchmark.tracking.runs import (
    discard_run,
    end_interrupted,
    experiment_name_of,
    name_entry_run,
    note_continuation,
    report_run,
    run_tags,
    tracked_run,
)
from benchmark.tracking.store import (
    TRACKING_SCHEMES,
    TrackingStoreError,
    check_tracking_uri,
    env_run_id,
    quiet_gpu_metrics_notice,
    quiet_secret_tracking_uri,
    tracking_uri,
    use_tracking_uri,
)
from benchmark.tracking.tags import (
    CONTINUES_TAG,
    FAILURE_TAG,
    MAX_TAG_CHARS,
    METHODS,
    RUN_NAME_TAG,
    STOPPED_EARLY_TAG,
    mark_run_failed,
    name_run,
    run_status,
    search_run_name,
    trial_run_name,
)
from benchmark.tracking.usage import GpuBusyMeter, load_avg_1m, usage_metrics

__all__ = [
    "CONTINUES_TAG",
    "FAILURE_TAG",
    "HEARTBEAT_S",
    "LIVENESS_FILE",
    "MAX_TAG_CHARS",
    "METHODS",
    "MODEL_CONFIG_FILE",
    "RUN_NAME_TAG",
    "STOPPED_EARLY_TAG",
    "TRACKING_SCHEMES",
    "VANISHED_AFTER_S",
    "GpuBusyMeter",
    "Liveness",
    "RunHeartbeat",
    "TrackingStoreError",
    "check_tracking_uri",
    "discard_run",
    "end_interrupted",
    "entry_run_liveness",
    "env_run_id",
    "experiment_name_of",
    "last_logged_epoch",
    "load_avg_1m",
    "load_model",
    "log_epoch",
    "log_figure",
    "log_file",
    "log_history",
    "log_image_grids",
    "log_json",
    "log_metrics",
    "log_model",
    "log_params",
    "log_table",
    "mark_run_failed",
    "name_entry_run",
    "name_run",
    "note_continuation",
    "quiet_gpu_metrics_notice",
    "quiet_secret_tracking_uri",
    "read_liveness",
    "reap_quietly",
    "reap_vanished_runs",
    "report_run",
    "run_status",
    "run_tags",
    "search_run_name",
    "set_tags",
    "tracked_run",
    "tracking_uri",
    "trial_run_name",
    "use_tracking_uri",
    "usage_metrics",
    "write_liveness",
]
