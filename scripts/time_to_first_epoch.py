"""How long a run is silent, and how long until it trains: starts the `adaptive` entry
point with a fresh feature-extractor cache and a fresh tracking store, and prints when
its first line of output and its first epoch's progress bar appeared.

    python scripts/time_to_first_epoch.py --dataset mnist --data_dir measurements/data

Goal (issue 10): output within the first minute; training within 3 minutes. The run is
stopped once its first epoch starts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--data_dir", default="")
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = os.environ | {
            "ALD_BENCHMARK_CACHE": f"{tmp}/cache",
            "ALD_BENCHMARK_CHECKPOINTS": f"{tmp}/checkpoints",
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db",
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }
        env.pop("MLFLOW_RUN_ID", None)
        cmd = [sys.executable, "-m", "pipelines.adaptive", "--dataset", args.dataset]
        cmd += ["--preset", args.preset, "--data_dir", args.data_dir]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stderr=subprocess.STDOUT, stdout=subprocess.PIPE)
        first_output = first_epoch = None
        buffer = b""
        try:
            while first_epoch is None and time.perf_counter() - start < args.timeout:
                chunk = proc.stdout.read1(4096)
                if not chunk:
                    break
                now = time.perf_counter() - start
                first_output = first_output if first_output is not None else now
                buffer = (buffer + chunk)[-4096:]
                # the VAE's epoch bar ("mnist:   0%| 0/200 [00:00<?, ?epoch/s]") appears
                # when training starts; the extractor's bar counts batches
                if b"epoch/s" in buffer:
                    first_epoch = now
        finally:
            proc.kill()
            proc.wait()
    print(f"dataset={args.dataset} preset={args.preset} fresh extractor cache and store")
    print(f"first output after {first_output:.1f} s" if first_output else "no output")
    print(f"training started after {first_epoch:.1f} s" if first_epoch else "no epoch started")


if __name__ == "__main__":
    main()
