"""The main job's loop (benchmark.experiment) called as a library: the per-seed grid
searches it plans, an output it cannot write, and one tiny real job on digits."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from benchmark.errors import ConfigError
from benchmark.experiment import grid_specs, run_experiment
from benchmark.report.collect import RETRAIN_ROLE, ReportError


def test_grid_specs_name_one_study_per_seed(make_cfg):
    configs = [make_cfg(seed=1, latent_sizes=[2, 4]), make_cfg(seed=2, latent_sizes=[2, 4])]
    specs = grid_specs(configs, "sqlite:///o.db", 2)
    assert [s.study_name for s in specs] == ["digits-quick-seed1-grid", "digits-quick-seed2-grid"]
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
    assert list(runs["tags.benchmark.method"]) == ["report"]
    assert list(runs["status"]) == ["FAILED"]
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
    assert top.info.status == "FINISHED" and top.data.tags["benchmark.method"] == "report"
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
