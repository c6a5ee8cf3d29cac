"""The report generator: an experiment's runs (read through MLflow's API) to a PDF."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlflow.tracking import MlflowClient

from benchmark.report.collect import ReportError, Section, collect
from benchmark.report.pdf import write_pdf
from benchmark.report.summary import MethodRow


@dataclass
class ReportResult:
    """Where the PDF went and the headline numbers it shows."""

    path: Path
    sections: list[Section]
    rows: dict[str, list[MethodRow]]


def default_output(experiment: str) -> Path:
    """``reports/<experiment>.pdf`` under the working directory."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in experiment)
    return Path("reports") / f"{safe}.pdf"


def check_writable(output: Path) -> None:
    """Fail early, with one line, when the PDF could not be written."""
    folder = output.parent if str(output.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create folder {folder} for the report: {exc.strerror}") from None
    if output.is_dir():
        raise ReportError(f"output {output} is a folder; give a file path ending in .pdf")
    if not os.access(folder, os.W_OK) or (output.exists() and not os.access(output, os.W_OK)):
        raise ReportError(f"output {output} is not writable; choose another path")


def generate_report(experiment: str, output: Path | None = None) -> ReportResult:
    """Collect the experiment's runs and write the PDF (atomically: a failure leaves no
    half-written file)."""
    output = Path(output) if output else default_output(experiment)
    check_writable(output)
    client = MlflowClient()
    sections = collect(experiment, client)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        rows = write_pdf(sections, experiment, tmp, client)
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return ReportResult(output, sections, rows)
