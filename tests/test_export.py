"""Results that outlive the tracking store: an experiment exported to a results folder
and read back gives the same report, with no tracking store present."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import mlflow
import pytest
from pypdf import PdfReader

from benchmark.report.collect import collect
from benchmark.report.export import ExportSource, export_experiment, read_rows
from benchmark.report.source import ReportError, TrackingSource
from benchmark.report.summary import method_rows
from benchmark.report.write import generate_report
from pipelines import benchmark as benchmark_pipeline
from pipelines.cli import run_entry_point

# the provenance page's time of generation differs between two renderings
GENERATED = re.compile(r"generated: [0-9-]+ [0-9:]+ UTC")


def _text(path: Path) -> str:
    text = "\n".join(p.extract_text() for p in PdfReader(str(path)).pages)
    return GENERATED.sub("generated: -", text)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A small real benchmark (digits, 2 grid sizes, a retrain, 2 seeds) in a private
    store, its report, and its export; then the store is removed."""
    tmp = tmp_path_factory.mktemp("export")
    mp = pytest.MonkeyPatch()
    mp.delenv("MLFLOW_RUN_ID", raising=False)
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
    mp.setenv("MLFLOW_EXPERIMENT_NAME", "exp")
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    args = ["--dataset", "digits", "--epochs", "4", "--latent_sizes", "4,16", "--seeds", "1,2",
            "--retrain", "true", "--storage", f"sqlite:///{tmp / 'optuna.db'}",
            "--output", str(tmp / "from-store.pdf")]  # fmt: skip
    assert run_entry_point(benchmark_pipeline.main, args) == 0
    store_rows = method_rows(collect("exp")[0])
    store_views = {v.run_id: v for v in TrackingSource("exp").runs() if v.is_result}
    source = TrackingSource("exp")
    some = next(v for v in store_views.values() if v.method == "adaptive")
    store_history = source.metric_history(some.run_id, "val_fid")
    folder = tmp / "results" / "exp"
    counts = export_experiment("exp", folder)
    generate_report("exp", tmp / "store.pdf")
    yield {
        "tmp": tmp, "folder": folder, "counts": counts, "rows": store_rows,
        "views": store_views, "history": (some.run_id, store_history),
    }  # fmt: skip
    mp.undo()


def test_the_export_holds_every_finished_run_per_seed(exported):
    folder, counts = exported["folder"], exported["counts"]
    assert sorted(counts) == [1, 2]
    assert sorted(p.name for p in folder.glob("seed*.jsonl")) == ["seed1.jsonl", "seed2.jsonl"]
    rows = read_rows(folder)
    assert set(rows) == set(exported["views"])  # the benchmark's own run is not a result
    for run_id, view in exported["views"].items():
        row = rows[run_id]
        assert row["metrics"] == view.metrics and row["params"] == view.params
        assert row["tags"] == view.tags and row["status"] == view.status
    # every line is a JSON object: the folder is text, diffable, committable
    for path in folder.glob("seed*.jsonl"):
        for line in path.read_text().splitlines():
            assert isinstance(json.loads(line), dict)
    run_id, history = exported["history"]
    assert ExportSource(folder).metric_history(run_id, "val_fid") == history
    assert len(history) == 4


def test_a_report_from_the_export_equals_the_report_from_the_store(exported):
    tmp, folder = exported["tmp"], exported["folder"]
    (tmp / "mlflow.db").rename(tmp / "mlflow.db.away")  # no tracking store at all
    try:
        (section,) = collect(ExportSource(folder))
        assert method_rows(section) == exported["rows"]
        result = generate_report(str(folder), tmp / "export.pdf")
        assert result.path.exists()
        store_text = _text(tmp / "store.pdf").replace(
            "read from the MLflow tracking store", "read from -"
        )
        export_text = _text(tmp / "export.pdf").replace(
            f"read from the results folder {folder}", "read from -"
        )
        assert export_text == store_text
    finally:
        (tmp / "mlflow.db.away").rename(tmp / "mlflow.db")


def test_a_second_export_merges_and_keeps_runs_only_the_folder_holds(exported, tmp_path):
    folder = tmp_path / "copy"
    folder.mkdir()
    original = exported["folder"] / "seed1.jsonl"
    lines = original.read_text().splitlines()
    foreign = json.loads(lines[0]) | {"run_id": "f" * 32}  # from another machine's store
    (folder / "seed1.jsonl").write_text("\n".join(lines[1:] + [json.dumps(foreign)]) + "\n")
    export_experiment("exp", folder, seeds=[1])
    rows = read_rows(folder)
    assert "f" * 32 in rows
    assert set(read_rows(exported["folder"])) | {"f" * 32} >= set(rows)
    assert {json.loads(line)["run_id"] for line in lines} <= set(rows)
    assert not (folder / "seed2.jsonl").exists()  # only the seeds asked for


def test_an_empty_or_missing_results_folder_is_one_line(tmp_path):
    with pytest.raises(ReportError, match="does not exist"):
        ExportSource(tmp_path / "nowhere").runs()
    with pytest.raises(ReportError, match="holds no exported runs"):
        ExportSource(tmp_path).runs()
