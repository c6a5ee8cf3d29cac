"""The grid on Optuna's queue, read from and written to the storage (the only
coordinator): which sizes are taken, the sizes queued, a worker's claim of a queued
trial, whether there is work left, which trials run anywhere, and stale trials.

The parent of a search invocation queues each size that no trial holds
(``study.enqueue_trial``); a worker claims queued trials one by one (the storage moves a
trial from WAITING to RUNNING once: of two workers that claim the same trial, one gets
it) and stops when none is left, so it never makes a trial of its own. A worker that
dies leaves a RUNNING trial whose heartbeat goes stale; Optuna fails it and
``RetryHeartbeatStaleTrialCallback`` queues a retry, which the next worker claims."""

from __future__ import annotations

import gc
import logging
import warnings
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import optuna
from optuna.trial import FrozenTrial, TrialState

from benchmark.search.attrs import study_attrs
from benchmark.search.spec import MAX_ROUNDS, PARAM, SearchSpec
from benchmark.system.periodic import Periodic

# The trial user attribute naming the search invocation (its parent run) that queued
# or ran it.
SEARCH_RUN_ATTR = "search_run_id"
# Set by a sampled search's objective, first thing, to the trial's own number (a retry
# inherits its stale trial's attributes, hence the number and not a flag).
TAKEN_UP_ATTR = "taken_up_as"
# Where a queued trial keeps its parameters until its objective suggests them (Optuna's
# enqueue_trial writes them there; a retry copies them).
FIXED_PARAMS = "fixed_params"
# Optuna's logger tree: its verbosity and handler, as for the trials optimize runs.
_log = logging.getLogger("optuna.benchmark")


def trial_size(trial: FrozenTrial) -> int | None:
    """The trial's size: its parameter, or the one it was queued with."""
    value = trial.params.get(PARAM, trial.system_attrs.get(FIXED_PARAMS, {}).get(PARAM))
    return None if value is None else int(value)


def is_surplus(trial: FrozenTrial) -> bool:
    """A trial that versions before the queue told PRUNED without training (it lost a
    race for its size): no result, no cost. Studies they made still hold some."""
    return bool(trial.user_attrs.get("surplus"))


def _takes_its_size(trial: FrozenTrial, search_run_id: str | None, failures: Counter) -> bool:
    if is_surplus(trial) or trial_size(trial) is None:
        return False
    if trial.state != TrialState.FAIL:
        return True
    # A failed size is trained again by the next invocation of the search (not by this
    # one, which would repeat a failure for ever), until it has failed MAX_ROUNDS times.
    this_search = (
        search_run_id is not None and trial.user_attrs.get(SEARCH_RUN_ATTR) == search_run_id
    )
    return this_search or failures[trial_size(trial)] >= MAX_ROUNDS


def pending_sizes(
    study: optuna.Study, sizes: list[int], search_run_id: str | None = None
) -> list[int]:
    """Sizes that no trial has taken yet. A finished, pruned, running or queued trial
    takes its size; a failed trial only during the search invocation it failed in
    (``search_run_id``, by default the study's ``parent_run_id``)."""
    trials = study.get_trials(deepcopy=False)
    if search_run_id is None:
        search_run_id = study_attrs(study).get("parent_run_id")
    failures = Counter(trial_size(t) for t in trials if t.state == TrialState.FAIL)
    taken = {trial_size(t) for t in trials if _takes_its_size(t, search_run_id, failures)}
    return [s for s in sizes if s not in taken]


def queue_sizes(study: optuna.Study, sizes: list[int], search_run_id: str) -> list[int]:
    """Queue each size that no trial has taken (:func:`pending_sizes`) once, for the
    search invocation ``search_run_id``; returns them. Called by the invocation's parent
    before workers look, so that a second call queues nothing."""
    pending = pending_sizes(study, sizes, search_run_id)
    for size in pending:
        study.enqueue_trial({PARAM: size}, user_attrs={SEARCH_RUN_ATTR: search_run_id})
    return pending


def missing_sizes(study: optuna.Study, sizes: list[int]) -> list[int]:
    """Sizes without a result: no trial of theirs COMPLETE or pruned by the pruner."""
    done = {
        trial_size(t)
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        if not is_surplus(t)
    }
    return [s for s in sizes if s not in done]


def has_work(study: optuna.Study, sizes: list[int]) -> bool:
    """Whether the grid has work left: a size nobody took yet or a queued trial."""
    if pending_sizes(study, sizes):
        return True
    return bool(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))


def trials_done(study: optuna.Study) -> int:
    """Trials with a result (COMPLETE, or pruned by the pruner): a sampled search's
    progress through its budget."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    return sum(1 for t in done if not is_surplus(t))


def budget_left(study: optuna.Study, budget: int) -> int:
    """Trials a sampled search still has to start: ``budget`` less those done, running
    or queued (a failed trial is trained again, as a new proposal)."""
    held = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
    taken = sum(1 for t in study.get_trials(deepcopy=False, states=held) if not is_surplus(t))
    return max(0, budget - taken)


def search_has_work(study: optuna.Study, spec: SearchSpec) -> bool:
    """:func:`has_work` for a grid; for a sampled search (tpe), budget left."""
    if spec.sampled:
        return budget_left(study, spec.trial_budget) > 0
    return has_work(study, spec.latent_sizes)


def running_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Trials that hold a size and are RUNNING, here or on another machine."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    return [t for t in running if not is_surplus(t)]


def search_is_finished(study: optuna.Study, spec: SearchSpec) -> bool:
    """No size left to take (for a sampled search: no budget left), no retry queued, and
    no trial running anywhere."""
    return not search_has_work(study, spec) and not running_trials(study)


def _beats(study: optuna.Study) -> bool:
    """Whether the study's storage keeps Optuna's trial heartbeats (an RDB storage)."""
    storage = study._storage
    return hasattr(storage, "record_heartbeat") and storage.get_heartbeat_interval() is not None


def claim_queued_trial(study: optuna.Study) -> optuna.Trial | None:
    """A queued trial, now RUNNING and this worker's; None when the queue is empty.

    The claim is the storage's WAITING -> RUNNING, which succeeds once per trial (the
    row is locked: ``SELECT ... FOR UPDATE``, on SQLite ``BEGIN IMMEDIATE``), as in
    Optuna's own ``Study.ask``; unlike ``ask``, an empty queue creates no trial. The
    trial's heartbeat is recorded before the claim, so that a worker killed at any point
    after it leaves a trial Optuna judges stale (and queues again)."""
    storage = study._storage
    for queued in storage.get_all_trials(
        study._study_id, deepcopy=False, states=(TrialState.WAITING,)
    ):
        if _beats(study):
            storage.record_heartbeat(queued._trial_id)
        try:
            if storage.set_trial_state_values(queued._trial_id, state=TrialState.RUNNING):
                return optuna.Trial(study, queued._trial_id)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # finished by another process meanwhile
    return None


class _TrialHeartbeat(Periodic):
    """Optuna's heartbeat of a claimed trial, every ``interval_s`` seconds while its
    objective runs (what ``study.optimize`` does for the trials it asks for)."""

    def __init__(self, study: optuna.Study, trial: optuna.Trial, interval_s: float) -> None:
        self._storage, self._trial_id = study._storage, trial._trial_id
        super().__init__(interval_s, "trial-heartbeat")

    def tick(self) -> None:
        self._storage.record_heartbeat(self._trial_id)


def _run_claimed(
    study: optuna.Study, trial: optuna.Trial, objective: Callable[[optuna.Trial], float]
) -> None:
    """``objective`` on a claimed trial, told as ``study.optimize`` tells it: its value,
    PRUNED, or FAIL for an exception (logged; the worker goes on) or a stop (which goes
    on up once the trial is told). A trial already ended elsewhere (failed as stale while
    its worker stalled) is left as it is."""
    interval = study._storage.get_heartbeat_interval() if _beats(study) else None
    beat = _TrialHeartbeat(study, trial, interval) if interval else None
    try:
        if beat is None:
            value = objective(trial)
        else:
            with beat:
                value = objective(trial)
    except optuna.TrialPruned as exc:
        study.tell(trial, state=TrialState.PRUNED, skip_if_finished=True)
        _log.info(f"Trial {trial.number} pruned. {exc}")
    except Exception as exc:
        study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        _log.warning(
            f"Trial {trial.number} failed with parameters: {trial.params} because of the "
            f"following error: {exc!r}.",
            exc_info=True,
        )
    except BaseException:  # a stop (RunInterrupted): the trial is trained again later
        study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        raise
    else:
        study.tell(trial, value, skip_if_finished=True)
        _log.info(
            f"Trial {trial.number} finished with value {value} and parameters {trial.params}."
        )


def train_queued(study: optuna.Study, objective: Callable[[optuna.Trial], float]) -> int:
    """Claim queued trials and run ``objective`` on each until the queue is empty (a
    worker's loop over a grid); returns how many it ran. Before each claim, stale trials
    are failed, as ``study.optimize`` does, so that their retries are queued."""
    ran = 0
    while True:
        fail_stale_trials(study)
        trial = claim_queued_trial(study)
        if trial is None:
            return ran
        _run_claimed(study, trial, objective)
        ran += 1
        gc.collect()


def fail_stale_trials(study: optuna.Study) -> None:
    """Optuna's ``fail_stale_trials``: RUNNING trials whose worker stopped beating are
    failed, and their retries queued (``RetryHeartbeatStaleTrialCallback``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def abandoned_trials(study: optuna.Study, grace_period: float) -> list[FrozenTrial]:
    """RUNNING trials that no worker ever took up: made by the ``ask`` of a sampled
    search's ``study.optimize`` that was stopped (a signal, a kill) before its objective
    began, so they have no worker and maybe no heartbeat, which Optuna's staleness check
    needs. Its objective marks a trial first thing, so a trial still unmarked after
    ``grace_period`` never will be. A trial claimed from the queue is never one: its
    heartbeat is recorded before its claim."""
    cutoff = datetime.now() - timedelta(seconds=grace_period)
    return [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if FIXED_PARAMS not in t.system_attrs
        and t.user_attrs.get(TAKEN_UP_ATTR) != t.number
        and t.datetime_start is not None
        and t.datetime_start < cutoff
    ]


def recover_stale_trials(study: optuna.Study, grace_period: float) -> list[int]:
    """Fail trials whose worker stopped beating (queuing their retries), and trials that
    no worker took up (see :func:`abandoned_trials`). Returns the numbers of the
    abandoned ones."""
    fail_stale_trials(study)
    failed = []
    for trial in abandoned_trials(study, grace_period):
        try:
            study.tell(trial.number, state=TrialState.FAIL)
        except (RuntimeError, ValueError):  # its worker ended it meanwhile
            continue
        failed.append(trial.number)
    return failed
