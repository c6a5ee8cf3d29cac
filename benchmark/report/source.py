"""Where a report reads its runs from: an experiment of the MLflow tracking store
(:class:`TrackingSource`) or a results folder exported from one
(:class:`benchmark.report.export.ExportSource`). Both answer the same four questions, so
every page is drawn the same way from either."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

import pandas as pd

from benchmark.errors import BenchmarkError
from benchmark.report.views import RunView

# artifact downloads are many and small: no progress bars in the report's output
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

Series = list[tuple[int, float]]


class ReportError(BenchmarkError):
    """The experiment cannot be reported (missing, empty, or mixing incomparable runs)."""


class RunSource(Protocol):
    """The runs of one experiment and what the pages read of each."""

    # what the provenance page names as the report's input
    label: str

    def runs(self) -> list[RunView]:
        """Every run (all statuses); :class:`ReportError` when there is no such input."""
        ...

    def metric_history(self, run_id: str, key: str) -> Series:
        """(step, value) pairs of one metric of one run, by step."""
        ...

    def history_frame(self, run_id: str) -> pd.DataFrame | None:
        """The run's ``history.csv`` (phases and decisions per epoch), if it has one."""
        ...

    def image(self, run_id: str, name: str, folder: Path) -> Path | None:
        """The run's ``images/<name>`` as a local file under ``folder``, if it has one."""
        ...


class TrackingSource:
    """An experiment of the MLflow tracking store (``$MLFLOW_TRACKING_URI``), read
    through MLflow's client API only."""

    def __init__(self, experiment: str, client=None) -> None:  # noqa: ANN001 - MlflowClient
        from mlflow.tracking import MlflowClient

        self.experiment = experiment
        self.client = client or MlflowClient()
        self.label = "the MLflow tracking store"

    def runs(self) -> list[RunView]:
        exp = self.client.get_experiment_by_name(self.experiment)
        if exp is None:
            known = ", ".join(sorted(e.name for e in self.client.search_experiments()))
            raise ReportError(
                f"experiment {self.experiment!r} does not exist; known: {known or 'none'}"
            )
        runs: list[RunView] = []
        token = None
        while True:
            page = self.client.search_runs([exp.experiment_id], max_results=1000, page_token=token)
            runs += [RunView.of(r) for r in page]
            token = page.token
            if not token:
                return runs

    def metric_history(self, run_id: str, key: str) -> Series:
        return sorted((m.step, m.value) for m in self.client.get_metric_history(run_id, key))

    def history_frame(self, run_id: str) -> pd.DataFrame | None:
        import mlflow

        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path="history.csv", dst_path=tmp
                )
            except Exception:  # noqa: BLE001 - a run logged without the artifact
                return None
            return pd.read_csv(path)

    def image(self, run_id: str, name: str, folder: Path) -> Path | None:
        import mlflow

        try:
            return Path(
                mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path=f"images/{name}", dst_path=str(folder / run_id)
                )
            )
        except Exception:  # noqa: BLE001 - a run logged without images
            return None
