"""The epoch loop on digits: shrinking, fixed size, determinism, divergence."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

import benchmark.training.loop as train_module
from benchmark.errors import TrainingDivergedError
from benchmark.training.loop import EpochRecord, history_table, train

TIMING_FIELDS = {"epoch_time_s", "train_epoch_time_s", "val_time_s"}
CPU = torch.device("cpu")


def _no_times(history: list[EpochRecord]) -> list[dict]:
    return [
        {k: v for k, v in dataclasses.asdict(r).items() if k not in TIMING_FIELDS} for r in history
    ]


@pytest.fixture(scope="module")
def adaptive_run(make_cfg, digits_data, digits_extractor):
    cfg = make_cfg(epochs=12, patience=2, coarse_step=4)
    seen: list[EpochRecord] = []
    result = train(
        cfg, digits_data, digits_extractor, CPU, adaptive=True, on_epoch=seen.append, progress=False
    )
    return cfg, result, seen


def test_adaptive_run_shrinks_the_latent_space(adaptive_run):
    cfg, result, _ = adaptive_run
    dims = [r.latent_dim for r in result.history]
    assert [r.epoch for r in result.history] == list(range(1, cfg.epochs + 1))
    assert dims[0] == cfg.initial_latent_dim == 16
    assert all(a >= b for a, b in zip(dims, dims[1:], strict=False)), dims
    assert result.final_latent_dim < cfg.initial_latent_dim
    assert result.final_latent_dim == result.model.latent_dim
    assert result.model.fc_mu.out_features == result.final_latent_dim


def test_adaptive_history_is_consistent_with_the_cuts(adaptive_run):
    cfg, result, _ = adaptive_run
    history = result.history
    cut_epochs = [r.epoch for r in history if r.decision == "cut"]
    # the published timing: the first decision after patience + 1 evaluations
    assert cut_epochs and cut_epochs[0] == cfg.patience + 1
    for prev, nxt in zip(history, history[1:], strict=False):
        removed = [int(j) for j in prev.removed_dims.split()] if prev.removed_dims else []
        assert nxt.latent_dim == prev.latent_dim - len(removed)
        assert (prev.decision == "cut") == bool(removed)
        if prev.decision == "cut":
            step = cfg.coarse_step if prev.phase == "coarse" else cfg.fine_step
            assert len(removed) == step
            # prune_order "last": the highest indices
            assert removed == list(range(prev.latent_dim - step, prev.latent_dim))
    assert history[-1].decision == "none"  # never a decision after the last epoch
    expected_final = history[-1].latent_dim
    assert result.final_latent_dim == expected_final
    assert sum(r.train_epoch_time_s for r in history) <= result.train_time_s + 1e-9


def test_adaptive_records_are_finite_and_reported(adaptive_run):
    cfg, result, seen = adaptive_run
    assert seen == result.history  # on_epoch saw every record, in order
    for record in result.history:
        metrics = record.metrics()
        assert {
            "latent_dim",
            "train_loss",
            "val_recon_loss",
            "val_fid",
            "val_fid_recon",
            "val_silhouette",
        } <= set(metrics)
        assert "decision" not in metrics and "epoch" not in metrics
        assert all(math.isfinite(v) for v in metrics.values())
        assert -1.0 <= record.val_silhouette <= 1.0
        assert record.val_fid >= -1e-6 and record.val_fid_recon >= -1e-6
    rows = history_table(result.history)
    assert len(rows) == cfg.epochs and rows[0]["epoch"] == 1
    # the model learned something: training loss falls
    assert result.history[-1].train_loss < result.history[0].train_loss


def test_every_parameter_is_trained_after_a_cut(
    make_cfg, digits_data, digits_extractor, monkeypatch
):
    """The published code froze the cut layers; here every remaining parameter keeps
    changing in the epochs after a cut."""
    cfg = make_cfg(epochs=5, patience=2, coarse_step=4, initial_latent_dim=8)
    snapshots: dict[int, dict[str, torch.Tensor]] = {}
    model_ref = {}
    original_build = train_module.build_model

    def build_and_keep(*args, **kwargs):
        model_ref["model"] = original_build(*args, **kwargs)
        return model_ref["model"]

    def snapshot(record):
        snapshots[record.epoch] = {
            n: p.detach().clone() for n, p in model_ref["model"].named_parameters()
        }

    monkeypatch.setattr(train_module, "build_model", build_and_keep)
    result = train(
        cfg, digits_data, digits_extractor, CPU, adaptive=True, on_epoch=snapshot, progress=False
    )
    assert [r.latent_dim for r in result.history] == [8, 8, 8, 4, 4]
    after_cut, end = snapshots[3], snapshots[5]
    for name, value in end.items():
        assert value.shape == after_cut[name].shape
        assert not torch.equal(value, after_cut[name]), f"{name} was not trained after the cut"


def test_fixed_run_keeps_its_size(make_cfg, digits_data, digits_extractor):
    cfg = make_cfg(epochs=3, patience=1)
    result = train(
        cfg, digits_data, digits_extractor, CPU, latent_dim=8, adaptive=False, progress=False
    )
    assert [r.latent_dim for r in result.history] == [8, 8, 8]
    assert all(r.phase == "fixed" and r.decision == "none" for r in result.history)
    assert result.final_latent_dim == 8 == result.model.latent_dim
    assert result.stopped_epoch is None


def test_no_cut_on_the_last_epoch(make_cfg, digits_data, digits_extractor):
    # epoch 3 would be the first decision (patience + 1 evaluations), but it is the last
    cfg = make_cfg(epochs=3, patience=2)
    result = train(cfg, digits_data, digits_extractor, CPU, adaptive=True, progress=False)
    assert [r.decision for r in result.history] == ["none", "none", "none"]
    assert result.final_latent_dim == cfg.initial_latent_dim


def test_kl_prune_order_removes_lowest_kl_dims(make_cfg, digits_data, digits_extractor):
    cfg = make_cfg(epochs=4, patience=2, coarse_step=5, prune_order="kl")
    result = train(cfg, digits_data, digits_extractor, CPU, adaptive=True, progress=False)
    cut = result.history[2]
    assert cut.decision == "cut"
    removed = [int(j) for j in cut.removed_dims.split()]
    assert len(removed) == 5 and removed == sorted(set(removed))
    assert all(0 <= j < cfg.initial_latent_dim for j in removed)
    assert result.final_latent_dim == cfg.initial_latent_dim - 5
    assert result.history[3].latent_dim == cfg.initial_latent_dim - 5


def test_each_latent_dimension_keeps_its_noise_column_across_cuts(
    make_cfg, digits_data, digits_extractor, monkeypatch
):
    """Validation FID decodes fixed prior noise; after a `kl` cut (any dimensions, not
    just the last) each kept dimension must still read its own column, by original index."""
    seen: list[torch.Tensor] = []
    real = train_module.fid_terms

    def spy(model, extractor, reference, noise, generator):  # noqa: ANN001
        seen.append(noise.clone())
        return real(model, extractor, reference, noise, generator)

    monkeypatch.setattr(train_module, "fid_terms", spy)
    cfg = make_cfg(epochs=7, patience=1, coarse_step=3, prune_order="kl", switch_window=1000)
    result = train(cfg, digits_data, digits_extractor, CPU, adaptive=True, progress=False)
    first = seen[0]
    assert first.shape[1] == cfg.initial_latent_dim
    ids = list(range(cfg.initial_latent_dim))
    removed_not_last = False
    for record, noise in zip(result.history, seen, strict=True):
        assert noise.shape[1] == record.latent_dim == len(ids)
        assert torch.equal(noise, first[:, ids])  # column j is original dim ids[j]'s
        removed = [int(j) for j in record.removed_dims.split()]
        removed_not_last |= bool(removed) and removed != list(
            range(len(ids) - len(removed), len(ids))
        )
        ids = [d for i, d in enumerate(ids) if i not in removed]
    assert removed_not_last, "the kl order only cut the last dims: the test proves little"


def test_same_seed_same_history(make_cfg, digits_data, digits_extractor):
    cfg = make_cfg(epochs=4, patience=2, coarse_step=4, hidden_dim=16)
    runs = [
        train(cfg, digits_data, digits_extractor, CPU, adaptive=True, progress=False)
        for _ in range(2)
    ]
    assert _no_times(runs[0].history) == _no_times(runs[1].history)
    state_a, state_b = runs[0].model.state_dict(), runs[1].model.state_dict()
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    other = train(
        make_cfg(epochs=4, patience=2, coarse_step=4, hidden_dim=16, seed=7),
        digits_data,
        digits_extractor,
        CPU,
        adaptive=True,
        progress=False,
    )
    assert _no_times(other.history) != _no_times(runs[0].history)


def test_training_does_not_depend_on_prior_global_rng_use(make_cfg, digits_data, digits_extractor):
    cfg = make_cfg(epochs=1, hidden_dim=16)
    first = train(
        cfg, digits_data, digits_extractor, CPU, adaptive=False, latent_dim=4, progress=False
    )
    torch.rand(1000)  # someone else used the global generator in between
    second = train(
        cfg, digits_data, digits_extractor, CPU, adaptive=False, latent_dim=4, progress=False
    )
    assert _no_times(first.history) == _no_times(second.history)


def test_non_finite_loss_raises_training_diverged(
    make_cfg, digits_data, digits_extractor, monkeypatch
):
    original = train_module.negative_elbo

    def nan_loss(*args, **kwargs):
        return original(*args, **kwargs) * float("nan")

    monkeypatch.setattr(train_module, "negative_elbo", nan_loss)
    cfg = make_cfg(epochs=3)
    seen = []
    with pytest.raises(TrainingDivergedError) as info:
        train(cfg, digits_data, digits_extractor, CPU, on_epoch=seen.append, progress=False)
    message = str(info.value)
    assert "\n" not in message
    assert "epoch 1" in message
    assert seen == []  # nothing was reported for the diverged epoch


def test_optimizer_is_multi_tensor_adam_with_the_published_update(make_cfg):
    """make_optimizer on a CPU is the multi-tensor Adam with the published settings."""
    from benchmark.models.vaes import build_model

    opt = train_module.make_optimizer(build_model((1, 8, 8), 6, 32), make_cfg())
    assert opt.defaults["foreach"] is True and opt.defaults["amsgrad"] is True
    assert not opt.defaults.get("fused")


def _steps(model, opt, x, n: int) -> None:  # noqa: ANN001
    from benchmark.models.vaes import negative_elbo

    for step in range(n):
        torch.manual_seed(100 + step)  # the same reparameterisation noise for every kernel
        logits, mu, logvar, _ = model(x)
        opt.zero_grad()
        negative_elbo(logits, x, mu, logvar).backward()
        opt.step()


def test_fused_multi_tensor_and_plain_adam_take_the_same_steps_across_a_cut(make_cfg):
    """The three kernels of Adam (fused, CUDA's choice; multi-tensor, the CPU's; the
    plain per-parameter loop, the reference) give the same parameters after steps,
    a latent cut (parameters and optimizer state sliced) and more steps."""
    from benchmark.models.surgery import remove_latent_dims
    from benchmark.models.vaes import build_model

    cfg = make_cfg()
    torch.manual_seed(0)
    first = build_model((1, 8, 8), 6, 32)
    x = torch.rand(32, 1, 8, 8)
    ends = {}
    for kernel in ({"foreach": False}, {"foreach": True}, {"fused": True}):
        model = build_model((1, 8, 8), 6, 32)
        model.load_state_dict(first.state_dict())
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, amsgrad=True, **kernel)
        _steps(model, opt, x, 4)
        remove_latent_dims(model, opt, [1, 4])
        _steps(model, opt, x, 4)
        assert model.latent_dim == 4
        ends[next(iter(kernel.items()))] = [p.detach().clone() for p in model.parameters()]
    plain = ends.pop(("foreach", False))
    moved = [
        (a - b).abs().max()
        for a, b in zip(plain, first.parameters(), strict=True)
        if a.shape == b.shape  # the parameters the cut left whole
    ]
    assert max(moved) > 1e-4  # the steps did move the parameters
    for kernel, params in ends.items():
        for a, b in zip(params, plain, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=f"{kernel} differs")


# --- devices ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "gpus", "expected"),
    [
        ("cuda:1", 2, "cuda:1"),
        ("cuda:0", 1, "cuda:0"),
        ("cuda:2", 2, "device=cuda:2 asked for, but 2 CUDA GPU(s) are visible (cuda:0 to cuda:1)"),
        ("cuda:0", 0, "device=cuda:0 asked for, but no CUDA GPU is available"),
        ("gpu", 1, "unknown device 'gpu'; allowed: auto, cpu, cuda, cuda:N"),
    ],
)
def test_a_gpu_is_chosen_by_its_index_or_refused_with_one_line(monkeypatch, name, gpus, expected):
    from benchmark.errors import ConfigError
    from benchmark.system import device as device_module

    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    if expected.startswith("cuda"):
        assert device_module.resolve_device(name) == torch.device(expected)
        return
    with pytest.raises(ConfigError) as info:
        device_module.resolve_device(name)
    assert str(info.value).startswith(expected) and "\n" not in str(info.value)


def test_the_config_takes_cuda_with_an_index_and_names_it_when_refusing(make_cfg):
    from benchmark.config import validate
    from benchmark.errors import ConfigError

    validate(make_cfg(device="cuda:3"))
    with pytest.raises(ConfigError, match=r"allowed: auto, cpu, cuda, cuda:N"):
        validate(make_cfg(device="cuda:x"))
