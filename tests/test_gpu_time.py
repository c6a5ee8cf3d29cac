"""GPU time per process, from NVML's samples, without a GPU: a stand-in for pynvml
replays recorded samples of two processes sharing one device (two workers of a search),
and torch's device properties are stood in for."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

import mlflow
import pytest
import torch
from mlflow.tracking import MlflowClient

from benchmark.tracking import usage

NOT_FOUND, NOT_SUPPORTED = 6, 3


class NVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value


class NVMLError_NotSupported(NVMLError):  # noqa: N801 - pynvml's own name for it
    """What real pynvml raises for NVML_ERROR_NOT_SUPPORTED (its message included)."""

    def __init__(self) -> None:
        super().__init__(NOT_SUPPORTED)

    def __str__(self) -> str:
        return "Not Supported"


def sample(pid: int, stamp: int, sm: int) -> SimpleNamespace:
    return SimpleNamespace(pid=pid, timeStamp=stamp, smUtil=sm, memUtil=0)


class FakeNVML:
    """pynvml's calls the meter makes. ``recorded`` holds the per-process samples NVML
    would have buffered (pid, microsecond time stamp, SM percent); ``names`` the UUIDs
    it knows; ``per_process=False`` a device without per-process samples. A ``MIG-``
    handle is a MIG instance, whose utilisation NVML does not read: like the real
    library, the call raises ``NVMLError_NotSupported``."""

    NVMLError = NVMLError
    NVML_ERROR_NOT_FOUND = NOT_FOUND

    def __init__(self, recorded, names=("GPU-1234"), per_process=True, device_util=90):  # noqa: ANN001
        self.recorded = list(recorded)
        self.names = set(names) if not isinstance(names, str) else {names}
        self.per_process = per_process
        self.device_util = device_util
        self.asked_since: list[int] = []

    def nvmlInit(self) -> None:  # noqa: N802
        pass

    def nvmlDeviceGetHandleByUUID(self, name: str) -> str:  # noqa: N802
        if name not in self.names:
            raise NVMLError(NOT_FOUND)
        return name

    def nvmlDeviceGetProcessUtilization(self, _handle, since: int):  # noqa: ANN001, ANN201, N802
        if not self.per_process:
            raise NVMLError_NotSupported()
        self.asked_since.append(since)
        newer = [s for s in self.recorded if s.timeStamp > since]
        if not newer:
            raise NVMLError(NOT_FOUND)
        return newer

    def nvmlDeviceGetUtilizationRates(self, handle: str):  # noqa: ANN201, N802
        if handle.startswith("MIG-"):
            raise NVMLError_NotSupported()
        return SimpleNamespace(gpu=self.device_util, memory=0)


@pytest.fixture
def fake_gpu(monkeypatch):
    """torch's view of one GPU whose UUID it gives without NVML's kind prefix."""

    def install(nvml: FakeNVML, uuid: str = "1234") -> FakeNVML:
        monkeypatch.setitem(__import__("sys").modules, "pynvml", nvml)
        monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
        monkeypatch.setattr(
            torch.cuda, "get_device_properties", lambda _i: SimpleNamespace(uuid=uuid)
        )
        return nvml

    return install


def test_a_process_reads_only_its_own_samples_and_none_from_before(fake_gpu):
    me, other = 100, 200
    nvml = fake_gpu(FakeNVML([sample(me, 10, 99), sample(other, 10, 50)]))
    reading = usage.nvml_utilization(torch.device("cuda"), pid=me)
    assert reading.scope == "process"
    assert not reading.matched()
    # the samples above were there before the run: skipped
    assert reading.process() == 0.0
    nvml.recorded += [sample(me, 20, 30), sample(other, 20, 60), sample(me, 30, 10)]
    assert reading.process() == pytest.approx(20.0)  # (30 + 10) / 2, the other's left out
    assert reading.matched()
    assert nvml.asked_since[-1] == 10  # asked only for samples after the last seen
    assert reading.process() == 0.0  # nothing new since: idle
    nvml.recorded.append(sample(other, 40, 80))
    assert reading.process() == 0.0  # only the other worker ran
    assert reading.device() == 90.0  # the device-wide reading counts everybody


def test_a_uuid_nvml_does_not_know_still_raises(fake_gpu):
    fake_gpu(FakeNVML([], names={"GPU-9999"}))
    with pytest.raises(NVMLError):
        usage.nvml_utilization(torch.device("cuda"), pid=1)


def test_without_per_process_samples_the_reading_is_device_wide(fake_gpu):
    fake_gpu(FakeNVML([], per_process=False))
    reading = usage.nvml_utilization(torch.device("cuda"), pid=1)
    assert reading.scope == "device" and reading.process is None


def _gpu_run(mlflow_store, reading: usage.GpuReading, seconds: float = 0.6) -> tuple:  # noqa: ANN001
    with mlflow.start_run() as run, usage.usage_metrics(torch.device("cuda"), lambda: reading):
        time.sleep(seconds)
    data = MlflowClient(mlflow_store).get_run(run.info.run_id).data
    return data.metrics, data.tags[usage.GPU_TIME_TAG]


def test_two_workers_on_one_gpu_each_count_their_own_kernels(mlflow_store, fake_gpu, monkeypatch):
    """Recorded: this worker keeps the SMs 25% busy, the other 75%; the device is
    100% busy. gpu_time_s is this worker's quarter, gpu_device_busy_s the whole."""
    me, other = os.getpid(), os.getpid() + 1
    nvml = fake_gpu(FakeNVML([], device_util=100))
    stamp = iter(range(1, 10**6))

    def replay(_handle, since):  # noqa: ANN001, ANN202
        t = next(stamp)
        return [sample(me, t, 25), sample(other, t, 75)]

    monkeypatch.setattr(nvml, "nvmlDeviceGetProcessUtilization", replay)
    reading = usage.nvml_utilization(torch.device("cuda"))
    metrics, tag = _gpu_run(mlflow_store, reading, seconds=1.6)
    assert tag.startswith("per process")
    assert metrics["gpu_device_busy_s"] == pytest.approx(1.6, abs=0.3)
    assert metrics["gpu_time_s"] == pytest.approx(metrics["gpu_device_busy_s"] / 4, abs=0.05)


def test_a_process_never_named_by_nvml_falls_back_to_the_device_and_says_so(mlflow_store):
    reading = usage.GpuReading(process=lambda: 0.0, device=lambda: 100.0, matched=lambda: False)
    metrics, tag = _gpu_run(mlflow_store, reading)
    assert metrics["gpu_time_s"] == metrics["gpu_device_busy_s"] > 0.3
    assert tag.startswith("device-wide") and "PID namespace" in tag


def test_a_device_without_per_process_samples_logs_device_time_and_says_so(mlflow_store):
    metrics, tag = _gpu_run(mlflow_store, usage.GpuReading(process=None, device=lambda: 50.0))
    assert metrics["gpu_time_s"] == metrics["gpu_device_busy_s"]
    assert tag.startswith("device-wide") and "per-process" in tag


def test_a_mig_instance_is_found_by_its_mig_uuid_and_logs_no_gpu_time(mlflow_store, fake_gpu):
    """NVML finds a MIG instance by its ``MIG-`` UUID but reads no utilisation of it
    (NVIDIA: "On MIG-enabled GPUs, querying device utilization rates is not currently
    supported"): the run logs no GPU time at all, where it logged 0.0 before, and the
    tag says it was not measured and why."""
    fake_gpu(FakeNVML([], names={"MIG-1234"}, per_process=False))
    reading = usage.nvml_utilization(torch.device("cuda"), pid=1)
    assert reading.scope == "device"
    with pytest.raises(NVMLError_NotSupported):
        reading.device()
    metrics, tag = _gpu_run(mlflow_store, reading)
    assert "gpu_time_s" not in metrics and "gpu_device_busy_s" not in metrics
    assert tag.startswith("not measured") and "NVMLError_NotSupported" in tag and "MIG" in tag


def test_a_device_reading_that_fails_once_is_not_measured_but_the_process_one_is(mlflow_store):
    """One failed device-wide reading among good ones leaves gpu_device_busy_s out (a
    sum with a hole would be too low); this process's own time is still logged."""
    calls = iter(range(10**6))

    def flaky() -> float:
        if next(calls) == 0:
            raise NVMLError(999)
        return 100.0

    reading = usage.GpuReading(process=lambda: 40.0, device=flaky)
    metrics, tag = _gpu_run(mlflow_store, reading)
    assert "gpu_device_busy_s" not in metrics
    assert metrics["gpu_time_s"] > 0.2
    assert tag.startswith("per process") and "gpu_device_busy_s not measured" in tag
    assert "failed 1 of" in tag


@pytest.mark.parametrize(
    ("error", "says", "never"),
    [
        (ImportError("No module named 'pynvml'"), "install nvidia-ml-py", "NVML could not"),
        (NVMLError_NotSupported(), "NVMLError_NotSupported: Not Supported", "install"),
    ],
)
def test_a_missing_package_and_an_nvml_error_are_told_apart(mlflow_store, error, says, never):
    """Only a missing nvidia-ml-py is fixed by installing it; an NVML error (driver,
    device) is named instead of blamed on the package."""

    def read_gpu() -> usage.GpuReading:
        raise error

    with mlflow.start_run() as run, usage.usage_metrics(torch.device("cuda"), read_gpu):
        pass
    data = MlflowClient(mlflow_store).get_run(run.info.run_id).data
    tag = data.tags[usage.GPU_TIME_TAG]
    assert tag.startswith("not measured") and says in tag and never not in tag
    assert "gpu_time_s" not in data.metrics


def test_samples_after_a_first_reading_that_found_none_are_counted(fake_gpu):
    """NVML had no sample buffered when the run started (NOT_FOUND): the next
    interval's samples are all this run's. They were thrown away before, since the
    start was told by a time stamp of 0."""
    me = 100
    nvml = fake_gpu(FakeNVML([]))
    reading = usage.nvml_utilization(torch.device("cuda"), pid=me)
    nvml.recorded += [sample(me, 20, 30), sample(me, 30, 50)]
    assert reading.process() == pytest.approx(40.0)
    assert reading.matched()
