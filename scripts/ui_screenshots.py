"""Look at the MLflow UI the way a user does: run a small benchmark into a fresh store
(or use an existing one), start `mlflow ui` on it, and take headless-Chromium
screenshots of the runs table, the chart view, the benchmark run and a trial's images.

    python scripts/ui_screenshots.py --out docs/ui
    python scripts/ui_screenshots.py --store sqlite:///mlflow.db --experiment main-job

Besides the PNGs it reads the rendered page (Chromium's `--dump-dom`) and prints, for
each page, which of the expected run names it shows, and the names MLflow made up (two
words and a number, e.g. `exultant-perch-614`), so a regression is a line of text, not
only a picture. Exits 1 when a page misses an expected name or shows a random one.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# MLflow's generated run names: adjective-noun-number
RANDOM_NAME = re.compile(r"\b[a-z]+-[a-z]+-\d{2,4}\b")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_small_benchmark(store: str, experiment: str, workdir: Path) -> None:
    """The `benchmark` entry point on `digits`, two seeds, three sizes (a few minutes)."""
    env = os.environ | {"MLFLOW_TRACKING_URI": store, "MLFLOW_DISABLE_TELEMETRY": "true"}
    command = [
        str(Path(sys.executable).parent / "mlflow"),
        "run",
        str(ROOT),
        "-e",
        "benchmark",
        "--env-manager",
        "local",
        "--experiment-name",
        experiment,
        "-P",
        "dataset=digits",
        "-P",
        "epochs=12",
        "-P",
        "latent_sizes=2,4,8",
        "-P",
        "seeds=1,2",
        "-P",
        f"output={workdir / 'report.pdf'}",
    ]
    print("running a small benchmark:", " ".join(command[1:]), flush=True)
    subprocess.run(command, env=env, cwd=workdir, check=True)


def start_ui(store: str, port: int, workdir: Path) -> subprocess.Popen:
    mlflow = str(Path(sys.executable).parent / "mlflow")
    proc = subprocess.Popen(
        # one worker: four start slowly on a busy 2-core machine, and one user is enough
        [mlflow, "ui", "--backend-store-uri", store, "--port", str(port), "--host", "127.0.0.1"]
        + ["--workers", "1"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ | {"MLFLOW_DISABLE_TELEMETRY": "true"},
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return proc
        except OSError:
            time.sleep(1)
    proc.terminate()
    raise SystemExit(f"mlflow ui did not answer on port {port} within 300 s")


def chromium(url: str, png: Path | None, size: str = "1600,1000") -> str:
    """Render ``url`` in headless Chromium; save a screenshot when ``png`` is given;
    return the rendered DOM."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    base = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--window-size={size}",
        # the UI is a single-page app: give its scripts time to fetch and draw
        "--virtual-time-budget=45000",
    ]
    if png is not None:
        subprocess.run(
            base + [f"--screenshot={png}", url], check=True, capture_output=True, timeout=120
        )
    dom = subprocess.run(
        base + ["--dump-dom", url], check=True, capture_output=True, text=True, timeout=120
    )
    return dom.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="", help="tracking URI; empty: a fresh benchmark")
    parser.add_argument("--experiment", default="ui-check")
    parser.add_argument("--out", default="docs/ui", help="folder for the screenshots")
    args = parser.parse_args()

    from mlflow.tracking import MlflowClient

    workdir = Path(tempfile.mkdtemp(prefix="ui-check-"))
    store = args.store
    if not store:
        store = f"sqlite:///{workdir / 'mlflow.db'}"
        run_small_benchmark(store, args.experiment, workdir)
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name(args.experiment)
    if experiment is None:
        raise SystemExit(f"no experiment {args.experiment!r} in {store}")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    names = sorted({r.info.run_name for r in runs})
    print(f"{len(runs)} runs; names: {', '.join(names)}")
    top = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    trial = next((r for r in runs if r.data.tags.get("benchmark.method") == "fixed"), None)
    benchmark = next((r for r in top if r.data.tags.get("benchmark.method") == "benchmark"), None)
    benchmark = benchmark or (top[0] if top else None)

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    ui = start_ui(store, port, workdir)
    base = f"http://127.0.0.1:{port}/#/experiments/{experiment.experiment_id}"
    # MLflow 3 opens on its GenAI views unless told that this is model training
    training = "workflowType=machine_learning"
    pages = {"runs-table": (f"{base}/runs?{training}", [r.info.run_name for r in top])}
    pages["chart-view"] = (f"{base}/runs?{training}&compareRunsMode=CHART", [])
    if benchmark is not None:
        pages["benchmark-run"] = (
            f"{base}/runs/{benchmark.info.run_id}?{training}",
            [benchmark.info.run_name],
        )
    if trial is not None:
        pngs = [a.path for a in client.list_artifacts(trial.info.run_id, "images")]
        shown = next((p for p in pngs if p.endswith(".png")), "")
        pages["trial-image"] = (
            f"{base}/runs/{trial.info.run_id}/artifacts/{shown}?{training}",
            [trial.info.run_name],
        )
    failed = False
    try:
        for page, (url, expected) in pages.items():
            png = out / f"{page}.png"
            dom = chromium(url, png)
            shown = [n for n in expected if n in dom]
            missing = [n for n in expected if n not in dom]
            random_names = sorted(n for n in names if RANDOM_NAME.fullmatch(n) and n in dom)
            print(
                f"{page}: {png}; names shown {len(shown)}/{len(expected)}"
                + (f"; missing {missing}" if missing else "")
                + (f"; random run names {random_names}" if random_names else "")
            )
            failed |= bool(missing or random_names)
    finally:
        os.killpg(ui.pid, 15)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
