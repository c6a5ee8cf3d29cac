"""The convolutional architectures (64x64 RGB images, SPRITES clips): the published layer
shapes, the choice by data shape, latent surgery through the generic protocol, the FID
feature extractors and image grids on clips, and mixed precision."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from numerics import assert_same_outputs
from torch import nn

from benchmark.data import Split
from benchmark.metrics.features import (
    DomainCNN,
    DomainFeatures,
    InceptionFeatures,
    domain_channels,
    domain_first_stride,
    frames_as_channels,
)
from benchmark.models.surgery import remove_latent_dims
from benchmark.models.vaes import (
    MLPVAE,
    Conv3dVAE,
    ConvVAE,
    ModelConfig,
    architecture_for_shape,
    build_model,
    model_from_config,
    negative_elbo,
)
from benchmark.training.loop import amp_active, train_one_epoch
from benchmark.training.outputs import clips_as_strips, image_grids

IMAGE = (3, 64, 64)
CLIP = (3, 8, 64, 64)
SHAPES = {"conv": IMAGE, "conv3d": CLIP}
N_Z = 8
HIDDEN = 16


def _layers(module: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, kind)]


def _trained(arch: str, posterior: str = "logvar", steps: int = 2):
    """A small model of ``arch`` and an Adam(amsgrad) that has taken steps on it."""
    torch.manual_seed(0)
    model = build_model(SHAPES[arch], N_Z, HIDDEN, posterior)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)
    x = torch.rand(4, *SHAPES[arch], generator=torch.Generator().manual_seed(1))
    for step in range(steps):
        gen = torch.Generator().manual_seed(step)
        logits, mu, logvar, _ = model(x, gen)
        opt.zero_grad()
        negative_elbo(logits, x, mu, logvar).backward()
        opt.step()
    return model, opt, x


# --- architectures ------------------------------------------------------------------------------


def test_published_conv_architecture_for_64x64_images():
    model = build_model(IMAGE, latent_dim=10, hidden_dim=256)
    assert isinstance(model, ConvVAE) and model.config.architecture == "conv"
    convs = _layers(model.encoder, nn.Conv2d)
    assert [(c.in_channels, c.out_channels) for c in convs] == [(3, 32)] + [(32, 32)] * 3
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) for c in convs)
    linears = _layers(model.encoder, nn.Linear)
    assert [(m.in_features, m.out_features) for m in linears] == [(512, 256), (256, 256)]
    assert (model.fc_mu.in_features, model.fc_mu.out_features) == (256, 10)
    assert (model.decoder_in.in_features, model.decoder_in.out_features) == (10, 256)
    # the decoder mirrors it: 256 -> 256 -> 512, four transposed convolutions to RGB
    dec_linears = _layers(model.decoder, nn.Linear)
    assert [(m.in_features, m.out_features) for m in dec_linears] == [(256, 256), (256, 512)]
    deconvs = _layers(model.decoder, nn.ConvTranspose2d)
    assert [(c.in_channels, c.out_channels) for c in deconvs] == [(32, 32)] * 3 + [(32, 3)]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) for c in deconvs)


def test_conv3d_architecture_for_clips():
    model = build_model(CLIP, latent_dim=10, hidden_dim=256)
    assert isinstance(model, Conv3dVAE) and model.config.architecture == "conv3d"
    convs = _layers(model.encoder, nn.Conv3d)
    assert [(c.in_channels, c.out_channels) for c in convs] == [(3, 32)] + [(32, 32)] * 3
    assert [c.stride for c in convs] == [(2, 2, 2), (2, 2, 2), (1, 2, 2), (1, 2, 2)]
    # after the convolutions: 32 channels x 2 frames x 4 x 4
    assert _layers(model.encoder, nn.Linear)[0].in_features == 32 * 2 * 4 * 4
    deconvs = _layers(model.decoder, nn.ConvTranspose3d)
    assert [c.stride for c in deconvs] == [(1, 2, 2), (1, 2, 2), (2, 2, 2), (2, 2, 2)]
    assert deconvs[-1].out_channels == 3


@pytest.mark.parametrize("arch", ["conv", "conv3d"])
@pytest.mark.parametrize("posterior", ["logvar", "softmax"])
def test_forward_shapes(arch, posterior):
    torch.manual_seed(0)
    model = build_model(SHAPES[arch], N_Z, HIDDEN, posterior)
    x = torch.rand(3, *SHAPES[arch])
    logits, mu, logvar, z = model(x)
    assert logits.shape == x.shape
    assert mu.shape == logvar.shape == z.shape == (3, N_Z)
    assert model.decode(torch.zeros(2, N_Z)).shape == (2, *SHAPES[arch])
    assert torch.isfinite(negative_elbo(logits, x, mu, logvar))
    if posterior == "softmax":
        scale_sum = torch.exp(0.5 * logvar).sum(dim=1)
        assert torch.allclose(scale_sum, torch.ones(3), atol=1e-4)


@pytest.mark.parametrize(
    ("shape", "arch", "cls"),
    [
        ((1, 28, 28), "mlp", MLPVAE),
        ((1, 8, 8), "mlp", MLPVAE),
        ((3, 64, 64), "conv", ConvVAE),
        ((3, 32, 32), "conv", ConvVAE),
        ((3, 96, 96), "conv", ConvVAE),
        ((3, 8, 64, 64), "conv3d", Conv3dVAE),
    ],
)
def test_architecture_is_picked_by_shape(shape, arch, cls):
    assert architecture_for_shape(shape) == arch
    model = build_model(shape, 4, 8)
    assert type(model) is cls
    # the decoder gives back the input's shape (the user's colour sizes included)
    x = torch.rand(2, *shape)
    logits, mu, _, _ = model(x)
    assert logits.shape == x.shape and mu.shape == (2, 4)


@pytest.mark.parametrize("shape", [(3, 28, 28), (3, 40, 40), (3, 32, 48), (3, 4, 64, 64), (64, 64)])
def test_unsupported_shape_raises_one_line(shape):
    with pytest.raises(ValueError) as info:
        build_model(shape, 4, 8)
    assert "no architecture" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("arch", ["conv", "conv3d"])
def test_config_round_trip_rebuilds_the_architecture(arch):
    model, _, x = _trained(arch, steps=1)
    data = model.config.to_dict()
    assert data["architecture"] == arch
    rebuilt = model_from_config(ModelConfig.from_dict(data))
    assert type(rebuilt) is type(model)
    rebuilt.load_state_dict(model.state_dict())
    assert_same_outputs(rebuilt.encode(x)[0], model.encode(x)[0])


def test_unknown_architecture_in_a_config_raises():
    config = ModelConfig((3, 64, 64), 4, 8, "logvar", "transformer")
    with pytest.raises(ValueError, match="unknown architecture 'transformer'"):
        model_from_config(config)


# --- latent surgery on the convolutional models --------------------------------------------------

REMOVALS = {"last": [5, 6, 7], "scattered": [0, 3, 6]}


@pytest.mark.parametrize("arch", ["conv", "conv3d"])
@pytest.mark.parametrize("removal", list(REMOVALS.values()), ids=list(REMOVALS))
def test_surgery_keeps_outputs_and_adam_state(arch, removal):
    model, opt, x = _trained(arch)
    mu0, logvar0 = model.encode(x)
    z = torch.randn(3, N_Z, generator=torch.Generator().manual_seed(5))
    z_zeroed = z.clone()
    z_zeroed[:, removal] = 0.0
    out0 = model.decode(z_zeroed)
    old = [(getattr(m, a), axis) for m, a, axis in model.latent_parameters()]
    saved = [{k: v.clone() for k, v in opt.state[p].items()} for p, _ in old]

    kept = remove_latent_dims(model, opt, removal)

    assert kept == [j for j in range(N_Z) if j not in removal]
    assert model.latent_dim == model.config.latent_dim == N_Z - len(removal)
    mu, logvar = model.encode(x)
    assert_same_outputs(mu, mu0[:, kept])
    assert_same_outputs(logvar, logvar0[:, kept])
    torch.testing.assert_close(model.decode(z[:, kept]), out0, rtol=1e-5, atol=1e-5)
    keep = torch.tensor(kept)
    new = [(getattr(m, a), axis) for m, a, axis in model.latent_parameters()]
    for (p, axis), state in zip(new, saved, strict=True):
        for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            assert torch.equal(opt.state[p][key], state[key].index_select(axis, keep)), key
    in_optimizer = {id(p) for g in opt.param_groups for p in g["params"]}
    assert in_optimizer == {id(p) for p in model.parameters()}


@pytest.mark.parametrize("arch", ["conv", "conv3d"])
def test_every_parameter_trains_after_a_cut(arch):
    model, opt, x = _trained(arch)
    remove_latent_dims(model, opt, [1, 4])
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    logits, mu, logvar, _ = model(x, torch.Generator().manual_seed(9))
    opt.zero_grad()
    negative_elbo(logits, x, mu, logvar).backward()
    opt.step()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name
        assert not torch.equal(p.detach(), before[name]), f"{name} did not change"


@pytest.mark.parametrize("arch", ["conv", "conv3d"])
def test_checkpoint_after_cut_round_trips(arch):
    model, opt, x = _trained(arch, steps=1)
    remove_latent_dims(model, opt, [0, 2])
    rebuilt = model_from_config(model.config)
    rebuilt.load_state_dict(model.state_dict())
    assert rebuilt.latent_dim == N_Z - 2
    assert_same_outputs(rebuilt.encode(x)[0], model.encode(x)[0])


# --- feature extractors and image grids on clips ------------------------------------------------


def test_domain_cnn_sees_frames_as_channels():
    clips = torch.rand(5, *CLIP)
    assert frames_as_channels(clips).shape == (5, 24, 64, 64)
    # channel-major: input channel c * 8 + t is colour c of frame t
    assert torch.equal(frames_as_channels(clips)[:, 1::8], clips[:, :, 1])
    images = torch.rand(5, *IMAGE)
    assert frames_as_channels(images) is images
    assert domain_channels(clips) == 24 and domain_channels(images) == 3
    features = DomainFeatures(DomainCNN(24, 9, first_stride=2))
    assert features.features(clips).shape == (5, 64)
    assert domain_first_stride(clips) == domain_first_stride(images) == 2
    assert domain_first_stride(torch.rand(2, 1, 28, 28)) == 1  # MNIST's CNN is unchanged


def test_domain_features_are_trained_and_cached_for_clips(tmp_path, monkeypatch):
    from benchmark.metrics import domain as domain_module

    monkeypatch.setenv(domain_module.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(domain_module, "DOMAIN_EPOCHS", 1)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(18, *CLIP, generator=gen)
    y = torch.arange(18) % 9
    first = DomainFeatures.for_dataset("sprites", x, y, 9)
    again = DomainFeatures.for_dataset("sprites", x, y, 9)  # from the cache
    assert len(list(tmp_path.glob("domain_cnn_sprites_*.pt"))) == 1
    assert_same_outputs(first.features(x), again.features(x))
    assert first.model.body[0].in_channels == 24
    assert first.model.body[0].stride == (2, 2)  # 64x64 frames: strided first layer
    assert 0.0 <= first.accuracy(x, y) <= 1.0


class _MeanPool(nn.Module):
    """Stands in for Inception (same call convention): per-image channel means."""

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [x.mean(dim=(2, 3))[:, :, None, None]]


def test_inception_features_of_a_clip_are_the_mean_over_its_frames():
    extractor = InceptionFeatures("cpu", model=_MeanPool())
    clips = torch.rand(3, *CLIP, generator=torch.Generator().manual_seed(0))
    got = extractor.features(clips)
    per_frame = clips.mean(dim=(3, 4))  # (clip, RGB, frame)
    expected = per_frame.mean(dim=2).double().numpy()
    assert got.shape == (3, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # grayscale images are repeated to three channels
    gray = torch.rand(2, 1, 28, 28)
    assert extractor.features(gray).shape == (2, 3)


@pytest.mark.parametrize("arch", ["conv", "conv3d"])
def test_image_grids(arch):
    model, _, _ = _trained(arch, steps=1)
    x = torch.rand(6, *SHAPES[arch])
    split = Split(x, torch.tensor([0, 1, 1, 0, 2, 2]))  # 3 classes, 2 images each
    grids = image_grids(model, split, per_class=2)
    assert grids.columns == 3 and grids.labels == [0, 1, 2]
    first_row = grids.pairs[:3]
    if arch == "conv":
        assert grids.pairs.shape == (12, 3, 64, 64) and grids.samples.shape == (64, 3, 64, 64)
        expected = x
    else:  # clips as tall strips of their 8 frames, fewer prior samples
        assert grids.pairs.shape == (12, 3, 8 * 64, 64)
        assert grids.samples.shape == (16, 3, 8 * 64, 64)
        expected = clips_as_strips(x)
    # each original of the first row is an image of its column's class
    for c, tile in enumerate(first_row):
        matches = [i for i in range(6) if torch.equal(tile, expected[i])]
        assert matches and int(split.y[matches[0]]) == c
    samples = grids.samples
    assert float(samples.min()) >= 0.0 and float(samples.max()) <= 1.0


# --- mixed precision ----------------------------------------------------------------------------


def test_amp_is_only_active_on_cuda(make_cfg):
    assert amp_active(make_cfg(amp="true"), torch.device("cuda"))
    assert not amp_active(make_cfg(amp="true"), torch.device("cpu"))
    assert not amp_active(make_cfg(), torch.device("cuda"))


def test_amp_true_on_a_cpu_trains_exactly_as_float32(make_cfg, digits_data, digits_extractor):
    from benchmark.training.loop import train

    device = torch.device("cpu")
    histories = []
    for amp in ("false", "true"):
        cfg = make_cfg(epochs=2, amp=amp)
        result = train(cfg, digits_data, digits_extractor, device, progress=False)
        histories.append([(h.train_loss, h.val_recon_loss) for h in result.history])
    assert histories[0] == histories[1]


def _scaled_epoch(device: str) -> tuple[float, dict, dict]:
    torch.manual_seed(0)
    model = build_model(IMAGE, N_Z, HIDDEN).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    x = torch.rand(8, *IMAGE, generator=torch.Generator().manual_seed(2)).to(device)
    # a small initial scale: the default (2**16) skips the first steps of a loss summed
    # over pixels (overflowing gradients), and this epoch has only two
    scaler = torch.amp.GradScaler(device, init_scale=2.0**4)
    loss = train_one_epoch(model, opt, x, 4, torch.Generator().manual_seed(3), scaler)
    after = {n: p.detach() for n, p in model.named_parameters()}
    return loss, before, after


def test_scaled_training_step_runs_on_cpu():
    # the mixed-precision branch of the loop (autocast + GradScaler), exercised on a CPU
    loss, before, after = _scaled_epoch("cpu")
    assert np.isfinite(loss) and loss > 0
    assert any(not torch.equal(before[n], after[n]) for n in before)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_mixed_precision_epoch_on_cuda():
    loss, before, after = _scaled_epoch("cuda")
    assert np.isfinite(loss) and loss > 0
    assert all(torch.isfinite(p).all() for p in after.values())
    assert sum(not torch.equal(before[n], after[n]) for n in before) >= len(before) - 1
