"""Shared plumbing of the entry points: parameter parsing and the one-line error exit."""

from __future__ import annotations

import sys
from collections.abc import Callable

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


def run_entry_point(main: Callable[[list[str]], None], argv: list[str] | None = None) -> int:
    """Run ``main``; a :class:`BenchmarkError` prints one line to stderr and exits 2,
    after ending the run that ``mlflow run`` created (if any) as FAILED with the reason."""
    from benchmark import tracking

    try:
        main(sys.argv[1:] if argv is None else argv)
    except BenchmarkError as exc:
        message = str(exc)
        print(f"error: {message}", file=sys.stderr)
        run_id = tracking.env_run_id()
        if run_id is not None:
            tracking.mark_run_failed(run_id, message)
        return EXIT_BAD_INPUT
    return 0
