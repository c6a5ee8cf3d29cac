"""Where a result came from: package versions, git commit, hardware."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

import torch

PACKAGES = (
    "torch",
    "torchvision",
    "mlflow",
    "optuna",
    "numpy",
    "scikit-learn",
    "scipy",
    "pytorch-fid",
)


def package_versions() -> str:
    """``name=version`` of the packages that shape the numbers, space-separated."""
    out = [f"python={platform.python_version()}"]
    for name in PACKAGES:
        try:
            out.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name}=missing")
    return " ".join(out)


def git_commit(path: Path | None = None) -> str:
    """The commit of the project checkout (``unknown`` outside a git work tree)."""
    here = path or Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def hardware(device: torch.device) -> str:
    """The accelerator's name on CUDA, else the CPU model, with the core count."""
    import os

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu} ({os.cpu_count()} cores)"


def provenance_tags(device: torch.device) -> dict[str, str]:
    """Tags that let a report say how a run was made."""
    return {
        "benchmark.hardware": hardware(device),
        "benchmark.versions": package_versions(),
        "benchmark.git_commit": git_commit(),
    }
