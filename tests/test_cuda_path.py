"""The CUDA path on a real GPU (skipped without one): what tests/test_checkpoint.py and
tests/test_gpu_time.py emulate on the CPU, run for real. scripts/gpu_check.sh runs this
file in its step 5, so a session lent a GPU runs it."""

from __future__ import annotations

import math
import time

import mlflow
import pytest
import torch
from mlflow.tracking import MlflowClient
from test_checkpoint import SEED, Interrupted
from test_checkpoint import _run as train_on_cpu
from test_decision_parity import ScriptedProbe, loop_config, random_history

from benchmark.tracking import usage
from benchmark.training.checkpoint import RandomStreams, load_checkpoint
from benchmark.training.fingerprint import training_fingerprint
from benchmark.training.loop import EpochRecord, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

CUDA = torch.device("cuda", 0)


def test_a_cpu_checkpoint_resumed_on_cuda_with_amp_trains(make_cfg, digits_data, tmp_path):
    """A run with ``amp=true`` checkpointed on the CPU (multi-tensor Adam, float32)
    goes on on CUDA (fused Adam under a GradScaler, float16 autocast): its first step
    raised "Expected grad_scale and found_inf to be None" before the kernel was kept."""
    epochs = 4
    cfg = loop_config(lambda **kw: make_cfg(amp=True, **kw), epochs)
    history = random_history(SEED, epochs)
    path = tmp_path / "state.pt"

    def stop_in_epoch_3(record: EpochRecord) -> None:
        if record.epoch == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        train_on_cpu(cfg, digits_data, history, checkpoint=path, on_epoch=stop_in_epoch_3)
    state = load_checkpoint(path, training_fingerprint(cfg, True, cfg.initial_latent_dim))
    assert state.epoch == 2
    result = train(
        cfg,
        digits_data.to(CUDA),
        None,
        CUDA,
        adaptive=True,
        progress=False,
        probe=ScriptedProbe(history[2:]),
        resume=state,
    )
    assert [r.epoch for r in result.history][-2:] == [3, 4]
    assert math.isfinite(result.history[-1].train_loss)
    assert all(p.device.type == "cuda" for p in result.model.parameters())


def test_the_random_stream_saved_on_cuda_restores():
    """The CUDA stream a checkpoint keeps gives the same draws once restored."""
    shuffle = torch.Generator().manual_seed(1)
    torch.cuda.manual_seed(3)
    saved = RandomStreams.capture(shuffle, CUDA)
    first = torch.rand(8, device=CUDA)
    torch.rand(100, device=CUDA)  # the stream moves on
    saved.restore(shuffle, CUDA)
    assert torch.equal(torch.rand(8, device=CUDA), first)


def test_nvml_reads_this_process_gpu_time(mlflow_store):
    """NVML in-process, on this GPU: a run that keeps the GPU busy logs ``gpu_time_s``
    and says what it counts. On a MIG instance NVML reads no utilisation, so this fails
    there, with the tag's "not measured" and why as its message."""
    pytest.importorskip("pynvml", reason="needs nvidia-ml-py (pip install -e '.[gpu]')")
    x = torch.randn(2048, 2048, device=CUDA)
    with mlflow.start_run() as run, usage.usage_metrics(CUDA):
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            x = torch.tanh(x @ x)
        torch.cuda.synchronize()
    data = MlflowClient(mlflow_store).get_run(run.info.run_id).data
    tag = data.tags[usage.GPU_TIME_TAG]
    assert "gpu_time_s" in data.metrics, tag
    assert data.metrics["gpu_time_s"] >= 0.0, tag
