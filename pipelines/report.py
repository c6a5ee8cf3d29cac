"""`mlflow run . -e report -P experiment=NAME [-P output=PATH]`: the PDF report."""

from __future__ import annotations

import sys
from pathlib import Path

from benchmark import tracking
from benchmark.errors import ConfigError
from benchmark.report.write import generate_report
from pipelines.cli import parse_params, run_entry_point

PARAMETERS = ("experiment", "output")


def main(argv: list[str]) -> None:
    params = parse_params(argv, PARAMETERS)
    experiment = params.get("experiment", "")
    if not experiment:
        raise ConfigError("experiment is required: the name of the MLflow experiment to report")
    output = params.get("output")
    result = generate_report(experiment, Path(output) if output else None)
    with tracking.report_run(experiment):
        tracking.log_file(result.path)
    print(f"report written to {result.path.resolve()}")


if __name__ == "__main__":
    sys.exit(run_entry_point(main))
