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

    python scripts/gpu_path_check.py --out gpu-check [--device cuda] [--dry-run] [--budget-s S]

``--dry-run`` runs every check on the CPU with small sizes and few epochs (what the
checks do, not what they measure). ``--budget-s``: the seconds the checks may take in
all (scripts/gpu_check.sh passes what is left of its own budget). Each check gets what
is left less what the checks after it need at least (``NEED_S``); a check that would
not fit is "not run: budget", one that runs out is stopped with SIGINT (its run ends
KILLED, as a user's Ctrl-C) and is "stopped: budget"; the 200-epoch run so stopped
still reports its epoch time and the 200-epoch time that follows from it, marked as an
estimate. Writes ``gpu_path_check.json`` and ``gpu_path_check.md`` to ``--out``; exits
1 when a check failed, 3 when none failed but one was not run or stopped for the budget.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runs from a checkout, installed or not
sys.path.insert(0, str(REPO / "scripts"))

import optuna  # noqa: E402
from gpu_check import write_mnist  # noqa: E402  (the fake MNIST idx files of real sizes)
from mlflow.tracking import MlflowClient  # noqa: E402

GOAL_S = 120.0  # the 200-epoch full-MNIST paper run, training and validation included
# The least seconds a check needs to be worth starting (its runs' start-up, data and
# domain CNN included), on a GPU and in the CPU dry run. GPU figures are estimates from
# the 2026-11-26 H200 epoch times, not measurements. The dry run's: about half of what
# the workers and the paper run took on this project's shared 2-core CPU machine (78 and
# 41 s); the resume's is a guess, its run before the stop is not timed on its own.
NEED_S = {
    False: {"workers": 60.0, "resume": 45.0, "paper": 60.0},
    True: {"workers": 40.0, "resume": 30.0, "paper": 20.0},
}
STOP_GRACE_S = 30.0  # after SIGINT, for the run to end itself as KILLED


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


class Budget:
    """The seconds the checks may still take: ``left()`` of the whole, ``cap(name)`` for
    one check (what is left less what the later checks need at least)."""

    def __init__(self, total_s: float | None, need: dict[str, float]) -> None:
        self.deadline = None if total_s is None else time.monotonic() + total_s
        self.need = need

    def left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def cap(self, name: str) -> float:
        later = list(self.need)[list(self.need).index(name) + 1 :]
        return self.left() - sum(self.need[n] for n in later)


def _run(cmd: list[str], folder: Path, log: Path, timeout: float) -> tuple[int, float, bool]:
    """Run ``cmd`` in ``folder``, its output to ``log``, for at most ``timeout`` seconds;
    (exit code, elapsed seconds, whether the budget stopped it). A run out of time is
    sent SIGINT, the clean stop of docs (its MLflow run ends KILLED, its checkpoint
    kept), and killed only if it has not ended ``STOP_GRACE_S`` later."""
    started = time.monotonic()
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(
            cmd, cwd=folder, env=_env(folder), stdout=out, stderr=subprocess.STDOUT
        )
        stopped = False
        try:
            proc.wait(timeout=max(timeout, 1.0))
        except subprocess.TimeoutExpired:
            stopped = True
            out.write(f"--- stopped: budget ({timeout:.0f} s)\n")
            out.flush()
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return proc.returncode, time.monotonic() - started, stopped


def _gpu_metrics(run) -> dict:  # noqa: ANN001
    m, tags = run.data.metrics, run.data.tags
    return {
        "gpu_time_s": m.get("gpu_time_s"),
        "gpu_device_busy_s": m.get("gpu_device_busy_s"),
        "gpu_time_tag": tags.get("benchmark.gpu_time"),
    }


def check_forked_workers(
    work: Path, device: str, dataset: str, epochs: int, log: Path, cap: float
) -> dict:
    folder = work / "workers"
    folder.mkdir()
    storage = f"sqlite:///{folder}/optuna.db"
    cmd = [sys.executable, "-m", "pipelines.gridsearch", "--dataset", dataset]
    cmd += ["--preset", "quick", "--latent_sizes", "4,8,12", "--epochs", str(epochs)]
    cmd += ["--n_workers", "3", "--device", device, "--storage", storage]
    code, elapsed, stopped = _run(cmd, folder, log, timeout=cap)
    # a search stopped by the budget before its study was made has no trials to show
    names = optuna.get_all_study_names(storage) if (folder / "optuna.db").exists() else []
    trials = optuna.load_study(study_name=names[0], storage=storage).trials if names else []
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
    result = {"ok": ok, "exit_code": code, "elapsed_s": round(elapsed, 1), "trials": rows}
    return result | ({"budget": f"stopped after {cap:.0f} s"} if stopped else {})


def _epochs_logged(folder: Path) -> tuple[str, int]:
    runs = _client(folder).search_runs(["0"])
    if not runs:
        return "", 0
    run = runs[0]
    history = _client(folder).get_metric_history(run.info.run_id, "train_loss")
    return run.info.run_id, len(history)


def check_cpu_checkpoint_resumed(
    work: Path, device: str, dataset: str, epochs: int, log: Path, cap: float
) -> dict:
    folder = work / "resume"
    folder.mkdir()
    base = [sys.executable, "-m", "pipelines.adaptive", "--dataset", dataset]
    base += ["--preset", "quick", "--epochs", str(epochs), "--amp", "true", "--seed", "2"]
    with log.open("a") as out:
        proc = subprocess.Popen(
            [*base, "--device", "cpu"],
            cwd=folder,
            env=_env(folder),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        started = time.monotonic()
        # the CPU part may take half the check's time: the resume needs the rest
        deadline = started + cap / 2
        run_id, seen = "", 0
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)  # a digits epoch takes about a second: stop after the second
            run_id, seen = _epochs_logged(folder)
            if seen >= 2:
                proc.send_signal(signal.SIGINT)
                break
        if proc.poll() is None and seen < 2:  # out of time before its second epoch
            proc.send_signal(signal.SIGINT)
        stopped_code = proc.wait(timeout=STOP_GRACE_S)
    status = _client(folder).get_run(run_id).info.status if run_id else "none"
    if seen < 2:
        return {
            "ok": False,
            "budget": f"stopped after {cap / 2:.0f} s, before the CPU run's second epoch",
            "stopped_after_epochs": seen,
        }
    left = cap - (time.monotonic() - started)
    resume = [*base, "--device", device, "--resume_run_id", run_id]
    code, elapsed, out_of_time = _run(resume, folder, log, left)
    run = _client(folder).get_run(run_id) if run_id else None
    _, logged = _epochs_logged(folder)
    ok = (
        stopped_code == 128 + signal.SIGINT
        and status == "KILLED"
        and code == 0
        and run is not None
        and run.info.status == "FINISHED"
        and logged > seen  # it trained on (an adaptive stop may end it before `epochs`)
    )
    return ({"budget": f"resume stopped after {left:.0f} s"} if out_of_time else {}) | {
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


def check_full_mnist_paper(
    work: Path, device: str, epochs: int, scale: float, log: Path, cap: float
) -> dict:
    started = time.monotonic()
    folder = work / "paper"
    folder.mkdir()
    data = work / "mnist-data"
    write_mnist(data, int(60_000 * scale), int(10_000 * scale))
    cmd = [sys.executable, "-m", "pipelines.adaptive", "--dataset", "mnist", "--preset", "paper"]
    cmd += ["--data_dir", str(data), "--epochs", str(epochs), "--device", device]
    code, elapsed, stopped = _run(cmd, folder, log, timeout=cap - (time.monotonic() - started))
    runs = _client(folder).search_runs(["0"])
    m = runs[0].data.metrics if runs else {}
    times = (
        [x.value for x in _client(folder).get_metric_history(runs[0].info.run_id, "epoch_time_s")]
        if runs
        else []
    )
    # the first epoch (CUDA's lazy start, cuDNN's autotuning) left out where there are more
    epoch_s = statistics.median(times[1:] or times) if times else None
    result = {
        "ok": code == 0,
        "exit_code": code,
        "epochs": epochs,
        "scale": scale,
        "elapsed_s": round(elapsed, 1),
        "wall_clock_s": m.get("wall_clock_s"),
        "train_time_s": m.get("train_time_s"),
        "final_latent_dim": m.get("final_latent_dim"),
        "epochs_run": len(times),
        "median_epoch_s": None if epoch_s is None else round(epoch_s, 3),
        **(_gpu_metrics(runs[0]) if runs else {}),
    }
    full_size = epochs == 200 and scale == 1.0
    if stopped:
        result["budget"] = f"stopped after {len(times)} of {epochs} epochs"
        if epoch_s is not None:
            # an estimate: epoch time x epochs, without the run's start and test evaluation
            result["estimated_s"] = round(epoch_s * epochs, 1)
            if full_size:
                result["within_goal"] = f"estimate: {result['estimated_s'] <= GOAL_S}"
    elif full_size and m.get("wall_clock_s") is not None:
        result["within_goal"] = m["wall_clock_s"] <= GOAL_S
    return result


def _s(seconds: float | None) -> str:
    """Seconds as the table shows them (one decimal; "None" where not measured)."""
    return "None" if seconds is None else f"{seconds:.1f}"


def markdown(results: dict) -> str:
    """The checks as one Markdown table (a check that raised shows its error)."""
    w, r, p, g = (results[k] for k in ("workers", "resume", "paper", "gpus"))

    def said(check: dict, text: str) -> str:
        if "not_run" in check:
            return "-"
        if "error" in check:
            return f"error: {check['error']}"
        return f"{check['budget']}; {text}" if "budget" in check else text

    def passed(check: dict) -> str:
        if "not_run" in check:
            return f"not run: {check['not_run']}"
        return f"stopped: budget ({check['ok']})" if "budget" in check else str(check["ok"])

    trials = "; ".join(
        f"trial {t['trial']} {t['state']} pid {t['pid']}"
        f"{' (parent)' if t['in_parent'] else ''} on {t['device']}"
        for t in w["trials"]
    )
    estimate = f", estimated {p['estimated_s']} s for {p['epochs']}" if "estimated_s" in p else ""
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
            f"wall-clock {_s(p.get('wall_clock_s'))} s (training {_s(p.get('train_time_s'))} s); "
            f"{p.get('epochs_run')} epochs run, median epoch {p.get('median_epoch_s')} s"
            f"{estimate}; "
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
    lines += [f"| {name} | {passed(check)} | {said(check, text)} |" for name, check, text in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="gpu-check")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dry-run", action="store_true", help="every check on the CPU, small")
    parser.add_argument(
        "--budget-s", type=float, default=None, help="seconds for all checks (default: no limit)"
    )
    args = parser.parse_args()
    device = "cpu" if args.dry_run else args.device
    short, full, scale = (2, 2, 0.02) if args.dry_run else (3, 200, 1.0)
    # the dry run's searches and resume on digits: its domain CNN trains in seconds on a
    # CPU, mnist5k's in minutes (what the checks do is the same)
    small = "digits" if args.dry_run else "mnist5k"
    # enough epochs that the CPU run is still training when its second one is logged
    resume_epochs = 12 if args.dry_run else short + 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = (out / "gpu_path_check.log").resolve()
    budget = Budget(args.budget_s, NEED_S[args.dry_run])
    # a TERM (timeout's, a scheduler's) ends as an exit: the work folder is removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    import torch

    visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results: dict = {"device": device, "dry_run": args.dry_run, "budget_s": args.budget_s}
        checks: dict[str, Callable[[float], dict]] = {
            "workers": lambda cap: check_forked_workers(work, device, small, short, log, cap),
            "resume": lambda cap: check_cpu_checkpoint_resumed(
                work, device, small, resume_epochs, log, cap
            ),
            "paper": lambda cap: check_full_mnist_paper(work, device, full, scale, log, cap),
        }
        for name, check in checks.items():
            cap = budget.cap(name)
            print(
                f"--- {name} ({time.strftime('%H:%M:%S')}; {budget.left():.0f} s of the "
                f"budget left, {cap:.0f} s for this check)",
                flush=True,
            )
            if cap < budget.need[name]:  # recorded, never skipped in silence
                why = f"budget ({cap:.0f} s left for it, it needs about {budget.need[name]:.0f})"
                results[name] = {"ok": False, "not_run": why, "trials": []}
            else:
                try:
                    results[name] = check(cap)
                except Exception as exc:  # noqa: BLE001 - one failed check, the others still run
                    error = f"{type(exc).__name__}: {exc}"
                    results[name] = {"ok": False, "error": error, "trials": []}
            print(json.dumps(results[name]), flush=True)
    # the runs that trained on the device: the resumed run (where it got to its resume)
    # and the workers' trials
    resumed = [results["resume"]] if "resume_exit_code" in results["resume"] else []
    gpu_runs = resumed + results["workers"].get("trials", [])
    results["gpu_time_ok"] = (
        "not applicable on a CPU"
        if device == "cpu"
        else bool(gpu_runs) and all(r.get("gpu_time_s") is not None for r in gpu_runs)
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
    sys.exit(exit_code(results))


def exit_code(results: dict) -> int:
    """0 when every check ran and passed; 3 when none that ran to its end failed but
    the budget left one out or stopped it (incomplete, not wrong); else 1."""
    checks = [results[k] for k in ("workers", "resume", "paper")]
    cut = [c for c in checks if "not_run" in c or "budget" in c]
    whole = [c for c in checks if "not_run" not in c and "budget" not in c]
    failed = not all(c["ok"] for c in whole) or not results["gpus"]["ok"]
    failed = failed or results["gpu_time_ok"] is False
    if failed:
        return 1
    return 3 if cut else 0


if __name__ == "__main__":
    main()
