"""Shared plumbing of the entry points: parameter parsing and the one-line error exit."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path

from benchmark.errors import BenchmarkError, ConfigError

EXIT_BAD_INPUT = 2


def parse_params(argv: list[str], allowed: tuple[str, ...]) -> dict[str, str]:
    """``--name value`` pairs (as ``mlflow run`` passes them) into a dict.

    Unknown names and malformed argument lists raise :class:`BenchmarkError` with the
    allowed names, instead of argparse's multi-line usage text."""
    params: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--"):
            raise BenchmarkError(f"unexpected argument {arg!r}; expected --name value")
        name, _, value = arg[2:].partition("=")
        if not _:
            if i + 1 >= len(argv):
                raise BenchmarkError(f"parameter {name!r} has no value")
            value = argv[i + 1]
            i += 1
        name = name.replace("-", "_")
        if name not in allowed:
            raise BenchmarkError(f"unknown parameter {name!r}; allowed: {', '.join(allowed)}")
        params[name] = value
        i += 1
    return params


def int_param(params: dict[str, str], name: str, default: int, minimum: int | None = None) -> int:
    """Pop integer parameter ``name`` ("" means ``default``), at least ``minimum``."""
    text = params.pop(name, "") or str(default)
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} is too small; it must be >= {minimum}")
    return value


def bool_param(params: dict[str, str], name: str) -> bool:
    """Pop boolean parameter ``name`` (``true``/``false``; "" means false)."""
    text = (params.pop(name, "") or "false").strip().lower()
    if text not in ("true", "false"):
        raise ConfigError(f"{name}={text!r} is not a boolean; allowed: true, false")
    return text == "true"


def start_worker_server_early(
    argv: list[str], allowed: tuple[str, ...], processes_from: int
) -> None:
    """Start the server that worker processes fork from (``benchmark.search.fork_server``)
    when this entry point will start some: ``n_workers >= processes_from`` (2 where one
    worker trains in the entry point's own process, 1 where none does) and no
    ``coordinate_only``. Called before the entry point imports its modules, so that the
    server's imports (the same ones, seconds) overlap them. Bad input is left to
    ``main``, which says what is wrong."""
    try:
        params = parse_params(argv, allowed)
        n_workers = int_param(params, "n_workers", 1)
        coordinate_only = bool_param(params, "coordinate_only")
    except BenchmarkError:
        return
    if n_workers >= processes_from and not coordinate_only:
        from benchmark.search import fork_server as processes

        processes.warm_up()


def entry_point_name(main: Callable[[list[str]], None]) -> str:
    """The entry point ``main`` belongs to (``adaptive`` for ``pipelines.adaptive``; under
    ``python -m`` the module is ``__main__``, so its file names it)."""
    module = main.__module__
    if module == "__main__":
        return Path(sys.argv[0]).stem
    return module.rpartition(".")[2]


def run_entry_point(
    main: Callable[[list[str]], None],
    argv: list[str] | None = None,
    resume_hint: str = "",
) -> int:
    """Run ``main`` as an entry point.

    While ``main`` runs, the run that ``mlflow run`` created (if any) is named after the
    entry point (the run it becomes renames it: ``adaptive seed=1``), records its process
    and beats (a top-level run ends the runs of its experiment whose process vanished:
    ``benchmark.tracking.tracked_run``). A :class:`BenchmarkError` prints one line to
    stderr and exits 2, after ending that run FAILED with the reason. SIGINT and SIGTERM
    end every run being tracked KILLED (``benchmark.system.interrupts``), print one line (with
    ``resume_hint``, where ``{run_id}`` is the stopped run) and exit 128 + the signal's
    number."""
    from benchmark import tracking
    from benchmark.system.interrupts import RunInterrupted, raise_on_signals

    raise_on_signals()
    run_id = tracking.env_run_id()
    try:
        tracking.check_tracking_uri()
        # never one of MLflow's random names, even on a run that bad input ends
        tracking.name_entry_run(run_id, entry_point_name(main))
        with tracking.entry_run_liveness(run_id):
            main(sys.argv[1:] if argv is None else argv)
    except BenchmarkError as exc:
        message = str(exc)
        if run_id is not None and getattr(exc, "discard_run", False):
            # its parameters hold a secret: the line says where the run went
            with contextlib.suppress(Exception):
                message += "; " + tracking.discard_run(run_id, message)
            print(f"error: {message}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"error: {message}", file=sys.stderr)
        if run_id is not None:
            with contextlib.suppress(Exception):  # the store itself may be what failed
                tracking.mark_run_failed(run_id, message)
        return EXIT_BAD_INPUT
    except RunInterrupted as exc:
        stopped = tracking.end_interrupted(run_id, str(exc))
        if run_id is not None:  # MLflow's CLI would turn it FAILED after our exit
            from benchmark.tracking.cli_status import leave_guard

            with contextlib.suppress(Exception):
                leave_guard(run_id)
        hint = resume_hint.format(run_id=stopped) if stopped and resume_hint else ""
        print(f"{exc}: run {stopped or '(none yet)'} ended KILLED. {hint}".strip(), file=sys.stderr)
        return exc.exit_code
    return 0
