"""The GPU path's own checks, through the entry points as users run them (docs/gpu.md):

1. two forked workers on one GPU: a 3-size grid with ``n_workers=3`` (one worker in the
   search's process, two forked from the fork server), every trial FINISHED, each with
   its worker's pid and device;
2. a CPU-written checkpoint resumed on the GPU with ``amp=true``: an `adaptive` run on
   the CPU stopped by SIGINT after its second epoch, continued on ``--device`` with
   ``--resume_run_id`` to its last epoch;
3. NVML's ``gpu_time_s`` (per process) and ``gpu_device_busy_s`` logged by the GPU runs
   of 1 and 2, with the ``benchmark.gpu_time`` tag that says what they count;
4. the 200-epoch `paper` run on full-size MNIST (idx files of the real sizes written
   here), its wall-clock against the goal of 120 s;
5. several GPUs: how many are visible, and on which the workers of 1 trained (spread
   over the cards where there are several).

    python scripts/gpu_path_check.py --out gpu-check [--device cuda] [--dry-run]

``--dry-run`` runs every check on the CPU with small sizes and few epochs (what the
checks do, not what they measure). Writes ``gpu_path_check.json`` and
``gpu_path_check.md`` to ``--out``; exits 1 when a check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runs from a checkout, installed or not
sys.path.insert(0, str(REPO / "scripts"))

import optuna  # noqa: E402
from gpu_check import write_mnist  # noqa: E402  (the fake MNIST idx files of real sizes)
from mlflow.tracking import MlflowClient  # noqa: E402

GOAL_S = 120.0  # the 200-epoch full-MNIST paper run, training and validation included


def _env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return env | {
        "MLFLOW_TRACKING_URI": f"sqlite:///{folder}/mlflow.db",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "ALD_BENCHMARK_CHECKPOINTS": str(folder / "checkpoints"),
        "PYTHONPATH": str(REPO),
    }


def _client(folder: Path) -> MlflowClient:
    return MlflowClient(f"sqlite:///{folder}/mlflow.db")


def _run(cmd: list[str], folder: Path, log: Path, timeout: float) -> tuple[int, float]:
    """Run ``cmd`` in ``folder``, its output to ``log``; (exit code, elapsed seconds)."""
    started = time.monotonic()
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.run(
            cmd,
            cwd=folder,
            env=_env(folder),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    return proc.returncode, time.monotonic() - started


def _gpu_metrics(run) -> dict:  # noqa: ANN001
    m, tags = run.data.metrics, run.data.tags
    return {
        "gpu_time_s": m.get("gpu_time_s"),
        "gpu_device_busy_s": m.get("gpu_device_busy_s"),
        "gpu_time_tag": tags.get("benchmark.gpu_time"),
    }


def check_forked_workers(work: Path, device: str, epochs: int, log: Path) -> dict:
    folder = work / "workers"
    folder.mkdir()
    storage = f"sqlite:///{folder}/optuna.db"
    cmd = [sys.executable, "-m", "pipelines.gridsearch", "--dataset", "mnist5k"]
    cmd += ["--preset", "quick", "--latent_sizes", "4,8,12", "--epochs", str(epochs)]
    cmd += ["--n_workers", "3", "--device", device, "--storage", storage]
    code, elapsed = _run(cmd, folder, log, timeout=900)
    (study_name,) = optuna.get_all_study_names(storage)
    trials = optuna.load_study(study_name=study_name, storage=storage).trials
    runs = {
        r.info.run_id: r
        for r in _client(folder).search_runs(["0"], "tags.`benchmark.method` = 'fixed'")
    }
    rows = []
    for t in trials:
        run = runs.get(t.user_attrs.get("mlflow_run_id", ""))
        rows.append(
            {
                "trial": t.number,
                "state": t.state.name,
                "pid": t.user_attrs.get("worker_pid"),
                "in_parent": bool(t.user_attrs.get("worker_in_parent")),
                "device": t.user_attrs.get("worker_device"),
                **(_gpu_metrics(run) if run else {}),
            }
        )
    ok = code == 0 and len(rows) == 3 and all(r["state"] == "COMPLETE" for r in rows)
    return {"ok": ok, "exit_code": code, "elapsed_s": round(elapsed, 1), "trials": rows}


def _epochs_logged(folder: Path) -> tuple[str, int]:
    runs = _client(folder).search_runs(["0"])
    if not runs:
        return "", 0
    run = runs[0]
    history = _client(folder).get_metric_history(run.info.run_id, "train_loss")
    return run.info.run_id, len(history)


def check_cpu_checkpoint_resumed(work: Path, device: str, epochs: int, log: Path) -> dict:
    folder = work / "resume"
    folder.mkdir()
    base = [sys.executable, "-m", "pipelines.adaptive", "--dataset", "mnist5k"]
    base += ["--preset", "quick", "--epochs", str(epochs), "--amp", "true", "--seed", "2"]
    with log.open("a") as out:
        proc = subprocess.Popen(
            [*base, "--device", "cpu"],
            cwd=folder,
            env=_env(folder),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 600
        run_id, seen = "", 0
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(1)
            run_id, seen = _epochs_logged(folder)
            if seen >= 2:
                proc.send_signal(signal.SIGINT)
                break
        stopped_code = proc.wait(timeout=120)
    status = _client(folder).get_run(run_id).info.status if run_id else "none"
    code, elapsed = _run([*base, "--device", device, "--resume_run_id", run_id], folder, log, 900)
    run = _client(folder).get_run(run_id) if run_id else None
    _, logged = _epochs_logged(folder)
    ok = (
        stopped_code == 128 + signal.SIGINT
        and status == "KILLED"
        and code == 0
        and run is not None
        and run.info.status == "FINISHED"
        and logged >= epochs
    )
    return {
        "ok": ok,
        "stopped_after_epochs": seen,
        "stop_exit_code": stopped_code,
        "status_after_stop": status,
        "resume_exit_code": code,
        "status_after_resume": run.info.status if run else None,
        "epochs_logged": logged,
        "resumed_on": device,
        "resume_elapsed_s": round(elapsed, 1),
        **(_gpu_metrics(run) if run else {}),
    }


def check_full_mnist_paper(work: Path, device: str, epochs: int, scale: float, log: Path) -> dict:
    folder = work / "paper"
    folder.mkdir()
    data = work / "mnist-data"
    write_mnist(data, int(60_000 * scale), int(10_000 * scale))
    cmd = [sys.executable, "-m", "pipelines.adaptive", "--dataset", "mnist", "--preset", "paper"]
    cmd += ["--data_dir", str(data), "--epochs", str(epochs), "--device", device]
    code, elapsed = _run(cmd, folder, log, timeout=1800)
    runs = _client(folder).search_runs(["0"])
    m = runs[0].data.metrics if runs else {}
    result = {
        "ok": code == 0,
        "exit_code": code,
        "epochs": epochs,
        "scale": scale,
        "elapsed_s": round(elapsed, 1),
        "wall_clock_s": m.get("wall_clock_s"),
        "train_time_s": m.get("train_time_s"),
        "final_latent_dim": m.get("final_latent_dim"),
        **(_gpu_metrics(runs[0]) if runs else {}),
    }
    if epochs == 200 and scale == 1.0 and m.get("wall_clock_s") is not None:
        result["within_goal"] = m["wall_clock_s"] <= GOAL_S
    return result


def markdown(results: dict) -> str:
    """The checks as one Markdown table (a check that raised shows its error)."""
    w, r, p, g = (results[k] for k in ("workers", "resume", "paper", "gpus"))

    def said(check: dict, text: str) -> str:
        return f"error: {check['error']}" if "error" in check else text

    trials = "; ".join(
        f"trial {t['trial']} {t['state']} pid {t['pid']}"
        f"{' (parent)' if t['in_parent'] else ''} on {t['device']}"
        for t in w["trials"]
    )
    gpu_times = ", ".join(
        f"{t.get('gpu_time_s')}/{t.get('gpu_device_busy_s')}" for t in w["trials"]
    )
    rows = [
        ("1. three local workers, two forked, one GPU", w, f"{trials}; {w.get('elapsed_s')} s"),
        (
            "2. CPU checkpoint resumed with amp",
            r,
            f"stopped after epoch {r.get('stopped_after_epochs')} (exit "
            f"{r.get('stop_exit_code')}, {r.get('status_after_stop')}), resumed on "
            f"{r.get('resumed_on')}: exit {r.get('resume_exit_code')}, "
            f"{r.get('status_after_resume')}, {r.get('epochs_logged')} epochs",
        ),
        (
            "3. NVML GPU time (gpu_time_s / gpu_device_busy_s)",
            {"ok": results["gpu_time_ok"]},
            f"resumed run {r.get('gpu_time_s')}/{r.get('gpu_device_busy_s')} "
            f"({r.get('gpu_time_tag')}); workers' trials {gpu_times}",
        ),
        (
            f"4. full-MNIST paper run, {p.get('epochs')} epochs, scale {p.get('scale')}",
            p,
            f"wall-clock {p.get('wall_clock_s')} s (training {p.get('train_time_s')} s); "
            f"goal {GOAL_S:g} s: {p.get('within_goal', 'not measured at full size')}",
        ),
        (
            "5. several GPUs",
            g,
            f"{g['visible']} visible; workers on {sorted({str(t['device']) for t in w['trials']})}",
        ),
    ]
    mode = ", dry run" if results["dry_run"] else ""
    lines = [f"## The GPU path ({results['device']}{mode})", "", "| check | passed | measured |"]
    lines += ["|---|---|---|"]
    lines += [f"| {name} | {check['ok']} | {said(check, text)} |" for name, check, text in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="gpu-check")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dry-run", action="store_true", help="every check on the CPU, small")
    args = parser.parse_args()
    device = "cpu" if args.dry_run else args.device
    short, full, scale = (2, 2, 0.02) if args.dry_run else (3, 200, 1.0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = (out / "gpu_path_check.log").resolve()
    import torch

    visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results: dict = {"device": device, "dry_run": args.dry_run}
        for name, check in (
            ("workers", lambda: check_forked_workers(work, device, short, log)),
            ("resume", lambda: check_cpu_checkpoint_resumed(work, device, short + 2, log)),
            ("paper", lambda: check_full_mnist_paper(work, device, full, scale, log)),
        ):
            print(f"--- {name} ({time.strftime('%H:%M:%S')})", flush=True)
            try:
                results[name] = check()
            except Exception as exc:  # noqa: BLE001 - one failed check, the others still run
                results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "trials": []}
            print(json.dumps(results[name]), flush=True)
    gpu_runs = [results["resume"], *results["workers"].get("trials", [])]
    results["gpu_time_ok"] = (
        "not applicable on a CPU"
        if device == "cpu"
        else all(r.get("gpu_time_s") is not None for r in gpu_runs)
    )
    devices = {t.get("device") for t in results["workers"].get("trials", [])}
    results["gpus"] = {
        "visible": visible,
        "ok": device == "cpu" or visible < 2 or len(devices) > 1,
    }
    (out / "gpu_path_check.json").write_text(json.dumps(results, indent=2))
    text = markdown(results)
    (out / "gpu_path_check.md").write_text(text)
    print(text)
    checks = [results[k]["ok"] for k in ("workers", "resume", "paper")] + [results["gpus"]["ok"]]
    if results["gpu_time_ok"] is False:
        checks.append(False)
    sys.exit(0 if all(checks) else 1)


if __name__ == "__main__":
    main()
