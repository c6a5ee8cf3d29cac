"""`mlflow run . -e report -P experiment=NAME [-P output=PATH] [-P overwrite=true]
[-P compute=wall_clock|cpu_time|gpu_time]`: the PDF report (an existing report is replaced
only with overwrite=true, any other file never; compute in the chosen measure)."""

from __future__ import annotations

import sys
from pathlib import Path

from benchmark.errors import ConfigError
from benchmark.report.compute import DEFAULT_MEASURE, check_measure_name
from benchmark.report.write import generate_report
from pipelines.cli import bool_param, parse_params, run_entry_point

PARAMETERS = ("experiment", "output", "overwrite", "compute")


def main(argv: list[str]) -> None:
    params = parse_params(argv, PARAMETERS)
    experiment = params.get("experiment", "")
    if not experiment:
        raise ConfigError("experiment is required: the name of the MLflow experiment to report")
    output = params.get("output")
    overwrite = bool_param(params, "overwrite")
    # empty (an unset MLproject parameter): the default measure
    compute = check_measure_name(params.get("compute") or DEFAULT_MEASURE)
    result = generate_report(experiment, Path(output) if output else None, overwrite, compute)
    # imported only now: rendering loads no torch (tracking's run bookkeeping does)
    from benchmark import tracking

    with tracking.report_run(experiment):
        tracking.log_file(result.path)
    print(f"report written to {result.path.resolve()}")


if __name__ == "__main__":
    sys.exit(run_entry_point(main))
