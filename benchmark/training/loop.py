"""The epoch loop: train, measure the validation signals, ask the controller, cut.

Callers get each epoch's :class:`EpochRecord` through ``on_epoch`` (tracking, Optuna
pruning); the loop itself knows nothing of MLflow or Optuna.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from benchmark.config import RunConfig, parse_stop_signals
from benchmark.data import DatasetSplits
from benchmark.data.sampling import stratified_sample
from benchmark.errors import TrainingDivergedError
from benchmark.metrics.clustering import silhouette
from benchmark.metrics.features import FeatureExtractor
from benchmark.models.surgery import dims_to_remove, mean_kl_per_dim, remove_latent_dims
from benchmark.models.vaes import MLPVAE, build_model, negative_elbo
from benchmark.system import interrupts
from benchmark.training.checkpoint import Checkpoint, RandomStreams
from benchmark.training.controller import AldController, ControllerConfig, Decision, Signals
from benchmark.training.fingerprint import training_fingerprint
from benchmark.training.objective import (
    TrainingObjective,
    split_objective_state,
    state_with_objective,
)
from benchmark.training.outputs import (
    fid_reference,
    fid_terms,
    loss_terms,
    posterior_samples,
    seeded_generator,
)
from benchmark.training.records import EpochRecord, TrainResult

# Offsets from the run seed for the independent random streams of a run.
SHUFFLE_SEED_OFFSET = 1
VALIDATION_SEED_OFFSET = 2


class ValidationProbe:
    """Fixed validation material for one run: the FID reference sample (seeded,
    class-stratified), its features and FID floor, the prior noise, the silhouette
    subset, and a reseeded generator per measurement, so that two epochs differ only
    because the model changed."""

    def __init__(
        self,
        cfg: RunConfig,
        data: DatasetSplits,
        extractor: FeatureExtractor,
        device: torch.device,
        latent_dim: int | None = None,
    ) -> None:
        self.cfg = cfg
        self.extractor = extractor
        self.device = device
        val = data.val
        seed = cfg.seed + VALIDATION_SEED_OFFSET
        # The floor's second sample comes from the test split only when the validation
        # split is too small for two disjoint samples (never the extractor's training split).
        self.reference = fid_reference(extractor, val, cfg.fid_samples, seed, spare=data.test)
        self.n_fid = self.reference.n
        self.x = val.x
        sil = torch.as_tensor(stratified_sample(val.y, cfg.silhouette_samples, seed), device=device)
        self.sil_x = val.x[sil]
        self.sil_y = val.y[sil].cpu().numpy()
        # One noise column per latent dimension of the largest model the run can have;
        # a dimension keeps its column across cuts (see :meth:`measure`), so a cut does
        # not change the noise the kept dimensions decode.
        width = max(cfg.initial_latent_dim, latent_dim or 0)
        pick = torch.Generator().manual_seed(seed)
        self.noise = torch.randn(self.n_fid, width, generator=pick).to(device)

    @property
    def fid_floor(self) -> float:
        """Real-vs-real FID of the extractor at the validation sample count."""
        return self.reference.floor

    def measure(self, model: MLPVAE, latent_ids: list[int] | None = None) -> Signals:
        """The four validation signals of the model as it is now; ``latent_ids`` are the
        original indices of its latent dimensions (default: 0..n_z-1)."""
        # Multi-threaded OpenBLAS (silhouette distances, FID's sqrtm) leaves its threads
        # spinning into the next training epoch and slowed it by ~30% on 2 cores
        # (scripts/bench_speed.py); these matrices are small, one BLAS thread is enough.
        with threadpool_limits(limits=1, user_api="blas"):
            return self._measure(model, latent_ids)

    def _measure(self, model: MLPVAE, latent_ids: list[int] | None) -> Signals:
        model.eval()
        gen = seeded_generator(self.cfg.seed + VALIDATION_SEED_OFFSET, self.device)
        recon, _ = loss_terms(model, self.x, gen)
        ids = list(range(model.latent_dim)) if latent_ids is None else latent_ids
        noise = self.noise[:, torch.as_tensor(ids, device=self.device)]
        fid, fid_rec = fid_terms(model, self.extractor, self.reference, noise, gen)
        codes = posterior_samples(model, self.sil_x, gen).cpu().numpy()
        return Signals(float(recon.mean()), fid, fid_rec, silhouette(codes, self.sil_y))


# Turns the trained model into the model that is evaluated (``ordered``: the prefix its
# validation signals select), with the params that say how it was chosen and metrics of
# the chosen model (its validation signals): run_training's ``after_training``.
AfterTraining = Callable[
    [TrainResult, ValidationProbe], tuple[MLPVAE, dict[str, object], dict[str, float]]
]


# Param-group options that choose Adam's kernel, not its update.
OPTIMIZER_KERNELS = ("foreach", "fused")


def make_optimizer(
    model: MLPVAE, cfg: RunConfig, objective: TrainingObjective | None = None
) -> torch.optim.Optimizer:
    """Adam (amsgrad as published) over every parameter of the model, and of the
    ``objective`` where it has any (a second parameter group, same settings).

    The same update in a faster implementation: on CUDA the fused kernel (one launch per
    step for all parameters), elsewhere the multi-tensor one. PyTorch's default on a CPU
    is a Python loop over the parameters, 40% of an MLP epoch here; multi-tensor Adam
    cut the step time by 10-20% (mnist5k, 1 thread)."""
    device = next(model.parameters()).device
    impl = {"fused": True} if device.type == "cuda" else {"foreach": True}
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, amsgrad=cfg.amsgrad, **impl)
    extra = list(objective.parameters()) if objective is not None else []
    if extra:
        optimizer.add_param_group({"params": extra})
    return optimizer


def amp_active(cfg: RunConfig, device: torch.device) -> bool:
    """Whether training steps use mixed precision: only when ``cfg.amp`` and on CUDA.

    On a CPU ``amp=true`` is ignored (float32 training), so one configuration serves
    ``device=auto`` on machines with and without a GPU."""
    return bool(cfg.amp) and device.type == "cuda"


def train_one_epoch(
    model: MLPVAE,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
    scaler: torch.amp.GradScaler | None = None,
    objective: TrainingObjective | None = None,
) -> float:
    """One pass over x in shuffled mini-batches; returns the mean per-image loss.

    With a ``scaler`` the forward pass runs under float16 autocast and the gradients are
    scaled (mixed precision on CUDA); the loss itself is always computed in float32,
    since exp(logvar) in the KL overflows float16 early. ``objective`` (default: the
    negative ELBO) gives each step's forward pass and loss."""
    model.train()
    order = torch.randperm(x.shape[0], generator=generator).to(x.device)
    total = torch.zeros((), device=x.device)
    for start in range(0, x.shape[0], batch_size):
        xb = x[order[start : start + batch_size]]
        loss = _batch_loss(model, xb, objective, amp=scaler is not None)
        if scaler is None:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        else:
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        # accumulate on the device: no host sync per batch
        total += loss.detach() * xb.shape[0]
        interrupts.check()
    return float(total) / x.shape[0]


def _batch_loss(
    model: MLPVAE, xb: torch.Tensor, objective: TrainingObjective | None, amp: bool
) -> torch.Tensor:
    """One step's loss: the forward pass (under float16 autocast with ``amp``), the loss
    in float32. Autocast is only entered with ``amp``: even disabled, entering it costs
    about 20 us a step (measured on this project's CPU), a few % of a GPU step."""
    if amp:
        with torch.autocast(device_type=xb.device.type, dtype=torch.float16):
            outputs = _forward(model, xb, objective)
        logits, mu, logvar = (t.float() for t in outputs)
    else:
        logits, mu, logvar = _forward(model, xb, objective)
    if objective is None:  # this module's negative_elbo: tests replace it to force a NaN
        return negative_elbo(logits, xb, mu, logvar)
    return objective.loss(logits, xb, mu, logvar)


def _forward(
    model: MLPVAE, xb: torch.Tensor, objective: TrainingObjective | None
) -> tuple[torch.Tensor, ...]:
    if objective is not None:
        return objective(model, xb)
    logits, mu, logvar, _ = model(xb)
    return logits, mu, logvar


def _apply_decision(
    decision: Decision,
    model: MLPVAE,
    optimizer: torch.optim.Optimizer,
    cfg: RunConfig,
    val_x: torch.Tensor,
) -> list[int]:
    if decision.action != "cut":
        return []
    mean_kl = mean_kl_per_dim(model, val_x) if cfg.prune_order == "kl" else None
    remove = dims_to_remove(cfg.prune_order, decision.k, model.latent_dim, mean_kl)
    remove_latent_dims(model, optimizer, remove)
    return remove


def train(
    cfg: RunConfig,
    data: DatasetSplits,
    extractor: FeatureExtractor,
    device: torch.device,
    latent_dim: int | None = None,
    adaptive: bool | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    progress: bool = True,
    probe: ValidationProbe | None = None,
    checkpoint: Path | None = None,
    resume: Checkpoint | None = None,
    objective: TrainingObjective | None = None,
) -> TrainResult:
    """Train one VAE on ``data`` (already on ``device``).

    ``adaptive`` (default ``cfg.adaptive``) runs the ALD-VAE controller from
    ``cfg.initial_latent_dim``; otherwise the model trains at the fixed ``latent_dim``
    with the same loop, schedule and validation signals. ``train_time_s`` counts the
    epochs (training and validation signals), not the time spent in ``on_epoch``.
    Training steps use mixed precision where :func:`amp_active` says so. ``probe``
    (default: built here) is the run's validation material.

    Epochs are numbered from 1 in the records (the MLflow step); the controller gets
    the published trainer's 0-based number, ``epoch - 1`` (docs/method.md).

    ``checkpoint``: a file the state is saved to after every epoch (after ``on_epoch``);
    ``resume``: such a state, from which training continues with the next epoch exactly
    as if it had never stopped (same random streams, same decisions).

    ``objective`` (default: the negative ELBO) changes the training steps' loss for a
    method that trains differently (benchmark/methods/); it is moved to ``device``, its
    parameters are trained by the same optimizer and saved in the checkpoint, and it
    only runs at a fixed size (a cut would not know the objective's per-unit state).
    """
    adaptive = cfg.adaptive if adaptive is None else adaptive
    if objective is not None and adaptive:
        raise ValueError("a training objective runs at a fixed latent size, not adaptive")
    n_z = cfg.initial_latent_dim if adaptive else (latent_dim or cfg.initial_latent_dim)
    torch.manual_seed(cfg.seed)
    model = build_model(data.image_shape, n_z, cfg.hidden_dim, cfg.posterior).to(device)
    if objective is not None:
        objective.to(device)
    optimizer = make_optimizer(model, cfg, objective)
    controller = (
        AldController(
            ControllerConfig(
                n_z,
                cfg.patience,
                cfg.coarse_step,
                cfg.fine_step,
                cfg.switch_window,
                cfg.slope_window,
                parse_stop_signals(cfg.stop_signals),
            )
        )
        if adaptive
        else None
    )
    probe = probe or ValidationProbe(cfg, data, extractor, device, n_z)
    # Original index of each latent dimension, kept through cuts (noise columns).
    latent_ids = list(range(n_z))
    scaler = torch.amp.GradScaler(device.type) if amp_active(cfg, device) else None
    shuffle = torch.Generator().manual_seed(cfg.seed + SHUFFLE_SEED_OFFSET)
    result = TrainResult(model)
    # a resumed training keeps the fingerprint it was loaded under (computed once a run)
    fingerprint = (
        resume.fingerprint
        if resume is not None
        else training_fingerprint(cfg, adaptive, n_z, objective)
    )
    first = 1
    if resume is not None:
        model, optimizer, controller, latent_ids = _restore(
            resume, cfg, data, device, shuffle, objective
        )
        if scaler is not None and resume.scaler_state is not None:
            scaler.load_state_dict(resume.scaler_state)
        result = TrainResult(model, list(resume.history), resume.train_time_s, resume.stopped_epoch)
        first = resume.epoch + 1
    bar = tqdm(
        range(first, cfg.epochs + 1),
        desc=f"{data.name}",
        unit="epoch",
        initial=first - 1,
        total=cfg.epochs,
        disable=not progress,
    )
    for epoch in bar:
        t0 = time.perf_counter()
        trained_dim = model.latent_dim
        train_loss = train_one_epoch(
            model, optimizer, data.train.x, cfg.batch_size, shuffle, scaler, objective
        )
        t1 = time.perf_counter()
        if not math.isfinite(train_loss):
            raise TrainingDivergedError(
                f"training produced a non-finite loss at epoch {epoch} (n_z={trained_dim}); "
                "lower lr or check the data"
            )
        signals = probe.measure(model, latent_ids)
        t2 = time.perf_counter()
        decision = Decision("none", 0, "fixed")
        removed: list[int] = []
        # No decision after the last epoch: no training would follow a cut.
        if controller is not None and epoch < cfg.epochs:
            decision = controller.observe(epoch - 1, signals)
            removed = _apply_decision(decision, model, optimizer, cfg, data.val.x)
            cut = set(removed)
            latent_ids = [j for i, j in enumerate(latent_ids) if i not in cut]
        elif controller is not None:
            decision = Decision("none", 0, controller.phase, "last epoch")
        if decision.action == "stop":
            result.stopped_epoch = epoch
        record = EpochRecord(
            epoch=epoch,
            latent_dim=trained_dim,
            train_loss=train_loss,
            val_recon_loss=signals.recon_loss,
            val_fid=signals.fid,
            val_fid_recon=signals.fid_recon,
            val_silhouette=signals.silhouette,
            epoch_time_s=time.perf_counter() - t0,
            train_epoch_time_s=t1 - t0,
            val_time_s=t2 - t1,
            phase=decision.phase,
            decision=decision.action,
            removed_dims=" ".join(str(j) for j in removed),
        )
        result.train_time_s += record.epoch_time_s
        result.history.append(record)
        bar.set_postfix(
            n_z=trained_dim,
            loss=f"{train_loss:.1f}",
            val_recon=f"{signals.recon_loss:.1f}",
            refresh=False,
        )
        if on_epoch is not None:
            on_epoch(record)
        if checkpoint is not None:
            Checkpoint(
                fingerprint=fingerprint,
                epoch=epoch,
                latent_dim=model.latent_dim,
                model_state=state_with_objective(model, objective),
                optimizer_state=optimizer.state_dict(),
                controller=controller,
                latent_ids=latent_ids,
                history=result.history,
                train_time_s=result.train_time_s,
                stopped_epoch=result.stopped_epoch,
                rng=RandomStreams.capture(shuffle, device),
                scaler_state=scaler.state_dict() if scaler is not None else None,
            ).save(checkpoint)
    bar.close()
    return result


def _restore(
    state: Checkpoint,
    cfg: RunConfig,
    data: DatasetSplits,
    device: torch.device,
    shuffle: torch.Generator,
    objective: TrainingObjective | None = None,
) -> tuple[MLPVAE, torch.optim.Optimizer, AldController | None, list[int]]:
    """The model (at the checkpoint's size), optimizer, controller and latent ids of a
    checkpoint, the objective's parameters loaded in place; the random streams set to
    where it left them."""
    model = build_model(data.image_shape, state.latent_dim, cfg.hidden_dim, cfg.posterior)
    model = model.to(device)
    model_state, own = split_objective_state(state.model_state)
    model.load_state_dict(model_state)
    if objective is not None:
        objective.load_state_dict(own)
    optimizer = make_optimizer(model, cfg, objective)
    # load_state_dict replaces each group's options with the saved ones, the kernel
    # choice included: a CPU checkpoint (foreach) resumed on CUDA would leave the fused
    # optimizer with foreach's options, which GradScaler.step refuses under amp. The
    # kernel belongs to this device, not to the checkpoint.
    kernels = [{k: g.get(k) for k in OPTIMIZER_KERNELS} for g in optimizer.param_groups]
    optimizer.load_state_dict(state.optimizer_state)
    for group, kernel in zip(optimizer.param_groups, kernels, strict=True):
        group.update(kernel)
    state.rng.restore(shuffle, device)
    return model, optimizer, state.controller, list(state.latent_ids)


def history_table(history: list[EpochRecord]) -> list[dict]:
    """Rows for a CSV of the per-epoch history."""
    return [asdict(r) for r in history]
