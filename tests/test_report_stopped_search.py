"""A search that was stopped and run again, as the report reads it back from MLflow: the
stopped invocation's elapsed time and its trials count in the time to answer, pruned
trials (runs ended KILLED) count in the epochs trained, and a trial resumed in place by
a later invocation counts only up to that invocation's start (the machine was idle in
between). Hand-made runs in a private store with set start and end times."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient

from benchmark.report.collect import EPOCHS_METRIC, collect
from benchmark.report.summary import method_rows, verdict

S = 1000  # ms per second
STUDY = "digits-quick-seed1-halving"


def _tags(method: str, **extra: str) -> dict[str, str]:
    return {
        "benchmark.method": method,
        "benchmark.dataset": "digits",
        "benchmark.seed": "1",
        "benchmark.preset": "quick",
        "benchmark.fid_backend": "domain",
    } | extra


def _run(
    client: MlflowClient,
    exp: str,
    tags: dict[str, str],
    start_s: float,
    end_s: float,
    status: str,
    metrics: dict[str, float] | None = None,
    epochs: int = 0,
    latent_dim: int | None = None,
) -> str:
    run = client.create_run(exp, start_time=int(start_s * S), tags=tags)
    rid = run.info.run_id
    for step in range(1, epochs + 1):
        client.log_metric(rid, "latent_dim", float(latent_dim or 8), step=step)
    for key, value in (metrics or {}).items():
        client.log_metric(rid, key, value)
    if latent_dim is not None:
        client.log_param(rid, "fixed_latent_dim", str(latent_dim))
    client.set_terminated(rid, status, end_time=int(end_s * S))
    return rid


@pytest.fixture()
def stopped_search(mlflow_store) -> MlflowClient:
    """Invocation 1 (1-50 s) is stopped while its worker trains size 8 until 80 s and
    size 4 from 90 s on, which invocation 2 (1000-1100 s) resumes in place and finishes
    at 1060 s; size 16 is pruned at epoch 5 under invocation 2."""
    client = MlflowClient()
    exp = client.create_experiment("stopped")
    tested = {"final_latent_dim": 6.0, "wall_clock_s": 40.0, "test_fid": 10.0}
    _run(client, exp, _tags("adaptive"), 1, 40, "FINISHED", tested, epochs=20, latent_dim=6)
    search = _tags("gridsearch", **{"benchmark.search": "halving", "benchmark.study_name": STUDY})
    first = _run(client, exp, search, 1, 50, "FAILED")
    second = _run(
        client,
        exp,
        search,
        1000,
        1100,
        "FINISHED",
        {"best_latent_dim": 4.0, "wall_clock_s": 100.0, "sum_trial_wall_clock_s": 170.0},
    )

    def trial(parent: str) -> dict[str, str]:
        return _tags("fixed", **{"mlflow.parentRunId": parent, "benchmark.study_name": STUDY})

    _run(client, exp, trial(first), 2, 80, "KILLED", epochs=7, latent_dim=8)
    done = {"final_latent_dim": 4.0, "wall_clock_s": 60.0, "test_fid": 12.0}
    _run(client, exp, trial(first), 90, 1060, "FINISHED", done, epochs=20, latent_dim=4)
    _run(client, exp, trial(second), 1060, 1090, "KILLED", epochs=5, latent_dim=16)
    return client


def test_a_stopped_invocation_counts_in_the_time_to_answer(stopped_search):
    (section,) = collect("stopped", stopped_search)
    view = section.seeds[0].halving
    assert len(view.parents) == 1 and len(view.stopped) == 1
    # 1-80 s (the stopped invocation and the worker it left training), 90-1000 s (the
    # resumed trial, cut where invocation 2 starts), 1000-1100 s (invocation 2)
    assert view.time_to_answer_s == pytest.approx(79 + 910 + 100)
    assert sorted(t.status for t in view.trials) == ["FINISHED", "KILLED", "KILLED"]


def test_epochs_trained_count_pruned_and_stopped_trials(stopped_search):
    (section,) = collect("stopped", stopped_search)
    rows = {r.method: r for r in method_rows(section)}
    assert section.seeds[0].adaptive.metrics[EPOCHS_METRIC] == 20
    assert rows["adaptive"].epochs == (20.0, 0.0)
    assert rows["halving"].epochs == (7 + 20 + 5, 0.0)
    assert rows["halving"].time_to_answer_s == (pytest.approx(1089.0), 0.0)
    # with no grid, the sentences compare ALD-VAE with the search that ran
    text = " ".join(verdict(section, list(rows.values())))
    assert "successive halving selected 4" in text
    assert "in training epochs 20 vs 32, 1.60x" in text


def test_the_fid_gap_is_judged_against_the_floor():
    from benchmark.report.summary import _floor_note

    assert _floor_note(12.15, 13.51, 0.28).endswith("FID difference 1.36, beyond the floor)")
    assert _floor_note(24.69, 24.73, 0.42).endswith("FID difference 0.04, within the floor)")
    assert _floor_note(24.69, float("nan"), 0.42) == ""
    assert _floor_note(24.69, 24.73, None) == ""
