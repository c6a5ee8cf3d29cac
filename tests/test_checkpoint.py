"""Checkpoints and resume (benchmark.training.checkpoint, train(checkpoint=, resume=)): a training
stopped after any epoch and resumed from its last checkpoint ends exactly as the same
training that never stopped: the same decisions, sizes, losses and weights."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from test_decision_parity import ScriptedProbe, loop_config, random_history

from benchmark.errors import ConfigError
from benchmark.training.checkpoint import checkpoint_path, load_checkpoint
from benchmark.training.fingerprint import training_fingerprint
from benchmark.training.loop import EpochRecord, train

CPU = torch.device("cpu")
EPOCHS = 30
TIMES = {"epoch_time_s", "train_epoch_time_s", "val_time_s"}
# a scripted history whose run cuts twice in the coarse phase, switches, cuts in the
# fine phase and stops (the independent rule of tests/test_decision_parity.py: cuts at
# 0-based epochs 3, 6, 9, 12, switch at 9, stop at 15)
SEED = 9


class Interrupted(Exception):
    """Stands in for a kill: raised by the epoch hook, after the epoch's metrics were
    logged but before its checkpoint was written."""


def _cfg(make_cfg):
    return loop_config(make_cfg, EPOCHS)


def _rows(history: list[EpochRecord]) -> list[dict]:
    return [{k: v for k, v in dataclasses.asdict(r).items() if k not in TIMES} for r in history]


def _run(cfg, digits_data, history, **kwargs):
    return train(
        cfg,
        digits_data,
        None,
        CPU,
        adaptive=True,
        progress=False,
        probe=ScriptedProbe(history),
        **kwargs,
    )


@pytest.fixture(scope="module")
def uninterrupted(make_cfg, digits_data):
    return _run(_cfg(make_cfg), digits_data, random_history(SEED, EPOCHS))


def _stop_points(result) -> dict[str, int]:
    """An epoch to stop after: before the first cut, in the coarse phase after a cut, and
    in the fine phase after a fine cut."""
    records = result.history
    first_cut = next(r.epoch for r in records if r.decision == "cut")
    coarse_cut = max(r.epoch for r in records if r.decision == "cut" and r.phase == "coarse")
    fine_cut = next(r.epoch for r in records if r.decision == "cut" and r.phase == "fine")
    return {"before the first cut": first_cut - 1, "coarse": coarse_cut + 1, "fine": fine_cut + 1}


def test_the_scripted_run_covers_each_phase(uninterrupted):
    points = _stop_points(uninterrupted)
    assert 1 <= points["before the first cut"] < points["coarse"] < points["fine"] < EPOCHS
    assert uninterrupted.stopped_epoch is not None


@pytest.mark.parametrize("where", ["before the first cut", "coarse", "fine"])
def test_a_resumed_training_ends_as_the_uninterrupted_one(
    where, uninterrupted, make_cfg, digits_data, tmp_path
):
    cfg = _cfg(make_cfg)
    history = random_history(SEED, EPOCHS)
    stop_after = _stop_points(uninterrupted)[where]
    path = tmp_path / "run.pt"

    def kill_during_next_epoch(record: EpochRecord) -> None:
        if record.epoch == stop_after + 1:
            raise Interrupted

    with pytest.raises(Interrupted):
        _run(cfg, digits_data, history, checkpoint=path, on_epoch=kill_during_next_epoch)
    state = load_checkpoint(path, training_fingerprint(cfg, True, 16))
    assert state.epoch == stop_after

    seen: list[EpochRecord] = []
    resumed = _run(cfg, digits_data, history[stop_after:], resume=state, on_epoch=seen.append)
    # every epoch once: the ones after the checkpoint were trained again, none before it
    assert [r.epoch for r in seen] == list(range(stop_after + 1, EPOCHS + 1))
    assert _rows(resumed.history) == _rows(uninterrupted.history)
    assert resumed.stopped_epoch == uninterrupted.stopped_epoch
    assert resumed.final_latent_dim == uninterrupted.final_latent_dim
    want = uninterrupted.model.state_dict()
    for name, value in resumed.model.state_dict().items():
        assert torch.equal(value, want[name]), name


def test_a_checkpoint_of_another_configuration_is_refused(make_cfg, digits_data, tmp_path):
    short = dataclasses.replace(_cfg(make_cfg), epochs=2)
    path = tmp_path / "run.pt"
    _run(short, digits_data, random_history(SEED, 2), checkpoint=path)
    assert load_checkpoint(path, training_fingerprint(short, True, 16)).epoch == 2
    other = dataclasses.replace(short, lr=short.lr * 2)
    with pytest.raises(ConfigError, match="another configuration"):
        load_checkpoint(path, training_fingerprint(other, True, 16))
    with pytest.raises(ConfigError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt", training_fingerprint(short, True, 16))


def test_checkpoints_live_under_the_configured_root(tmp_path, monkeypatch):
    from benchmark.training.checkpoint import CHECKPOINT_ENV

    monkeypatch.setenv(CHECKPOINT_ENV, str(tmp_path))
    assert checkpoint_path("abc") == tmp_path / "abc.pt"


def test_a_stopped_run_continues_in_place(mlflow_store, make_cfg, digits_data, digits_extractor):
    """run_training with ``resume_run_id``: the same MLflow run goes on from its last
    checkpoint to FINISHED, its metric steps continue, and it ends with the final size,
    decisions and test metrics of an uninterrupted run; the checkpoint is then removed."""
    from mlflow.tracking import MlflowClient

    from benchmark.tracking.training_run import Prepared, RunHooks, TrainingSpec, run_training

    cfg = make_cfg(epochs=8, patience=2, coarse_step=4)
    prepared = Prepared(digits_data, digits_extractor, CPU)
    whole = run_training(cfg, prepared, TrainingSpec.shrinking(), hooks=RunHooks(progress=False))

    def kill_in_epoch_4(record: EpochRecord) -> None:
        if record.epoch == 4:
            raise Interrupted

    with pytest.raises(Interrupted):
        run_training(
            cfg,
            prepared,
            TrainingSpec.shrinking(),
            hooks=RunHooks(progress=False, on_epoch=kill_in_epoch_4),
        )
    client = MlflowClient()
    stopped = client.search_runs(
        [client.get_experiment_by_name("Default").experiment_id],
        filter_string="attributes.status = 'FAILED'",
    )[0]
    run_id = stopped.info.run_id
    assert checkpoint_path(run_id).exists()
    resumed = run_training(
        cfg, prepared, TrainingSpec.shrinking(run_id), hooks=RunHooks(progress=False)
    )
    assert resumed.run_id == run_id
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert "benchmark.failure_reason" not in run.data.tags
    # each epoch logged once: epoch 4 was logged, then stopped before its checkpoint, so
    # it ran again on resume, and its step is not logged a second time
    steps = sorted(m.step for m in client.get_metric_history(run_id, "latent_dim"))
    assert steps == list(range(1, 9))
    assert _rows(resumed.result.history) == _rows(whole.result.history)
    assert resumed.test_metrics == whole.test_metrics
    assert not checkpoint_path(run_id).exists()
    assert not checkpoint_path(whole.run_id).exists()
    # the last state went with the run
    assert [a.path for a in client.list_artifacts(run_id, "checkpoint")] == [
        f"checkpoint/{run_id}.pt"
    ]


def _checkpoint_after_two_epochs(make_cfg, digits_data, tmp_path):
    cfg = loop_config(make_cfg, 2)
    path = tmp_path / "state.pt"
    _run(cfg, digits_data, random_history(SEED, 2), checkpoint=path)
    return cfg, load_checkpoint(path, training_fingerprint(cfg, True, None))


def test_a_checkpoint_resumed_with_another_adam_kernel_keeps_this_devices_kernel(
    make_cfg, digits_data, tmp_path, monkeypatch
):
    """A CPU checkpoint (multi-tensor Adam) resumed where the fused kernel is used (CUDA;
    here forced on the CPU, which has it too) keeps the fused kernel, and a GradScaler
    step, which hands fused Adam its grad_scale, works (with foreach's options it
    raised "Expected grad_scale and found_inf to be None")."""
    from benchmark.training import loop

    cfg, state = _checkpoint_after_two_epochs(make_cfg, digits_data, tmp_path)
    assert all(g["foreach"] for g in state.optimizer_state["param_groups"])

    def fused(model, cfg, objective=None):  # noqa: ANN001, ANN202
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, amsgrad=cfg.amsgrad, fused=True)

    monkeypatch.setattr(loop, "make_optimizer", fused)
    shuffle = torch.Generator()
    model, optimizer, _, _ = loop._restore(state, cfg, digits_data, CPU, shuffle)
    assert all(g["fused"] and not g["foreach"] for g in optimizer.param_groups)
    assert optimizer.state_dict()["state"].keys() == state.optimizer_state["state"].keys()
    scaler = torch.amp.GradScaler("cpu")
    logits = model(digits_data.train.x[:32])[0]
    scaler.scale(logits.mean()).backward()
    scaler.step(optimizer)  # raised AssertionError before the kernel was kept
    scaler.update()


def test_the_random_streams_hold_one_cuda_state_the_training_devices(
    make_cfg, digits_data, tmp_path, monkeypatch
):
    """A CUDA checkpoint keeps the stream of its own device only, and restores it on the
    device the resumed training uses: a host that shows fewer GPUs than the one that
    saved (all of them, before) no longer fails with IndexError. CUDA's calls are
    stood in for here."""
    from benchmark.training.checkpoint import RandomStreams

    calls = []
    monkeypatch.setattr(
        torch.cuda, "get_rng_state", lambda d: calls.append(("get", d)) or torch.ones(4)
    )
    monkeypatch.setattr(
        torch.cuda, "set_rng_state", lambda s, d: calls.append(("set", d, s.sum().item()))
    )
    gpu = torch.device("cuda", 3)
    streams = RandomStreams.capture(torch.Generator(), gpu)
    assert calls == [("get", gpu)] and streams.cuda.shape == (4,)
    streams.restore(torch.Generator(), torch.device("cuda", 0))
    assert calls[-1] == ("set", torch.device("cuda", 0), 4.0)
    calls.clear()
    streams.restore(torch.Generator(), CPU)  # a CUDA checkpoint resumed on a CPU
    assert calls == []
    _, state = _checkpoint_after_two_epochs(make_cfg, digits_data, tmp_path)
    assert state.rng.cuda is None  # a CPU training keeps no CUDA stream
