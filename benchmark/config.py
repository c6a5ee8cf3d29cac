"""Typed run configuration, YAML presets and validation of every parameter.

Every number the method uses lives here or in a preset file (``benchmark/presets``),
so a run's whole behaviour is its resolved :class:`RunConfig`, which is logged.
"""

from __future__ import annotations

import dataclasses
import os
import re
import stat
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from benchmark.errors import ConfigError

PRESETS_PACKAGE = "benchmark.presets"
# Per-dataset values of each preset (`<preset>: {<dataset>: {field: value}}`); the leading
# underscore keeps it out of the preset list.
DATASET_OVERRIDES_FILE = "_datasets.yaml"
DATASETS = ("mnist5k", "digits", "mnist", "fashion-mnist", "eurosat", "sprites", "folder", "npz")
# Datasets read from files under `data_dir` (the rest ship inside a Python package).
FILE_BACKED_DATASETS = ("mnist", "fashion-mnist", "eurosat", "sprites", "folder", "npz")
# The user's own images: resized to a square of side `image_size` (benchmark.data.own).
OWN_DATASETS = ("folder", "npz")
# image_size: 0 means the default of the images' colour (benchmark.data.own: 28 for grey,
# MNIST's side and the published MLP's input; 64 for colour, the published convolutional
# model's input). Explicit sizes (our choice): from 8 (sklearn's digits) to 256, where the
# MLP's first layer already holds 26M weights per 400 units.
IMAGE_SIZE_AUTO = 0
MIN_IMAGE_SIZE = 8
MAX_IMAGE_SIZE = 256
# File-backed datasets that torchvision can download (`download=true`).
DOWNLOADABLE_DATASETS = ("mnist", "fashion-mnist", "eurosat")
PRUNE_ORDERS = ("last", "kl")
# The validation signals the stop rule can read (benchmark.training.controller.Signals' fields).
STOP_SIGNALS = ("silhouette", "fid", "fid_recon", "recon_loss")
# Smallest subset (our choice): every class with at least about two images expected in
# the smallest split, at the project's split fractions and ten classes.
MIN_SUBSET = 200
POSTERIORS = ("logvar", "softmax")
DEVICES = ("auto", "cpu", "cuda")
FID_BACKENDS = ("domain", "inception")


@dataclass
class RunConfig:
    """Everything one training run needs; defaults follow the `paper` preset."""

    dataset: str = "mnist5k"
    preset: str = "quick"
    seed: int = 1
    data_dir: str = ""
    # Fetch a missing file-backed dataset through torchvision (needs a network).
    download: bool = False
    # A seeded, class-stratified subset of this many images, drawn before the split (0:
    # every image). For datasets with an official test set the subset is drawn from the
    # official training files and split three ways as mnist5k is (benchmark.data.subset).
    subset: int = 0
    # The seed of the subset's draw; the run's `seed` only splits it (as for mnist5k,
    # whose 5,000 images are the same for every seed).
    subset_seed: int = 0
    # Side of the square the images of `folder` and `npz` are resized to; 0: 28 for grey
    # images, 64 for colour ones (IMAGE_SIZE_AUTO). Refused for the built-in datasets.
    image_size: int = IMAGE_SIZE_AUTO
    device: str = "auto"
    # Mixed precision (float16 autocast + GradScaler) for training steps; CUDA only,
    # ignored on a CPU (see benchmark.training.loop.amp_active).
    amp: bool = False
    # Optimisation (paper: Adam with amsgrad, lr 1e-3, batch 64, 200 epochs).
    epochs: int = 200
    batch_size: int = 64
    lr: float = 1e-3
    amsgrad: bool = True
    # Model (paper: MLP 784-400-400 for MNIST, log-variance head is our default).
    hidden_dim: int = 400
    posterior: str = "logvar"
    initial_latent_dim: int = 64
    # Controller (paper defaults; see benchmark.training.controller).
    adaptive: bool = True
    prune_order: str = "last"
    patience: int = 5
    coarse_step: int = 5
    fine_step: int = 1
    switch_window: int = 20
    slope_window: int = 19
    # The signals whose slopes must all rise for the rule to stop (paper: all four); a
    # comma list, for the stop rule's ablation (one signal left out at a time).
    stop_signals: str = "silhouette,fid,fid_recon,recon_loss"
    # Signals (paper: 100 images for FID, 1,000 for the silhouette score).
    fid_backend: str = "domain"
    fid_samples: int = 100
    silhouette_samples: int = 1000
    # Final test evaluation: FID over this many test images (all if fewer).
    test_fid_samples: int = 1000
    # Split fractions; the rest is the training split.
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    # Fixed latent sizes a search trains (used by the grid search).
    latent_sizes: list[int] = field(default_factory=lambda: [4, 8, 16, 32, 64])
    # The size `-e fixed` trains when no latent_dim is given (0: latent_dim is required);
    # the `paper` preset sets the published fixed-size baselines (20; 13 for SPRITES).
    baseline_latent_dim: int = 0

    def to_params(self) -> dict[str, str]:
        """Flat string form for logging as MLflow params."""
        return {
            key: ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
            for key, value in dataclasses.asdict(self).items()
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (YAML/JSON friendly)."""
        return dataclasses.asdict(self)


FIELD_TYPES: dict[str, type] = {
    f.name: (list if f.name == "latent_sizes" else type(getattr(RunConfig(), f.name)))
    for f in dataclasses.fields(RunConfig)
}


def available_presets() -> list[str]:
    """Names of the YAML presets shipped in the package (files starting with ``_`` are
    not presets)."""
    files = resources.files(PRESETS_PACKAGE).iterdir()
    return sorted(
        Path(f.name).stem for f in files if f.name.endswith(".yaml") and not f.name.startswith("_")
    )


def load_preset(name: str) -> dict[str, Any]:
    """Read one preset's YAML; unknown names fail with the list of known ones."""
    presets = available_presets()
    if name not in presets:
        raise ConfigError(f"unknown preset {name!r}; allowed: {', '.join(presets)}")
    text = resources.files(PRESETS_PACKAGE).joinpath(f"{name}.yaml").read_text()
    data = yaml.safe_load(text) or {}
    unknown = set(data) - set(FIELD_TYPES)
    if unknown:
        raise ConfigError(f"preset {name!r} sets unknown keys {sorted(unknown)}")
    return data


def load_dataset_overrides(preset: str, dataset: str) -> dict[str, Any]:
    """The preset's values for one dataset (``_datasets.yaml``), e.g. SPRITES' batch of 16.

    They apply over the preset's own values and under explicit parameters."""
    text = resources.files(PRESETS_PACKAGE).joinpath(DATASET_OVERRIDES_FILE).read_text()
    table = yaml.safe_load(text) or {}
    values = dict((table.get(preset) or {}).get(dataset) or {})
    unknown = set(values) - set(FIELD_TYPES) | ({"dataset", "preset"} & set(values))
    if unknown:
        raise ConfigError(
            f"{DATASET_OVERRIDES_FILE} sets unknown keys {sorted(unknown)} for {preset}/{dataset}"
        )
    return values


def parse_int_list(text: str, name: str = "latent_sizes") -> list[int]:
    """Parse "4,8,16" into [4, 8, 16]; empty items, non-integers, values < 1 and
    duplicates are refused."""
    try:  # int() strips the spaces around an item; an empty item fails
        values = [int(t) for t in str(text).split(",")]
    except ValueError:
        raise ConfigError(
            f"{name}={text!r} is malformed; expected comma-separated integers >= 1"
        ) from None
    if any(v < 1 for v in values):
        raise ConfigError(f"{name}={text!r} has a size below 1; every size must be >= 1")
    if len(set(values)) != len(values):
        raise ConfigError(f"{name}={text!r} has duplicates; each size may appear once")
    return values


def parse_stop_signals(text: str) -> tuple[str, ...]:
    """The stop rule's signals of a comma list such as ``"fid,fid_recon"``: at least one,
    each once, each one of :data:`STOP_SIGNALS`."""
    items = tuple(t.strip() for t in str(text).split(","))
    allowed = ", ".join(STOP_SIGNALS)
    if not any(items) or any(t not in STOP_SIGNALS for t in items):
        raise ConfigError(
            f"stop_signals={text!r} is malformed; expected a comma list of: {allowed}"
        )
    if len(set(items)) != len(items):
        raise ConfigError(f"stop_signals={text!r} has duplicates; each signal may appear once")
    return items


def _coerce(name: str, value: Any) -> Any:
    """Turn a CLI/YAML value into the field's type, with a one-line error."""
    kind = FIELD_TYPES[name]
    if kind is list:
        text = ",".join(str(v) for v in value) if isinstance(value, list) else value
        return parse_int_list(text, name)
    if kind is bool:
        text = str(value).strip().lower()  # a bool reads "true" or "false"
        if text in ("true", "1", "yes", "false", "0", "no"):
            return text in ("true", "1", "yes")
        raise ConfigError(f"{name}={value!r} is not a boolean; allowed: true, false")
    if kind is int:
        try:
            number = float(str(value).strip())
            if isinstance(value, bool) or not number.is_integer():
                raise ValueError
            return int(number)
        except ValueError:
            raise ConfigError(f"{name}={value!r} is not an integer") from None
    if kind is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}={value!r} is not a number") from None
    return str(value)


# Upper bounds (our choice): far above any latent size or layer a VAE of this suite uses,
# far below what would exhaust memory while the model is built (a 10^9-unit latent
# layer is a terabyte of weights).
MAX_LATENT_DIM = 4096
MAX_HIDDEN_DIM = 65536


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"unknown {name} {value!r}; allowed: {', '.join(allowed)}")


def _check_min(name: str, value: float, minimum: float, what: str = "") -> None:
    if value < minimum:
        raise ConfigError(f"{name}={value} is too small; {what or f'it must be >= {minimum}'}")


def validate(cfg: RunConfig) -> RunConfig:
    """Check every field; raise :class:`ConfigError` with one line on the first problem."""
    _check_choice("dataset", cfg.dataset, DATASETS)
    _check_choice("prune_order", cfg.prune_order, PRUNE_ORDERS)
    _check_choice("posterior", cfg.posterior, POSTERIORS)
    if not re.fullmatch(r"cuda:\d+", cfg.device):  # one GPU of several: cuda:N
        _check_choice("device", cfg.device, DEVICES + ("cuda:N",))
    _check_choice("fid_backend", cfg.fid_backend, FID_BACKENDS)
    _check_min("epochs", cfg.epochs, 1, "the number of epochs must be a positive integer")
    _check_min(
        "initial_latent_dim", cfg.initial_latent_dim, 2, "the initial latent size must be >= 2"
    )
    if cfg.initial_latent_dim > MAX_LATENT_DIM:
        raise ConfigError(
            f"initial_latent_dim={cfg.initial_latent_dim} is too large; at most {MAX_LATENT_DIM}"
        )
    for name in ("batch_size", "hidden_dim", "patience", "coarse_step", "fine_step"):
        _check_min(name, getattr(cfg, name), 1)
    if cfg.hidden_dim > MAX_HIDDEN_DIM:
        raise ConfigError(f"hidden_dim={cfg.hidden_dim} is too large; at most {MAX_HIDDEN_DIM}")
    _check_min("switch_window", cfg.switch_window, 2, "it must be >= 2 (two halves to compare)")
    if cfg.switch_window % 2:
        raise ConfigError(f"switch_window={cfg.switch_window} must be even (two equal halves)")
    _check_min("slope_window", cfg.slope_window, 2, "a slope needs at least 2 points")
    _check_min("fid_samples", cfg.fid_samples, 2, "a covariance needs at least 2 samples")
    _check_min("test_fid_samples", cfg.test_fid_samples, 2, "a covariance needs >= 2 samples")
    _check_min("silhouette_samples", cfg.silhouette_samples, 10, "it must be >= 10")
    for name in ("seed", "subset_seed"):
        if not 0 <= getattr(cfg, name) < 2**32:
            raise ConfigError(
                f"{name}={getattr(cfg, name)} is out of range; expected 0 <= {name} < 2**32"
            )
    if cfg.subset != 0 and cfg.subset < MIN_SUBSET:
        raise ConfigError(
            f"subset={cfg.subset} is too small; 0 (every image) or at least {MIN_SUBSET} "
            "images (enough of each class for stratified train/val/test splits)"
        )
    parse_stop_signals(cfg.stop_signals)
    _check_min("baseline_latent_dim", cfg.baseline_latent_dim, 0)
    if not 0 < cfg.lr < 10:
        raise ConfigError(f"lr={cfg.lr} is out of range; expected 0 < lr < 10")
    for name in ("val_fraction", "test_fraction"):
        if not 0 < getattr(cfg, name) < 0.5:
            raise ConfigError(f"{name}={getattr(cfg, name)} is out of range; expected 0 < x < 0.5")
    if cfg.download and cfg.dataset not in FILE_BACKED_DATASETS:
        raise ConfigError(
            f"dataset {cfg.dataset!r} ships with the package: nothing to download; download "
            f"applies to {', '.join(DOWNLOADABLE_DATASETS)}"
        )
    if cfg.dataset in FILE_BACKED_DATASETS:
        if not cfg.data_dir:
            raise ConfigError(f"dataset {cfg.dataset!r} is read from files: set data_dir")
        if cfg.download and cfg.dataset not in DOWNLOADABLE_DATASETS:
            raise ConfigError(
                f"dataset {cfg.dataset!r} cannot be downloaded by the benchmark; place its "
                "files in data_dir (see docs/datasets.md) and set download=false"
            )
        check_data_dir(cfg)
    _validate_own_images(cfg)
    return cfg


DATA_DIR_NEEDS = {  # what data_dir must be, for the one line that refuses it
    "folder": "a folder of class folders, <data_dir>/<class>/*.png|jpg|jpeg (docs/usage.md)",
    "npz": "an .npz file (or a folder holding one) with arrays x and optional y",
    "sprites": "a folder of sprites/npy/*.npy as its generator writes them (download=true does not "
    "apply; docs/datasets.md)",
}
TORCHVISION_NEEDS = "a folder in torchvision's layout (docs/datasets.md), or download=true"


def check_data_dir(cfg: RunConfig) -> None:
    """``data_dir`` exists (unless a download creates it), is a folder (``npz``: or a file)
    and is readable, else one line. One ``stat``, every error caught: for a data_dir in a
    folder this user may not enter it raises PermissionError (as ``Path.is_dir`` does)."""
    try:
        mode = os.stat(cfg.data_dir).st_mode
        access = os.R_OK | (os.X_OK if stat.S_ISDIR(mode) else 0)
        problem = ""
        if not stat.S_ISDIR(mode) and cfg.dataset != "npz":
            problem = "is a file, not a folder"
        elif not cfg.download and not os.access(cfg.data_dir, access):
            problem = "is not readable by this user (permission denied)"
    except (FileNotFoundError, NotADirectoryError):
        problem = "" if cfg.download else "does not exist"  # a download creates it
    except PermissionError:
        problem = "is in a folder this user may not enter (permission denied)"
    except OSError as exc:  # an I/O error, a name too long, a loop of links
        problem = f"cannot be read ({exc.strerror or exc})"
    if problem:
        needs = DATA_DIR_NEEDS.get(cfg.dataset, TORCHVISION_NEEDS)
        raise ConfigError(
            f"data_dir {cfg.data_dir!r} {problem}; dataset {cfg.dataset!r} needs {needs}"
        )


def _validate_own_images(cfg: RunConfig) -> None:
    """``image_size`` only for the user's own images, in range; an ``npz`` file without
    labels refused where labels are needed (before any run is created)."""
    if cfg.dataset not in OWN_DATASETS:
        if cfg.image_size != IMAGE_SIZE_AUTO:
            raise ConfigError(
                f"image_size applies to dataset={' and '.join(OWN_DATASETS)} only; dataset "
                f"{cfg.dataset!r} has a fixed image size: leave image_size empty"
            )
        return
    if cfg.image_size != IMAGE_SIZE_AUTO and not (
        MIN_IMAGE_SIZE <= cfg.image_size <= MAX_IMAGE_SIZE
    ):
        raise ConfigError(
            f"image_size={cfg.image_size} is out of range; expected {MIN_IMAGE_SIZE} to "
            f"{MAX_IMAGE_SIZE} (empty: 28 for grey images, 64 for colour)"
        )
    if cfg.dataset == "npz":
        path = npz_file(Path(cfg.data_dir))
        if not npz_has_labels(path):
            refuse_unlabelled(cfg, str(path))


def npz_file(data_dir: Path) -> Path:
    """The file of ``dataset=npz``: ``data_dir`` itself when it is a file, else the one
    ``.npz`` file inside the folder ``data_dir``."""
    if not data_dir.is_dir():
        return data_dir
    named = sorted(p for p in data_dir.iterdir() if p.suffix.lower() == ".npz")
    files = [p for p in named if p.is_file()]
    if len(files) != 1:  # a folder named like the file is named as such
        found = [p.name for p in files]  # a link to nothing is neither
        found += [f"{p} is a folder, not a file" for p in named if p.is_dir()]
        raise ConfigError(
            f"data_dir {str(data_dir)!r} must hold exactly one .npz file (found: "
            f"{', '.join(found) or 'none'}); or set data_dir to the file itself"
        )
    return files[0]


def npz_has_labels(path: Path) -> bool:
    """Whether the ``.npz`` file holds an array ``y`` (its directory only is read; an
    unreadable file is reported by the loader, with the expected layout)."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as archive:
            return "y" in archive.files
    except (OSError, ValueError, EOFError):
        return True  # not known here: the loader names the file and what is allowed


def refuse_unlabelled(cfg: RunConfig, source: str) -> None:
    """Refuse, with one line, what needs labels when ``source`` has none: the domain FID
    extractor (a classifier trained on the labels) and the ALD-VAE rule (it switches phase
    and stops on the silhouette score, which is computed under the labels)."""
    if cfg.fid_backend == "domain":
        why = "the domain FID extractor trains a classifier on labels; pass fid_backend=inception"
    elif cfg.adaptive:
        why = (
            "the ALD-VAE rule switches phase and stops on the silhouette score, which needs "
            "labels; run -e fixed or -e gridsearch"
        )
    elif cfg.subset:
        why = "subset draws a class-stratified sample, which needs labels; leave subset empty"
    else:
        return
    raise ConfigError(f"{source} has no labels (no array y): {why}, or add y")


def resolve_config(preset: str = "quick", overrides: dict[str, Any] | None = None) -> RunConfig:
    """Preset values, then the preset's values for the dataset, then explicit overrides;
    empty-string overrides mean "use the preset".

    Raises :class:`ConfigError` for unknown presets, unknown keys and bad values.
    """
    values: dict[str, Any] = dict(load_preset(preset))
    explicit: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if key not in FIELD_TYPES or key == "preset":
            allowed = ", ".join(k for k in FIELD_TYPES if k != "preset")
            raise ConfigError(f"unknown parameter {key!r}; allowed: {allowed}")
        if value is None or (isinstance(value, str) and value.strip() == ""):
            continue
        explicit[key] = value
    dataset = str(explicit.get("dataset", values.get("dataset", RunConfig.dataset)))
    if dataset in DATASETS:  # an unknown name is reported by validate()
        values.update(load_dataset_overrides(preset, dataset))
    values.update(explicit)
    coerced = {key: _coerce(key, value) for key, value in values.items()}
    return validate(RunConfig(preset=preset, **coerced))
