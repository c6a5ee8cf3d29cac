"""The project's on-disk cache folder (trained feature extractors, parsed embedded
datasets): ``$ALD_BENCHMARK_CACHE``, else ``~/.cache/ald-vae-benchmark``."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "ALD_BENCHMARK_CACHE"


def cache_dir() -> Path:
    """Where cached files are kept (``$ALD_BENCHMARK_CACHE`` overrides)."""
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "ald-vae-benchmark"
    return Path(root)


def write_atomically(path: Path, write) -> None:  # noqa: ANN001 - a callable(file path)
    """Call ``write(tmp)`` for a temporary file next to ``path``, then move it into
    place, so that a reader never sees half a file (several processes may fill the
    cache at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
