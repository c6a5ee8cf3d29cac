"""train(objective=...) on digits: the hook leaves a plain training as it was, the
nested-dropout and ARD objectives act on the model, and a training with an objective of
its own resumes from its checkpoint exactly (the objective's parameters included)."""

from __future__ import annotations

import math

import pytest
import torch

from benchmark.methods.mechanisms.ard_prior import ArdObjective
from benchmark.methods.mechanisms.nested_dropout import NestedDropoutObjective
from benchmark.models.vaes import build_model, recon_loss_per_image
from benchmark.training.checkpoint import load_checkpoint
from benchmark.training.controller import Signals
from benchmark.training.fingerprint import training_fingerprint
from benchmark.training.loop import train, train_one_epoch
from benchmark.training.objective import TrainingObjective

CPU = torch.device("cpu")
N_Z = 8


class FlatProbe:
    """The validation probe's interface without the validation signals' cost: these
    tests look at the weights, not at the per-epoch metrics."""

    fid_floor = 0.0
    n_fid = 0

    def measure(self, model, latent_ids=None) -> Signals:  # noqa: ANN001 - any model
        return Signals(0.0, 0.0, 0.0, 0.0)


def _cfg(make_cfg, epochs: int = 2):
    return make_cfg(epochs=epochs, hidden_dim=32, initial_latent_dim=N_Z)


def _train(cfg, data, **kwargs):
    return train(
        cfg, data, None, CPU, latent_dim=N_Z, adaptive=False, progress=False,
        probe=FlatProbe(), **kwargs,
    )  # fmt: skip


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_the_plain_objective_trains_exactly_as_no_objective(make_cfg, digits_data):
    cfg = _cfg(make_cfg)
    plain = _train(cfg, digits_data)
    hooked = _train(cfg, digits_data, objective=TrainingObjective())
    assert [r.train_loss for r in hooked.history] == [r.train_loss for r in plain.history]
    for name, value in _weights(plain.model).items():
        assert torch.equal(value, hooked.model.state_dict()[name]), name
    assert training_fingerprint(cfg, False, N_Z, TrainingObjective()) == training_fingerprint(
        cfg, False, N_Z
    )


def _first_quarter_share(model, x: torch.Tensor) -> float:
    """The first quarter of the latent units' share of what the units carry: how much
    the mean reconstruction loss (decoding posterior means) grows when one unit is set to
    zero, summed over the first N_Z / 4 units, over the sum for all units."""
    model.eval()
    damage = []
    with torch.no_grad():
        mu, _ = model.encode(x)
        base = recon_loss_per_image(model.decode(mu), x).mean()
        for j in range(N_Z):
            cut = mu.clone()
            cut[:, j] = 0
            loss = recon_loss_per_image(model.decode(cut), x).mean()
            damage.append(max(float(loss - base), 0.0))
    return sum(damage[: N_Z // 4]) / sum(damage)


def test_nested_dropout_puts_the_most_into_the_first_units(make_cfg, digits_data):
    # 4 epochs: after 2 the digits model barely uses its code (measured: seeds 1-4 give
    # shares 0.46-0.94 with nested dropout, 0.08-0.38 without, 0.25 if uniform)
    cfg = _cfg(make_cfg, epochs=4)
    ordered = _train(cfg, digits_data, objective=NestedDropoutObjective()).model
    plain = _train(cfg, digits_data).model
    ordered_share = _first_quarter_share(ordered, digits_data.val.x)
    plain_share = _first_quarter_share(plain, digits_data.val.x)
    assert ordered_share > 0.4, ordered_share
    assert ordered_share > plain_share + 0.2, (ordered_share, plain_share)


def test_the_ard_prior_is_learned_during_training(make_cfg, digits_data):
    objective = ArdObjective(N_Z)
    before = objective.prior_variances().clone()
    result = _train(_cfg(make_cfg), digits_data, objective=objective)
    after = objective.prior_variances()
    assert torch.equal(before, torch.ones(N_Z))
    assert torch.isfinite(after).all()
    assert (after - before).abs().max() > 1e-2, after
    assert result.final_latent_dim == N_Z


def test_a_training_with_its_own_objective_resumes_exactly(make_cfg, digits_data, tmp_path):
    cfg = _cfg(make_cfg, epochs=3)
    whole_prior = ArdObjective(N_Z)
    whole = _train(cfg, digits_data, objective=whole_prior)

    class Stop(Exception):
        pass

    def stop_after_two(record) -> None:  # noqa: ANN001 - an EpochRecord
        if record.epoch == 2:
            raise Stop  # before epoch 2's checkpoint: the file holds epoch 1

    path = tmp_path / "ard.pt"
    with pytest.raises(Stop):
        _train(cfg, digits_data, objective=ArdObjective(N_Z), checkpoint=path,
               on_epoch=stop_after_two)  # fmt: skip
    resumed_prior = ArdObjective(N_Z)
    fingerprint = training_fingerprint(cfg, False, N_Z, resumed_prior)
    assert fingerprint != training_fingerprint(cfg, False, N_Z)
    state = load_checkpoint(path, fingerprint)
    assert state.epoch == 1
    resumed = _train(cfg, digits_data, objective=resumed_prior, checkpoint=path, resume=state)
    assert torch.equal(resumed_prior.log_alpha, whole_prior.log_alpha)
    for name, value in _weights(whole.model).items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name
    assert [r.train_loss for r in resumed.history] == [r.train_loss for r in whole.history]


def test_an_objective_runs_at_a_fixed_size_only(make_cfg, digits_data):
    with pytest.raises(ValueError, match="fixed latent size"):
        train(_cfg(make_cfg), digits_data, None, CPU, adaptive=True, progress=False,
              probe=FlatProbe(), objective=NestedDropoutObjective())  # fmt: skip


@pytest.mark.parametrize("make_objective", [NestedDropoutObjective, lambda: ArdObjective(N_Z)])
def test_objectives_run_in_the_mixed_precision_step(make_objective):
    # the autocast + GradScaler branch of the loop, exercised on a CPU
    torch.manual_seed(0)
    model = build_model((1, 8, 8), N_Z, hidden_dim=16)
    objective = make_objective()
    opt = torch.optim.Adam([*model.parameters(), *objective.parameters()], lr=1e-2)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    x = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(2)).round()
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**4)
    gen = torch.Generator().manual_seed(3)
    loss = train_one_epoch(model, opt, x, 8, gen, scaler, objective)
    assert math.isfinite(loss) and loss > 0
    assert all(not torch.equal(before[n], p) for n, p in model.named_parameters())
    for p in objective.parameters():
        assert not torch.equal(p.detach(), torch.zeros_like(p))
