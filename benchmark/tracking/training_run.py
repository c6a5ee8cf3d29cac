"""One training as one tracked MLflow run: data, features, training, the common test
evaluation, and everything logged. Used by the adaptive entry point and by every
trial of a search, so all methods are trained and measured the same way."""

from __future__ import annotations

import hashlib
import json
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from benchmark import tracking
from benchmark.config import RunConfig
from benchmark.data import DatasetSplits, load_dataset
from benchmark.metrics.features import FeatureExtractor, make_feature_extractor
from benchmark.system.device import resolve_device
from benchmark.training.checkpoint import checkpoint_path, load_checkpoint
from benchmark.training.evaluation import evaluate, make_test_reference
from benchmark.training.fingerprint import training_fingerprint
from benchmark.training.loop import AfterTraining, EpochRecord, TrainResult, ValidationProbe, train
from benchmark.training.objective import TrainingObjective
from benchmark.training.outputs import image_grids

# The artifact that lists a subset's images (indices into the pool they were drawn from).
SUBSET_INDICES_FILE = "data/subset_indices.json"


@dataclass
class Prepared:
    """Data on the device and its feature extractor, reusable across runs."""

    data: DatasetSplits
    extractor: FeatureExtractor
    device: torch.device


def prepare(cfg: RunConfig) -> Prepared:
    """Resolve the device, load the dataset onto it and build the FID feature extractor.

    Everything that can fail on bad input happens here, before any run is created."""
    device = resolve_device(cfg.device)
    data = load_dataset(cfg).to(device)
    extractor = make_feature_extractor(
        cfg.fid_backend,
        data.name,
        data.train.x,
        data.train.y,
        data.n_classes,
        data.val.x,
        data.val.y,
    )
    return Prepared(data, extractor, device)


def process_cpu_s() -> float:
    """CPU seconds used so far by this process (every thread) and its finished children:
    unlike wall-clock, it does not grow while other programs hold the cores."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


@dataclass
class RunOutcome:
    """What a tracked training produced."""

    run_id: str
    result: TrainResult
    test_metrics: dict[str, float]
    wall_clock_s: float
    cpu_time_s: float


@dataclass(frozen=True, kw_only=True)
class TrainingSpec:
    """What one run trains: shrinking (ALD-VAE) from the initial size, or fixed at
    ``latent_dim``; with the method's ``objective`` (a fixed size only) and its
    ``after_training`` choice of the evaluated model; or the continuation of the stopped
    run ``resume_run_id`` from its checkpoint."""

    adaptive: bool
    latent_dim: int | None = None
    objective: TrainingObjective | None = None
    after_training: AfterTraining | None = None
    resume_run_id: str | None = None

    @classmethod
    def shrinking(cls, resume_run_id: str | None = None) -> TrainingSpec:
        """An ALD-VAE training."""
        return cls(adaptive=True, resume_run_id=resume_run_id)

    @classmethod
    def fixed(cls, latent_dim: int, **kwargs: object) -> TrainingSpec:
        """A training at the fixed size ``latent_dim``."""
        return cls(adaptive=False, latent_dim=latent_dim, **kwargs)

    @property
    def method(self) -> str:
        """The run's ``benchmark.method`` tag: ``adaptive`` or ``fixed``."""
        return "adaptive" if self.adaptive else "fixed"


@dataclass(frozen=True, kw_only=True)
class RunPlacement:
    """Where the run goes: its name (default ``adaptive seed=1``, ``fixed seed=1
    latent_dim=16``), its tags, nested under the active run, or under
    ``parent_run_id`` in ``experiment_id`` (a run of another process)."""

    run_name: str | None = None
    extra_tags: dict[str, str] = field(default_factory=dict)
    nested: bool = False
    parent_run_id: str | None = None
    experiment_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class RunHooks:
    """What the caller hooks in: ``on_start`` gets the run id as soon as the run exists;
    ``on_epoch`` each epoch's record after it is logged (a search's pruner); an exception
    of a type in ``early_stops`` ends the run KILLED instead of FAILED; ``progress``
    shows the epoch bar."""

    on_start: Callable[[str], None] | None = None
    on_epoch: Callable[[EpochRecord], None] | None = None
    early_stops: tuple[type[BaseException], ...] = ()
    progress: bool = True


def run_training(
    cfg: RunConfig,
    prepared: Prepared,
    training: TrainingSpec,
    placement: RunPlacement = RunPlacement(),
    hooks: RunHooks = RunHooks(),
) -> RunOutcome:
    """Train what ``training`` says on ``prepared`` data, evaluate on the test split and
    log it all to one MLflow run, placed as ``placement`` says, with ``hooks`` called.

    The training saves a checkpoint after every epoch (``benchmark.training.checkpoint``),
    logged as the artifact ``checkpoint/`` and removed locally when the run finishes; a
    resumed run continues in place (same run, the next epoch's step), and its wall-clock
    and CPU time count this invocation only. An ``after_training`` choice's time counts
    in the run's wall-clock.
    """
    start, cpu_start = time.perf_counter(), process_cpu_s()
    adaptive, latent_dim, objective = training.adaptive, training.latent_dim, training.objective
    resume_run_id, on_epoch = training.resume_run_id, hooks.on_epoch
    data = prepared.data
    # a checkpoint of another training is refused before the run is touched
    resume = (
        load_checkpoint(
            checkpoint_path(resume_run_id),
            training_fingerprint(cfg, adaptive, latent_dim, objective),
        )
        if resume_run_id
        else None
    )
    run_name = placement.run_name or f"{training.method} seed={cfg.seed}" + (
        "" if adaptive else f" latent_dim={latent_dim}"
    )
    with tracking.tracked_run(
        cfg,
        training.method,
        prepared.device,
        nested=placement.nested,
        run_name=run_name,
        extra_tags=placement.extra_tags,
        parent_run_id=placement.parent_run_id,
        experiment_id=placement.experiment_id,
        early_stops=hooks.early_stops,
        resume_run_id=resume_run_id,
    ) as run:
        if hooks.on_start is not None:
            hooks.on_start(run.info.run_id)
        params: dict[str, object] = {
            "data.train_size": len(data.train),
            "data.val_size": len(data.val),
            "data.test_size": len(data.test),
            "data.image_shape": "x".join(str(s) for s in data.image_shape),
            "fid.feature_extractor": prepared.extractor.name,
        }
        params |= {f"fid.{k}": v for k, v in prepared.extractor.quality().items()}
        if data.subset_indices is not None:
            # which images the subset holds: a digest to compare runs by, the indices
            # themselves as an artifact (into the pool docs/datasets.md names)
            indices = [int(i) for i in data.subset_indices]
            params["data.subset_sha1"] = hashlib.sha1(json.dumps(indices).encode()).hexdigest()
            tracking.log_json(indices, SUBSET_INDICES_FILE)
        if not adaptive:
            params["fixed_latent_dim"] = latent_dim
        probe = ValidationProbe(cfg, data, prepared.extractor, prepared.device, latent_dim)
        reference = make_test_reference(
            prepared.extractor, data.test, cfg.test_fid_samples, spare=data.val
        )
        params |= {"fid.val_samples": probe.n_fid, "fid.test_samples": reference.n}
        tracking.log_params(params)
        # The floors first: a run stopped half way still says how noisy its FIDs are.
        tracking.log_metrics({"val_fid_floor": probe.fid_floor, "test_fid_floor": reference.floor})

        # a resumed run may rerun an epoch it had logged (stopped before its checkpoint):
        # the rerun is the same computation, so its step is not logged again
        logged = tracking.last_logged_epoch(run.info.run_id) if resume is not None else 0

        def epoch_hook(record: EpochRecord) -> None:
            if record.epoch > logged:
                tracking.log_epoch(record)
            if on_epoch is not None:
                on_epoch(record)

        result = train(
            cfg,
            data,
            prepared.extractor,
            prepared.device,
            latent_dim=latent_dim,
            adaptive=adaptive,
            on_epoch=epoch_hook,
            progress=hooks.progress,
            probe=probe,
            checkpoint=checkpoint_path(run.info.run_id),
            resume=resume,
            objective=objective,
        )
        model = result.model
        if training.after_training is not None:
            model, chosen, chosen_metrics = training.after_training(result, probe)
            tracking.log_params(chosen)
            tracking.log_metrics(chosen_metrics)
        if hooks.progress:  # seconds on a large test split: say what is happening
            tqdm.write(
                f"evaluating the final model (n_z={model.latent_dim}) on the test split "
                f"({len(data.test)} images), then logging its artifacts"
            )
        metrics = evaluate(model, data.test, prepared.extractor, reference, cfg.silhouette_samples)
        tracking.log_history(result.history)
        tracking.log_image_grids(image_grids(model, data.test))
        tracking.log_model(model)
        if result.stopped_epoch is not None:
            tracking.set_tags({"benchmark.stopped_epoch": str(result.stopped_epoch)})
        wall, cpu = time.perf_counter() - start, process_cpu_s() - cpu_start
        tracking.log_metrics(
            metrics | {"train_time_s": result.train_time_s, "wall_clock_s": wall, "cpu_time_s": cpu}
        )
        # the last state goes with the run (to train on elsewhere); nothing left to resume
        last_state = checkpoint_path(run.info.run_id)
        if last_state.exists():
            tracking.log_file(last_state, "checkpoint")
            last_state.unlink()
        return RunOutcome(run.info.run_id, result, metrics, wall, cpu)
