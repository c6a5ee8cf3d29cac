"""The exactly-once protocol, read from the storage (the only coordinator): which sizes
are taken, whether a worker would find work, which trials run anywhere, and whether a
trial that drew a size must give it up to a rival.

Workers stop asking for trials once every size has a trial that is finished or running;
a trial that still finds its size taken (a race between two workers' last asks) is told
PRUNED as ``surplus`` without training. A worker that dies leaves a RUNNING trial whose
heartbeat goes stale; Optuna fails it and ``RetryHeartbeatStaleTrialCallback`` queues a
retry, which the next worker trains."""

from __future__ import annotations

import time
import warnings
from collections import Counter
from datetime import datetime, timedelta

import optuna
from optuna.trial import FrozenTrial, TrialState

from benchmark.search.attrs import study_attrs
from benchmark.search.spec import MAX_ROUNDS, PARAM, RIVAL_WAIT_S, SearchSpec

# The trial user attribute naming the search invocation (its parent run) that ran it.
SEARCH_RUN_ATTR = "search_run_id"
# Set by the objective, first thing, to the trial's own number (a retry inherits its
# stale trial's attributes, hence the number and not a flag).
TAKEN_UP_ATTR = "taken_up_as"


def trial_size(trial: FrozenTrial) -> int | None:
    value = trial.params.get(PARAM)
    return None if value is None else int(value)


def is_surplus(trial: FrozenTrial) -> bool:
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


def pending_sizes(study: optuna.Study, sizes: list[int]) -> list[int]:
    """Sizes that no trial has taken yet. A finished, pruned, running or queued trial
    takes its size; a surplus trial takes nothing; a failed trial only during the
    search invocation it failed in (the study's ``parent_run_id``)."""
    trials = study.get_trials(deepcopy=False)
    search_run_id = study_attrs(study).get("parent_run_id")
    failures = Counter(trial_size(t) for t in trials if t.state == TrialState.FAIL)
    taken = {trial_size(t) for t in trials if _takes_its_size(t, search_run_id, failures)}
    return [s for s in sizes if s not in taken]


def missing_sizes(study: optuna.Study, sizes: list[int]) -> list[int]:
    """Sizes without a result: no trial of theirs COMPLETE or pruned by the pruner."""
    done = {
        trial_size(t)
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        if not is_surplus(t)
    }
    return [s for s in sizes if s not in done]


def has_work(study: optuna.Study, sizes: list[int]) -> bool:
    """Whether a worker would find something to train: an untaken size or a queued retry."""
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


def rival_holds_size(study: optuna.Study, me: optuna.Trial, size: int) -> bool:
    """Whether another trial already owns ``size`` (finished, or running/waiting with a
    lower number); waits briefly for rivals that have not drawn their size yet."""
    deadline = time.monotonic() + RIVAL_WAIT_S
    while True:
        undecided = False
        for t in study.get_trials(deepcopy=False):
            if t.number == me.number or is_surplus(t):
                continue
            if t.state == TrialState.RUNNING and trial_size(t) is None and t.number < me.number:
                undecided = True
                continue
            if trial_size(t) != size:
                continue
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
                return True
            if t.state in (TrialState.RUNNING, TrialState.WAITING) and t.number < me.number:
                return True
        if not undecided or time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def abandoned_trials(study: optuna.Study, grace_period: float) -> list[FrozenTrial]:
    """RUNNING trials that no worker ever took up: created by a worker's ask that was
    stopped (a signal, a kill) before its objective began, so they have no worker and
    maybe no heartbeat, which Optuna's staleness check needs. An objective marks its
    trial first thing, so a trial still unmarked after ``grace_period`` plus a rival
    wait never will be."""
    cutoff = datetime.now() - timedelta(seconds=grace_period + RIVAL_WAIT_S)
    return [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if t.user_attrs.get(TAKEN_UP_ATTR) != t.number
        and t.datetime_start is not None
        and t.datetime_start < cutoff
    ]


def recover_stale_trials(study: optuna.Study, grace_period: float) -> list[int]:
    """Fail trials whose worker stopped beating (queuing their retries), and trials that
    no worker took up (see :func:`abandoned_trials`; their size, if they drew one, is
    taken again as a pending size). Returns the numbers of the abandoned ones."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    failed = []
    for trial in abandoned_trials(study, grace_period):
        try:
            study.tell(trial.number, state=TrialState.FAIL)
        except (RuntimeError, ValueError):  # its worker ended it meanwhile
            continue
        failed.append(trial.number)
    return failed
