"""Optuna searches over fixed latent sizes: every trial is one full fixed-size training
(the same loop, schedule and test evaluation as the adaptive run) and one nested MLflow
run under the search's parent run.

- ``grid``: each size trained once, from the study's queue (the paper's baseline).
- ``halving``: the same grid with Optuna's SuccessiveHalvingPruner fed each epoch's
  validation FID of prior samples (``val_fid``, lower is better). A pruner needs one
  scalar; ``val_fid`` is the signal that rewards neither the largest nor the smallest
  size by construction (reconstruction loss always prefers larger latents).

Exactly-once: the storage is the only coordinator (:mod:`.trials`). The parent queues
each size that no trial holds (``study.enqueue_trial``); workers claim queued trials
(the storage's WAITING -> RUNNING, which one claimant wins) until none is left, and a
dead worker's trial is queued again by Optuna's ``RetryHeartbeatStaleTrialCallback``.
SQLite storages run every transaction as ``BEGIN IMMEDIATE`` (SQLAlchemy's pysqlite
recipe) so that the claim is atomic there too (:mod:`.storage`).

Several machines: the parent run records in the study what a worker elsewhere needs
(the resolved training config, its MLflow run and experiment, the heartbeat settings);
:func:`.join.join_study` rebuilds a worker from that, so a worker is given only the
storage and the study name. Every process that starts workers, and a coordinator that
starts none, waits until no trial runs anywhere, failing stale ones, before it returns.

Modules, each importing only those above it:

- ``spec``: the search's spec, its constants, study names and config fingerprints
- ``storage``: the storage URL (``env:NAME``) and the RDB storage with heartbeats
- ``study``: creating, resuming and loading the study; what the parent records in it
- ``trials``: the queue (sizes queued, trials claimed and run, work left, stale trials)
- ``worker``: a worker process and its objective
- ``coordinator``: starting local workers and waiting until no trial runs anywhere
- ``rows``: the trials as report rows, the per-size table and the trial metrics
- ``parent``: the parent run of a search (``gridsearch``)
- ``join``: joining a search from another machine (``worker``)
"""
