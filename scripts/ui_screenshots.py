"""Look at the MLflow UI the way a user does: run a small benchmark into a fresh store
(or use an existing one), start `mlflow ui` on it, and take headless-Chromium
screenshots of the runs table, the chart view, the benchmark run and a trial's images.

    python scripts/ui_screenshots.py --out docs/ui
    python scripts/ui_screenshots.py --store sqlite:///mlflow.db --experiment main-job

The runs table opens with the README's headline columns chosen and the parent runs
expanded, as a user would set them. Besides the PNGs it reads each rendered page's
text and prints what is wrong with it: an expected run name or column missing, a name
MLflow made up (two words and a number, e.g. `exultant-perch-614`), a tag only the
project reads (`benchmark.heartbeat`, `benchmark.process`) on show; so a regression is a
line of text, not only a picture. Exits 1 when any page has a problem. Needs Debian's
chromium and Playwright (`pip install -e ".[docs]"`).
"""

from __future__ import annotations

import argparse
import json
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


# The runs table's headline columns (README, "Browsing the runs"): the UI keeps the
# chosen columns in the browser's local storage, so they are set there before the page
# loads, as a user's click on *Columns* would.
HEADLINE_METRICS = (
    "final_latent_dim",
    "test_fid",
    "test_fid_floor",
    "test_recon_loss",
    "test_elbo",
    "test_active_units",
    "wall_clock_s",
)
HEADLINE_PARAMS = ("config.dataset", "config.seed")
# What only the project reads must not show on a run (docs/tracking.md).
INTERNAL_TAGS = ("benchmark.heartbeat", "benchmark.process")


def page_state(experiment_id: str, expanded: list[str]) -> str:
    """A script for the page's start that stores the UI's view state: the headline
    columns, the parent runs expanded, the assistant's panel closed (it covers a third of
    the table on a first visit)."""
    state = {
        "selectedColumns": [f"metrics.`{m}`" for m in HEADLINE_METRICS]
        + [f"params.`{p}`" for p in HEADLINE_PARAMS],
        "runsExpanded": {run_id: True for run_id in expanded},
        "runsHiddenMode": "SHOW_ALL",
    }
    key = f'MLflowLocalStorage-1.1-ExperimentPage-["{experiment_id}"]-ReactComponentState'
    return (
        "(() => { if (localStorage.getItem('ui-check')) return;"
        " localStorage.setItem('ui-check', '1');"
        " localStorage.setItem('mlflow.assistant.panelOpen_v1', 'false');"
        " localStorage.setItem('mlflow.assistant.fab.autoOpenedOnFirstLoad_v1', 'true');"
        f" localStorage.setItem({json.dumps(key)}, {json.dumps(json.dumps(state))}); }})()"
    )


# The chart view's filter: the per-epoch validation curves of every training run, not
# the benchmark run's one-point means over seeds.
CHART_FILTER = "val_"


def browse(pages: dict[str, str], out: Path, init_script: str) -> dict[str, str]:
    """Open each page in headless Chromium (Debian's, driven by Playwright), save a
    screenshot ``out/<page>.png`` and return each page's rendered text. On the chart
    view the metric charts are filtered to :data:`CHART_FILTER`, as a user types it."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise SystemExit('playwright is missing: pip install -e ".[docs]"') from None
    browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser_path is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    texts = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        context.add_init_script(init_script)
        page = context.new_page()
        for name, url in pages.items():
            page.goto(url)
            # a single-page app that polls its store (never network-idle): give its
            # scripts time to fetch and draw
            page.wait_for_load_state("load")
            page.wait_for_timeout(12000)
            charts = page.get_by_placeholder("Search metric charts")
            if name == "chart-view" and charts.count():
                charts.first.fill(CHART_FILTER)
                page.wait_for_timeout(3000)
            page.screenshot(path=str(out / f"{name}.png"))
            texts[name] = page.inner_text("body")
        browser.close()
    return texts


def check_page(name: str, text: str, expected: list[str], names: list[str]) -> list[str]:
    """What is wrong with a rendered page: expected words missing, MLflow's random run
    names, internal tags on show."""
    problems = [f"missing {word!r}" for word in expected if word not in text]
    problems += [f"random run name {n!r}" for n in names if RANDOM_NAME.fullmatch(n) and n in text]
    problems += [f"internal tag {tag!r} shown" for tag in INTERNAL_TAGS if tag in text]
    return problems


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
    parents = {r.data.tags.get("mlflow.parentRunId") for r in runs} - {None}
    trial = next((r for r in runs if r.data.tags.get("benchmark.method") == "fixed"), None)
    trial = trial or next((r for r in runs if "mlflow.parentRunId" in r.data.tags), None)
    top = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    benchmark = next((r for r in top if r.data.tags.get("benchmark.method") == "benchmark"), None)
    benchmark = benchmark or (top[0] if top else None)

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    ui = start_ui(store, port, workdir)
    base = f"http://127.0.0.1:{port}/#/experiments/{experiment.experiment_id}"
    # MLflow 3 opens on its GenAI views unless told that this is model training
    training = "workflowType=machine_learning"
    columns = list(HEADLINE_METRICS) + list(HEADLINE_PARAMS)
    pages = {"runs-table": (f"{base}/runs?{training}", [r.info.run_name for r in top] + columns)}
    pages["chart-view"] = (f"{base}/runs?{training}&compareRunsMode=CHART", ["val_fid"])
    if benchmark is not None:
        pages["benchmark-run"] = (
            f"{base}/runs/{benchmark.info.run_id}?{training}",
            [benchmark.info.run_name, "benchmark.method"],
        )
    if trial is not None:
        pngs = [a.path for a in client.list_artifacts(trial.info.run_id, "images")]
        shown = next((p for p in pngs if p.endswith(".png")), "")
        pages["trial-image"] = (
            f"{base}/runs/{trial.info.run_id}/artifacts/{shown}?{training}",
            [trial.info.run_name],
        )
    try:
        texts = browse(
            {page: url for page, (url, _) in pages.items()},
            out,
            page_state(experiment.experiment_id, sorted(parents)),
        )
    finally:
        os.killpg(ui.pid, 15)
    failed = False
    for page, (_, expected) in pages.items():
        problems = check_page(page, texts[page], expected, names)
        print(f"{page}: {out / (page + '.png')}; " + ("; ".join(problems) or "as expected"))
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
