"""The main job's loop (benchmark.jobs.experiment) called as a library: the per-seed grid
searches it plans, an output it cannot write, one tiny real job on digits, a seed's data
loaded once, and a coordinator that holds no data while it waits."""

from __future__ import annotations

import gc
import weakref

import mlflow
import pytest
import torch
from mlflow.tracking import MlflowClient

import benchmark.jobs.experiment as experiment
import benchmark.search.parent as parent
from benchmark.errors import ConfigError
from benchmark.jobs.experiment import grid_specs, run_experiment
from benchmark.methods import METHODS
from benchmark.report.collect import RETRAIN_ROLE, ReportError
from benchmark.search.spec import SearchSpec, derive_study_name
from benchmark.system.device import release_device_memory
from benchmark.tracking.training_run import prepare


def test_grid_specs_name_one_study_per_seed(make_cfg):
    configs = [make_cfg(seed=1, latent_sizes=[2, 4]), make_cfg(seed=2, latent_sizes=[2, 4])]
    specs = grid_specs(configs, "sqlite:///o.db", 2)
    assert [s.study_name for s in specs] == [
        derive_study_name(configs[0], "grid"),
        derive_study_name(configs[1], "grid"),
    ]
    assert specs[1].study_name.startswith("digits-quick-seed2-grid-")
    assert all(s.search == "grid" and s.latent_sizes == [2, 4] for s in specs)
    assert all(s.storage == "sqlite:///o.db" and s.n_workers == 2 for s in specs)
    with pytest.raises(ConfigError, match="n_workers=0"):
        grid_specs(configs, "sqlite:///o.db", 0)


def test_an_unwritable_output_fails_before_any_training(mlflow_store, tmp_path, make_cfg):
    configs = [make_cfg(epochs=1, latent_sizes=[2, 4])]
    specs = grid_specs(configs, f"sqlite:///{tmp_path / 'o.db'}", 1)
    with pytest.raises(ReportError, match="is a folder"):
        run_experiment(configs, specs, output=tmp_path)
    runs = mlflow.search_runs(search_all_experiments=True)
    assert list(runs["tags.benchmark.method"]) == ["benchmark"]
    assert list(runs["status"]) == ["FAILED"]
    assert list(runs["tags.mlflow.runName"]) == ["benchmark digits quick"]
    assert not (tmp_path / "o.db").exists()


@pytest.mark.slow
def test_one_seed_runs_adaptive_search_and_retrain_then_the_report(
    mlflow_store, tmp_path, make_cfg
):
    configs = [make_cfg(epochs=3, latent_sizes=[2, 4])]
    specs = grid_specs(configs, f"sqlite:///{tmp_path / 'optuna.db'}", 1)
    out = run_experiment(configs, specs, retrain=True, output=tmp_path / "job.pdf")
    assert out.report.path == tmp_path / "job.pdf" and out.report.path.stat().st_size > 0
    (seed,) = out.seeds
    assert seed.seed == 1 and seed.retrain is not None
    assert sorted(r.latent_dim for r in seed.search.rows) == [2, 4]
    client = MlflowClient()
    top = client.get_run(out.run_id)
    assert top.info.status == "FINISHED" and top.data.tags["benchmark.method"] == "benchmark"
    children = {
        r.info.run_id: r
        for r in client.search_runs(
            [top.info.experiment_id], f"tags.mlflow.parentRunId = '{out.run_id}'"
        )
    }
    assert set(children) == {seed.adaptive.run_id, seed.search.run_id, seed.retrain.run_id}
    retrain = children[seed.retrain.run_id].data
    assert retrain.tags["benchmark.role"] == RETRAIN_ROLE
    assert retrain.tags["benchmark.retrain_of"] == seed.adaptive.run_id
    final = seed.adaptive.test_metrics["final_latent_dim"]
    assert retrain.params["fixed_latent_dim"] == str(int(final))
    assert "job.pdf" in [a.path for a in client.list_artifacts(out.run_id)]
    # every run named for what it is
    assert top.info.run_name == "benchmark digits quick"
    assert top.data.params["config.epochs"] == "3"
    assert top.data.params["config.latent_sizes"] == "2,4"
    assert children[seed.adaptive.run_id].info.run_name == "adaptive seed=1"
    assert children[seed.search.run_id].info.run_name == "gridsearch seed=1"
    assert children[seed.retrain.run_id].info.run_name == f"retrain seed=1 latent_dim={int(final)}"
    # the headline numbers as metrics of the benchmark run (the chart view is not empty)
    m = top.data.metrics
    assert m["adaptive_final_latent_dim"] == final
    assert m["grid_selected_latent_dim"] == seed.search.selection.best_latent_dim
    assert m["adaptive_test_fid"] == pytest.approx(seed.adaptive.test_metrics["test_fid"])
    assert m["grid_test_fid"] == pytest.approx(
        children[seed.search.run_id].data.metrics["selected_test_fid"]
    )
    assert m["retrain_test_fid"] == pytest.approx(seed.retrain.test_metrics["test_fid"])
    assert m["compute_ratio_grid_over_adaptive"] == pytest.approx(
        seed.search.sum_trial_wall_clock_s / seed.adaptive.wall_clock_s
    )
    assert m["grid_sum_trial_cpu_time_s"] == pytest.approx(seed.search.sum_trial_cpu_time_s)
    assert m["wall_clock_s"] > m["adaptive_wall_clock_s"] > 0


def test_a_seed_loads_its_data_once_for_all_its_methods(
    mlflow_store, tmp_path, make_cfg, monkeypatch
):
    calls = []

    def counting(cfg):
        calls.append(cfg.seed)
        return prepare(cfg)

    # every place a job prepares data: the seed's loop and the search's parent
    monkeypatch.setattr(experiment, "prepare", counting)
    monkeypatch.setattr(parent, "prepare", counting)
    configs = [make_cfg(epochs=1, latent_sizes=[2, 4])]
    specs = grid_specs(configs, f"sqlite:///{tmp_path / 'optuna.db'}", 1)
    out = run_experiment(
        configs, specs, output=tmp_path / "job.pdf", methods=(METHODS["adaptive"], METHODS["grid"])
    )
    assert sorted(r.latent_dim for r in out.seeds[0].search.rows) == [2, 4]
    assert calls == [1]


def test_a_coordinator_keeps_no_data_while_it_waits(mlflow_store, tmp_path, make_cfg, monkeypatch):
    held = []

    def preparing(cfg):
        prepared = prepare(cfg)
        held.append(weakref.ref(prepared))
        return prepared

    class Waited(Exception):
        pass

    def waiting(*_args, **_kwargs):
        gc.collect()
        assert held and held[0]() is None, "the coordinator still holds its prepared data"
        raise Waited

    monkeypatch.setattr(parent, "prepare", preparing)
    monkeypatch.setattr(parent, "run_workers_until_done", waiting)
    spec = SearchSpec(
        latent_sizes=[2, 4],
        storage=f"sqlite:///{tmp_path / 'optuna.db'}",
        study_name="c",
        coordinate_only=True,
    ).validate()
    with pytest.raises(Waited):
        parent.run_search(make_cfg(epochs=1, latent_sizes=[2, 4]), spec)


def test_releasing_device_memory_empties_the_cuda_cache_only_on_cuda(monkeypatch):
    emptied = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(True))
    release_device_memory(torch.device("cpu"))
    assert emptied == []
    release_device_memory(torch.device("cuda", 0))
    assert emptied == [True]
