"""`mlflow run . -e worker`: join a search started elsewhere and train its sizes.

A worker is given only where the study lives and its name: the training config, the
parent run and the heartbeat settings come from the study, which the search's parent
run (`mlflow run . -e gridsearch`, possibly with ``coordinate_only=true``) wrote. Start
one on each machine, with ``MLFLOW_TRACKING_URI`` pointing at the search's tracking
server (docs/scaling.md)."""

from __future__ import annotations

import sys

from benchmark.errors import ConfigError
from pipelines.cli import int_param, parse_params, run_entry_point, start_worker_server_early

PARAMETERS = ("study_name", "storage", "n_workers", "device", "data_dir", "wait")
# Seconds a worker waits for its study and a running parent run: long enough for a
# coordinator started at the same time to load its data and create both (our choice).
DEFAULT_WAIT_S = 600


def main(argv: list[str]) -> None:
    # imported here, not above: run as a program, the worker processes' server starts
    # first and imports the same modules meanwhile (start_worker_server_early)
    from benchmark import tracking
    from benchmark.search.join import join_study, run_joined_worker
    from benchmark.search.spec import DEFAULT_STORAGE
    from benchmark.search.storage import refuse_password
    from benchmark.system.masking import mask_url

    params = parse_params(argv, PARAMETERS)
    study_name = params.pop("study_name", "")
    if not study_name:
        raise ConfigError(
            "study_name is required: the study of the search to join (the gridsearch "
            "entry point prints it; default <dataset>-<preset>-seed<seed>-<search>)"
        )
    storage = params.pop("storage", "") or DEFAULT_STORAGE
    refuse_password(storage)
    n_workers = int_param(params, "n_workers", 1, 1)
    wait = int_param(params, "wait", DEFAULT_WAIT_S, 0)
    overrides = {"device": params.pop("device", ""), "data_dir": params.pop("data_dir", "")}
    print(f"Optuna storage: {mask_url(storage)}  study: {study_name}", flush=True)
    joined = join_study(
        storage,
        study_name,
        n_workers,
        overrides,
        wait,
        tracking.run_status,
        tracking.tracking_uri(),
    )
    if joined is None:
        print(f"study {study_name!r} has nothing left to train")
        return
    out = run_joined_worker(joined)
    print(f"worker run {out.run_id} (study {study_name}, parent run {joined.parent_run_id}):")
    for row in out.rows:
        print(f"  n_z={row.latent_dim:>3} {row.state:<8} {row.trial_wall_clock_s:8.1f} s")
    crashes = sum(1 for c in out.exit_codes if c != 0)
    print(
        f"{len(out.rows)} trials here, {crashes} worker process(es) died; "
        f"elapsed {out.wall_clock_s:.1f} s"
    )


if __name__ == "__main__":
    # every local worker of this entry point is a process
    start_worker_server_early(sys.argv[1:], PARAMETERS, processes_from=1)
    sys.exit(run_entry_point(main))
