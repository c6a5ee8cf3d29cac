"""User-facing errors: each carries one line that says what is wrong and what is allowed."""


class BenchmarkError(Exception):
    """A problem the user can fix (bad parameter, missing file, diverged training).

    Entry points print ``str(error)`` as a single line and exit non-zero.
    """


class ConfigError(BenchmarkError):
    """A parameter value that is unknown, malformed or out of range."""


class DataError(BenchmarkError):
    """A dataset that cannot be read from where it was asked for."""


class TrainingDivergedError(BenchmarkError):
    """Training produced a non-finite loss."""
