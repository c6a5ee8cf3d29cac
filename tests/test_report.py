"""The report: built from a small real benchmark, its numbers equal MLflow's; bad inputs;
refusal to mix FID backends; a report of what exists when pieces are missing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import mlflow
import pytest
from commands import mlflow_run_command, subprocess_env
from mlflow.tracking import MlflowClient
from pypdf import PdfReader

from benchmark.report.collect import ReportError, collect
from benchmark.report.summary import method_rows
from benchmark.report.write import generate_report
from pipelines import benchmark as benchmark_pipeline
from pipelines import report as report_pipeline
from pipelines.cli import EXIT_BAD_INPUT, run_entry_point


def pdf_text(path: Path) -> tuple[int, str]:
    reader = PdfReader(str(path))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """One small real benchmark (digits, 2 grid sizes, a retrain) in a private store."""
    tmp = tmp_path_factory.mktemp("bench")
    mp = pytest.MonkeyPatch()
    mp.delenv("MLFLOW_RUN_ID", raising=False)
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
    mp.setenv("MLFLOW_EXPERIMENT_NAME", "rep")
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    output = tmp / "bench.pdf"
    code = run_entry_point(
        benchmark_pipeline.main,
        [
            "--dataset",
            "digits",
            "--epochs",
            "8",
            "--latent_sizes",
            "4,16",
            "--retrain",
            "true",
            "--storage",
            f"sqlite:///{tmp / 'optuna.db'}",
            "--output",
            str(output),
        ],
    )
    assert code == 0
    yield tmp, output
    mp.undo()


def _runs(method: str) -> list:
    client = MlflowClient()
    exp = client.get_experiment_by_name("rep")
    return [
        r
        for r in client.search_runs([exp.experiment_id])
        if r.data.tags.get("benchmark.method") == method
    ]


def test_benchmark_writes_a_report_with_mlflows_numbers(bench):
    _, output = bench
    pages, text = pdf_text(output)
    assert pages >= 3
    (adaptive,) = _runs("adaptive")
    (grid,) = _runs("gridsearch")
    (report_run,) = _runs("benchmark")
    am, gm = adaptive.data.metrics, grid.data.metrics
    for needle in (
        "ALD-VAE",
        "grid search",
        "FID",
        "silhouette",
        "from scratch at adaptive size",
        # sizes are integers and print as such ("16", not "16.0")
        f"ALD-VAE ended at {am['final_latent_dim']:.0f};",
        f"the grid search selected {gm['best_latent_dim']:.0f} ",
        f"{am['wall_clock_s']:.1f}",
        f"{gm['sum_trial_wall_clock_s']:.1f}",
        f"{am['test_fid']:.2f}",
        f"{am['test_silhouette']:.3f}",
    ):
        assert needle in text, needle
    # the PDF is also an artifact of the benchmark's own run
    names = [a.path for a in MlflowClient().list_artifacts(report_run.info.run_id)]
    assert output.name in names
    # nested: the adaptive run and the search hang under the benchmark run
    assert adaptive.data.tags["mlflow.parentRunId"] == report_run.info.run_id
    assert grid.data.tags["mlflow.parentRunId"] == report_run.info.run_id


def test_headline_rows_equal_mlflow_metrics(bench):
    (section,) = collect("rep")
    rows = {r.method: r for r in method_rows(section)}
    assert set(rows) == {"adaptive", "grid", "retrain"}
    (adaptive,) = _runs("adaptive")
    (grid,) = _runs("gridsearch")
    fixed = _runs("fixed")
    am, gm = adaptive.data.metrics, grid.data.metrics
    assert rows["adaptive"].latent_dim == (am["final_latent_dim"], 0.0)
    assert rows["adaptive"].compute_s == (am["wall_clock_s"], 0.0)
    assert rows["adaptive"].test["test_fid"] == (am["test_fid"], 0.0)
    assert rows["grid"].latent_dim == (gm["best_latent_dim"], 0.0)
    assert rows["grid"].compute_s == (gm["sum_trial_wall_clock_s"], 0.0)
    assert rows["grid"].time_to_answer_s == (gm["wall_clock_s"], 0.0)
    chosen = [
        r
        for r in fixed
        if r.data.tags.get("mlflow.parentRunId") == grid.info.run_id
        and float(r.data.params["fixed_latent_dim"]) == gm["best_latent_dim"]
    ]
    assert rows["grid"].test["test_silhouette"] == (chosen[0].data.metrics["test_silhouette"], 0.0)
    ratio = gm["sum_trial_wall_clock_s"] / am["wall_clock_s"]
    assert rows["grid"].compute_vs_adaptive.value == pytest.approx(ratio)
    # runs log CPU time too: the same rows in that measure
    cpu = {r.method: r for r in method_rows(section, "cpu_time")}
    assert cpu["adaptive"].compute_s == (am["cpu_time_s"], 0.0)
    assert cpu["grid"].compute_s[0] == pytest.approx(
        sum(
            r.data.metrics["cpu_time_s"]
            for r in fixed
            if r.data.tags.get("mlflow.parentRunId") == grid.info.run_id
        )
    )
    (retrain,) = [r for r in fixed if r.data.tags.get("benchmark.role") == "retrain"]
    assert float(retrain.data.params["fixed_latent_dim"]) == am["final_latent_dim"]
    assert retrain.data.tags["benchmark.retrain_of"] == adaptive.info.run_id
    assert rows["retrain"].test["test_fid"] == (retrain.data.metrics["test_fid"], 0.0)


def test_report_entry_point_and_default_path(bench, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reports").mkdir()
    example = tmp_path / "reports" / "rep.pdf"  # a committed example report
    example.write_bytes(b"%PDF-1.4 the example")
    code = run_entry_point(report_pipeline.main, ["--experiment", "rep"])
    assert code == 0
    assert (tmp_path / "outputs" / "reports" / "rep.pdf").is_file()
    assert example.read_bytes() == b"%PDF-1.4 the example"
    assert "report written to" in capsys.readouterr().out


def test_a_report_never_destroys_a_users_file(bench, tmp_path, capsys):
    def report(output, *extra) -> tuple[int, str]:
        code = run_entry_point(
            report_pipeline.main, ["--experiment", "rep", "--output", str(output), *extra]
        )
        return code, capsys.readouterr().err.strip()

    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    code, err = report(notes, "--overwrite", "true")
    assert code == EXIT_BAD_INPUT and "must be a .pdf file path" in err
    theirs = tmp_path / "paper.pdf"
    theirs.write_bytes(b"%PDF-1.7 somebody's paper")
    code, err = report(theirs, "--overwrite", "true")
    assert code == EXIT_BAD_INPUT and "exists and is not a report of this project" in err
    assert theirs.read_bytes() == b"%PDF-1.7 somebody's paper"
    assert notes.read_text() == "mine"

    ours = tmp_path / "rep.pdf"
    stale = tmp_path / ".rep.pdf.999999999.tmp"  # left by a report killed mid-write
    stale.write_bytes(b"half")
    assert report(ours)[0] == 0
    assert not stale.exists()
    first = ours.read_bytes()
    code, err = report(ours)
    assert code == EXIT_BAD_INPUT and "pass overwrite=true to replace it" in err
    assert ours.read_bytes() == first
    assert report(ours, "--overwrite", "true")[0] == 0
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--experiment", "no-such-experiment"], "experiment 'no-such-experiment' does not exist"),
        (["--output", "x.pdf"], "experiment is required"),
        (["--experiment", "rep", "--output", "/proc/forbidden/r.pdf"], "cannot create folder"),
        (["--experiment", "rep", "--output", "/proc/r.pdf"], "/proc/r.pdf"),
    ],
)
def test_report_bad_inputs(bench, capsys, argv, expected):
    code = run_entry_point(report_pipeline.main, argv)
    err = capsys.readouterr().err.strip()
    assert code == EXIT_BAD_INPUT
    assert len(err.splitlines()) == 1
    assert expected in err


def test_output_that_is_a_folder_is_refused(bench, tmp_path, capsys):
    code = run_entry_point(report_pipeline.main, ["--experiment", "rep", "--output", str(tmp_path)])
    assert code == EXIT_BAD_INPUT
    assert "is a folder" in capsys.readouterr().err


def test_experiment_without_project_runs_is_refused(bench):
    client = MlflowClient()
    exp = client.create_experiment("foreign")
    run = client.create_run(exp)
    client.log_metric(run.info.run_id, "accuracy", 0.9)
    client.set_terminated(run.info.run_id)
    with pytest.raises(ReportError, match="no runs of this project"):
        collect("foreign")


def _copy_run(
    client: MlflowClient, exp_id: str, source, drop_metrics: tuple[str, ...] = (), **tag_overrides
) -> str:
    """A run with the source's params, final metrics (but ``drop_metrics``) and tags, some
    tags replaced."""
    run = client.create_run(exp_id)
    for k, v in source.data.params.items():
        client.log_param(run.info.run_id, k, v)
    for k, v in source.data.metrics.items():
        if k not in drop_metrics:
            client.log_metric(run.info.run_id, k, v)
    tags = {k: v for k, v in source.data.tags.items() if not k.startswith("mlflow.")}
    for k, v in (tags | tag_overrides).items():
        client.set_tag(run.info.run_id, k, v)
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def test_mixing_fid_backends_is_refused(bench, tmp_path):
    client = MlflowClient()
    (adaptive,) = _runs("adaptive")
    exp = client.create_experiment("mixed")
    _copy_run(client, exp, adaptive, **{"benchmark.seed": "1"})
    _copy_run(
        client, exp, adaptive, **{"benchmark.seed": "2", "benchmark.fid_backend": "inception"}
    )
    with pytest.raises(ReportError, match="different FID backends"):
        generate_report("mixed", tmp_path / "mixed.pdf")
    assert not (tmp_path / "mixed.pdf").exists()


def test_datasets_get_separate_sections_and_missing_pieces_are_named(bench, tmp_path):
    client = MlflowClient()
    (adaptive,) = _runs("adaptive")
    exp = client.create_experiment("partial")
    _copy_run(client, exp, adaptive)
    _copy_run(client, exp, adaptive, **{"benchmark.dataset": "mnist5k"})
    result = generate_report("partial", tmp_path / "partial.pdf")
    assert [s.dataset for s in result.sections] == ["digits", "mnist5k"]
    _, text = pdf_text(result.path)
    assert text.count("Missing: no finished grid search") == 2


def test_report_in_cpu_time_and_old_runs_without_it(bench, tmp_path, capsys):
    output = tmp_path / "cpu.pdf"
    argv = ["--experiment", "rep", "--output", str(output), "--compute", "cpu_time"]
    assert run_entry_point(report_pipeline.main, argv) == 0
    _, text = pdf_text(output)
    assert "CPU time (process and children)" in text
    # a run logged before cpu_time_s existed: wall-clock still reports, CPU time is refused
    client = MlflowClient()
    (adaptive,) = _runs("adaptive")
    exp = client.create_experiment("before-cpu-time")
    _copy_run(client, exp, adaptive, drop_metrics=("cpu_time_s",))
    assert generate_report("before-cpu-time", tmp_path / "old.pdf").path.is_file()
    argv = ["--experiment", "before-cpu-time", "--output", str(tmp_path / "old-cpu.pdf")]
    capsys.readouterr()  # the first report's own run logged to stderr
    code = run_entry_point(report_pipeline.main, [*argv, "--compute", "cpu_time"])
    err = capsys.readouterr().err.strip()
    assert code == EXIT_BAD_INPUT and len(err.splitlines()) == 1
    assert "lack the metric cpu_time_s" in err
    assert not (tmp_path / "old-cpu.pdf").exists()


@pytest.mark.slow
def test_mlflow_run_benchmark_done_when(tmp_path):
    env = subprocess_env(
        f"sqlite:///{tmp_path / 'mlflow.db'}",
        # a user's shell may name another experiment than --experiment-name: every run
        # of the job must still land in the job's experiment
        MLFLOW_EXPERIMENT_NAME="shell-default",
    )
    out = tmp_path / "X.pdf"
    cmd = mlflow_run_command(
        "benchmark",
        "done-when",
        {
            "dataset": "digits",
            "preset": "quick",
            "epochs": "12",
            "latent_sizes": "4,16",
            "output": str(out),
            # `mlflow run` works in the project folder: keep the study out of it
            "storage": f"sqlite:///{tmp_path / 'optuna.db'}",
        },
    )
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"report: {out}" in proc.stdout
    pages, text = pdf_text(out)
    assert pages >= 3
    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name("done-when")
    runs = client.search_runs([exp.experiment_id])
    (adaptive,) = [r for r in runs if r.data.tags["benchmark.method"] == "adaptive"]
    (grid,) = [r for r in runs if r.data.tags["benchmark.method"] == "gridsearch"]
    assert sorted(r.data.tags["benchmark.method"] for r in runs) == [
        "adaptive",
        "benchmark",
        "fixed",
        "fixed",
        "gridsearch",
    ]
    stray = client.get_experiment_by_name("shell-default")
    assert stray is None or not client.search_runs([stray.experiment_id])
    for needle in (
        "ALD-VAE",
        "grid search",
        "FID",
        "silhouette",
        f"ended at {adaptive.data.metrics['final_latent_dim']:.0f};",
        f"{adaptive.data.metrics['wall_clock_s']:.1f}",
        f"{grid.data.metrics['sum_trial_wall_clock_s']:.1f}",
    ):
        assert needle in text, needle
