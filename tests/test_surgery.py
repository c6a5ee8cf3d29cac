"""Latent surgery: cutting dimensions keeps the optimizer whole, the kept dimensions'
encoder outputs and decoder contributions unchanged, and the Adam state sliced."""

from __future__ import annotations

import pytest
import torch
from numerics import assert_same_outputs

from benchmark.models.surgery import dims_to_remove, mean_kl_per_dim, remove_latent_dims
from benchmark.models.vaes import build_model, kl_per_dim, model_from_config, negative_elbo

N_Z = 8
ADAM_KEYS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
# Removal sets: the paper's order (last indices) and a non-contiguous one.
REMOVALS = {"last": [5, 6, 7], "scattered": [0, 3, 6], "single-middle": [4]}


def _loss(model, x, seed=0):
    gen = torch.Generator().manual_seed(seed)
    mu, logvar = model.encode(x)
    eps = torch.randn(mu.shape, generator=gen)
    z = mu + torch.exp(0.5 * logvar) * eps
    return negative_elbo(model.decode(z), x, mu, logvar)


def _trained(posterior: str = "logvar", steps: int = 3, seed: int = 0):
    """A small model and an Adam(amsgrad) optimizer that has already taken steps."""
    torch.manual_seed(seed)
    model = build_model((1, 8, 8), latent_dim=N_Z, hidden_dim=24, posterior=posterior)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, amsgrad=True)
    x = torch.rand(32, 1, 8, 8, generator=torch.Generator().manual_seed(seed + 1))
    for step in range(steps):
        opt.zero_grad()
        _loss(model, x, step).backward()
        opt.step()
    return model, opt, x


def _latent_param_slices(model):
    return [(getattr(m, attr), axis) for m, attr, axis in model.latent_parameters()]


@pytest.fixture(params=list(REMOVALS), ids=list(REMOVALS))
def removal(request):
    return REMOVALS[request.param]


def test_kept_indices_and_new_shapes(removal):
    model, opt, _ = _trained()
    kept = remove_latent_dims(model, opt, removal)
    assert kept == [j for j in range(N_Z) if j not in removal]
    n = len(kept)
    assert model.latent_dim == n == model.config.latent_dim
    assert model.fc_mu.weight.shape == (n, 24) and model.fc_mu.bias.shape == (n,)
    assert model.fc_scale.weight.shape == (n, 24) and model.fc_scale.bias.shape == (n,)
    assert model.decoder_in.weight.shape == (24, n)
    assert model.decoder_in.bias.shape == (24,)
    assert model.fc_mu.out_features == model.fc_scale.out_features == n
    assert model.decoder_in.in_features == n


def test_optimizer_holds_exactly_the_model_parameters(removal):
    model, opt, x = _trained()
    old_latent = [p for p, _ in _latent_param_slices(model)]  # kept alive: ids stay unique
    latent_ids = {id(p) for p in old_latent}
    untouched = {id(p) for p in model.parameters()} - latent_ids
    remove_latent_dims(model, opt, removal)
    in_optimizer = [p for group in opt.param_groups for p in group["params"]]
    assert {id(p) for p in in_optimizer} == {id(p) for p in model.parameters()}
    assert len(in_optimizer) == len(list(model.parameters()))
    # parameters without a latent axis are the same objects; cut ones are new
    assert untouched <= {id(p) for p in in_optimizer}
    assert not latent_ids & {id(p) for p in in_optimizer}


def test_every_parameter_trains_after_the_cut(removal):
    model, opt, x = _trained()
    remove_latent_dims(model, opt, removal)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    for step in range(2):  # two steps: the second uses the sliced state of the first
        opt.zero_grad()
        _loss(model, x, 10 + step).backward()
        for name, p in model.named_parameters():
            assert p.grad is not None and p.grad.shape == p.shape, name
        opt.step()
    for name, p in model.named_parameters():
        assert not torch.equal(p.detach(), before[name]), f"{name} did not change"
    # every kept latent row / column moved, not just some of the tensor
    assert torch.all(model.fc_mu.bias != before["fc_mu.bias"])
    assert torch.all(model.fc_scale.bias != before["fc_scale.bias"])
    moved = (model.decoder_in.weight != before["decoder_in.weight"]).any(dim=0)
    assert moved.all()
    for name, p in model.named_parameters():
        assert torch.isfinite(p).all(), name


def test_encoder_outputs_of_kept_dims_are_unchanged(removal):
    model, opt, x = _trained()
    mu_before, logvar_before = model.encode(x)
    kept = remove_latent_dims(model, opt, removal)
    mu_after, logvar_after = model.encode(x)
    assert_same_outputs(mu_after, mu_before[:, kept])
    assert_same_outputs(logvar_after, logvar_before[:, kept])


def test_softmax_head_keeps_means_and_renormalises_scales(removal):
    model, opt, x = _trained(posterior="softmax")
    mu_before, _ = model.encode(x)
    kept = remove_latent_dims(model, opt, removal)
    mu_after, logvar_after = model.encode(x)
    assert_same_outputs(mu_after, mu_before[:, kept])
    # the published softmax form renormalises over the remaining dimensions
    scale_sum = torch.exp(0.5 * logvar_after).sum(dim=1)
    assert torch.allclose(scale_sum, torch.ones_like(scale_sum), atol=1e-4)


def test_decoder_output_unchanged_when_removed_dims_are_zero(removal):
    model, opt, _ = _trained()
    z = torch.randn(16, N_Z, generator=torch.Generator().manual_seed(5))
    z_zeroed = z.clone()
    z_zeroed[:, removal] = 0.0
    out_before = model.decode(z_zeroed)
    out_full_before = model.decode(z)
    kept = remove_latent_dims(model, opt, removal)
    out_after = model.decode(z[:, kept])
    torch.testing.assert_close(out_after, out_before, rtol=1e-5, atol=1e-5)
    # sanity: the removed dims did matter before the cut
    assert not torch.allclose(out_full_before, out_before, atol=1e-3)


def test_adam_state_sliced_with_values_preserved(removal):
    model, opt, _ = _trained()
    params = _latent_param_slices(model)
    saved = {id(p): {k: v.clone() for k, v in opt.state[p].items()} for p, _ in params}
    other = {
        id(p): {k: v.clone() for k, v in opt.state[p].items()}
        for p in model.parameters()
        if id(p) not in saved
    }
    kept = remove_latent_dims(model, opt, removal)
    keep = torch.tensor(kept)
    for (old, axis), (p, _) in zip(params, _latent_param_slices(model), strict=True):
        assert old not in opt.state  # no stale state left behind
        state = opt.state[p]
        assert set(state) == set(saved[id(old)])
        for key in ADAM_KEYS:
            expected = saved[id(old)][key].index_select(axis, keep)
            assert state[key].shape == p.shape, key
            assert torch.equal(state[key], expected), key
        assert torch.equal(torch.as_tensor(state["step"]), torch.as_tensor(saved[id(old)]["step"]))
    for p in model.parameters():
        if id(p) in other:
            for key, value in other[id(p)].items():
                assert torch.equal(opt.state[p][key], value)


def test_cut_without_optimizer_or_before_any_step():
    model, _, x = _trained()
    mu_before, _ = model.encode(x)
    kept = remove_latent_dims(model, None, [1, 2])
    assert_same_outputs(model.encode(x)[0], mu_before[:, kept])
    fresh = build_model((1, 8, 8), latent_dim=4, hidden_dim=8)
    opt = torch.optim.Adam(fresh.parameters(), amsgrad=True)
    remove_latent_dims(fresh, opt, [0])
    opt.zero_grad()
    _loss(fresh, x).backward()
    opt.step()  # state is created with the new shapes
    assert opt.state[fresh.fc_mu.weight]["exp_avg"].shape == (3, 8)


def test_two_successive_cuts_compose():
    model, opt, x = _trained()
    with torch.no_grad():
        mu0, logvar0 = model.encode(x)
    saved = opt.state[model.fc_mu.weight]["exp_avg"].clone()
    kept1 = remove_latent_dims(model, opt, [1, 6])
    kept2 = remove_latent_dims(model, opt, [0, 5])  # numbering of the current model
    original = [kept1[j] for j in kept2]
    assert original == [2, 3, 4, 5]
    assert model.latent_dim == N_Z - 4
    mu, logvar = model.encode(x)
    assert_same_outputs(mu, mu0[:, original])
    assert_same_outputs(logvar, logvar0[:, original])
    assert torch.equal(opt.state[model.fc_mu.weight]["exp_avg"], saved[original])
    opt.zero_grad()
    _loss(model, x).backward()
    opt.step()
    assert opt.state[model.decoder_in.weight]["max_exp_avg_sq"].shape == (24, N_Z - 4)


def test_cut_while_an_old_graph_is_alive():
    model, opt, x = _trained()
    kept_for_logging = _loss(model, x)  # e.g. a caller keeps the last loss un-detached
    remove_latent_dims(model, opt, [1, 6])
    opt.zero_grad()
    _loss(model, x).backward()
    opt.step()
    assert model.fc_mu.weight.grad.shape == (N_Z - 2, 24)
    assert torch.isfinite(kept_for_logging)


def test_checkpoint_round_trip_after_cut():
    model, opt, x = _trained()
    remove_latent_dims(model, opt, [2, 3])
    rebuilt = model_from_config(model.config)
    rebuilt.load_state_dict(model.state_dict())
    assert rebuilt.latent_dim == N_Z - 2
    assert_same_outputs(rebuilt.encode(x)[0], model.encode(x)[0])


@pytest.mark.parametrize("bad", [[], list(range(N_Z)), [N_Z], [-1], [0, N_Z + 3]])
def test_invalid_removals_raise(bad):
    model, opt, _ = _trained(steps=1)
    with pytest.raises(ValueError):
        remove_latent_dims(model, opt, bad)
    assert model.latent_dim == N_Z
    assert model.fc_mu.weight.shape[0] == N_Z


# --- which dimensions to cut --------------------------------------------------------------------


def test_dims_to_remove_last():
    assert dims_to_remove("last", 3, 10) == [7, 8, 9]
    assert dims_to_remove("last", 1, 2) == [1]


def test_dims_to_remove_kl_picks_lowest_mean_kl():
    mean_kl = torch.tensor([0.9, 0.05, 3.0, 0.01, 0.5, 0.02])
    assert dims_to_remove("kl", 3, 6, mean_kl) == [1, 3, 5]
    assert dims_to_remove("kl", 1, 6, mean_kl) == [3]


def test_dims_to_remove_kl_ties_go_to_higher_index():
    mean_kl = torch.tensor([0.1, 0.1, 0.1, 2.0])
    assert dims_to_remove("kl", 2, 4, mean_kl) == [1, 2]


@pytest.mark.parametrize("k", [0, 5, 6, -1])
@pytest.mark.parametrize("order", ["last", "kl"])
def test_dims_to_remove_rejects_k_out_of_range(order, k):
    with pytest.raises(ValueError):
        dims_to_remove(order, k, 5, torch.ones(5))


def test_dims_to_remove_kl_needs_matching_mean_kl():
    with pytest.raises(ValueError):
        dims_to_remove("kl", 1, 4, None)
    with pytest.raises(ValueError):
        dims_to_remove("kl", 1, 4, torch.ones(3))
    with pytest.raises(ValueError):
        dims_to_remove("random", 1, 4)


def test_mean_kl_per_dim_matches_direct_average():
    model, _, x = _trained()
    got = mean_kl_per_dim(model, x, batch_size=5)  # batches that do not divide 32
    with torch.no_grad():
        mu, logvar = model.encode(x)
        expected = kl_per_dim(mu, logvar).mean(dim=0)
    assert got.shape == (N_Z,)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_kl_order_cuts_the_uninformative_dimension_end_to_end():
    model, opt, x = _trained()
    with torch.no_grad():  # make dim 2 exactly the prior: mu = 0, logvar = 0 for every x
        for p in (model.fc_mu.weight, model.fc_scale.weight):
            p[2].zero_()
        model.fc_mu.bias[2] = 0.0
        model.fc_scale.bias[2] = 0.0
    mean_kl = mean_kl_per_dim(model, x)
    assert float(mean_kl[2]) == pytest.approx(0.0, abs=1e-7)
    remove = dims_to_remove("kl", 1, model.latent_dim, mean_kl)
    assert remove == [2]
    kept = remove_latent_dims(model, opt, remove)
    assert 2 not in kept and model.latent_dim == N_Z - 1


class _CountingKL(torch.Tensor):
    """A mean-KL tensor that counts the scalars read off it one at a time (each is a
    host sync on CUDA)."""

    reads = 0

    def __float__(self):
        type(self).reads += 1
        return super().__float__()

    def item(self):
        type(self).reads += 1
        return super().item()


def test_dims_to_remove_kl_reads_the_kl_to_the_host_once_not_per_dimension():
    mean_kl = torch.tensor([0.9, 0.05, 3.0, 0.01, 0.5, 0.02]).as_subclass(_CountingKL)
    _CountingKL.reads = 0
    assert dims_to_remove("kl", 3, 6, mean_kl) == [1, 3, 5]
    assert _CountingKL.reads == 0
