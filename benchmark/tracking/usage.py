"""What a run cost the machine beyond wall-clock: the machine's load when it started and
ended, and on CUDA the seconds the GPU was busy.

On a shared machine wall-clock measures the neighbours as much as the method; the load
averages say how busy the machine was, and ``gpu_time_s`` how long the run's own kernels
kept the GPU busy (several workers sharing one GPU each count only their own, where NVML
tells processes apart), ``gpu_device_busy_s`` how long the device was busy at all."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

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


@dataclass(frozen=True)
class GpuReading:
    """How a run's GPU time is read: ``process`` the percentage of the last NVML
    sample period this process's kernels kept the GPU busy, ``device`` the same for
    the whole device (every process's kernels), and ``scope``, which one
    ``gpu_time_s`` means (``process``, or ``device`` where NVML cannot tell
    processes apart). ``matched`` says whether a per-process sample ever named this
    process (in a container without the host's PID namespace none does)."""

    process: Callable[[], float] | None
    device: Callable[[], float]
    matched: Callable[[], bool] = lambda: True

    @property
    def scope(self) -> str:
        return "process" if self.process is not None else "device"


def nvml_handle(pynvml, device: torch.device):  # noqa: ANN001, ANN201
    """NVML's handle of ``device``, found by its UUID (so that ``CUDA_VISIBLE_DEVICES``
    renumbering does not pick another GPU). PyTorch gives the UUID without its kind:
    a whole GPU is ``GPU-<uuid>`` to NVML, a MIG instance ``MIG-<uuid>``; both are tried."""
    index = device.index if device.index is not None else torch.cuda.current_device()
    uuid = str(torch.cuda.get_device_properties(index).uuid)
    names = [uuid] if uuid.startswith(("GPU-", "MIG-")) else [f"GPU-{uuid}", f"MIG-{uuid}"]
    for name in names[:-1]:
        with contextlib.suppress(pynvml.NVMLError):
            return pynvml.nvmlDeviceGetHandleByUUID(name)
    return pynvml.nvmlDeviceGetHandleByUUID(names[-1])


def process_utilization(pynvml, handle, pid: int) -> tuple[Callable[[], float], Callable[[], bool]]:  # noqa: ANN001
    """A reading of the SM utilisation of process ``pid`` alone (NVML's per-process
    samples since the previous reading, averaged; no sample of ``pid`` reads as idle),
    and whether any sample named ``pid`` so far. The first call only marks where the
    readings start: samples from before (an earlier run of the same process) are
    skipped. Raises ``pynvml.NVMLError`` where the device keeps no such samples."""
    state = {"since": 0, "started": False, "matched": False}

    def read() -> float:
        try:
            samples = pynvml.nvmlDeviceGetProcessUtilization(handle, state["since"])
        except pynvml.NVMLError as exc:
            if getattr(exc, "value", None) != pynvml.NVML_ERROR_NOT_FOUND:
                raise
            samples = []  # NVML's "no sample since then": nothing ran
        # The start is marked by the first call, not by a time stamp: where NVML had no
        # sample buffered then, ``since`` stays 0 and every sample found later is new.
        first = not state["started"]
        state["started"] = True
        if not samples:
            return 0.0
        state["since"] = max(int(s.timeStamp) for s in samples)
        mine = [float(s.smUtil) for s in samples if int(s.pid) == pid]
        if first or not mine:
            return 0.0
        state["matched"] = True
        return sum(mine) / len(mine)

    read()  # where the readings start; raises where per-process samples are missing
    return read, lambda: bool(state["matched"])


def nvml_utilization(device: torch.device, pid: int | None = None) -> GpuReading:
    """The readings of :class:`GpuReading` for ``device`` and this process (or ``pid``).

    Raises ImportError without ``nvidia-ml-py`` and ``pynvml.NVMLError`` where NVML
    cannot find the device; where only per-process samples are missing (some products)
    the reading is device-wide. A device-wide reading that NVML refuses (MIG instances:
    NVML reads no utilisation of a MIG device) fails at each reading instead, and
    :class:`GpuBusyMeter` records that it was not measured."""
    import pynvml

    pynvml.nvmlInit()
    handle = nvml_handle(pynvml, device)

    def whole() -> float:
        return float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)

    try:
        process, matched = process_utilization(pynvml, handle, pid or os.getpid())
    except pynvml.NVMLError:
        return GpuReading(process=None, device=whole)
    return GpuReading(process=process, device=whole, matched=matched)


class GpuBusyMeter:
    """Seconds a GPU was busy while the ``with`` block ran: a utilisation (percent of
    time executing kernels) read every ``interval_s`` seconds in a background thread and
    integrated over time. A reading that fails is counted in ``failed`` (the first
    error kept in ``error``), never as idle: a sum with holes in it would be a figure
    too low with nothing to say so, so a meter with any failed reading is not
    ``measured``."""

    def __init__(self, read: Callable[[], float], interval_s: float = GPU_SAMPLE_S) -> None:
        self._read = read
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="gpu-busy-meter", daemon=True)
        self.busy_s = 0.0
        self.readings = 0
        self.failed = 0
        self.error: str | None = None

    @property
    def measured(self) -> bool:
        """Whether ``busy_s`` means anything: at least one reading, none failed."""
        return self.readings > 0 and self.failed == 0

    def failure(self) -> str:
        """Why the meter is not ``measured``, in words for a tag."""
        if self.readings == 0:
            return "was never read"
        return f"failed {self.failed} of {self.readings} times ({self.error})"

    def _sample(self, last: float) -> float:
        now = time.monotonic()
        self.readings += 1
        try:
            percent = self._read()
        except Exception as exc:  # noqa: BLE001 - NVMLError or the driver's: kept, not idle
            self.failed += 1
            if self.error is None:
                self.error = f"{type(exc).__name__}: {exc}"
            return now
        self.busy_s += percent / 100.0 * (now - last)
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


def gpu_time_metrics(
    reading: GpuReading, process: GpuBusyMeter | None, device: GpuBusyMeter
) -> tuple[dict[str, float], str]:
    """``gpu_time_s`` (this process's busy seconds where NVML told processes apart,
    else the device's), ``gpu_device_busy_s`` (the whole device's) and the
    ``benchmark.gpu_time`` tag that says which ``gpu_time_s`` is. A meter whose
    readings failed gives no metric (a missing figure, never 0), and the tag says why."""
    metrics: dict[str, float] = {}
    if device.measured:
        metrics["gpu_device_busy_s"] = device.busy_s
    if process is not None and process.measured and reading.matched():
        metrics["gpu_time_s"] = process.busy_s
        tag = "per process: this process's kernels (NVML process utilisation)"
        if not device.measured:
            tag += f"; gpu_device_busy_s not measured: the device-wide reading {device.failure()}"
        return metrics, tag
    if process is None:
        why = "NVML keeps no per-process samples on this device"
    elif not process.measured:
        why = f"NVML's per-process reading {process.failure()}"
    else:
        why = (
            "NVML's per-process samples never named this process (a container without the "
            "host's PID namespace?)"
        )
    if device.measured:
        metrics["gpu_time_s"] = device.busy_s
        return metrics, f"device-wide: {why}; other processes' kernels on this GPU count too"
    # NVML's documented case of an unsupported reading; named so a MIG user knows why
    mig = (
        " (as on a MIG instance: NVML reads no utilisation of one)"
        if "NotSupported" in str(device.error)
        else ""
    )
    return metrics, f"not measured: {why}, and the device-wide reading {device.failure()}{mig}"


@contextlib.contextmanager
def usage_metrics(
    device: torch.device, read_gpu: Callable[[], GpuReading] | None = None
) -> Iterator[None]:
    """Log ``load_avg_1m_start`` now and ``load_avg_1m_end`` when the block ends (also
    when it raises), and on CUDA ``gpu_time_s`` and ``gpu_device_busy_s``
    (:func:`gpu_time_metrics`, tag ``benchmark.gpu_time``; where nvidia-ml-py is missing
    or NVML cannot read the GPU, no metric and the tag says why). CPU runs never log
    them. ``read_gpu`` replaces :func:`nvml_utilization` (tests)."""
    start = load_avg_1m()
    if start is not None:
        mlflow.log_metric("load_avg_1m_start", start)
    reading = None
    if device.type == "cuda":
        try:
            reading = read_gpu() if read_gpu is not None else nvml_utilization(device)
        except ImportError as exc:  # only a missing package is fixed by installing it
            mlflow.set_tag(
                GPU_TIME_TAG,
                one_line(f"not measured ({exc}); install nvidia-ml-py (pip install -e '.[gpu]')"),
            )
        except Exception as exc:  # noqa: BLE001 - NVMLError (driver, device): the run goes on
            mlflow.set_tag(
                GPU_TIME_TAG,
                one_line(
                    f"not measured: NVML could not read this GPU ({type(exc).__name__}: {exc})"
                ),
            )
    meters: list[GpuBusyMeter] = []
    process = whole = None
    if reading is not None:
        process = GpuBusyMeter(reading.process) if reading.process is not None else None
        whole = GpuBusyMeter(reading.device)
        meters = [m for m in (process, whole) if m is not None]
        for meter in meters:
            meter.__enter__()
    try:
        yield
    finally:
        with contextlib.suppress(Exception):  # the run is ending; never mask why
            end = load_avg_1m()
            metrics = {} if end is None else {"load_avg_1m_end": end}
            if reading is not None:
                for meter in meters:
                    meter.__exit__(None, None, None)
                gpu, scope = gpu_time_metrics(reading, process, whole)
                metrics |= gpu
                mlflow.set_tag(GPU_TIME_TAG, one_line(scope))
            mlflow.log_metrics(metrics)
