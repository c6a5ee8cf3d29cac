"""What a run cost the machine beyond wall-clock: the machine's load when it started and
ended, and on CUDA the seconds the GPU was busy.

On a shared machine wall-clock measures the neighbours as much as the method; the load
averages say how busy the machine was, and ``gpu_time_s`` how much of the run the GPU
spent executing kernels."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator

import mlflow
import torch

from benchmark.tracking.tags import one_line

# Seconds between two readings of the GPU's utilisation (NVML's own sample period is
# 1/6 s to 1 s, depending on the product).
GPU_SAMPLE_S = 0.5
GPU_TIME_TAG = "benchmark.gpu_time"


def load_avg_1m() -> float | None:
    """The machine's 1-minute load average (runnable processes), None where the OS has
    none."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def nvml_utilization(device: torch.device) -> Callable[[], float]:
    """A function returning the percentage of the last NVML sample period during which
    ``device`` executed one or more kernels (nvidia-smi's ``utilization.gpu``).

    Raises ImportError without ``nvidia-ml-py`` and ``pynvml.NVMLError`` where NVML
    cannot read the device. The device is found by its UUID, so that
    ``CUDA_VISIBLE_DEVICES`` renumbering does not pick another GPU."""
    import pynvml

    pynvml.nvmlInit()
    index = device.index if device.index is not None else torch.cuda.current_device()
    uuid = str(torch.cuda.get_device_properties(index).uuid)
    handle = pynvml.nvmlDeviceGetHandleByUUID(uuid if uuid.startswith("GPU-") else f"GPU-{uuid}")
    return lambda: float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)


class GpuBusyMeter:
    """Seconds a GPU was busy while the ``with`` block ran: its utilisation (percent of
    time executing kernels) read every ``interval_s`` seconds in a background thread and
    integrated over time. The whole device counts, so other processes' kernels on the
    same GPU are included."""

    def __init__(self, read: Callable[[], float], interval_s: float = GPU_SAMPLE_S) -> None:
        self._read = read
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="gpu-busy-meter", daemon=True)
        self.busy_s = 0.0

    def _sample(self, last: float) -> float:
        now = time.monotonic()
        with contextlib.suppress(Exception):  # a missed reading counts as idle
            self.busy_s += self._read() / 100.0 * (now - last)
        return now

    def _loop(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self._interval):
            last = self._sample(last)
        self._sample(last)

    def __enter__(self) -> GpuBusyMeter:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


@contextlib.contextmanager
def usage_metrics(
    device: torch.device, read_gpu: Callable[[], float] | None = None
) -> Iterator[None]:
    """Log ``load_avg_1m_start`` now and ``load_avg_1m_end`` when the block ends (also
    when it raises), and on CUDA ``gpu_time_s`` (:class:`GpuBusyMeter`; where NVML is
    missing, the tag ``benchmark.gpu_time`` says why instead). CPU runs never log
    ``gpu_time_s``. ``read_gpu`` replaces the NVML reading (tests)."""
    start = load_avg_1m()
    if start is not None:
        mlflow.log_metric("load_avg_1m_start", start)
    meter = None
    if device.type == "cuda":
        try:
            meter = GpuBusyMeter(read_gpu or nvml_utilization(device))
        except Exception as exc:  # noqa: BLE001 - ImportError, NVMLError: measured without
            mlflow.set_tag(
                GPU_TIME_TAG,
                one_line(
                    f"not measured ({type(exc).__name__}); install nvidia-ml-py "
                    "(pip install -e '.[gpu]')"
                ),
            )
    if meter is not None:
        meter.__enter__()
    try:
        yield
    finally:
        with contextlib.suppress(Exception):  # the run is ending; never mask why
            end = load_avg_1m()
            metrics = {} if end is None else {"load_avg_1m_end": end}
            if meter is not None:
                meter.__exit__(None, None, None)
                metrics["gpu_time_s"] = meter.busy_s
            mlflow.log_metrics(metrics)
