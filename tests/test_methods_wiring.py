"""The selection methods wired through the benchmark loop: the studies each method gets,
the samplers and pruners behind the study methods, `ordered`'s choice of a prefix by the
grid's rule, the `methods` parameter of the entry point, and (slow) one seed of every
method on digits with its runs named, tagged and costed."""

from __future__ import annotations

import math
import subprocess

import optuna
import pytest
import torch
from commands import mlflow_run_command, subprocess_env
from mlflow.tracking import MlflowClient
from pypdf import PdfReader

from benchmark.errors import ConfigError
from benchmark.jobs.experiment import headline_metrics, method_specs, run_experiment
from benchmark.jobs.rivals import RETRAIN_ROLE, SELECTION_ROLE
from benchmark.methods import METHODS, Kind, default_methods, ordered, parse_methods, tpe
from benchmark.methods.mechanisms.nested_dropout import choose_prefix
from benchmark.models.vaes import build_model
from benchmark.report.summary import METHOD_LABELS
from benchmark.search.spec import SEARCHES, SearchSpec
from benchmark.search.study import QueuedGridSampler, make_pruner, make_sampler
from benchmark.search.trials import budget_left, search_has_work, trials_done
from benchmark.selection import select_latent_dim
from benchmark.tracking.tags import SELECTION_METHOD_TAG
from benchmark.training.controller import Signals

ALL = parse_methods(",".join(METHODS))
STUDIES = [m for m in ALL if m.is_study]


def test_every_study_method_is_a_search_with_its_own_study(make_cfg):
    assert set(SEARCHES) == {m.name for m in STUDIES}
    configs = [make_cfg(seed=1, latent_sizes=[2, 4, 8]), make_cfg(seed=2, latent_sizes=[2, 4, 8])]
    specs = method_specs(configs, ALL, "sqlite:///o.db", 2, n_trials=0)
    assert [sorted(s) for s in specs] == [sorted(m.name for m in STUDIES)] * 2
    for seed, by_name in zip((1, 2), specs, strict=True):
        for name, spec in by_name.items():
            assert spec.search == name
            assert spec.study_name.startswith(f"digits-quick-seed{seed}-{name}-")
            # a sampled search runs in one local worker; the grids take the workers asked
            assert spec.n_workers == (1 if spec.sampled else 2)
            assert spec.trial_budget == 3
    defaults = method_specs(configs, default_methods(), "sqlite:///o.db", 1)
    assert [list(d) for d in defaults] == [[m.name for m in default_methods() if m.is_study]] * 2


def test_a_sampled_search_refuses_workers_elsewhere_and_a_negative_budget():
    (sampled,) = [m.name for m in STUDIES if SearchSpec(search=m.name).sampled]
    with pytest.raises(ConfigError, match="one local worker"):
        SearchSpec(search=sampled, n_workers=2).validate()
    with pytest.raises(ConfigError, match="one local worker"):
        SearchSpec(search=sampled, coordinate_only=True).validate()
    with pytest.raises(ConfigError, match="n_trials=-1"):
        SearchSpec(search=sampled, n_trials=-1).validate()
    assert SearchSpec(search=sampled, latent_sizes=[2, 4], n_trials=7).trial_budget == 7


def test_each_study_method_gets_its_sampler_and_pruner():
    kinds = {}
    for m in STUDIES:
        spec = SearchSpec(search=m.name, latent_sizes=[2, 4, 8]).validate()
        kinds[m.name] = (type(make_sampler(spec, 1)), type(make_pruner(spec, 12)))
    # a grid search's sizes come from the study's queue: its sampler proposes none
    grid, nop = QueuedGridSampler, optuna.pruners.NopPruner
    assert sorted(kinds.values(), key=str) == sorted(
        [
            (grid, nop),
            (grid, optuna.pruners.SuccessiveHalvingPruner),
            (grid, optuna.pruners.HyperbandPruner),
            (optuna.samplers.TPESampler, nop),
        ],
        key=str,
    )


class ScriptedProbe:
    """Validation signals scripted per latent size (what `ordered` scores prefixes by)."""

    def __init__(self, by_size: dict[int, Signals]) -> None:
        self.by_size = by_size
        self.seen: list[int] = []

    def measure(self, model, latent_ids=None):  # noqa: ANN001, ANN201
        self.seen.append(model.latent_dim)
        return self.by_size[model.latent_dim]


def _signals(recon: float, fid: float, fid_recon: float, sil: float) -> Signals:
    return Signals(recon, fid, fid_recon, sil)


@pytest.mark.parametrize("winner", [2, 4, 8])
def test_ordered_scores_every_grid_prefix_and_takes_the_rules_choice(winner):
    model = build_model((1, 8, 8), 8, hidden_dim=16)
    by_size = {k: _signals(10.0, 50.0, 40.0, 0.1) for k in (2, 4, 8)}
    by_size[winner] = _signals(5.0, 20.0, 10.0, 0.5)  # best on every signal
    probe = ScriptedProbe(by_size)
    # 16 is no prefix of an 8-unit model and is not scored
    chosen, params, metrics = choose_prefix([16, 8, 2, 4])(type("R", (), {"model": model})(), probe)
    assert sorted(probe.seen) == [2, 4, 8]
    assert chosen.latent_dim == winner and model.latent_dim == 8
    assert params["prefix.selected_latent_dim"] == winner
    assert metrics["selected_val_fid"] == by_size[winner].fid
    expected = select_latent_dim(
        {
            k: {
                "val_recon_loss": s.recon_loss,
                "val_fid": s.fid,
                "val_fid_recon": s.fid_recon,
                "val_silhouette": s.silhouette,
            }
            for k, s in by_size.items()
        }
    )
    assert expected.best_latent_dim == winner
    # the prefix keeps the trained model's first units
    x = torch.rand(3, 64)
    assert torch.allclose(chosen.encode(x)[0], model.encode(x)[0][:, :winner])


def test_headline_metrics_have_one_set_per_method():
    from benchmark.jobs.experiment import SeedOutcome
    from benchmark.jobs.rivals import MethodOutcome

    (m,) = [x for x in ALL if x.retrains][:1]
    seeds = [
        SeedOutcome(
            s,
            None,
            None,
            None,
            {m.name: MethodOutcome(m, k, {"test_fid": f, "test_recon_loss": 1.0}, w, 2 * w)},
        )
        for s, k, f, w in ((1, 4, 10.0, 3.0), (2, 6, 20.0, 5.0))
    ]
    out = headline_metrics(seeds)
    assert out[f"{m.name}_latent_dim"] == 5.0 and out[f"{m.name}_test_fid"] == 15.0
    assert out[f"{m.name}_compute_wall_clock_s"] == 4.0
    assert out[f"{m.name}_compute_cpu_time_s"] == 8.0
    assert "adaptive_final_latent_dim" not in out and "grid_selected_latent_dim" not in out


def test_the_entry_point_refuses_an_unknown_method_before_any_run(mlflow_store):
    from pipelines.benchmark import main

    with pytest.raises(ConfigError, match="unknown method 'lasso'; allowed: adaptive, grid"):
        main(["--dataset", "digits", "--methods", "grid,lasso"])
    assert MlflowClient().search_runs(["0"]) == []


@pytest.mark.slow
def test_one_seed_of_every_method_through_the_same_loop(mlflow_store, tmp_path, make_cfg):
    cfg = make_cfg(epochs=2, latent_sizes=[2, 4], initial_latent_dim=8)
    specs = method_specs([cfg], ALL, f"sqlite:///{tmp_path / 'optuna.db'}", 1)
    out = run_experiment([cfg], specs, output=tmp_path / "all.pdf", methods=ALL)
    (seed,) = out.seeds
    assert list(seed.methods) == [m.name for m in ALL]
    client = MlflowClient()
    runs = client.search_runs([client.get_run(out.run_id).info.experiment_id])
    by_id = {r.info.run_id: r for r in runs}
    for name, got in seed.methods.items():
        method = METHODS[name]
        tagged = [r for r in runs if r.data.tags.get(SELECTION_METHOD_TAG) == name]
        assert tagged, name
        evaluated = by_id[got.run_ids[-1]]
        assert got.latent_dim >= 1 and not math.isnan(got.test_metrics["test_fid"])
        if method.is_study:
            assert evaluated.data.tags["benchmark.method"] == "gridsearch"
            assert got.latent_dim == int(evaluated.data.metrics["best_latent_dim"])
            # the search parent and its trials
            assert len(tagged) >= 2
        elif method.retrains:
            first, retrain = (by_id[i] for i in got.run_ids)
            assert first.info.run_name == f"{name} seed=1"
            assert first.data.tags["benchmark.role"] == SELECTION_ROLE
            assert first.data.params["fixed_latent_dim"] == "8"
            assert retrain.info.run_name == f"retrain seed=1 latent_dim={got.latent_dim}"
            assert retrain.data.tags["benchmark.role"] == RETRAIN_ROLE
            assert retrain.data.tags["benchmark.retrain_of"] == first.info.run_id
            both = sum(by_id[i].data.metrics["wall_clock_s"] for i in got.run_ids)
            assert got.wall_clock_s == pytest.approx(both)
        elif method.kind is Kind.DATA_RULE:
            # no training to choose: the rule's time is logged on the one training's run
            assert got.run_ids == [evaluated.info.run_id]
            assert evaluated.info.run_name == f"{name} seed=1 latent_dim={got.latent_dim}"
            assert evaluated.data.params["fixed_latent_dim"] == str(got.latent_dim)
            rule = evaluated.data.metrics["size_rule_wall_clock_s"]
            assert rule > 0
            assert got.wall_clock_s == pytest.approx(evaluated.data.metrics["wall_clock_s"] + rule)
        else:
            assert got.run_ids == [evaluated.info.run_id]
            assert evaluated.info.run_name == f"{name} seed=1"
            assert got.wall_clock_s == pytest.approx(evaluated.data.metrics["wall_clock_s"])
        assert evaluated.data.metrics.get("final_latent_dim", got.latent_dim) == got.latent_dim
    for m in [ordered.METHOD]:  # scored every grid size as a prefix, evaluated the chosen one
        run = by_id[seed.methods[m.name].run_ids[0]]
        assert run.data.params["prefix.sizes"] == "2,4"
        assert run.data.params["fixed_latent_dim"] == "8"
        assert int(run.data.params["prefix.selected_latent_dim"]) == seed.methods[m.name].latent_dim
    top = client.get_run(out.run_id).data
    assert top.params["config.methods"] == ",".join(METHODS)
    for name in METHODS:
        assert top.metrics[f"{name}_latent_dim"] == seed.methods[name].latent_dim
    assert_report_has_every_method(out.report.path)


def assert_report_has_every_method(path) -> None:  # noqa: ANN001
    """A headline row and a point (legend entry of the methods page) per method, and the
    sentence naming the cheapest method the grid's rule ranks in its top three."""
    # words as a reader reads them: a long label wraps onto two lines of its cell
    pages = [" ".join(page.extract_text().split()) for page in PdfReader(str(path)).pages]
    (methods_page,) = [t for t in pages if "compute against test quality" in t]
    # page one is the verdict (sizes, band, intervals); the headline table follows it
    assert "which size, at what cost, how good, how sure" in pages[0]
    first = 1
    headline = pages[first]
    # with many methods the sentences continue on a page of their own
    after = pages[first + 1]
    sentences = headline + (after if "the verdict in sentences" in after else "")
    for name in METHODS:
        label = METHOD_LABELS[name]
        assert label in headline, label
        assert label in methods_page, label
    assert "ranks in the top 3 on every seed" in sentences or "grid's top 3" in sentences
    assert "Rank of each method's model" in sentences


@pytest.mark.slow
def test_mlflow_run_benchmark_with_every_method(tmp_path):
    """The issue's done-when command at a smaller schedule (3 epochs, two grid sizes; the
    full command, 12 epochs and 4,8,16, was run by hand): it finishes, every method's
    runs are tagged, and the PDF has a row and a point per method."""
    env = subprocess_env(f"sqlite:///{tmp_path / 'mlflow.db'}")
    out = tmp_path / "all.pdf"
    params = {
        "dataset": "digits",
        "epochs": "3",
        "latent_sizes": "4,8",
        "methods": ",".join(METHODS),
        "output": str(out),
        "storage": f"sqlite:///{tmp_path / 'optuna.db'}",
    }
    cmd = mlflow_run_command("benchmark", "every-method", params)
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name("every-method")
    runs = client.search_runs([exp.experiment_id])
    tagged = {r.data.tags.get(SELECTION_METHOD_TAG) for r in runs} - {None}
    assert tagged == set(METHODS)
    assert_report_has_every_method(out)


def test_a_sampled_search_has_work_until_its_budget_is_taken():
    spec = SearchSpec(search=tpe.METHOD.name, latent_sizes=[2, 4], n_trials=3).validate()
    study = optuna.create_study()
    assert budget_left(study, spec.trial_budget) == 3 and search_has_work(study, spec)
    for value in (1.0, 2.0):
        trial = study.ask()
        trial.suggest_int("latent_dim", 2, 8)
        study.tell(trial, value)
    study.tell(study.ask(), state=optuna.trial.TrialState.FAIL)
    # a failed trial holds no budget: it is proposed again
    assert budget_left(study, 3) == 1 and search_has_work(study, spec)
    study.ask()  # running
    assert budget_left(study, 3) == 0 and not search_has_work(study, spec)
    assert trials_done(study) == 2
