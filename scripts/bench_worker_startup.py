"""What a grid-search worker process costs to start and to end, measured in fresh
interpreters (the figures behind docs/performance.md's account of the 2-worker speed-up):

    python scripts/bench_worker_startup.py [--repeats 3]

Printed, each as the median over the repeats with its range:
- ``import``: seconds to import what a worker runs (``benchmark.search.worker`` and
  ``benchmark.tracking.training_run``: torch, MLflow, Optuna, scikit-learn);
- ``torchvision``: seconds more that ``import torchvision`` would add on top (the image
  grids no longer need it);
- ``exit, interpreter teardown``: seconds from a worker's last line to the end of its
  process when Python tears its modules down, and ``exit, without teardown`` with the
  worker's ``_exit_without_teardown``; their ratio;
- ``start from the warm fork server``: seconds from asking for a worker process
  (``benchmark.search.fork_server.start``) to its main's first line, once the server has
  imported what a worker runs (the imports above are then paid once, by the server,
  while the entry point imports its own); its ratio to ``import`` last.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

IMPORTS = "import benchmark.search.worker, benchmark.tracking.training_run"
TIMED_IMPORTS = (
    "import time\n"
    "t = time.perf_counter()\n"
    f"{IMPORTS}\n"
    "t1 = time.perf_counter()\n"
    "import torchvision\n"
    "print(t1 - t, time.perf_counter() - t1)\n"
)


def _exit_seconds(without_teardown: bool) -> float:
    """Seconds from the child's last line to its end, as this process sees them."""
    code = f"{IMPORTS}\nimport sys, time\nprint(time.time(), flush=True)\n" + (
        "from benchmark.search.worker import _exit_without_teardown\n_exit_without_teardown()\n"
        if without_teardown
        else ""
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    last_line = float(proc.stdout.readline())
    proc.wait()
    return time.time() - last_line


def _mark_start(path: str) -> None:
    """A worker's main for the measurement: when it began."""
    with open(path, "w") as f:
        f.write(repr(time.perf_counter()))


def _forked_starts(repeats: int) -> list[float]:
    """Seconds from asking for a process to its main's first line, from a warm server."""
    import tempfile
    from pathlib import Path

    from benchmark.search import fork_server as processes

    with tempfile.TemporaryDirectory() as tmp:
        mark = str(Path(tmp) / "began")
        (first,) = processes.start(_mark_start, [(mark,)])  # waits for the server's imports
        first.join()
        starts = []
        for _ in range(repeats):
            asked = time.perf_counter()  # the same clock in both: CLOCK_MONOTONIC
            (proc,) = processes.start(_mark_start, [(mark,)])
            proc.join()
            starts.append(float(Path(mark).read_text()) - asked)
        return starts


def _figure(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s (range {min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats={args.repeats} is too small; it must be >= 1")
    imports, torchvision, teardown, no_teardown = [], [], [], []
    for i in range(args.repeats):
        print(f"repeat {i + 1} of {args.repeats}", file=sys.stderr, flush=True)
        out = subprocess.run(
            [sys.executable, "-c", TIMED_IMPORTS], capture_output=True, text=True, check=True
        )
        a, b = (float(x) for x in out.stdout.split())
        imports.append(a)
        torchvision.append(b)
        teardown.append(_exit_seconds(without_teardown=False))
        no_teardown.append(_exit_seconds(without_teardown=True))
    print(f"import: {_figure(imports)}")
    print(f"torchvision: {_figure(torchvision)}")
    print(f"exit, interpreter teardown: {_figure(teardown)}")
    print(f"exit, without teardown: {_figure(no_teardown)}")
    ratio = statistics.median(teardown) / statistics.median(no_teardown)
    print(f"teardown / without: {ratio:.1f}x")
    forked = _forked_starts(args.repeats)
    print(f"start from the warm fork server: {_figure(forked)}")
    gain = statistics.median(imports) / statistics.median(forked)
    print(f"import / start from the server: {gain:.0f}x")


if __name__ == "__main__":
    main()
