"""The report generator: an experiment's runs (read through MLflow's API) to a PDF."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from benchmark.report.collect import ReportError, Section, collect, count_epochs
from benchmark.report.compute import DEFAULT_MEASURE, check_measure, check_measure_name
from benchmark.report.export import ExportSource, is_results_folder
from benchmark.report.pdf import REPORT_CREATOR, write_pdf
from benchmark.report.source import RunSource, TrackingSource
from benchmark.report.summary import MethodRow
from benchmark.report.views import RunView
from benchmark.system.pids import pid_alive


@dataclass
class ReportResult:
    """Where the PDF went and the headline numbers it shows."""

    path: Path
    sections: list[Section]
    rows: dict[str, list[MethodRow]]


# The experiment (or results folder) of a verdict's stop-rule ablation: the verdict's
# name and this (scripts/verdict.py).
ABLATION_SUFFIX = "-ablation"
# Generated reports land here by default, away from the example committed in reports/.
DEFAULT_FOLDER = Path("outputs") / "reports"


def default_output(experiment: str) -> Path:
    """``outputs/reports/<experiment>.pdf`` under the working directory."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in experiment)
    return DEFAULT_FOLDER / f"{safe}.pdf"


def is_project_report(path: Path) -> bool:
    """Whether ``path`` is a PDF that this project wrote (its Creator metadata)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return data.startswith(b"%PDF") and REPORT_CREATOR.encode() in data


def check_writable(output: Path, overwrite: bool = False) -> None:
    """Fail early, with one line, when the PDF could not or must not be written: not a
    .pdf path, a folder, an existing file that is not a report of this project, an
    existing report without ``overwrite``, an unwritable place."""
    if output.is_dir():
        raise ReportError(f"output {output} is a folder; give a file path ending in .pdf")
    if output.suffix.lower() != ".pdf":
        raise ReportError(f"output {output} must be a .pdf file path")
    if output.exists() and not is_project_report(output):
        raise ReportError(
            f"output {output} exists and is not a report of this project; choose another path"
        )
    if output.exists() and not overwrite:
        raise ReportError(
            f"output {output} is an existing report; pass overwrite=true to replace it"
        )
    folder = output.parent if str(output.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create folder {folder} for the report: {exc.strerror}") from None
    if not os.access(folder, os.W_OK) or (output.exists() and not os.access(output, os.W_OK)):
        raise ReportError(f"output {output} is not writable; choose another path")


def _remove_stale_temporaries(output: Path) -> None:
    """Temporary files of earlier writes of ``output`` whose process is gone (killed
    mid-write)."""
    for tmp in output.parent.glob(f".{output.name}.*.tmp"):
        pid = tmp.name.rsplit(".", 2)[-2]
        if pid.isdigit() and not pid_alive(int(pid)):
            tmp.unlink(missing_ok=True)


def source_of(experiment: str) -> tuple[str, RunSource]:
    """The experiment's name and where its runs are read from: a results folder (a path
    holding ``seed*.jsonl``, named after the folder) or the tracking store."""
    if is_results_folder(experiment):
        return Path(experiment).resolve().name, ExportSource(Path(experiment))
    return experiment, TrackingSource(experiment)


def ablation_of(experiment: str) -> list[RunView]:
    """The runs of the stop rule's ablation that go with ``experiment``: the results
    folder ``<folder>-ablation`` beside a results folder, or the experiment
    ``<experiment>-ablation`` of the tracking store; none when there is no such one."""
    source: RunSource
    if is_results_folder(experiment):
        folder = Path(experiment).resolve()
        companion = folder.with_name(f"{folder.name}{ABLATION_SUFFIX}")
        if not is_results_folder(companion):
            return []
        source = ExportSource(companion)
    else:
        source = TrackingSource(f"{experiment}{ABLATION_SUFFIX}")
    try:
        runs = [r for r in source.runs() if r.method == "adaptive" and r.status == "FINISHED"]
    except ReportError:  # no such experiment
        return []
    return count_epochs(runs, source)


def generate_report(
    experiment: str,
    output: Path | None = None,
    overwrite: bool = False,
    compute: str = DEFAULT_MEASURE,
) -> ReportResult:
    """Collect the experiment's runs and write the PDF (atomically: a failure leaves no
    half-written file). ``experiment`` names an experiment of the tracking store, or is
    the path of an exported results folder (:mod:`benchmark.report.export`), read
    without any tracking store. An existing report at ``output`` is replaced only with
    ``overwrite``; any other existing file never. ``compute`` is the measure of the
    compute table and page (``wall_clock``, ``cpu_time`` or ``gpu_time``); a measure
    that some of the runs did not log is refused with one line."""
    check_measure_name(compute)
    name, source = source_of(experiment)
    output = Path(output) if output else default_output(name)
    check_writable(output, overwrite)
    _remove_stale_temporaries(output)
    sections = collect(source)
    check_measure(sections, compute)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        rows = write_pdf(sections, name, tmp, source, compute, ablation_of(experiment))
        os.replace(tmp, output)
    except OSError as exc:  # a place that takes no file (/proc, a full disk)
        raise ReportError(f"cannot write the report to {output}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return ReportResult(output, sections, rows)
